import gzip
import pickle
import re
import sys

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.exceptions import NotFittedError
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from sktransfer import (
    MissingDependencyError,
    UntrustedPickleError,
    WeightsNotFoundError,
    WordVectorEncoder,
    backbones,
)
from sktransfer.backbones import _gensim
from sktransfer.encoders import clear_model_cache
from sktransfer.encoders._word_analyzer import build_analyzer, count_words
from sktransfer.weights import missing_message

gensim_models = pytest.importorskip("gensim.models")

TOKENS = re.compile(r"\w+")


@pytest.fixture(scope="module")
def glove():
    """The packaged GloVe 6B 50-d vectors (loaded once for the whole process)."""
    return WordVectorEncoder().fit().model_


@pytest.fixture(scope="module")
def tiny_vectors():
    """Five 3-d word vectors with easy numbers."""
    words = ["cat", "dog", "the", "runs", "naïve"]
    vectors = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [2, -1, 3]], dtype=np.float32)
    kv = gensim_models.KeyedVectors(3)
    kv.add_vectors(words, vectors)
    return kv


@pytest.fixture(scope="module")
def vector_files(tmp_path_factory, tiny_vectors):
    """The tiny vectors in every local format, plus a small FastText .bin."""
    root = tmp_path_factory.mktemp("vectors")
    files = {}
    files["word2vec.txt"] = root / "vectors.txt"
    tiny_vectors.save_word2vec_format(str(files["word2vec.txt"]))
    files["word2vec.bin"] = root / "vectors.w2v.bin"
    tiny_vectors.save_word2vec_format(str(files["word2vec.bin"]), binary=True)
    lines = files["word2vec.txt"].read_text(encoding="utf-8").splitlines()[1:]
    files["glove.txt"] = root / "glove.txt"  # no header line
    files["glove.txt"].write_text("\n".join(lines) + "\n", encoding="utf-8")
    files["glove.txt.gz"] = root / "glove.txt.gz"
    with gzip.open(files["glove.txt.gz"], "wt", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    files["gensim.kv"] = root / "vectors.kv"
    tiny_vectors.save(str(files["gensim.kv"]))
    corpus = [["the", "cat", "runs"], ["the", "dog", "runs"], ["cats", "and", "dogs"]] * 30
    model = gensim_models.FastText(
        vector_size=8, window=2, min_count=1, epochs=3, seed=0, workers=1, bucket=5000
    )
    model.build_vocab(corpus)
    model.train(corpus, total_examples=len(corpus), epochs=3)
    files["fasttext.bin"] = root / "fasttext.bin"
    gensim_models.fasttext.save_facebook_model(model, str(files["fasttext.bin"]))
    return files


# -- reference implementations: plain loops, one text and one word at a time -------------


def reference(kv, texts, pooling, *, fitted=None, alpha=1e-3):
    """What each pooling means, written as the obvious per-text loop."""
    fitted = texts if fitted is None else fitted
    fit_tokens = [[w for w in TOKENS.findall(t.lower()) if w in kv.key_to_index] for t in fitted]
    counts = {}
    df = {}
    for tokens in fit_tokens:
        for w in tokens:
            counts[w] = counts.get(w, 0) + 1
        for w in set(tokens):
            df[w] = df.get(w, 0) + 1
    total = sum(counts.values())

    def pool(text):
        tokens = [w for w in TOKENS.findall(text.lower()) if w in kv.key_to_index]
        if not tokens:
            return np.zeros(kv.vector_size * (2 if pooling == "minmax" else 1))
        V = np.stack([kv[w] for w in tokens]).astype(np.float64)
        if pooling == "mean":
            return V.mean(0)
        if pooling == "sum":
            return V.sum(0)
        if pooling == "max":
            return V.max(0)
        if pooling == "minmax":
            return np.concatenate([V.min(0), V.max(0)])
        if pooling == "tfidf":
            idf = np.array([np.log((1 + len(fitted)) / (1 + df.get(w, 0))) + 1 for w in tokens])
            return (idf[:, None] * V).sum(0) / idf.sum()
        if pooling == "sif":
            weights = np.array([alpha / (alpha + counts.get(w, 0) / total) for w in tokens])
            return (weights[:, None] * V).sum(0) / len(tokens)
        raise AssertionError(pooling)

    out = np.stack([pool(t) for t in texts])
    if pooling == "sif":
        fit = np.stack([pool(t) for t in fitted])
        u = np.linalg.svd(fit, full_matrices=False)[2][0]
        out = out - np.outer(out @ u, u)
    return out


TEXTS = [
    "The king and the queen ruled the kingdom.",
    "A dog barks at the cat; the cat runs away!",
    "",
    "zzqxv qqqzzz",  # no known word
    "Émile's café serves crème brûlée 🙂",
    "Stock markets fell sharply as investors sold shares.",
]


@pytest.mark.parametrize("pooling", ["mean", "sum", "max", "minmax", "tfidf", "sif"])
def test_poolings_match_their_definition(glove, pooling):
    enc = WordVectorEncoder(pooling=pooling).fit(TEXTS)
    X = enc.transform(TEXTS)
    assert X.dtype == np.float32 and X.shape == (len(TEXTS), enc.n_features_out_)
    np.testing.assert_allclose(X, reference(glove, TEXTS, pooling), rtol=1e-4, atol=1e-5)
    assert not X[2].any() and not X[3].any()  # no known word: zeros (sif's removal keeps them 0)


def test_weighted_poolings_learn_in_fit_and_apply_to_new_texts(glove):
    fitted, new = TEXTS[:3], ["the cat and the king", "queen"]
    for pooling in ("tfidf", "sif"):
        enc = WordVectorEncoder(pooling=pooling).fit(fitted)
        np.testing.assert_allclose(
            enc.transform(new), reference(glove, new, pooling, fitted=fitted), rtol=1e-4, atol=1e-5
        )
        assert enc.word_weights_.shape == (len(glove.index_to_key),)
        with pytest.raises(ValueError, match="learns word statistics in fit"):
            WordVectorEncoder(pooling=pooling).fit()
    assert WordVectorEncoder(pooling="sif").fit(fitted).components_.shape == (1, 50)
    assert WordVectorEncoder().fit(fitted).components_ is None


def test_glove_analogy_and_semantic_neighbours(glove):
    assert glove.most_similar(positive=["king", "woman"], negative=["man"], topn=1)[0][0] == "queen"
    enc = WordVectorEncoder().fit()
    king, man, woman = enc.transform(["king", "man", "woman"])
    target = king - man + woman
    vocab = glove.vectors[:50_000]  # the most frequent words
    cosine = vocab @ target / (np.linalg.norm(vocab, axis=1) * np.linalg.norm(target))
    ranked = [glove.index_to_key[i] for i in np.argsort(-cosine)]
    assert next(w for w in ranked if w not in ("king", "man", "woman")) == "queen"

    a, b, c = enc.transform(
        ["A dog barked at the postman", "The puppy was barking loudly", "Interest rates rose again"]
    )

    def cos(u, v):
        return u @ v / np.linalg.norm(u) / np.linalg.norm(v)

    assert cos(a, b) > cos(a, c) + 0.1


def test_few_shot_bbc_news(bbc_few_shot, mean_few_shot_accuracy):
    texts, labels, splits = bbc_few_shot
    glove, _ = mean_few_shot_accuracy(
        lambda: make_pipeline(WordVectorEncoder(), LogisticRegression(max_iter=2000)),
        texts, labels, splits,
    )  # fmt: skip
    tfidf, _ = mean_few_shot_accuracy(
        lambda: make_pipeline(TfidfVectorizer(), LogisticRegression(max_iter=2000)),
        texts, labels, splits,
    )  # fmt: skip
    assert glove >= 0.85
    assert glove > tfidf


def test_oov_rate_and_empty_texts(glove):
    enc = WordVectorEncoder().fit(["the cat", "zzqxv the", "", "!!! ..."])
    assert enc.oov_rate_ == pytest.approx(1 / 4)  # the cat zzqxv the: punctuation is no token
    assert enc.empty_rate_ == pytest.approx(2 / 4)
    unfitted_data = WordVectorEncoder().fit()
    assert np.isnan(unfitted_data.oov_rate_) and np.isnan(unfitted_data.empty_rate_)
    X = enc.transform(["", "   ", "🙂🙂", "zzqxv"])
    assert X.shape == (4, 50) and not X.any()


def test_unicode_emoji_and_very_long_texts(glove):
    enc = WordVectorEncoder().fit()
    long_text = "the quick brown fox jumps over the lazy dog. " * 20_000  # 900k characters
    X = enc.transform(["naïve café 日本 🙂 Straße", long_text, "ΑΒΓ Σ σ ς", "a\u0301 \u200b x"])
    assert np.isfinite(X).all() and X[0].any() and X[1].any()
    # 180k tokens summed in float32: close, not bit-identical, to one sentence's mean
    one = enc.transform(["the quick brown fox jumps over the lazy dog"])[0]
    np.testing.assert_allclose(X[1], one, rtol=0, atol=2e-3 * np.abs(one).max())


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"lowercase": False},
        {"token_pattern": r"(?u)\b\w\w+\b"},  # CountVectorizer's own default
        {"token_pattern": r"[a-z]+(?:['-][a-z]+)*"},
        {"token_pattern": r"(\w+)'s"},  # one capturing group: its matches are the tokens
        {"tokenizer": str.split, "lowercase": False},
    ],
    ids=["default", "cased", "sklearn-pattern", "hyphens", "group", "str.split"],
)
def test_tokens_are_count_vectorizers_for_the_same_options(glove, bbc_news, options):
    rng = np.random.default_rng(0)
    alphabet = list("abcXYZ _-'’.,!?\n\t0129\x00") + [
        "é", "É", "ß", "İ", "Σ", "ς", "日本", "🙂", "\u0301", "ﬁ", "²", "٣", "\u200b",
        "\xa0", "queen", "king's",
    ]  # fmt: skip
    texts = ["".join(rng.choice(alphabet, size=rng.integers(0, 30))) for _ in range(500)]
    texts += list(bbc_news[0][:200]) + ["", "The King's queen", "ΟΔΟΣ"]
    # the encoder's default keeps one-character tokens; CountVectorizer's does not
    sklearn_options = {"token_pattern": r"(?u)\w+", **options}
    if "tokenizer" in options:
        sklearn_options["token_pattern"] = None  # unused: None keeps CountVectorizer quiet
    vectorizer = CountVectorizer(vocabulary=glove.key_to_index, **sklearn_options)
    sklearn_analyze = vectorizer.build_analyzer()

    analyze = build_analyzer(**options)
    assert [analyze(t) for t in texts] == [sklearn_analyze(t) for t in texts]
    # the counts, by embedding row, are CountVectorizer's with the vectors' vocabulary
    counts = count_words(texts, analyze, glove).matrix
    expected = vectorizer.transform(texts)
    assert abs(counts - expected).max() == 0 and counts.shape == expected.shape

    enc = WordVectorEncoder(pooling="sum", **options).fit(texts)
    np.testing.assert_allclose(enc.transform(texts), expected @ glove.vectors, rtol=1e-5, atol=1e-4)
    tokens = [token for t in texts for token in sklearn_analyze(t)]
    unknown = sum(token not in glove.key_to_index for token in tokens)
    assert enc.oov_rate_ == pytest.approx(unknown / len(tokens))


