"""image_size: ImageEncoder and the fine-tuners run a backbone at another input size."""

import numpy as np
import pytest
import torch
import torchvision
from skorch.callbacks import Callback

from sktransfer import FineTuneClassifier, FineTuneRegressor, ImageEncoder, backbones
from sktransfer.backbones import BackboneSpec, ImagePreprocessing
from sktransfer.cache import EmbeddingCache
from sktransfer.images import preprocessing_at

# A small CNN, fast on two cores.
SMALL = "mobilenet_v3_small"


def test_the_resize_keeps_its_ratio_to_the_crop():
    lite0 = backbones.get("efficientnet_lite0").preprocessing
    at_112 = preprocessing_at(lite0, 112)
    assert (at_112.input_size, at_112.resize_size) == (112, 128)
    assert (at_112.mean, at_112.interpolation) == (lite0.mean, lite0.interpolation)
    inception = backbones.get("inception_v3").preprocessing  # 299 / 342
    assert preprocessing_at(inception, 150).resize_size == round(150 * 342 / 299) == 172
    assert preprocessing_at(lite0, None) is lite0
    no_resize = ImagePreprocessing(input_size=32, resize_size=None)
    assert preprocessing_at(no_resize, 64) == ImagePreprocessing(input_size=64, resize_size=None)


@pytest.fixture(scope="module")
def small_file(tmp_path_factory):
    """Fixed random weights of SMALL: every encoder in a test computes the same function."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("weights") / "small.pt"
    torch.save(torchvision.models.mobilenet_v3_small().state_dict(), path)
    return path


def test_image_encoder_runs_the_backbone_at_image_size(small_file, rgb_images):
    images = np.concatenate([rgb_images, rgb_images[:, ::-1]], axis=1)  # 80 x 48
    own = ImageEncoder(SMALL, weights=small_file).fit()
    small = ImageEncoder(SMALL, weights=small_file, image_size=112).fit()
    assert own.preprocessing_.input_size == 224
    assert (small.preprocessing_.input_size, small.preprocessing_.resize_size) == (112, 128)
    at_112, at_224 = small.transform(images), own.transform(images)
    assert at_112.shape == at_224.shape == (6, 1024)
    assert np.abs(at_112 - at_224).max() > 0.1 * np.abs(at_224).max()
    # The same as a backbone whose own preprocessing is 112 px.
    registered = backbones.get(SMALL)
    spec = BackboneSpec(
        name="small_at_112",
        modality="image",
        build=registered.build,
        preprocessing=preprocessing_at(registered.preprocessing, 112),
    )
    np.testing.assert_array_equal(
        ImageEncoder(spec, weights=small_file).fit_transform(images), at_112
    )


def test_encoders_sharing_a_model_keep_their_own_size(small_file):
    # Fits of the same backbone and weights share the loaded model: not its size.
    assert ImageEncoder(SMALL, weights=small_file).fit().preprocessing_.input_size == 224
    small = ImageEncoder(SMALL, weights=small_file, image_size=96).fit()
    assert small.preprocessing_.input_size == 96


def test_another_size_is_another_cache_fingerprint(small_file, rgb_images, tmp_path, monkeypatch):
    encoded = []
    encode = ImageEncoder._encode

    def counting(self, items, positions):
        encoded.append((self.image_size, len(items)))
        return encode(self, items, positions)

    monkeypatch.setattr(ImageEncoder, "_encode", counting)
    cache = EmbeddingCache(tmp_path)

    def features(**params):
        return ImageEncoder(SMALL, weights=small_file, cache=cache, **params).fit_transform(
            rgb_images
        )

    own, small = features(), features(image_size=112)
    assert encoded == [(None, 6), (112, 6)]  # a miss: encoded again
    assert len(cache.info()) == 2
    np.testing.assert_array_equal(features(image_size=112), small)
    np.testing.assert_array_equal(features(image_size=224), own)  # its own size: the same
    assert len(encoded) == 2 and len(cache.info()) == 2


def test_bad_sizes_are_named(rgb_images):
    with pytest.raises(ValueError, match="image_size must be None or an int >= 8, got 4"):
        ImageEncoder("resnet18", weights=None, image_size=4).fit()
    with pytest.raises(TypeError, match="image_size must be None or an int >= 8, got '64'"):
        ImageEncoder("resnet18", weights=None, image_size="64").fit()
    # Too small for SqueezeNet's pooling (a ViT's position embeddings fail the same way).
    with pytest.raises(ValueError, match="image_size=8 does not fit backbone "):
        ImageEncoder("squeezenet1_1", weights=None, image_size=8).fit()
    with pytest.raises(ValueError, match="image_size=8 does not fit"):
        FineTuneClassifier("squeezenet1_1", weights=None, image_size=8, validation=None).fit(
            rgb_images, [0, 1] * 3
        )


class InputSizes(Callback):
    """Records the (height, width) of every batch the backbone receives."""

    def initialize(self):
        self.sizes = []
        return self

    def on_train_begin(self, net, **kwargs):
        backbone = net.module_.body.backbone
        if not getattr(backbone, "_recorded", False):
            backbone.register_forward_pre_hook(
                lambda m, args: self.sizes.append(args[0].shape[-2:])
            )
            backbone._recorded = True


@pytest.fixture
def fashion_like():
    """Eight 28 x 28 grey images whose label is told by their brightness."""
    rng = np.random.default_rng(0)
    X = rng.integers(0, 128, (8, 28, 28), dtype=np.uint8)
    y = np.array(["dark", "light"] * 4)
    X[y == "light"] += 120
    return X, y


def small_cnn(model=FineTuneClassifier, **params):
    defaults = dict(weights=None, freeze="none", max_epochs=1, batch_size=4, validation=None,
                    device="cpu", random_state=0)  # fmt: skip
    return model("small_cnn", **{**defaults, **params})


def test_fine_tuning_trains_and_predicts_at_image_size(fashion_like):
    X, y = fashion_like
    sizes = InputSizes()
    model = small_cnn(image_size=64, callbacks=[("sizes", sizes)]).fit(X, y)
    assert model.preprocessing_.input_size == model.preprocessing_.resize_size == 64
    assert sizes.sizes and {tuple(s) for s in sizes.sizes} == {(64, 64)}
    del sizes.sizes[:]
    model.predict(X)
    assert {tuple(s) for s in sizes.sizes} == {(64, 64)}
    # A warm start may train at another size.
    del sizes.sizes[:]
    model.set_params(image_size=48, warm_start=True).fit(X, y)
    assert {tuple(s) for s in sizes.sizes} == {(48, 48)}
    assert (
        small_cnn(FineTuneRegressor, image_size=40).fit(X, np.arange(8.0)).preprocessing_.input_size
        == 40
    )


def test_the_frozen_pass_runs_at_image_size_under_its_own_fingerprint(fashion_like, tmp_path):
    X, y = fashion_like
    sizes = InputSizes()
    cache = EmbeddingCache(tmp_path)
    small_cnn(freeze="backbone", cache=cache).fit(X, y)
    small_cnn(freeze="backbone", cache=cache, image_size=48, callbacks=[("sizes", sizes)]).fit(X, y)
    assert {tuple(s) for s in sizes.sizes} == {(48, 48)}  # the one frozen pass
    assert len(cache.info()) == 2


def test_a_text_backbone_takes_no_image_size():
    texts = ["The striker scored twice.", "The bank raised rates."]
    model = FineTuneClassifier("all-MiniLM-L6-v2", image_size=64, max_epochs=1, validation=None)
    with pytest.raises(ValueError, match="image_size is for image backbones; .* reads text"):
        model.fit(texts, ["sport", "business"])
