"""The plugin sktransfer-timm: timm's pretrained tags as backbones, listed without builds."""

import math
import time

import numpy as np
import pytest
import torch

from sktransfer import ImageEncoder, WeightsNotFoundError, backbones
from sktransfer.backbones import Registry

timm = pytest.importorskip("timm")
sktransfer_timm = pytest.importorskip("sktransfer_timm")

# timm's tiny test architectures: one per trunk rule, plus two without a rule.
TINY = {
    "test_efficientnet.r160_in1k": ("stem", "stage1"),
    "test_resnet.r160_in1k": ("stem", "layer1", "layer2", "layer3", "layer4"),
    "test_convnext.r160_in1k": ("stem", "stage1", "stage2", "stage3", "stage4"),
    "test_byobnet.r160_in1k": ("stem", "stage1"),
    "test_vit.r160_in1k": ("embed", "block1"),
    "test_nfnet.r160_in1k": ("features",),
}


def test_listing_builds_nothing(monkeypatch):
    def no_builds(*args, **kwargs):
        raise AssertionError("a model was built while listing")

    monkeypatch.setattr(timm, "create_model", no_builds)
    start = time.perf_counter()
    specs = sktransfer_timm.specs()
    elapsed = time.perf_counter() - start
    assert len(specs) > 1000
    assert elapsed < 5, f"listing took {elapsed:.1f} s"

    registry = Registry()
    names = registry.list()
    assert "timm/resnet18.a1_in1k" not in names and "resnet18.a1_in1k" in names
    spec = registry.get("timm/convnext_tiny.fb_in22k")
    assert spec.family == "timm" and spec.preprocessing.input_size == 224
    # tagged names leave torchvision's short names unambiguous
    assert registry.get("resnet50").family == "torchvision"
    assert registry.get("efficientnet_lite0").family != "timm"


def test_preprocessing_follows_the_pretrained_config():
    for name in ("convnext_tiny.fb_in22k", "vit_small_patch16_384.augreg_in21k_ft_in1k",
                 "resnet18.a1_in1k", "tf_efficientnet_lite0.in1k"):  # fmt: skip
        cfg = timm.models.get_pretrained_cfg(name)
        pre = sktransfer_timm.preprocessing_of(cfg)
        assert pre.input_size == cfg.input_size[1]
        assert pre.resize_size == math.floor(cfg.input_size[1] / cfg.crop_pct)
        assert (pre.mean, pre.std) == (tuple(cfg.mean), tuple(cfg.std))
        assert pre.interpolation == cfg.interpolation


@pytest.mark.parametrize("name", sorted(TINY))
def test_trunk_is_forward_features_in_groups(name):
    torch.manual_seed(0)
    model = sktransfer_timm.create_model(name, weights=None)
    x = torch.randn(2, *model.pretrained_cfg["input_size"])
    with torch.inference_mode():
        expected = model.forward_features(x)
        trunk = sktransfer_timm.trunk_of(model)
        out = trunk(x)
    groups = tuple(n for n, _ in trunk.named_children())
    assert groups[: len(TINY[name])] == TINY[name]
    torch.testing.assert_close(out, expected)
    dim, described_groups, _ = sktransfer_timm.describe(name)
    assert described_groups == groups and dim == out.shape[1 if out.ndim == 4 else -1]
    # Each parameter sits in one group; only the classifier's parts are left out.
    in_trunk = {id(p) for p in trunk.parameters()}
    assert len(list(trunk.named_parameters(remove_duplicate=False))) == len(in_trunk)
    left_out = {n.split(".")[0] for n, p in model.named_parameters() if id(p) not in in_trunk}
    assert left_out <= {"head", "fc", "classifier", "fc_norm"}