def test_lone_surrogates_are_refused_with_their_index_and_position(glove, vector_files):
    enc = WordVectorEncoder().fit()
    with pytest.raises(ValueError, match=r"text 1 is not valid Unicode.*'\\udc80' at position 8"):
        enc.transform(["the cat sat", "the cat \udc80 sat"])
    with pytest.raises(
        ValueError, match=r"text 0 is not valid Unicode.*encode\('utf-8', 'replace'\)"
    ):
        WordVectorEncoder(tokenizer=str.split).fit(["the cat\udc80 sat"])
    fixed = "the cat \udc80 sat".encode("utf-8", "replace").decode("utf-8")  # what the message says
    np.testing.assert_allclose(*enc.transform([fixed, "the cat ? sat"]), rtol=1e-6)
    # A custom tokenizer may still make one: FastText hashes its UTF-8 bytes, "?" for it.
    fasttext = WordVectorEncoder(
        vector_files["fasttext.bin"], tokenizer=lambda t: t.split() + ["\udc80"]
    ).fit()
    assert np.isfinite(fasttext.transform(["cat the", ""])).all()


def test_tokenizer_and_lowercase_options(glove):
    text = ["New-York's Cat"]
    default = WordVectorEncoder().fit().transform(text)
    np.testing.assert_allclose(default, reference(glove, text, "mean"), rtol=1e-5)
    cased = WordVectorEncoder(lowercase=False).fit()
    assert cased.transform(["CAT"]).sum() == 0 and cased.transform(["cat"]).any()
    pattern = WordVectorEncoder(token_pattern=r"[a-z]+(?:-[a-z]+)?").fit()  # keeps "new-york"
    np.testing.assert_allclose(
        pattern.transform(text)[0],
        np.mean([glove["new-york"], glove["s"], glove["cat"]], axis=0),
        rtol=1e-5,
    )
    calls = []
    spy = WordVectorEncoder(tokenizer=lambda t: calls.append(t) or t.split(), token_pattern="(")
    spy.fit().transform(text)  # token_pattern is ignored when a tokenizer is given
    assert calls == ["new-york's cat"]  # lower-cased before tokenising
    generator = WordVectorEncoder(tokenizer=lambda t: (w for w in t.split())).fit()
    np.testing.assert_array_equal(generator.transform(text), spy.transform(text))
    with pytest.raises(TypeError, match="returned a str"):
        WordVectorEncoder(tokenizer=lambda t: t).fit().transform(text)
    with pytest.raises(ValueError, match=r"token_pattern '\(' is not a valid regular expression"):
        WordVectorEncoder(token_pattern="(").fit()
    with pytest.raises(ValueError, match="token_pattern .* capturing group"):
        WordVectorEncoder(token_pattern=r"(\w)(\w)").fit()
    with pytest.raises(TypeError, match="token_pattern must be a regular expression"):
        WordVectorEncoder(token_pattern=None).fit()
    # (a str is 0.1.0's regular expression: deprecated, see tests/test_deprecations.py)
    with pytest.raises(TypeError, match="tokenizer must be None or a callable"):
        WordVectorEncoder(tokenizer=3).fit()


