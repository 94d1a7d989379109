"""Texts a user may pass by mistake to the text encoders and the text fine-tuner.

Both encoders and the fine-tuner read texts through one check, so a bad input
fails the same way everywhere, in ``fit`` before any model loads and in
``transform``, with an error naming the offending item's index. Odd but valid
texts (empty, blank, very long, in any container) have one defined result.
"""

import collections
import types

import numpy as np
import pytest

from sktransfer import SentenceEncoder, WordVectorEncoder
from sktransfer._checks import check_texts, text_key

pd = pytest.importorskip("pandas")
pytest.importorskip("gensim")

WORDS = {"the": [1.0, 0.0, 0.0], "cat": [0.0, 1.0, 0.0], "sat": [0.0, 0.0, 2.0]}


@pytest.fixture(scope="module")
def vectors_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("vectors") / "tiny.txt"
    path.write_text("".join(f"{w} {' '.join(map(str, v))}\n" for w, v in WORDS.items()))
    return str(path)


@pytest.fixture(scope="module")
def words(vectors_file):
    return WordVectorEncoder(vectors_file).fit()


def _gen(*items):
    return lambda: (item for item in items)


# id, X (a function making it: generators are read once), error, message (a regex)
BAD_TEXTS = [
    ("None", lambda: None, TypeError, "X is None"),
    ("bare-str", lambda: "the cat sat", TypeError, "single str; wrap it in a list"),
    ("bare-bytes", lambda: b"the cat", TypeError, "single bytes"),
    ("int", lambda: 42, TypeError, "iterable of str, got a int"),
    ("empty-list", lambda: [], ValueError, r"0 samples"),
    ("empty-generator", _gen(), ValueError, r"0 samples"),
    ("empty-array", lambda: np.array([], dtype=object), ValueError, r"0 samples"),
    ("item-None", lambda: ["ok", None], ValueError, r"text 1 is missing \(None\)"),
    ("item-NaN", lambda: ["ok", "ok", float("nan")], ValueError, r"text 2 is missing.*fillna"),
    ("item-np.nan", lambda: ["ok", np.nan], ValueError, "text 1 is missing"),
    ("item-pd.NA", lambda: ["ok", pd.NA], ValueError, "text 1 is missing"),
    ("series-None", lambda: pd.Series(["ok", None]), ValueError, "text 1 is missing"),
    ("series-NaN", lambda: pd.Series(["ok", "x", np.nan]), ValueError, "text 2 is missing"),
    ("string-dtype-NA", lambda: pd.Series(["ok", None], dtype="string"), ValueError, "text 1"),
    ("generator-None", _gen("ok", None), ValueError, "text 1 is missing"),
    ("item-bytes", lambda: ["ok", b"bytes"], TypeError, r"text 1 is bytes.*decode"),
    ("bytes-array", lambda: np.array([b"a", b"b"]), TypeError, "text 0 is bytes"),
    ("item-int", lambda: ["ok", 3], TypeError, r"text 1 is a int \(3\)"),
    ("item-float", lambda: ["ok", 2.5], TypeError, "text 1 is a float"),
    ("item-bool", lambda: ["ok", True], TypeError, "text 1 is a bool"),
    ("number-array", lambda: np.arange(3), TypeError, "text 0 is a int"),
    ("tokens", lambda: [["the", "cat"]], TypeError, r"text 0 is a list of str.*' '\.join"),
    ("token-tuple", lambda: ["ok", ("the",)], TypeError, "text 1 is a tuple of str"),
    ("nested-empty", lambda: [[]], TypeError, "text 0 is a list"),
    ("series-of-lists", lambda: pd.Series([["a"], ["b"]]), TypeError, "text 0 is a list"),
    ("rows", lambda: [{"text": "a", "label": 0}], TypeError, r"text 0 is a dict.*one column"),
    (
        "dict-of-columns",  # a Hugging Face datasets batch; its keys used to be encoded
        lambda: {"text": ["a cat", "a dog"], "label": [0, 1]},
        TypeError,
        r"dict of 2 columns.*pass the one column of texts, e\.g\. X\['text'\]",
    ),
    (
        "mapping-of-columns",
        lambda: collections.UserDict({"text": ["a cat"]}),
        TypeError,
        r"UserDict of 1 columns.*X\['text'\]",
    ),
    ("read-only-mapping", lambda: types.MappingProxyType({}), TypeError, "0 columns"),
    ("set", lambda: {"a cat", "a dog"}, TypeError, "a set, which has no order"),
    ("frozenset", lambda: frozenset({"a"}), TypeError, "no order"),
    ("2-D-array", lambda: np.array([["a", "b"]]), ValueError, r"1-D.*shape \(1, 2\)"),
    ("3-D-array", lambda: np.array([[["a"]]]), ValueError, "1-D"),
    ("0-D-array", lambda: np.array("a cat"), ValueError, r"1-D.*shape \(\)"),
    ("frame-2-columns", lambda: pd.DataFrame({"a": ["x"], "b": ["y"]}), ValueError, "2 columns"),
    (
        "lone-surrogate",
        lambda: ["ok", "bad \ud800 text"],
        ValueError,
        r"text 1 is not valid Unicode.*'\\ud800' at position 4.*encode\('utf-8', 'replace'\)",
    ),
    ("escaped-byte", lambda: ["caf\udce9"], ValueError, r"text 0 .*'\\udce9' at position 3"),
    ("split-pair", lambda: ["a", "b", "x\ud83d\ude00"], ValueError, "text 2 .*position 1"),
    (
        "surrogate-series",  # object dtype: pandas 3's default strings refuse surrogates
        lambda: pd.Series(["ok", "\udc80"], dtype=object),
        ValueError,
        "text 1 .*position 0",
    ),
]
IDS = [case[0] for case in BAD_TEXTS]