def test_register_tokens_are_dropped_and_class_token_comes_first():
    # DINOv2 with registers, made small (2 blocks, 70 px) to run fast.
    model = timm.create_model("vit_small_patch14_reg4_dinov2", img_size=70, depth=2).eval()
    assert model.num_prefix_tokens == 5  # class token + 4 registers
    x = torch.randn(1, 3, 70, 70)
    with torch.inference_mode():
        tokens = model.forward_features(x)
        out = sktransfer_timm.trunk_of(model)(x)
    torch.testing.assert_close(out, torch.cat([tokens[:, :1], tokens[:, 5:]], dim=1))


def test_models_without_class_token_give_a_feature_map():
    model = sktransfer_timm.create_model("test_vit2.r160_in1k", weights=None)
    assert model.cls_token is None and model.num_prefix_tokens == 1  # one register
    x = torch.randn(2, 3, 160, 160)
    with torch.inference_mode():
        tokens = model.forward_features(x)
        out = sktransfer_timm.trunk_of(model)(x)
    # (N, C, L, 1): the encoder's "avg" then averages exactly the patch tokens
    torch.testing.assert_close(out.mean(dim=(2, 3)), tokens[:, 1:].mean(dim=1))
    assert sktransfer_timm.describe("test_vit2.r160_in1k")[2] == "avg"


def test_encoder_on_a_timm_backbone():
    images = np.random.default_rng(0).integers(0, 256, (5, 40, 50, 3), dtype=np.uint8)
    encoder = ImageEncoder("timm/test_vit.r160_in1k", weights=None, batch_size=2)
    features = encoder.fit_transform(images)
    assert features.shape == (5, 64) and features.dtype == np.float32
    assert encoder.pooling_ == "cls"  # what timm's classifier uses for this ViT
    assert np.isfinite(features).all()
    cnn = ImageEncoder("test_efficientnet.r160_in1k", weights=None, layer="stage2")
    assert cnn.fit_transform(images).shape[0] == 5


@pytest.fixture
def empty_hf_cache(tmp_path, monkeypatch):
    from huggingface_hub import constants

    cache = tmp_path / "hf"
    cache.mkdir()
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    return cache


def test_default_weights_offline_fail_fast(monkeypatch, empty_hf_cache):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    backbones.get("timm/resnet18.a1_in1k")  # discovery is not what is timed
    start = time.perf_counter()
    with pytest.raises(WeightsNotFoundError) as error:
        ImageEncoder("timm/resnet18.a1_in1k").fit(np.zeros((1, 32, 32, 3), np.uint8))
    assert time.perf_counter() - start < 10
    message = str(error.value)
    assert "'timm/resnet18.a1_in1k'" in message  # the Hub repository to fetch
    assert "downloads are disabled" in message and "weights=None" in message


def test_default_weights_from_the_hugging_face_cache(empty_hf_cache, monkeypatch):
    from safetensors.torch import save_file

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    name = "test_vit.r160_in1k"
    saved = sktransfer_timm.create_model(name, weights=None)
    # The layout huggingface_hub leaves behind after a download.
    repo = empty_hf_cache / "models--timm--test_vit.r160_in1k"
    snapshot = repo / "snapshots" / "0123abcd"
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0123abcd")
    save_file(saved.state_dict(), snapshot / "model.safetensors")

    loaded = sktransfer_timm.create_model(name, weights="default")
    for (key, a), b in zip(saved.state_dict().items(), loaded.state_dict().values()):
        assert torch.equal(a, b), key


def test_weights_from_a_local_file(tmp_path):
    name = "test_resnet.r160_in1k"
    saved = sktransfer_timm.create_model(name, weights=None)
    path = tmp_path / "weights.pth"
    torch.save(saved.state_dict(), path)
    loaded = sktransfer_timm.create_model(name, weights=str(path))
    assert all(torch.equal(a, b) for a, b in zip(saved.state_dict().values(),
                                                 loaded.state_dict().values()))  # fmt: skip
    with pytest.raises(ValueError, match="does not fit timm/test_efficientnet"):
        sktransfer_timm.create_model("test_efficientnet.r160_in1k", weights=str(path))
    with pytest.raises(FileNotFoundError):
        sktransfer_timm.create_model(name, weights=str(tmp_path / "missing.pth"))