@pytest.mark.parametrize(
    "kind", ["word2vec.txt", "word2vec.bin", "glove.txt", "glove.txt.gz", "gensim.kv"]
)
def test_local_vector_files(vector_files, tiny_vectors, kind):
    pickled = kind == "gensim.kv"  # gensim's save() writes a pickle: it loads only when trusted
    if pickled:
        with pytest.raises(UntrustedPickleError, match="trust_pickle=True"):
            WordVectorEncoder(vector_files[kind]).fit()
    enc = WordVectorEncoder(vector_files[kind], trust_pickle=pickled).fit()
    assert enc.model_.index_to_key == tiny_vectors.index_to_key
    np.testing.assert_allclose(enc.model_.vectors, tiny_vectors.vectors, rtol=1e-5)
    X = enc.transform(["The cat runs", "naïve DOG", "unknown"])
    np.testing.assert_allclose(
        X, [[2 / 3, 1 / 3, 1 / 3], [1, 0, 1.5], [0, 0, 0]], rtol=1e-5, atol=1e-6
    )


def test_fasttext_bin_gives_sub_word_vectors_to_unknown_words(vector_files):
    enc = WordVectorEncoder(vector_files["fasttext.bin"]).fit(["the cat", "catz dogz"])
    kv = enc.model_
    assert "catz" not in kv.key_to_index and enc.oov_rate_ == pytest.approx(2 / 4)
    X = enc.transform(["catz", "the cat", "catz the"])
    np.testing.assert_allclose(X[0], kv.get_vector("catz"), rtol=1e-5)
    np.testing.assert_allclose(X[2], (kv.get_vector("catz") + kv["the"]) / 2, rtol=1e-5)
    minmax = WordVectorEncoder(vector_files["fasttext.bin"], pooling="minmax").fit()
    np.testing.assert_allclose(
        minmax.transform(["catz the"])[0],
        np.concatenate(np.sort([kv.get_vector("catz"), kv["the"]], axis=0)),
        rtol=1e-5,
    )
    # tfidf: an unknown word weighs as much as a word never seen in fit (the largest idf)
    tfidf = WordVectorEncoder(vector_files["fasttext.bin"], pooling="tfidf").fit(["the cat", "a"])
    unseen, the = tfidf.word_weights_.max(), tfidf.word_weights_[kv.key_to_index["the"]]
    np.testing.assert_allclose(
        tfidf.transform(["catz the"])[0],
        (unseen * kv.get_vector("catz") + the * kv["the"]) / (unseen + the),
        rtol=1e-5,
    )


