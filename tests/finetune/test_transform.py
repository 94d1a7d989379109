"""A fitted fine-tuner's own features (``transform``): exactly what its head reads."""

import numpy as np
import pytest
import torch

from sktransfer import FineTuneClassifier, FineTuneRegressor, ImageEncoder

SMALL = dict(image_size=32, batch_size=8, validation=None, device="cpu", random_state=0)


def test_a_frozen_backbone_gives_the_image_encoders_features(images):
    X, y = images
    model = FineTuneClassifier("efficientnet_lite0", freeze="backbone", max_epochs=1, **SMALL)
    features = model.fit(X, y).transform(X)
    expected = ImageEncoder("efficientnet_lite0", image_size=32, device="cpu").fit_transform(X)
    assert features.shape == (len(X), 1280) and features.dtype == np.float32
    np.testing.assert_allclose(features, expected, rtol=1e-4, atol=1e-4)


def test_fine_tuned_features_are_what_the_head_reads(images):
    X, y = images
    # The last two groups train (blocks.5 among them), at the head's rate: features move.
    layers = ["blocks.4", "blocks.5"]
    model = FineTuneClassifier("efficientnet_lite0", freeze="last:2", backbone_lr="1x",
                               max_epochs=2, layer=layers, **SMALL).fit(X, y)  # fmt: skip
    features = model.transform(X)
    encoder = ImageEncoder("efficientnet_lite0", layer=layers, image_size=32)
    before = encoder.fit_transform(X)
    assert features.shape == before.shape
    assert not np.allclose(features, before, atol=1e-3)  # the last group trained
    with torch.no_grad():
        logits = model.module_.head(torch.from_numpy(features))
    np.testing.assert_allclose(logits.softmax(1).numpy(), model.predict_proba(X), atol=1e-5)
    assert model.module_.training is False  # transform leaves it as predict does


def test_a_regressors_and_a_text_models_features():
    texts = ["a calm sea", "a quiet lake", "a wild storm", "a violent gale"] * 3
    targets = np.array([0.1, 0.2, 0.9, 1.0] * 3)
    settings = dict(batch_size=4, validation=None, device="cpu", random_state=0)
    model = FineTuneRegressor("all-MiniLM-L6-v2", freeze="last:1", max_epochs=1, **settings)
    features = model.fit(texts, targets).transform(texts)
    assert features.shape == (len(texts), 384)
    with torch.no_grad():
        predicted = model.module_.head(torch.from_numpy(features)).numpy().ravel()
    np.testing.assert_allclose(predicted, model.predict(texts), rtol=1e-5, atol=1e-5)


def test_transform_before_fit_says_so():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        FineTuneClassifier().transform(np.zeros((1, 8, 8, 3), dtype=np.uint8))
