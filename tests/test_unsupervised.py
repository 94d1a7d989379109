"""Unsupervised transfer, as examples/unsupervised.py shows it: clusters and anomalies found
in pre-trained features without a label, scored against raw pixels."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from sktransfer import ImageEncoder, PixelEncoder

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def example():
    path = Path(__file__).parents[1] / "examples" / "unsupervised.py"
    spec = importlib.util.spec_from_file_location("unsupervised_example", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def fashion(fashion_split):
    X, y, _, _ = fashion_split(30, 1)  # 300 images, 30 per class
    return X, y


def test_pretrained_features_cluster_fashion_mnist_better_than_pixels(example, fashion):
    X, y = fashion
    encoders = {"pixels": PixelEncoder(), "lite0": ImageEncoder(image_size=112, device="cpu")}
    scores = example.clustering(X, y, encoders)
    (pixels_nmi, pixels_ari), (lite0_nmi, lite0_ari) = scores["pixels"], scores["lite0"]
    assert lite0_nmi > pixels_nmi + 0.1, scores
    assert lite0_ari > pixels_ari, scores


def test_anomalies_score_above_chance_on_pretrained_features(example, fashion):
    X, y = fashion
    odd = np.flatnonzero(y == 9)[:5]  # five ankle boots among 270 other garments
    keep = np.r_[np.flatnonzero(y != 9), odd]
    encoders = {"lite0": ImageEncoder(image_size=112, device="cpu")}
    forest, lof = example.anomalies(X[keep], y[keep] == 9, encoders)["lite0"]
    assert forest > 0.6 and lof > 0.6, (forest, lof)
