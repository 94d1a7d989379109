"""torchvision backbones compute exactly what the full classifiers feed their last layer."""

import re

import pytest
import torch
import torchvision
from torchvision.models import get_model, get_model_weights, list_models

from sktransfer import backbones
from sktransfer.backbones import SequentialBackbone, _torchvision

# One model per architecture family of ``_RULES`` (the cheapest of each) -> the path
# of the classifier's last layer, whose input "auto" pooling must reproduce.
LAST_LAYER = {
    "resnet18": "fc",
    "resnext50_32x4d": "fc",
    "wide_resnet50_2": "fc",
    "vgg11": "classifier.6",
    "alexnet": "classifier.6",
    "squeezenet1_1": "classifier.1",  # a 1x1 convolution on the feature map
    "densenet121": "classifier",
    "efficientnet_b0": "classifier.1",
    "mobilenet_v2": "classifier.1",
    "mobilenet_v3_small": "classifier.3",
    "mnasnet0_5": "classifier.1",
    "shufflenet_v2_x0_5": "fc",
    "regnet_y_400mf": "fc",
    "convnext_tiny": "classifier.2",
    "swin_t": "head",
    "maxvit_t": "classifier.5",
    "googlenet": "fc",
    "inception_v3": "fc",
    "vit_b_32": "heads.head",
}
# Auxiliary classifiers: used in training only, never part of a backbone.
AUXILIARY = ("aux1.", "aux2.", "AuxLogits.")
# Transformers need the input size of their preset; CNNs pool any size.
PRESET_SIZE = ("swin_t", "maxvit_t", "vit_b_32")


def _family(name):
    return next(prefix for prefix, _, _ in _torchvision._RULES if name.startswith(prefix))


def test_one_model_of_every_family_is_tested_the_cheapest():
    assert {_family(name) for name in LAST_LAYER} == {p for p, _, _ in _torchvision._RULES}
    # (GFLOPs, parameters) from torchvision's own metadata: the cheapest to run.
    cost = {}
    for name in list_models(module=torchvision.models):
        meta = get_model_weights(name).DEFAULT.meta
        cost[name] = (meta["_ops"], meta["num_params"])
    for name in LAST_LAYER:
        family = [n for n in cost if _family(n) == _family(name)]
        assert cost[name] == min(cost[n] for n in family), (name, family)


def _build_with_its_classifier(spec, monkeypatch):
    """``spec.build(None)``, and the torchvision classifier it was cut from (same modules)."""
    made = []

    def get_model_and_keep_it(*args, **kwargs):
        made.append(get_model(*args, **kwargs))
        return made[-1]

    with monkeypatch.context() as patch:
        patch.setattr(_torchvision, "get_model", get_model_and_keep_it)
        model = spec.build(None).eval()
    (full,) = made
    if hasattr(full, "transform_input"):  # GoogLeNet, Inception v3: as with their weights
        full.transform_input = True
    return model, full.eval()


