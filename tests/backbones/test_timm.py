"""timm models as image backbones, through timm's public model API alone (no plugin needed)."""

import math

import numpy as np
import pytest
import timm
import torch
from timm.data import resolve_data_config
from timm.models import get_pretrained_cfg, group_parameters

from sktransfer import ImageEncoder, WeightsNotFoundError, backbones
from sktransfer.backbones import Registry, TimmBackbone, _timm
from sktransfer.backbones._image import pool

# timm's tiny test models (about 0.5 M parameters, 160 px): several architectures.
TINY = [
    "test_byobnet.r160_in1k",
    "test_convnext.r160_in1k",
    "test_efficientnet.r160_in1k",
    "test_nfnet.r160_in1k",
    "test_resnet.r160_in1k",
    "test_vit.r160_in1k",
    "test_vit2.r160_in1k",  # no class token, one register token
]


def test_the_tiny_models_are_timms_pretrained_tags():
    assert set(TINY) <= set(timm.list_models("test_*", pretrained=True))


def _timm_model(name):
    """timm's own model, classifier included, with the random draws of ``create``."""
    torch.manual_seed(0)
    return timm.create_model(name, pretrained=False).eval()


def _backbone(name):
    torch.manual_seed(0)
    return _timm.spec(name).build(None).eval()


