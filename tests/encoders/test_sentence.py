import pickle
import subprocess
import sys

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.exceptions import NotFittedError
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from sktransfer import (
    MissingDependencyError,
    SentenceEncoder,
    WeightsNotFoundError,
    backbones,
    weights,
)
from sktransfer.backbones import _sentence_transformers as st_family

pytest.importorskip("sentence_transformers")


@pytest.fixture(scope="module")
def encoder():
    """The packaged all-MiniLM-L6-v2, fitted once for the read-only tests."""
    return SentenceEncoder(device="cpu").fit()


def cosine(u, v):
    return float(u @ v / np.linalg.norm(u) / np.linalg.norm(v))


def test_output_and_semantic_similarity(encoder):
    assert encoder.n_features_out_ == 384 and encoder.max_seq_length_ == 256
    X = encoder.transform(
        [
            "A man is playing a guitar.",
            "Someone plays an acoustic guitar on stage.",
            "The central bank raised interest rates.",
            "How do I reset my password?",
            "I forgot my login credentials, how can I recover my account?",
            "Heavy rain is expected over the weekend.",
        ]
    )
    assert X.dtype == np.float32 and X.shape == (6, 384) and X.flags.c_contiguous
    assert cosine(X[0], X[1]) > cosine(X[0], X[2]) + 0.3
    assert cosine(X[3], X[4]) > max(cosine(X[3], X[5]), cosine(X[3], X[0])) + 0.3


