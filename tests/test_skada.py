"""skada on sktransfer: its adapters on encoder features, our fine-tuners in its pipelines and
searches, with scikit-learn's metadata routing switched on as ``import skada`` switches it.

A scikit-learn digit shift: 8x8 digits against the same digits inverted (the target
domain, unlabelled in training), real EfficientNet-Lite0 features at 32 px.
"""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.preprocessing import StandardScaler

from sktransfer import FineTuneClassifier, ImageEncoder

N = 150  # per domain


@pytest.fixture(scope="module")
def digit_shift():
    """(X, y, sample_domain) for training, and the target's labelled test samples."""
    digits = load_digits()
    images = np.repeat((digits.images / 16 * 255).astype(np.uint8)[..., None], 3, axis=3)
    source, target = images[:N], 255 - images[N : 2 * N]
    X = np.concatenate([source, target])
    y = np.concatenate([digits.target[:N], np.full(N, -1)])  # the targets' labels masked
    domain = np.r_[np.ones(N, int), np.full(N, -2)]
    return X, y, domain, (255 - images[2 * N : 3 * N], digits.target[2 * N : 3 * N])


@pytest.fixture(scope="module")
def encoder(tmp_path_factory):
    cache = tmp_path_factory.mktemp("features")  # each image encoded once for every adapter
    return ImageEncoder("efficientnet_lite0", image_size=32, device="cpu", cache=cache)


def _target_accuracy(pipeline, test):
    X_test, y_test = test
    return float(np.mean(pipeline.predict(X_test) == y_test))


def test_skada_adapters_on_encoder_features_beat_source_only(skada, digit_shift, encoder):
    X, y, domain, test = digit_shift
    head = LogisticRegression(max_iter=1000)
    source_only = skada.make_da_pipeline(encoder, StandardScaler(), head)
    baseline = _target_accuracy(source_only.fit(X, y, sample_domain=domain), test)
    adapters = {
        "coral": [skada.CORALAdapter()],
        "subspace alignment": [skada.SubspaceAlignmentAdapter(n_components=20)],
        # 1280-d features, 150 samples: their covariance is singular; PCA first.
        "linear OT": [PCA(n_components=50, random_state=0), skada.LinearOTMappingAdapter()],
        "reweighting": [skada.DensityReweightAdapter()],
    }
    scores = {}
    for name, steps in adapters.items():
        # A reweighting adapter hands the head sample weights, which it must ask for.
        weighted = name == "reweighting"
        last = clone(head).set_fit_request(sample_weight=True) if weighted else head
        pipeline = skada.make_da_pipeline(encoder, StandardScaler(), *steps, last)
        scores[name] = _target_accuracy(pipeline.fit(X, y, sample_domain=domain), test)
    assert scores["coral"] > baseline + 0.03 and scores["subspace alignment"] > baseline + 0.03
    assert all(0.1 < s <= 1.0 for s in scores.values()), scores


def _few(digit_shift, n=40):
    """n samples of each domain: enough to train a few fine-tuning steps quickly."""
    X, y, domain, _ = digit_shift
    keep = np.r_[0:n, N : N + n]
    return X[keep], y[keep], domain[keep]


def test_a_fine_tuner_searched_by_an_unsupervised_scorer(skada, digit_shift):
    """GridSearchCV over adapt and freeze, scored by skada's prediction entropy: no target
    label is read (they are -1, and the target samples' domain is negative)."""
    X, y, domain = _few(digit_shift)
    model = FineTuneClassifier(
        "efficientnet_lite0", image_size=32, max_epochs=1, freeze="last:1",
        validation=None, device="cpu", random_state=0,
    ).set_fit_request(sample_domain=True)  # fmt: skip
    pipeline = skada.make_da_pipeline(model)
    (name,) = pipeline.named_steps
    scorer = skada.metrics.PredictionEntropyScorer()
    # skada's splitter: both domains in every fold (a plain KFold can leave no source).
    folds = skada.model_selection.DomainShuffleSplit(n_splits=2, test_size=0.5, random_state=0)
    grid = {f"{name}__adapt": ["adabn", "coral"], f"{name}__freeze": ["last:1", "backbone"]}
    search = GridSearchCV(pipeline, grid, scoring=scorer, cv=folds, error_score="raise")
    search.fit(X, y, sample_domain=domain)
    assert search.best_params_[f"{name}__adapt"] in ("adabn", "coral")
    scores = search.cv_results_["mean_test_score"]
    assert len(scores) == 4 and np.isfinite(scores).all()
    X_test, y_test = digit_shift[3]
    assert search.best_estimator_.predict(X_test).shape == y_test.shape