@pytest.mark.parametrize("name", sorted(LAST_LAYER))
def test_forward_is_what_the_last_classification_layer_receives(name, monkeypatch):
    spec = backbones.get(name)
    torch.manual_seed(0)
    model, full = _build_with_its_classifier(spec, monkeypatch)
    assert isinstance(model, SequentialBackbone)

    last = full.get_submodule(LAST_LAYER[name])
    captured = {}
    last.register_forward_hook(lambda module, inputs, output: captured.update(x=inputs[0]))
    size = spec.preprocessing.input_size if name in PRESET_SIZE else 96
    x = torch.randn(2, 3, size, size)
    with torch.no_grad():
        full(x)
        out = model(x)
        features = model.forward_features(x)
        torch.testing.assert_close(model.forward_head(features), out)
        chained = x  # its stages in turn are its feature extractor (fine-tuning cuts there)
        for stage in model.stages():
            chained = stage(chained)
        torch.testing.assert_close(chained, features)
    expected = captured["x"]
    if name.startswith("squeezenet"):  # documented exception: the map the conv reads, averaged
        assert expected.ndim == 4
        expected = expected.mean(dim=(2, 3))
    assert out.shape == expected.shape == (2, spec.feature_dim)
    torch.testing.assert_close(out, expected, atol=1e-4, rtol=1e-4)
    if name.startswith("vit"):
        assert features.shape == (2, 1 + (size // 32) ** 2, 768)
        assert model.num_prefix_tokens == 1 and model.has_class_token
    else:
        assert features.ndim == 4 and model.num_prefix_tokens == 0

    # Layer groups: listed by the spec without a build, input to output, at least 3,
    # and together every parameter of the backbone exactly once.
    groups = model.layer_groups()
    assert spec.layer_groups == tuple(groups) and len(groups) >= 3
    listed = [p for names in groups.values() for p in names]
    assert len(listed) == len(set(listed))
    assert set(listed) == {n for n, _ in model.named_parameters()}
    assert len(listed) == len(list(model.named_parameters(remove_duplicate=False)))
    # The backbone holds the whole classifier but its last layer (and training's auxiliaries).
    kept = {
        id(p)
        for n, p in full.named_parameters()
        if not n.startswith((LAST_LAYER[name] + ".", *AUXILIARY))
    }
    assert {id(p) for p in model.parameters()} == kept


def test_pre_logits_layers_are_the_last_group():
    # VGG's fc6 / fc7, MobileNetV3's and MaxViT's hidden layer, ConvNeXt's LayerNorm.
    assert backbones.get("vgg11").layer_groups[-1] == "pre_logits"
    assert backbones.get("vgg11").feature_dim == backbones.get("alexnet").feature_dim == 4096
    assert backbones.get("mobilenet_v3_small").feature_dim == 1024
    assert backbones.get("convnext_tiny").layer_groups[-1] == "pre_logits"
    assert backbones.get("maxvit_t").layer_groups[-1] == "pre_logits"
    # Averaging the last map is the whole head: no parameters, no group.
    assert backbones.get("resnet50").layer_groups[-1] == "layer4"


def test_every_model_has_a_static_feature_dim():
    """Listings show them without a build; a model missing here is only measured on demand."""
    assert set(_torchvision.FEATURE_DIMS) == set(list_models(module=torchvision.models))
    assert backbones.get("regnet_y_128gf").known_feature_dim == 7392


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(_torchvision.FEATURE_DIMS))
def test_static_feature_dims_are_what_a_build_measures(name):
    size = backbones.get(name).preprocessing.input_size
    assert _torchvision.describe(name, size)[0] == _torchvision.FEATURE_DIMS[name]


def test_preprocessing_follows_torchvision_presets():
    b3 = backbones.get("efficientnet_b3").preprocessing
    assert (b3.interpolation, b3.input_size, b3.resize_size) == ("bicubic", 300, 320)
    assert backbones.get("resnet50").preprocessing.resize_size == 232
    assert backbones.get("inception_v3").preprocessing.input_size == 299
    vit_h = backbones.get("vit_h_14")
    assert vit_h.preprocessing.input_size == 518 and vit_h.feature_dim == 1280


def test_layer_groups_run_from_input_to_output():
    resnet = backbones.get("resnet50").layer_groups
    assert resnet == ("stem", "layer1", "layer2", "layer3", "layer4")
    vgg = backbones.get("vgg16").layer_groups
    assert vgg == (*(f"block{i}" for i in range(1, 6)), "pre_logits")
    groups = backbones.get("vit_b_16").layer_groups
    assert groups[0] == "embed" and groups[-1] == "norm" and len(groups) == 14


def test_every_torchvision_model_has_a_rule():
    for name in list_models(module=torchvision.models):
        trunk, _ = _torchvision._rule(name)
        assert callable(trunk), name
    with pytest.raises(KeyError, match="no trunk rule"):
        _torchvision._rule("lenet5")


def test_a_file_of_another_architecture_is_refused(tmp_path):
    path = tmp_path / "resnet18.pth"
    torch.save(get_model("resnet18", weights=None).state_dict(), path)
    with pytest.raises(ValueError, match="does not fit resnet34"):
        backbones.get("resnet34").build(str(path))
    loaded = backbones.get("resnet18").build(str(path))
    assert torch.equal(loaded.layer4[0].conv1.weight, torch.load(path)["layer4.0.conv1.weight"])


def test_densenet_files_with_legacy_key_names_load(tmp_path):
    # torchvision's published DenseNet files say "denselayer1.norm.1.weight" for the
    # module's "denselayer1.norm1.weight" (and have no batch counters there).
    torch.manual_seed(0)
    state = get_model("densenet121", weights=None).state_dict()
    legacy = {
        re.sub(r"(denselayer\d+\.(?:norm|relu|conv))([12])\.", r"\1.\2.", key): value
        for key, value in state.items()
        if not ("denselayer" in key and key.endswith("num_batches_tracked"))
    }
    assert "features.denseblock1.denselayer1.norm.1.weight" in legacy
    path = tmp_path / "densenet121-legacy.pth"
    torch.save(legacy, path)
    loaded = backbones.get("densenet121").build(str(path))
    conv = loaded.block1[0].denselayer1.conv2.weight
    assert torch.equal(conv, state["features.denseblock1.denselayer1.conv2.weight"])