def test_keyed_vectors_object(tiny_vectors):
    enc = WordVectorEncoder(tiny_vectors).fit()
    assert enc.model_ is tiny_vectors
    np.testing.assert_allclose(enc.transform(["cat dog"]), [[0.5, 0.5, 0]])


def test_vectors_are_loaded_once_per_process(vector_files):
    first, second = WordVectorEncoder().fit(), WordVectorEncoder(pooling="max").fit()
    assert first.model_ is second.model_
    with pytest.raises(ValueError):  # shared, so read-only
        first.model_.vectors[0, 0] = 1.0
    path = vector_files["glove.txt"]
    assert WordVectorEncoder(path).fit().model_ is WordVectorEncoder(str(path)).fit().model_
    clear_model_cache()
    again = WordVectorEncoder().fit()
    assert again.model_ is not first.model_
    np.testing.assert_array_equal(again.model_.vectors, first.model_.vectors)


def test_sklearn_pipeline_and_grid_search_over_pooling(bbc_few_shot):
    from sklearn.model_selection import cross_val_score

    texts, labels, splits = bbc_few_shot
    X_train, y_train = texts[splits[0][0]], labels[splits[0][0]]
    pipe = make_pipeline(WordVectorEncoder(), LogisticRegression(max_iter=2000))
    poolings = ["mean", "max", "sif"]
    scores = {}
    for n_jobs in (1, 2):
        search = GridSearchCV(
            pipe,
            {"wordvectorencoder__pooling": poolings},
            cv=2,
            n_jobs=n_jobs,
            error_score="raise",
        )
        search.fit(X_train, y_train)
        params = search.cv_results_["params"]
        scores[n_jobs] = search.cv_results_["mean_test_score"]
        # Every candidate was evaluated, and the best one chosen and refitted.
        assert params == [{"wordvectorencoder__pooling": pooling} for pooling in poolings]
        assert np.isfinite(scores[n_jobs]).all()
        assert search.best_params_ == params[int(np.argmax(scores[n_jobs]))]
        chosen = search.best_params_["wordvectorencoder__pooling"]
        assert search.best_estimator_.get_params()["wordvectorencoder__pooling"] == chosen
        assert search.predict(X_train[:3]).shape == (3,)
    # Candidates fitted in worker processes score as in this one.
    np.testing.assert_array_equal(scores[2], scores[1])
    # Each score is its own candidate's: the same pipeline cross-validated on the same folds.
    for pooling, score in zip(poolings, scores[1]):
        pipeline = clone(pipe).set_params(wordvectorencoder__pooling=pooling)
        assert score == pytest.approx(cross_val_score(pipeline, X_train, y_train, cv=2).mean())
    assert len(set(scores[1])) > 1, scores[1]  # three poolings, three different features


