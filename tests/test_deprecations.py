"""0.2.0's renames and removals: the old form works for one minor release, with a
FutureWarning that names the new one; invalid values are refused in fit, naming the
parameter of the class the user called, never in __init__ or set_params."""

import importlib
import sys
import warnings

import numpy as np
import pytest
from PIL import Image

from sktransfer import FineTuneClassifier, ImageEncoder, WordVectorEncoder

IMAGES = np.random.default_rng(0).integers(0, 256, (6, 32, 32, 3), dtype=np.uint8)
LABELS = ["a", "b"] * 3


def tiny(**params):
    defaults = dict(weights=None, max_epochs=1, batch_size=3, validation=None, device="cpu")
    return FineTuneClassifier("small_cnn", **{**defaults, **params})


def test_fine_tuner_head_is_hidden_with_a_warning():
    model = tiny(head=(8,), random_state=0)
    assert model.get_params()["head"] == (8,)
    with pytest.warns(FutureWarning, match=r"FineTuneClassifier\(head=...\) .* use hidden="):
        model.fit(IMAGES, LABELS)
    assert model.module_.head[0].out_features == 8
    reference = tiny(hidden=(8,), random_state=0).fit(IMAGES, LABELS)
    np.testing.assert_array_equal(model.predict_proba(IMAGES), reference.predict_proba(IMAGES))


@pytest.mark.parametrize(
    ("params", "error", "message"),
    [
        ({"hidden": (8, 0)}, ValueError, r"hidden must hold layer sizes"),
        ({"head": (8, 0)}, ValueError, r"head must hold layer sizes"),
        ({"head": (8,), "hidden": (4,)}, ValueError, "give hidden alone"),
        ({"callbacks": -1}, TypeError, "callbacks must be None or a list of skorch callbacks"),
        ({"optimizer": -1}, TypeError, "optimizer must be a callable"),
        ({"lr": "fast"}, ValueError, "lr must be 'auto' or a number > 0.0"),
        ({"warm_start": "yes"}, TypeError, "warm_start must be True or False"),
        (
            {"optimiser__weight_decay": 0.1},
            ValueError,
            "no parameter 'optimiser__weight_decay'. Did you mean: optimizer__weight_decay?",
        ),
        ({"kwargs": -1}, ValueError, "has no parameter 'kwargs'"),
    ],
)
def test_invalid_values_are_refused_in_fit_naming_the_parameter(params, error, message):
    model = FineTuneClassifier()
    model.set_params(**params)  # never raises: sklearn's searches set values before fit
    with pytest.raises(error, match=message), warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # head's deprecation
        model.fit(IMAGES, LABELS)
    assert not hasattr(model, "net_")


def test_word_vectors_tokenizer_as_a_pattern_is_token_pattern_with_a_warning(tmp_path):
    vectors = tmp_path / "tiny.txt"
    vectors.write_text("2 2\ncat 1 0\nsat 0 1\n")
    texts = ["cat-sat", "sat"]
    old = WordVectorEncoder(vectors, tokenizer=r"[a-z]+")
    with pytest.warns(FutureWarning, match="tokenizer=<a regular expression>.*token_pattern"):
        features = old.fit_transform(texts)
    expected = WordVectorEncoder(vectors, token_pattern=r"[a-z]+").fit_transform(texts)
    np.testing.assert_array_equal(features, expected)
    both = WordVectorEncoder(vectors, tokenizer=r"[a-z]+", token_pattern=r"\S+")
    with pytest.raises(ValueError, match="give token_pattern alone"), pytest.warns(FutureWarning):
        both.fit(texts)


def test_the_demo_module_moved_with_a_warning():
    sys.modules.pop("sktransfer.demo", None)
    with pytest.warns(FutureWarning, match=r"sktransfer.demo is deprecated .* 'sktransfer demo'"):
        demo = importlib.import_module("sktransfer.demo")
    assert callable(demo.main)


def test_a_closed_pil_image_is_named_by_its_index():
    closed = Image.new("RGB", (8, 8))
    closed.close()
    encoder = ImageEncoder("small_cnn", weights=None, device="cpu").fit()
    with pytest.raises(ValueError, match="image 1 is a closed PIL image"):
        encoder.transform([Image.new("RGB", (8, 8)), closed])


def test_features_that_are_not_one_vector_per_image_are_refused():
    from collections import OrderedDict

    from torch import nn

    from sktransfer.backbones import ImageBackbone, ImageFeatures

    class MapHead(ImageBackbone):  # a forward_head that forgets to pool
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3)

        def forward_features(self, x):
            return self.conv(x)

        def forward_head(self, x, pre_logits=True):
            return x

        def layer_groups(self):
            return OrderedDict(conv=["conv.weight", "conv.bias"])

    with pytest.raises(ValueError, match=r"gives features of shape \(1, 4, 14, 14\)"):
        ImageFeatures(MapHead()).feature_size(16, backbone="map_head")
