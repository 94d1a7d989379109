"""rank_backbones, BackboneSelector and layers_of: real encoders, real searches."""

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from sktransfer import BackboneSelector, ImageEncoder, PixelEncoder, layers_of, rank_backbones
from sktransfer.encoders import ImageEncoder as ImageEncoderClass

TEXTS = ["a good film", "a great film", "a bad film", "an awful film"] * 6
LABELS = np.array(["pos", "pos", "neg", "neg"] * 6)


def noise(X):
    """Features that know nothing of the labels."""
    return np.random.default_rng(0).normal(size=(len(X), 8))


def test_informative_features_rank_above_noise():
    candidates = [FunctionTransformer(noise), TfidfVectorizer()]
    table = rank_backbones(TEXTS, LABELS, candidates)
    assert list(table["candidate"]) == ["TfidfVectorizer", "FunctionTransformer"]
    assert list(table["rank"]) == [1, 2]
    assert table.loc[0, "feature_dim"] == 6 and table.loc[1, "feature_dim"] == 8
    assert (table[["encode_s", "score_s"]] >= 0).all().all()


def test_the_selector_behaves_as_the_best_candidate():
    selector = BackboneSelector([FunctionTransformer(noise), CountVectorizer()])
    features = selector.fit_transform(TEXTS, LABELS)
    assert selector.selected_ == "CountVectorizer" and selector.selected_index_ == 1
    expected = CountVectorizer().fit_transform(TEXTS)
    np.testing.assert_array_equal(features.toarray(), expected.toarray())
    np.testing.assert_array_equal(selector.transform(TEXTS).toarray(), expected.toarray())
    assert list(selector.get_feature_names_out()) == ["an", "awful", "bad", "film", "good",
                                                      "great"]  # fmt: skip
    assert selector.scores_.loc[0, "candidate"] == "CountVectorizer"


def test_the_selector_clones_pickles_and_sits_in_a_search():
    selector = BackboneSelector([CountVectorizer(), TfidfVectorizer()], scorer="hscore")
    assert repr(clone(selector)) == repr(selector)
    search = GridSearchCV(make_pipeline(selector, LogisticRegression()),
                          {"logisticregression__C": [0.1, 1.0]}, cv=2)  # fmt: skip
    search.fit(TEXTS, LABELS)
    restored = pickle.loads(pickle.dumps(search.best_estimator_))
    assert list(restored.predict(TEXTS[:4])) == ["pos", "pos", "neg", "neg"]


def test_a_search_encodes_each_sample_once_per_candidate(tmp_path, monkeypatch):
    encoded = []
    original = ImageEncoderClass._encode

    def counting(self, samples, positions):
        encoded.append((self.layer, len(samples)))
        return original(self, samples, positions)

    monkeypatch.setattr(ImageEncoderClass, "_encode", counting)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (12, 16, 16, 3), dtype=np.uint8)
    labels = np.repeat([0, 1], 6)
    images[labels == 1] //= 4  # dark images: a class the features can see
    candidates = [ImageEncoder("efficientnet_lite0", image_size=32, layer=layer)
                  for layer in (None, "blocks.2")]  # fmt: skip
    selector = BackboneSelector(candidates, cache=tmp_path / "cache")
    search = GridSearchCV(make_pipeline(selector, LogisticRegression()),
                          {"logisticregression__C": [0.1, 1.0]}, cv=3)  # fmt: skip
    search.fit(images, labels)
    per_candidate = {key: sum(n for layer, n in encoded if layer == key) for key, _ in encoded}
    assert per_candidate == {None: 12, "blocks.2": 12}  # 7 fits, each sample encoded once


def test_candidates_scored_in_parallel_tasks_rank_as_one_by_one():
    import joblib

    candidates = [
        FunctionTransformer(noise),
        TfidfVectorizer(),
        CountVectorizer(),
        CountVectorizer(),
    ]
    one_by_one = rank_backbones(TEXTS, LABELS, candidates)
    with joblib.parallel_backend("threading"):
        selector = BackboneSelector(candidates, n_jobs=2)
        features = selector.fit_transform(TEXTS, LABELS)
        in_parallel = rank_backbones(TEXTS, LABELS, candidates, n_jobs=2)
    columns = ["candidate", "score", "rank", "feature_dim"]
    assert in_parallel[columns].equals(one_by_one[columns])
    assert "CountVectorizer #2" in set(one_by_one["candidate"])
    assert one_by_one["candidate"].iloc[-1] == "FunctionTransformer"
    assert selector.selected_ == one_by_one.loc[0, "candidate"]
    assert features.shape[1] == one_by_one.loc[0, "feature_dim"]


def test_layers_of_expands_a_backbone_into_its_groups():
    encoders = layers_of("efficientnet_lite0", image_size=64)
    layers = [encoder.layer for encoder in encoders]
    assert layers[:6] == [f"blocks.{i}" for i in range(6)] and layers[6] is None  # the head
    assert layers[7:] == [["blocks.4", "blocks.5"], ["blocks.3", "blocks.4", "blocks.5"]]
    assert all(encoder.image_size == 64 for encoder in encoders)
    with pytest.raises(ValueError, match="reads text"):
        layers_of("all-MiniLM-L6-v2")


def test_scorers_that_read_classes_only_are_refused_clearly():
    with pytest.raises(ValueError, match="'hscore' scores class labels only"):
        rank_backbones(TEXTS, np.linspace(0, 1, 24), [TfidfVectorizer()], scorer="hscore")
    with pytest.raises(ValueError, match="unknown scorer 'logm'"):
        rank_backbones(TEXTS, LABELS, [TfidfVectorizer()], scorer="logm")
    with pytest.raises(TypeError, match="a backbone name or a scikit-learn transformer"):
        rank_backbones(TEXTS, LABELS, [LogisticRegression()])


def test_pixels_and_a_pre_trained_backbone_rank_by_name(fashion_split):
    X, y, _, _ = fashion_split(3, 1)
    table = rank_backbones(X, y, [PixelEncoder(), "efficientnet_lite0"])
    assert set(table["candidate"]) == {"PixelEncoder", "efficientnet_lite0"}
    assert table.set_index("candidate").loc["efficientnet_lite0", "feature_dim"] == 1280
