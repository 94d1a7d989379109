"""The torchvision trunks compute exactly what the full classifiers feed their heads."""

import pytest
import torch
from torch import nn
from torchvision.models import get_model

from sktransfer import backbones
from sktransfer.backbones import _torchvision

# name -> the module whose input is the pooled feature vector
HEAD = {
    "resnet18": lambda m: m.fc,
    "densenet121": lambda m: m.classifier,
    "efficientnet_b0": lambda m: m.classifier[1],
    "mobilenet_v2": lambda m: m.classifier[1],
    "mobilenet_v3_small": lambda m: m.classifier[0],
    "regnet_x_400mf": lambda m: m.fc,
    "shufflenet_v2_x0_5": lambda m: m.fc,
    "mnasnet0_5": lambda m: m.classifier[1],
    "googlenet": lambda m: m.fc,
    "inception_v3": lambda m: m.fc,
    "swin_t": lambda m: m.head,
    "vit_b_32": lambda m: m.heads.head,
}


@pytest.mark.parametrize("name", sorted(HEAD))
def test_pooled_trunk_equals_the_classifier_input(name):
    spec = backbones.get(name)
    torch.manual_seed(0)
    model = get_model(name, weights=None, **_torchvision._BUILD_KWARGS.get(name, {})).eval()
    trunk = nn.Sequential(_torchvision._trunk_rule(name)[0](model)).eval()
    captured = {}
    HEAD[name](model).register_forward_hook(lambda mod, inputs, out: captured.update(x=inputs[0]))
    # CNNs pool over any size: a small input keeps this fast on two cores.
    size = spec.preprocessing.input_size if name in ("swin_t", "vit_b_32") else 96
    x = torch.randn(2, 3, size, size)
    with torch.no_grad():
        model(x)
        features = trunk(x)
    pooled = features[:, 0] if spec.default_pooling == "cls" else features.mean(dim=(2, 3))
    torch.testing.assert_close(pooled, captured["x"], atol=1e-4, rtol=1e-4)
    assert pooled.shape[1] == spec.feature_dim
    assert tuple(n for n, _ in trunk.named_children()) == spec.layer_groups


def test_preprocessing_follows_torchvision_presets():
    assert backbones.get("efficientnet_b3").preprocessing.interpolation == "bicubic"
    assert backbones.get("efficientnet_b3").preprocessing.input_size == 300
    assert backbones.get("resnet50").preprocessing.resize_size == 232
    vit_h = backbones.get("vit_h_14")
    assert vit_h.preprocessing.input_size == 518 and vit_h.default_pooling == "cls"


def test_layer_groups_run_from_input_to_output():
    assert backbones.get("resnet50").layer_groups == ("stem", "layer1", "layer2", "layer3", "layer4")
    assert backbones.get("vgg16").layer_groups == tuple(f"block{i}" for i in range(1, 6))
    groups = backbones.get("vit_b_16").layer_groups
    assert groups[0] == "embed" and groups[-1] == "norm" and len(groups) == 14