def _fails_before_loading(monkeypatch, cls):
    monkeypatch.setattr(cls, "_load", lambda self: pytest.fail("the model was loaded"))


@pytest.mark.parametrize("name, make_X, error, message", BAD_TEXTS, ids=IDS)
def test_the_shared_check_names_the_problem(name, make_X, error, message):
    with pytest.raises(error, match=message):
        check_texts(make_X())


@pytest.mark.parametrize("name, make_X, error, message", BAD_TEXTS, ids=IDS)
def test_word_vector_encoder(words, vectors_file, monkeypatch, name, make_X, error, message):
    with pytest.raises(error, match=message):
        words.transform(make_X())
    if name != "None":  # fit(None): the unweighted poolings need no texts
        _fails_before_loading(monkeypatch, WordVectorEncoder)
        with pytest.raises(error, match=message):
            WordVectorEncoder(vectors_file).fit(make_X())
        with pytest.raises(error, match=message):
            WordVectorEncoder(vectors_file).fit_transform(make_X())


@pytest.mark.parametrize("name, make_X, error, message", BAD_TEXTS, ids=IDS)
def test_sentence_encoder_fails_in_fit_before_loading(monkeypatch, name, make_X, error, message):
    _fails_before_loading(monkeypatch, SentenceEncoder)
    with pytest.raises(error, match=message):
        SentenceEncoder().fit_transform(make_X())
    if name != "None":
        with pytest.raises(error, match=message):
            SentenceEncoder().fit(make_X())


@pytest.mark.parametrize("name, make_X, error, message", BAD_TEXTS, ids=IDS)
def test_the_text_fine_tuner_reads_texts_the_same_way(name, make_X, error, message):
    pytest.importorskip("skorch")
    from sktransfer.finetune._inputs import Samples

    with pytest.raises(error, match=message):
        Samples.of(make_X(), "text")


@pytest.fixture(scope="module")
def sentences():
    pytest.importorskip("sentence_transformers")
    return SentenceEncoder(device="cpu").fit()


