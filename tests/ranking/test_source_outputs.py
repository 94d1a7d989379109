"""Source classifiers' logits beside the features, and the rankings that read them (LEEP, NCE)."""

import numpy as np
import pytest
import timm
import torch
from sklearn.feature_extraction.text import TfidfVectorizer
from torchvision.models import get_model

from sktransfer import BackboneSelector, ImageEncoder, backbones, rank_backbones
from sktransfer.backbones import BackboneSpec, SequentialBackbone
from sktransfer.backbones import _efficientnet_lite as lite
from sktransfer.ranking import leep


def _saved(model, path):
    torch.save(model.state_dict(), path)
    return path


@pytest.mark.parametrize(
    "name, make",
    [
        ("resnet18", lambda: get_model("resnet18", weights=None)),
        ("mobilenet_v3_small", lambda: get_model("mobilenet_v3_small", weights=None)),
        ("test_vit.r160_in1k", lambda: timm.create_model("test_vit.r160_in1k")),
        ("test_efficientnet.r160_in1k", lambda: timm.create_model("test_efficientnet.r160_in1k")),
    ],
)
def test_the_source_classifier_on_the_features_is_the_whole_network(name, make, tmp_path):
    torch.manual_seed(0)
    full = make().eval()
    path = _saved(full, tmp_path / "weights.pth")
    spec = backbones.resolve(name, modality="image")
    x = torch.randn(2, 3, spec.preprocessing.input_size, spec.preprocessing.input_size)
    with torch.no_grad():
        logits = spec.load_source_classifier(path)(spec.load(path).eval()(x))
        torch.testing.assert_close(logits, full(x), rtol=1e-4, atol=1e-4)


def test_the_packaged_lite0_gives_imagenet_logits_beside_its_features():
    images = np.random.default_rng(0).integers(0, 256, (3, 40, 40, 3), dtype=np.uint8)
    encoder = ImageEncoder("efficientnet_lite0", image_size=64, device="cpu").fit(images)
    features, logits = encoder.source_outputs(images)
    np.testing.assert_array_equal(features, encoder.transform(images))
    network = lite.build_classifier("efficientnet_lite0")
    with torch.no_grad():
        expected = network.get_classifier()(torch.from_numpy(features)).numpy()
    assert logits.shape == (3, 1000) and logits.dtype == np.float32
    np.testing.assert_allclose(logits, expected, rtol=1e-5, atol=1e-5)


def test_features_that_are_not_the_classifiers_input_have_no_source_outputs():
    images = np.zeros((2, 32, 32, 3), dtype=np.uint8)
    for encoder, word in [
        (ImageEncoder("resnet18", weights=None, layer="layer3"), "layer='layer3'"),
        (ImageEncoder("resnet18", weights=None, pooling="max"), "pooling='max'"),
    ]:
        with pytest.raises(ValueError, match=word):
            encoder.fit(images).source_outputs(images)
    squeeze = ImageEncoder("squeezenet1_1", weights=None).fit(images)
    with pytest.raises(ValueError, match="squeezenet1_1' keeps no pre-trained classifier"):
        squeeze.source_outputs(images)


def test_a_plugin_without_a_source_classifier_says_so():
    from collections import OrderedDict

    from torch import nn

    def build(weights):
        return SequentialBackbone(OrderedDict(conv=nn.Conv2d(3, 4, 3)))

    spec = BackboneSpec(name="tiny", modality="image", feature_dim=4, build=build)
    with pytest.raises(ValueError, match="'tiny' keeps no pre-trained classifier"):
        spec.load_source_classifier()
    wrong = BackboneSpec(name="wrong", modality="image", feature_dim=4, build=spec.build,
                         source_classifier=lambda w: nn.Linear(8, 10))  # fmt: skip
    with pytest.raises(ValueError, match="reads 8 features, its forward_head gives 4"):
        wrong.load_source_classifier()
    with pytest.raises(TypeError, match="source_classifier must be callable"):
        BackboneSpec(name="x", modality="image", build=spec.build, source_classifier="fc")


def test_leep_and_nce_rank_backbones_from_their_logits(fashion_split):
    X, y, _, _ = fashion_split(3, 1)
    candidates = [ImageEncoder(f"efficientnet_lite{i}", image_size=64) for i in (0, 1)]
    table = rank_backbones(X, y, candidates, scorer="leep")
    assert set(table["candidate"]) == {"efficientnet_lite0", "efficientnet_lite1"}
    assert (table["feature_dim"] == 1280).all() and (table["score"] < 0).all()
    _, logits = candidates[0].fit(X).source_outputs(X)
    row = table.set_index("candidate").loc["efficientnet_lite0"]
    assert row["score"] == pytest.approx(leep(logits, y), rel=1e-6)
    selector = BackboneSelector(candidates, scorer="nce")
    features = selector.fit_transform(X, y)
    assert features.shape == (len(X), 1280)  # the features, not the logits
    np.testing.assert_array_equal(features, selector.transform(X))


def test_a_candidate_without_a_source_classifier_is_named():
    texts, labels = ["a good film", "a bad film"] * 4, ["pos", "neg"] * 4
    with pytest.raises(ValueError, match="candidate 'TfidfVectorizer' has no source classifier"):
        rank_backbones(texts, labels, [TfidfVectorizer()], scorer="leep")