@pytest.mark.parametrize("name", TINY)
def test_forward_is_timms_pre_logits(name):
    full, backbone = _timm_model(name), _backbone(name)
    assert isinstance(backbone, TimmBackbone)
    x = torch.randn(2, *full.pretrained_cfg["input_size"])
    with torch.no_grad():
        tokens_or_map = full.forward_features(x)
        expected = full.forward_head(tokens_or_map, pre_logits=True)
        features = backbone.forward_features(x)
        out = backbone(x)
    torch.testing.assert_close(features, tokens_or_map, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(out, expected, atol=1e-4, rtol=1e-4)
    spec = _timm.spec(name)
    assert out.shape == (2, spec.feature_dim)
    assert spec.family == "timm" and spec.weights.url.endswith(f"/timm/{name}")
    # The classifier is dropped; everything else is timm's model, same tensors.
    kept = backbone.model.state_dict()
    classifier = {k for k in full.state_dict() if k not in kept}
    assert classifier and all(k.startswith(("head", "fc", "classifier")) for k in classifier)
    assert all(torch.equal(v, full.state_dict()[k]) for k, v in kept.items())


@pytest.mark.parametrize("name", TINY)
def test_layer_groups_are_timms_group_matcher(name):
    full, backbone = _timm_model(name), _backbone(name)
    groups = backbone.layer_groups()
    assert _timm.spec(name).layer_groups == tuple(groups) and len(groups) >= 3
    # timm's coarse groups, in timm's order, without the classifier's parameters.
    kept = {n for n, _ in backbone.model.named_parameters()}
    expected = [
        [f"model.{n}" for n in names if n in kept]
        for names in group_parameters(full, full.group_matcher(coarse=True)).values()
    ]
    assert list(groups.values()) == [names for names in expected if names]
    listed = [n for names in groups.values() for n in names]
    assert len(listed) == len(set(listed))
    assert set(listed) == {n for n, _ in backbone.named_parameters()}


def test_groups_name_their_module_and_can_be_cut_at():
    backbone = _backbone("test_efficientnet.r160_in1k")
    groups = list(backbone.layer_groups())
    assert groups == ["stem", *(f"blocks.{i}" for i in range(4)), "head"]
    assert backbone.layer_module("blocks.2") is backbone.model.blocks[2]
    assert backbone.layer_module("blocks.2.0") is backbone.model.blocks[2][0]
    # "stem" and "head" are parts of several modules: no single output to take.
    with pytest.raises(ValueError, match=r"'stem' .* parts of \['conv_stem', 'bn1'\]"):
        backbone.layer_module("stem")
    vit = _backbone("test_vit.r160_in1k")
    with pytest.raises(ValueError, match=r"'head' .* parts of \['blocks.5', 'norm'\]"):
        vit.layer_module("head")  # not timm's classifier, also called "head"


@pytest.mark.parametrize("name", TINY)
def test_stages_chain_into_the_features_for_efficientnets_only(name):
    backbone = _backbone(name)
    stages = backbone.stages()
    if "efficientnet" not in name:
        assert stages is None  # fine-tuning then caches only a wholly frozen backbone
        return
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        chained = x
        for stage in stages:
            chained = stage(chained)
        torch.testing.assert_close(chained, backbone.forward_features(x))
    in_stages = {id(p) for stage in stages for p in stage.parameters()}
    assert in_stages == {id(p) for p in backbone.parameters()}


def test_a_group_in_the_head_is_taken_from_the_whole_forward_pass():
    # ConvNeXt's last group is the LayerNorm its classifier applies after pooling.
    backbone = _backbone("test_convnext.r160_in1k")
    assert list(backbone.layer_groups())[-1] == "head.norm"
    images = np.random.default_rng(0).integers(0, 256, (2, 40, 40, 3), dtype=np.uint8)
    auto = ImageEncoder(backbone).fit(images)
    norm = ImageEncoder(backbone, layer="head.norm").fit(images)
    np.testing.assert_allclose(norm.transform(images), auto.transform(images), atol=1e-5)


def test_register_tokens_are_left_out_of_the_average():
    backbone = _backbone("test_vit2.r160_in1k")
    assert backbone.num_prefix_tokens == 1 and not backbone.has_class_token
    x = torch.randn(2, 3, 160, 160)
    with torch.no_grad():
        tokens = backbone.forward_features(x)
        patches = tokens[:, 1:].mean(dim=1)
        # timm's head: the average of the patch tokens, then a LayerNorm (fc_norm)
        torch.testing.assert_close(backbone(x), backbone.model.fc_norm(patches))
        torch.testing.assert_close(pool(tokens, "avg", 1), patches)
    vit = _backbone("test_vit.r160_in1k")
    assert vit.num_prefix_tokens == 1 and vit.has_class_token


def test_channels_last_models_give_a_channels_first_map():
    # A tiny Swin: timm's returns (N, h, w, C); the backbone's map is (N, C, h, w).
    torch.manual_seed(0)
    swin = timm.create_model(
        "swin_tiny_patch4_window7_224", img_size=64, window_size=4, embed_dim=24,
        depths=(1, 1), num_heads=(1, 2),
    ).eval()  # fmt: skip
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        tokens = swin.forward_features(x)
        expected = swin.forward_head(tokens, pre_logits=True)
        backbone = TimmBackbone(swin).eval()
        features = backbone.forward_features(x)
        torch.testing.assert_close(features, tokens.permute(0, 3, 1, 2))
        torch.testing.assert_close(backbone(x), expected)
    assert features.shape == (2, 48, 8, 8)


REAL_TAGS = [
    "convnext_tiny.fb_in22k",
    "vit_small_patch16_384.augreg_in21k_ft_in1k",
    "resnet18.a1_in1k",
    "tf_efficientnet_lite0.in1k",
    "deit_tiny_patch16_224.fb_in1k",
]


@pytest.mark.parametrize("name", TINY + REAL_TAGS)
def test_preprocessing_is_timms_data_config(name):
    config = resolve_data_config(pretrained_cfg=get_pretrained_cfg(name).to_dict())
    if name in TINY:  # from the built model too: the same
        assert resolve_data_config(model=_timm_model(name)) == config
    pre = _timm.spec(name).preprocessing
    assert (pre.input_size, pre.input_size) == config["input_size"][1:]
    assert pre.resize_size == math.floor(pre.input_size / config["crop_pct"])
    assert (pre.mean, pre.std) == (tuple(config["mean"]), tuple(config["std"]))
    assert pre.interpolation == config["interpolation"]


def test_any_pretrained_tag_is_a_spec_without_a_build(monkeypatch):
    def no_builds(*args, **kwargs):
        raise AssertionError("a model was built")

    monkeypatch.setattr(timm, "create_model", no_builds)
    spec = _timm.spec_for("convnext_tiny.fb_in22k")
    assert spec.name == "convnext_tiny.fb_in22k" and spec.preprocessing.input_size == 224
    assert spec.weights.url.endswith("/timm/convnext_tiny.fb_in22k")
    assert _timm.spec_for("convnext_tiny") is None  # no tag: not a set of weights
    assert _timm.spec_for("no_such_model.tag") is None
    assert _timm.spec_for(42) is None
    names = [s.name for s in _timm.specs("test_vit*")]
    assert names == timm.list_models("test_vit*", pretrained=True)


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_weights_from_a_local_file(tmp_path, suffix):
    from safetensors.torch import save_file

    name = "test_resnet.r160_in1k"
    torch.manual_seed(1)
    saved = timm.create_model(name).eval()  # other draws than _backbone's
    path = tmp_path / f"weights{suffix}"
    if suffix == ".pth":
        torch.save(saved.state_dict(), path)
    else:
        save_file(saved.state_dict(), path)
    loaded = _timm.create(name, str(path))
    state = saved.state_dict()
    assert all(torch.equal(v, state[k]) for k, v in loaded.model.state_dict().items())
    assert not all(torch.equal(v, state[k]) for k, v in _backbone(name).model.state_dict().items())
    # The encoder takes the same path.
    images = np.random.default_rng(0).integers(0, 256, (2, 40, 40, 3), dtype=np.uint8)
    encoder = ImageEncoder(name, weights=path).fit(images)
    with torch.no_grad():
        expected = saved.forward_head(saved.forward_features(torch.ones(1, 3, 160, 160)), True)
        torch.testing.assert_close(encoder.model_(torch.ones(1, 3, 160, 160)), expected)


def test_a_wrong_or_missing_file_fails_clearly(tmp_path):
    path = tmp_path / "resnet.pth"
    torch.save(timm.create_model("test_resnet.r160_in1k").state_dict(), path)
    with pytest.raises(ValueError, match="does not fit timm's test_efficientnet.r160_in1k"):
        _timm.create("test_efficientnet.r160_in1k", path)
    with pytest.raises(WeightsNotFoundError, match="missing.pth' .* does not exist"):
        _timm.create("test_resnet.r160_in1k", tmp_path / "missing.pth")


@pytest.fixture
def empty_hf_cache(tmp_path, monkeypatch):
    """The Hugging Face cache (where timm keeps downloads) points at an empty folder."""
    from huggingface_hub import constants

    cache = tmp_path / "hf"
    cache.mkdir()
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    return cache


def test_default_weights_without_a_network_fail_at_once(no_network, empty_hf_cache):
    name = "test_resnet.r160_in1k"
    with pytest.raises(WeightsNotFoundError) as error:
        _timm.create(name, "default")
    message = str(error.value)
    assert f"huggingface.co/timm/{name}" in message  # the Hub repository to fetch
    assert "cannot be reached" in message and "local path" in message
    assert len(no_network) <= 1  # one connection attempt, no retries

    no_network.clear()
    with pytest.raises(WeightsNotFoundError, match=f"timm/{name}"):
        ImageEncoder(name).fit(np.zeros((1, 32, 32, 3), np.uint8))
    assert len(no_network) <= 1


def test_default_weights_offline_never_connect(no_network, empty_hf_cache, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(WeightsNotFoundError, match="downloads are disabled") as error:
        _timm.create("test_vit.r160_in1k", "default")
    assert "huggingface.co/timm/test_vit.r160_in1k" in str(error.value)
    assert no_network == []


def test_default_weights_from_the_hugging_face_cache(empty_hf_cache, monkeypatch):
    from safetensors.torch import save_file

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    name = "test_vit.r160_in1k"
    torch.manual_seed(2)
    saved = timm.create_model(name)
    # The layout huggingface_hub leaves behind after a download.
    repo = empty_hf_cache / f"models--timm--{name}"
    snapshot = repo / "snapshots" / "0123abcd"
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0123abcd")
    save_file(saved.state_dict(), snapshot / "model.safetensors")

    loaded = _timm.create(name, "default")
    state = saved.state_dict()
    assert all(torch.equal(v, state[k]) for k, v in loaded.model.state_dict().items())


def test_a_timm_name_works_in_the_encoder_without_the_plugin(monkeypatch, rgb_images):
    registry = Registry(group="sktransfer.tests.no-plugins")  # built-in families only
    name = "test_vit.r160_in1k"
    assert name not in registry and f"timm/{name}" not in registry
    monkeypatch.setattr(backbones, "resolve", registry.resolve)

    encoder = ImageEncoder(name, weights=None, batch_size=4)
    features = encoder.fit_transform(rgb_images)
    assert features.shape == (6, 64) and features.dtype == np.float32
    assert np.isfinite(features).all() and features.std() > 0
    assert isinstance(encoder.model_.backbone, TimmBackbone)
    assert encoder.pooling_ == "pre_logits" and encoder.preprocessing_.input_size == 160
    assert encoder.preprocessing_ == _timm.spec(name).preprocessing

    cut = ImageEncoder(name, weights=None, layer="blocks.2").fit(rgb_images)
    assert cut.pooling_ == "avg" and cut.transform(rgb_images).shape == (6, 64)
    cls = ImageEncoder(name, weights=None, pooling="cls").fit(rgb_images)
    assert cls.transform(rgb_images).shape == (6, 64)