def test_column_transformer_and_pandas_output():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(
        {"text": ["the cat", "a dog", ""], "n": [1.0, 2.0, 3.0]}, index=["a", "b", "c"]
    )
    columns = ColumnTransformer(
        [("text", WordVectorEncoder(), "text"), ("n", "passthrough", ["n"])]
    )
    assert columns.fit_transform(frame).shape == (3, 51)
    names = columns.get_feature_names_out()
    assert names[0] == "text__wordvectorencoder0" and names[-1] == "n__n"
    columns = ColumnTransformer([("text", WordVectorEncoder(pooling="minmax"), ["text"])])
    assert columns.fit_transform(frame).shape == (3, 100)

    enc = WordVectorEncoder().set_output(transform="pandas").fit(frame["text"])
    out = enc.transform(frame["text"])
    assert list(out.index) == ["a", "b", "c"]
    assert list(clone(enc).fit_transform(frame["text"]).index) == ["a", "b", "c"]
    assert list(enc.get_feature_names_out()) == list(out.columns)
    assert out.columns[0] == "wordvectorencoder0"


def test_clone_and_pickle(vector_files, glove):
    enc = WordVectorEncoder(vector_files["glove.txt"], pooling="tfidf").fit(["the cat", "dog"])
    assert clone(enc).get_params() == enc.get_params() and not hasattr(clone(enc), "model_")
    restored = pickle.loads(pickle.dumps(enc))
    texts = ["the cat runs", "a dog", ""]
    np.testing.assert_array_equal(restored.transform(texts), enc.transform(texts))
    assert restored._fingerprint() == enc._fingerprint()

    default = WordVectorEncoder().fit()
    blob = pickle.dumps(default)
    assert len(blob) < 5000 < glove.vectors.nbytes  # their digest, not the vectors
    np.testing.assert_array_equal(pickle.loads(blob).transform(TEXTS), default.transform(TEXTS))
    assert len(pickle.dumps(clone(default))) < 2000