@pytest.mark.slow
@pytest.mark.parametrize("name, make_X, error, message", BAD_TEXTS, ids=IDS)
def test_sentence_encoder_transform(sentences, name, make_X, error, message):
    with pytest.raises(error, match=message):
        sentences.transform(make_X())


# -- odd but valid -------------------------------------------------------------------------


class Text(str):
    """A str subclass, as some libraries return."""


LONG = "the cat sat. " * 100_000  # 1.3 million characters

VALID = [
    ("tuple", lambda: ("the cat", "sat")),
    ("generator", _gen("the cat", "sat")),
    ("dict-values", lambda: {"a": "the cat", "b": "sat"}.values()),
    ("array", lambda: np.array(["the cat", "sat"])),
    ("object-array", lambda: np.array(["the cat", "sat"], dtype=object)),
    ("column-array", lambda: np.array([["the cat"], ["sat"]], dtype=object)),
    ("series", lambda: pd.Series(["the cat", "sat"], index=[10, 20])),
    ("string-series", lambda: pd.Series(["the cat", "sat"], dtype="string")),
    ("categorical", lambda: pd.Series(["the cat", "sat"], dtype="category")),
    ("one-column-frame", lambda: pd.DataFrame({"text": ["the cat", "sat"]})),
    ("numpy-str-items", lambda: [np.str_("the cat"), np.str_("sat")]),
    ("str-subclass-items", lambda: [Text("the cat"), Text("sat")]),
]


@pytest.mark.parametrize("name, make_X", VALID, ids=[case[0] for case in VALID])
def test_any_container_of_str_gives_the_same_features(words, name, make_X):
    expected = words.transform(["the cat", "sat"])
    np.testing.assert_array_equal(words.transform(make_X()), expected)
    np.testing.assert_array_equal(
        WordVectorEncoder(words.vectors).fit_transform(make_X()), expected
    )


EDGE_TEXTS = {
    "empty": "",
    "blank": " \t\n\r ",
    "punctuation": "!!! ... ???",
    "unknown-words": "zzqx qqzz",
    "nul": "\x00",
    "control": "\x1b[31m\x07",
    "replacement-char": "caf\ufffd",  # what the surrogate message's fix gives
    "emoji": "🙂🎉",
    "zero-width": "\u200b\ufeff",
    "rtl": "مرحبا بالعالم",
    "combining": "e\u0301",
    "long": LONG,
}


def test_texts_without_a_known_word_are_zeros_and_long_texts_are_averaged(words):
    X = words.transform(list(EDGE_TEXTS.values()))
    assert X.shape == (len(EDGE_TEXTS), 3) and X.dtype == np.float32 and np.isfinite(X).all()
    assert not X[:-1].any()  # none of the others holds a word of the tiny vocabulary
    np.testing.assert_allclose(X[-1], np.mean(list(WORDS.values()), axis=0), rtol=1e-5)


@pytest.mark.slow
def test_the_sentence_encoder_encodes_every_edge_text(sentences):
    X = sentences.transform(list(EDGE_TEXTS.values()) + [""])
    assert X.shape == (len(EDGE_TEXTS) + 1, 384) and np.isfinite(X).all()
    assert (np.linalg.norm(X, axis=1) > 0.5).all()
    np.testing.assert_array_equal(X[0], X[-1])  # the empty text: one fixed vector
    first = sentences.transform(["the cat sat. " * 100])  # 400 tokens, cut to 256 like LONG
    np.testing.assert_allclose(X[list(EDGE_TEXTS).index("long")], first[0], atol=1e-5)
    np.testing.assert_array_equal(
        sentences.transform(_gen("a", "b")()), sentences.transform(["a", "b"])
    )


def test_the_cache_still_digests_any_str():
    """Texts are checked before the cache sees them, but its digest takes any str."""
    assert text_key("bad \ud800") != text_key("bad \ufffd") != text_key("bad ?")
