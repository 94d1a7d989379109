"""Models that earlier releases saved load and predict the same under this release.

``tests/fixtures/v0_1_0/make.py`` pickled them with 0.1.0; their module paths
(``encoders._image_features.ImageFeatures``, ``finetune._model.TransferModel``,
a fine-tuner that was a skorch net) must keep loading. ``tests/fixtures/v0_2_0/make.py``
wrote model files with 0.2.0's ``sktransfer.save``: no pickle, and every later
release reads them.
"""

import pickle
from pathlib import Path

import numpy as np
import pytest

from sktransfer import FineTuneClassifier, HeadClassifier, ImageEncoder

FIXTURES = Path(__file__).parent / "fixtures" / "v0_1_0"


def _load(name):
    # Fixtures of this repository, written by its own script: trusted.
    return pickle.loads((FIXTURES / f"{name}.pkl").read_bytes())


@pytest.fixture(scope="module")
def images():
    """What make.py drew."""
    return np.random.default_rng(0).integers(0, 256, (6, 32, 32, 3), dtype=np.uint8)


def test_an_image_encoder_of_0_1_0_encodes_the_same(images):
    encoder = _load("image_encoder")
    assert isinstance(encoder, ImageEncoder)
    np.testing.assert_allclose(
        encoder.transform(images), np.load(FIXTURES / "image_encoder.npy"), rtol=1e-5, atol=1e-6
    )


def test_a_fine_tuner_of_0_1_0_predicts_the_same_and_trains_on(images):
    model = _load("fine_tune_classifier")
    assert isinstance(model, FineTuneClassifier)
    expected = np.load(FIXTURES / "fine_tune_classifier.npy")
    np.testing.assert_allclose(model.predict_proba(images), expected, rtol=1e-5, atol=1e-6)
    assert model.classes_.tolist() == ["cat", "dog", "owl"]
    assert model.hidden == () and model.freeze == "last:1" and len(model.history_) == 1
    # Its parameters are this release's: it clones, and a warm start trains on.
    assert model.get_params()["backbone"] == "small_cnn"
    model.set_params(warm_start=True, max_epochs=1).fit(images, ["cat", "dog", "owl"] * 2)
    assert len(model.history_) == 2


def test_a_head_of_0_1_0_predicts_the_same(images):
    features = _load("image_encoder").transform(images)
    head = _load("head_classifier")
    assert isinstance(head, HeadClassifier)
    np.testing.assert_allclose(
        head.predict_proba(features), np.load(FIXTURES / "head_classifier.npy"), rtol=1e-5
    )


V0_2_0 = Path(__file__).parent / "fixtures" / "v0_2_0"


@pytest.mark.parametrize("name", ["image_pipeline", "fine_tune_classifier", "head_classifier"])
def test_a_model_file_of_0_2_0_loads_without_pickle_and_predicts_the_same(images, name):
    import sktransfer

    model = sktransfer.load(V0_2_0 / f"{name}.skops")
    X = images
    if name == "head_classifier":
        X = sktransfer.load(V0_2_0 / "image_pipeline.skops")[0].transform(images)
    np.testing.assert_allclose(
        model.predict_proba(X), np.load(V0_2_0 / f"{name}.npy"), rtol=1e-5, atol=1e-6
    )