def test_fingerprint_names_what_changes_the_output():
    base = WordVectorEncoder()._fingerprint()
    assert base == WordVectorEncoder(batch_size=7, verbose=True)._fingerprint()
    assert base != WordVectorEncoder(pooling="max")._fingerprint()
    assert base != WordVectorEncoder(lowercase=False)._fingerprint()
    assert base != WordVectorEncoder(token_pattern=r"\S+")._fingerprint()
    assert base != WordVectorEncoder(tokenizer=str.split)._fingerprint()
    one = WordVectorEncoder(pooling="tfidf").fit(["the cat"])._fingerprint()
    assert one != WordVectorEncoder(pooling="tfidf").fit(["a dog"])._fingerprint()


@pytest.mark.parametrize(
    "X, error, message",
    [
        (None, TypeError, "X is None"),
        ("the cat", TypeError, "wrap it in a list"),
        (42, TypeError, "iterable of str, got a int"),
        (["ok", None], ValueError, "text 1 is missing"),
        (["ok", "ok", float("nan")], ValueError, "text 2 is missing"),
        (["ok", 3], TypeError, "text 1 is a int"),
        ([b"bytes"], TypeError, "text 0 is bytes"),
        ([], ValueError, "0 samples"),
        (np.array([["a", "b"]], dtype=object), ValueError, "1-D"),
    ],
)
def test_bad_input_names_the_offending_item(X, error, message):
    enc = WordVectorEncoder().fit()
    with pytest.raises(error, match=message):
        enc.transform(X)
    if X is not None:  # fit(None) is fine: the unweighted poolings need no data
        with pytest.raises(error, match=message):
            WordVectorEncoder().fit(X)


def test_missing_values_in_pandas_are_named():
    pd = pytest.importorskip("pandas")
    enc = WordVectorEncoder().fit()
    with pytest.raises(ValueError, match=r"text 1 is missing.*fillna"):
        enc.transform(pd.Series(["ok", pd.NA, "x"]))
    with pytest.raises(ValueError, match="2 columns"):
        enc.transform(pd.DataFrame({"a": ["x"], "b": ["y"]}))
    assert enc.transform(np.array(["a", "b"])).shape == (2, 50)  # numpy str_ items
    assert enc.transform(text for text in ["a", "b"]).shape == (2, 50)  # a generator
    assert enc.fit_transform(text for text in ["a", "b"]).shape == (2, 50)


def test_bad_parameters():
    for params, message in [
        (
            {"pooling": "median"},
            "pooling must be 'mean' or 'max' or 'sum' or 'minmax' or 'tfidf' or 'sif', "
            "got 'median'",
        ),
        ({"batch_size": 0}, "batch_size must be an int >= 1, got 0"),
        ({"sif_alpha": 0}, "sif_alpha must be a number > 0, got 0"),
    ]:
        with pytest.raises(ValueError, match=re.escape(message)):
            WordVectorEncoder(**params).fit(["x"])
    with pytest.raises(TypeError, match="lowercase must be True or False"):
        WordVectorEncoder(lowercase="yes").fit(["x"])
    with pytest.raises(TypeError, match="sif_alpha must be a number > 0"):
        WordVectorEncoder(sif_alpha="small").fit(["x"])
    with pytest.raises(TypeError, match="batch_size must be an int >= 1"):
        WordVectorEncoder(batch_size=2.0).fit(["x"])
    with pytest.raises(NotFittedError):
        WordVectorEncoder().transform(["x"])
    with pytest.raises(TypeError, match="must be a name, a path or a loaded words model"):
        WordVectorEncoder(vectors=3.5).fit()