def test_same_numbers_as_sentence_transformers(encoder):
    from sentence_transformers import SentenceTransformer

    direct = SentenceTransformer(str(st_family.packaged_minilm_dir()), device="cpu")
    texts = ["first text", "a second, longer text about something else", ""]
    np.testing.assert_allclose(encoder.transform(texts), direct.encode(texts), atol=1e-6)
    normalized = SentenceEncoder(normalize=True, device="cpu").fit().transform(texts)
    np.testing.assert_allclose(np.linalg.norm(normalized, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(
        normalized, direct.encode(texts, normalize_embeddings=True), atol=1e-6
    )


def test_batching_and_order_do_not_change_the_result(encoder):
    texts = [f"sentence number {i} " + "word " * (i % 7) for i in range(11)]
    whole = encoder.transform(texts)
    small = SentenceEncoder(batch_size=3, device="cpu").fit().transform(texts)
    np.testing.assert_allclose(small, whole, atol=1e-5)
    np.testing.assert_allclose(encoder.transform(texts[::-1]), whole[::-1], atol=1e-5)


@pytest.mark.slow
def test_few_shot_bbc_news_beats_tfidf(bbc_few_shot, mean_few_shot_accuracy):
    """8 labelled articles per topic: sentence embeddings + a linear model beat TF-IDF."""
    texts, labels, splits = bbc_few_shot
    # Every article is encoded once (the first 256 tokens), as the pipeline would in each split.
    embeddings = SentenceEncoder(device="cpu").fit_transform(texts)
    sentence, per_split = mean_few_shot_accuracy(
        lambda: LogisticRegression(max_iter=2000), embeddings, labels, splits
    )
    tfidf, tfidf_per_split = mean_few_shot_accuracy(
        lambda: make_pipeline(TfidfVectorizer(), LogisticRegression(max_iter=2000)),
        texts, labels, splits,
    )  # fmt: skip
    assert sentence >= 0.85, per_split
    assert sentence > tfidf + 0.02, (per_split, tfidf_per_split)


def test_pipeline_and_grid_search(bbc_few_shot):
    from sklearn.model_selection import cross_val_score

    texts, labels, _ = bbc_few_shot
    short = np.array([t.split("\n")[0] for t in texts[::8]], dtype=object)  # the headlines
    y = labels[::8]
    pipe = make_pipeline(SentenceEncoder(device="cpu"), LogisticRegression(max_iter=1000))
    search = GridSearchCV(
        pipe, {"sentenceencoder__normalize": [False, True]}, cv=2, error_score="raise"
    )
    search.fit(short, y)
    params, scores = search.cv_results_["params"], search.cv_results_["mean_test_score"]
    # Every candidate was evaluated, and the best one chosen and refitted.
    assert params == [{"sentenceencoder__normalize": False}, {"sentenceencoder__normalize": True}]
    assert np.isfinite(scores).all()
    assert search.best_params_ == params[int(np.argmax(scores))]
    chosen = search.best_params_["sentenceencoder__normalize"]
    assert search.best_estimator_.get_params()["sentenceencoder__normalize"] == chosen  # refitted
    # Each score is its own candidate's: the same pipeline cross-validated on the same folds.
    for candidate, score in zip(params, scores):
        again = cross_val_score(clone(pipe).set_params(**candidate), short, y, cv=2)
        assert score == pytest.approx(again.mean()), candidate
    assert search.score(short, y) > 0.8


def test_column_transformer_and_pandas_output(encoder):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(
        {"title": ["A cat", "Stocks fall", ""], "n": [1.0, 2.0, 3.0]}, index=["a", "b", "c"]
    )
    columns = ColumnTransformer(
        [("text", SentenceEncoder(device="cpu"), "title"), ("n", "passthrough", ["n"])]
    )
    assert columns.fit_transform(frame).shape == (3, 385)
    assert columns.get_feature_names_out()[0] == "text__sentenceencoder0"
    columns = ColumnTransformer([("text", SentenceEncoder(device="cpu"), ["title"])])
    np.testing.assert_allclose(
        columns.fit_transform(frame), encoder.transform(frame["title"]), atol=1e-6
    )

    enc = clone(encoder).set_output(transform="pandas").fit()
    out = enc.transform(frame["title"])
    assert list(out.index) == ["a", "b", "c"]
    assert list(clone(enc).fit_transform(frame["title"]).index) == ["a", "b", "c"]
    assert list(out.columns) == list(enc.get_feature_names_out())
    assert out.columns[0] == "sentenceencoder0"


def test_clone_and_pickle(encoder):
    assert not hasattr(clone(encoder), "model_")
    assert clone(encoder).get_params() == encoder.get_params()
    blob = pickle.dumps(encoder)
    # The weights' digest, not the weights: they are read again from their package.
    weight_bytes = sum(t.numel() * t.element_size() for t in encoder.model_.state_dict().values())
    assert len(blob) < 5000 < weight_bytes
    restored = pickle.loads(blob)
    texts = ["pickled and restored", "ok"]
    np.testing.assert_array_equal(restored.transform(texts), encoder.transform(texts))
    assert len(pickle.dumps(clone(encoder))) < 2000


def test_truncation_to_max_seq_length(encoder):
    words = [f"word{i}" for i in range(400)]
    long_text, longer_text = " ".join(words), " ".join(words + ["tail"] * 200)
    a, b = encoder.transform([long_text, longer_text])  # both beyond 256 tokens
    np.testing.assert_allclose(a, b, atol=1e-6)
    short = SentenceEncoder(max_seq_length=8, device="cpu").fit()
    assert short.max_seq_length_ == 8
    c, d = short.transform(
        ["one two three four five six", "one two three four five six seven eight"]
    )
    np.testing.assert_allclose(c, d, atol=1e-6)  # 6 words + [CLS] + [SEP] fill all 8 tokens
    assert encoder.model_.max_seq_length == 256  # other encoders keep their own limit
    with pytest.raises(ValueError, match="exceeds what the model can read"):
        SentenceEncoder(max_seq_length=10_000, device="cpu").fit()
    with pytest.raises(ValueError, match="max_seq_length must be None or an int >= 1"):
        SentenceEncoder(max_seq_length=0, device="cpu").fit()


def test_empty_unicode_emoji_and_very_long_texts(encoder):
    texts = [
        "",
        "",
        "🙂🎉",
        "日本語の文章です。",
        "Ünïcödé naïveté",
        "x" * 200_000,
        "word " * 50_000,
    ]
    X = encoder.transform(texts)
    assert np.isfinite(X).all() and (np.linalg.norm(X, axis=1) > 0.5).all()
    np.testing.assert_array_equal(X[0], X[1])  # the empty text has one fixed vector


def test_prompt_is_put_before_every_text(encoder):
    prompted = SentenceEncoder(prompt="query: ", device="cpu").fit()
    np.testing.assert_allclose(
        prompted.transform(["what is a cat"]),
        encoder.transform(["query: what is a cat"]),
        atol=1e-6,
    )


@pytest.mark.parametrize(
    "X, error, message",
    [
        (None, TypeError, "X is None"),
        ("a single text", TypeError, "wrap it in a list"),
        (3, TypeError, "iterable of str, got a int"),
        (["ok", None], ValueError, "text 1 is missing"),
        (["ok", "ok", float("nan")], ValueError, "text 2 is missing"),
        (["ok", 1.5], TypeError, "text 1 is a float"),
        ([["nested"]], TypeError, "text 0 is a list"),
        ([], ValueError, "0 samples"),
        # the tokenizer's own error named neither the text nor the problem
        (["ok", "bad \ud800"], ValueError, "text 1 is not valid Unicode.*position 4"),
        # iterating a dict of columns gives its keys, which were encoded as two texts
        ({"text": ["a", "b"], "label": [0, 1]}, TypeError, r"pass the one column.*X\['text'\]"),
    ],
)
def test_bad_input_names_the_offending_item(encoder, X, error, message):
    with pytest.raises(error, match=message):
        encoder.transform(X)


def test_bad_input_fails_in_fit_before_loading(monkeypatch):
    monkeypatch.setattr(SentenceEncoder, "_load", lambda self: pytest.fail("loaded the model"))
    with pytest.raises(ValueError, match="text 2 is missing"):
        SentenceEncoder().fit(["a", "b", None])


def test_not_fitted_and_bad_parameters():
    with pytest.raises(NotFittedError):
        SentenceEncoder().transform(["x"])
    with pytest.raises(ValueError, match="batch_size"):
        SentenceEncoder(batch_size=0).fit()
    with pytest.raises(TypeError, match="normalize must be True or False"):
        SentenceEncoder(normalize="yes").fit()
    with pytest.raises(TypeError, match="a backbone must be a name, a path or a loaded text model"):
        SentenceEncoder(model=42).fit()


def test_verbose_shows_a_progress_bar(encoder, capsys):
    clone(encoder).set_params(verbose=True).fit().transform(["a", "b"])
    assert "Batches" in capsys.readouterr().err
    encoder.transform(["a"])
    assert capsys.readouterr().err == ""


# -- where models come from ------------------------------------------------------------------


def test_registered_sentence_encoders():
    names = backbones.list("text")
    assert {
        "all-MiniLM-L6-v2",
        "all-mpnet-base-v2",
        "paraphrase-multilingual-MiniLM-L12-v2",
    } <= set(names)
    spec = backbones.get("all-MiniLM-L6-v2")
    assert spec.modality == "text" and spec.feature_dim == 384
    assert spec.family == "sentence-transformers"
    # The qualified name is also the model's Hugging Face Hub id.
    assert backbones.get("sentence-transformers/all-MiniLM-L6-v2") is spec
    groups = spec.layer_groups  # named without building the model
    assert groups[0].endswith("embeddings") and len(groups) == 7
    assert [g.rsplit(".", 1)[-1] for g in groups[1:]] == [str(i) for i in range(6)]
    assert len(backbones.get("all-mpnet-base-v2").layer_groups) == 13  # offline too


def test_layer_groups_are_modules_of_the_model(encoder):
    modules = dict(encoder.model_.named_modules())
    groups = backbones.get("all-MiniLM-L6-v2").layer_groups
    assert all(group in modules for group in groups)
    assert st_family.transformer_layer_groups(encoder.model_) == groups


def test_local_folder_and_hub_id_load_the_same_model(encoder):
    texts = ["same model, three names"]
    expected = encoder.transform(texts)
    for model in (st_family.packaged_minilm_dir(), "sentence-transformers/all-MiniLM-L6-v2"):
        np.testing.assert_allclose(
            SentenceEncoder(model, device="cpu").fit().transform(texts), expected, atol=1e-6
        )


def test_loaded_model_object(encoder):
    enc = SentenceEncoder(encoder.model_, device="cpu").fit()
    assert enc.model_ is encoder.model_
    np.testing.assert_allclose(enc.transform(["x"]), encoder.transform(["x"]), atol=1e-6)


@pytest.mark.parametrize(
    "name", ["all-mpnet-base-v2", "paraphrase-multilingual-MiniLM-L12-v2", "BAAI/bge-small-en-v1.5"]
)
def test_download_only_models_fail_offline_saying_where_to_put_them(name):
    repo = name if "/" in name else f"sentence-transformers/{name}"
    folder = weights.cache_dir() / repo.replace("/", "--")
    with pytest.raises(WeightsNotFoundError, match=r"downloads are disabled") as info:
        SentenceEncoder(name).fit()
    assert f"https://huggingface.co/{repo}" in str(info.value) and str(folder) in str(info.value)


def test_unreachable_hub_fails_after_one_connection_attempt(no_network):
    with pytest.raises(WeightsNotFoundError, match="huggingface.co cannot be reached"):
        SentenceEncoder("all-mpnet-base-v2").fit()
    assert no_network == [("huggingface.co", 443)]


def test_a_model_folder_saved_in_the_cache_is_found_offline(encoder, monkeypatch):
    folder = weights.cache_dir() / "sentence-transformers--all-mpnet-base-v2"
    encoder.model_.save(str(folder))  # any model saved under the name the message gives
    texts = ["found where the message said to put it"]
    np.testing.assert_allclose(
        SentenceEncoder("all-mpnet-base-v2", device="cpu").fit().transform(texts),
        encoder.transform(texts),
        atol=1e-6,
    )


def test_a_typo_of_a_registered_name_is_pointed_out():
    with pytest.raises(WeightsNotFoundError, match="Did you mean: all-MiniLM-L6-v2"):
        SentenceEncoder("all-MiniLM-L6-v3").fit()


def test_missing_folder_file_and_wrong_modality(tmp_path):
    with pytest.raises(WeightsNotFoundError, match="does not exist"):
        SentenceEncoder(str(tmp_path / "no" / "such" / "model")).fit()
    (tmp_path / "file.bin").write_bytes(b"x")
    with pytest.raises(ValueError, match="is a file"):
        SentenceEncoder(str(tmp_path / "file.bin")).fit()
    with pytest.raises(ValueError, match="use ImageEncoder"):
        SentenceEncoder("resnet18").fit()
    with pytest.raises(ValueError, match="use WordVectorEncoder"):
        SentenceEncoder("glove-6b-50d").fit()


def test_listing_text_backbones_imports_neither_library():
    code = (
        "import sys\n"
        "from sktransfer.backbones import _gensim, _sentence_transformers\n"
        "specs = _sentence_transformers.specs() + _gensim.specs()\n"
        "assert all(s.feature_dim and s.description for s in specs)\n"
        "loaded = {'sentence_transformers', 'transformers', 'gensim'} & set(sys.modules)\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_without_sentence_transformers(monkeypatch):
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    assert "all-MiniLM-L6-v2" in [spec.name for spec in st_family.specs()]
    with pytest.raises(MissingDependencyError, match=r"pip install sktransfer\[text\]"):
        st_family.specs()[0].build("default")
    with pytest.raises(MissingDependencyError, match=r"sktransfer\[text\]"):
        SentenceEncoder().fit()