def test_batching_does_not_change_the_result(glove):
    texts = TEXTS * 7
    for pooling in ("mean", "max", "sif"):
        whole = WordVectorEncoder(pooling=pooling).fit(texts).transform(texts)
        small = WordVectorEncoder(pooling=pooling, batch_size=4).fit(texts).transform(texts)
        np.testing.assert_allclose(small, whole, rtol=1e-5, atol=1e-6)


def test_verbose_shows_a_progress_bar(capsys):
    WordVectorEncoder(verbose=True).fit().transform(["the cat"] * 3)
    assert "text" in capsys.readouterr().err
    WordVectorEncoder().fit().transform(["the cat"])
    assert capsys.readouterr().err == ""


# -- the registry --------------------------------------------------------------------------


def test_registered_word_vectors():
    names = backbones.list("words")
    assert {"glove-6b-50d", "glove-wiki-gigaword-100", "word2vec-google-news-300",
            "fasttext-wiki-news-subwords-300"} <= set(names)  # fmt: skip
    spec = backbones.get("glove-6b-50d")
    assert spec.modality == "words" and spec.feature_dim == 50 and spec.family == "gensim"
    assert backbones.get("gensim/glove-6b-50d") is spec
    assert backbones.get("word2vec-google-news-300").feature_dim == 300


@pytest.mark.parametrize(
    "name", ["glove-wiki-gigaword-100", "word2vec-google-news-300", "glove-twitter-25"]
)
def test_download_only_vectors_fail_fast_offline(name, tmp_path, monkeypatch, request):
    monkeypatch.setenv("GENSIM_DATA_DIR", str(tmp_path))
    source = backbones.resolve(name, modality="words").weights
    reason = "downloads are disabled by the environment"  # the tests run with SKTRANSFER_OFFLINE
    with pytest.raises(
        WeightsNotFoundError, match=re.escape(missing_message(source, name, reason))
    ):
        WordVectorEncoder(name).fit()
    # Downloads allowed, but no network: one refused connection, then the same message.
    attempts = request.getfixturevalue("no_network")
    reason = "github.com cannot be reached"
    with pytest.raises(
        WeightsNotFoundError, match=re.escape(missing_message(source, name, reason))
    ):
        WordVectorEncoder(name).fit()
    assert attempts == [("github.com", 443)]


def test_gensim_data_folder_is_used_offline(tmp_path, monkeypatch, tiny_vectors):
    """A model gensim.downloader put in its folder earlier loads without a network."""
    monkeypatch.setenv("GENSIM_DATA_DIR", str(tmp_path))
    folder = tmp_path / "glove-twitter-25"
    folder.mkdir()
    tiny_vectors.save_word2vec_format(str(folder / "glove-twitter-25.gz"))
    (folder / "__init__.py").write_text(
        "import os\n"
        "from gensim.models import KeyedVectors\n"
        "def load_data():\n"
        "    path = os.path.join(os.path.dirname(__file__), 'glove-twitter-25.gz')\n"
        "    return KeyedVectors.load_word2vec_format(path)\n"
    )
    enc = WordVectorEncoder("glove-twitter-25").fit()
    assert enc.model_.index_to_key == tiny_vectors.index_to_key


def test_missing_file_and_wrong_modality():
    with pytest.raises(WeightsNotFoundError, match="does not exist"):
        WordVectorEncoder("no/such/vectors.txt").fit()
    with pytest.raises(ValueError, match="reads image, not words; use ImageEncoder"):
        WordVectorEncoder("resnet18").fit()


def test_without_gensim_names_are_listed_and_building_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "gensim", None)  # import gensim now raises ImportError
    monkeypatch.setitem(sys.modules, "gensim.models", None)
    names = [spec.name for spec in _gensim.specs()]
    assert "glove-6b-50d" in names
    with pytest.raises(MissingDependencyError, match=r"pip install sktransfer\[words\]"):
        _gensim.specs()[0].build("default")
    with pytest.raises(MissingDependencyError, match=r"sktransfer\[words\]"):
        WordVectorEncoder().fit()
