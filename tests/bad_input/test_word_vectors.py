"""Word-vector files a user may give by mistake, or that an attacker may craft.

Each bad file fails in ``fit`` with the library's error for it, naming the file;
each odd but valid one has a defined result. Pickles (gensim's ``save()``
format) load only with ``trust_pickle=True``: without it, nothing in a crafted
one runs, whatever the file is called.
"""

import bz2
import gzip
import lzma
import pickle
import re
import zipfile

import numpy as np
import pytest

from sktransfer import UntrustedPickleError, WeightsNotFoundError, WordVectorEncoder
from sktransfer.backbones._vector_files import load_vectors

gensim_models = pytest.importorskip("gensim.models")

WORDS = ["cat", "dog", "the"]
VECTORS = np.array([[1, 0, 0], [0, 1, 0], [0.5, 0.5, 1]], dtype=np.float32)


def _text(header=True):
    lines = [f"{w} " + " ".join(str(v) for v in vec) for w, vec in zip(WORDS, VECTORS)]
    return (f"{len(WORDS)} 3\n" if header else "") + "\n".join(lines) + "\n"


def _binary(words=WORDS, header=None, newline=b""):
    header = header or f"{len(words)} 3".encode()
    rows = dict(zip(WORDS, VECTORS))
    return header + b"\n" + b"".join(w.encode() + b" " + rows[w].tobytes() + newline for w in words)


@pytest.fixture(scope="module")
def fasttext_bin(tmp_path_factory):
    """A small Facebook FastText .bin, as bytes."""
    corpus = [["the", "cat", "runs"], ["the", "dog", "runs"]] * 20
    model = gensim_models.FastText(
        vector_size=8, min_count=1, epochs=1, bucket=1000, workers=1, seed=0
    )
    model.build_vocab(corpus)
    model.train(corpus, total_examples=len(corpus), epochs=1)
    path = tmp_path_factory.mktemp("fasttext") / "ft.bin"
    gensim_models.fasttext.save_facebook_model(model, str(path))
    return path.read_bytes()


def _zip(text):
    def write(path):
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("vectors.txt", text)

    return write


# name, content (bytes, or a function writing the file), error message (a regex)
BAD_FILES = [
    ("empty.txt", b"", "is empty"),
    ("blank.txt", b"\n \n\t\n", r"is empty \(only white space\)"),
    ("empty.txt.gz", gzip.compress(b""), "is empty once decompressed"),
    ("not-gzip.gz", b"cat 1 0\n", "Not a gzipped file"),
    ("truncated.txt.gz", gzip.compress(_text().encode() * 50)[:60], "ends before"),
    ("vectors.zip", _zip(_text()), "is a zip archive; extract"),
    # a plain word list, or values not separated by spaces: vectors of 0 dimensions
    ("words.txt", b"cat\ndog\nthe\n", "have 0 dimensions: is it a word list"),
    ("tabs.tsv", b"cat\t1\t0\ndog\t0\t1\n", "0 dimensions.*tabs"),
    ("commas.csv", b"cat,1,0\ndog,0,1\n", "0 dimensions"),
    ("dim0.txt", b"2 0\ncat\ndog\n", "0 dimensions"),
    ("no-words.txt", b"0 3\n", "hold no words"),
    # headers that lie, in text...
    ("count-small.txt", _text().replace("3 3", "2 3", 1).encode(), "announces 2 words but 3"),
    ("count-large.txt", _text().replace("3 3", "9 3", 1).encode(), "announces 9 words but 3"),
    ("count-huge.txt", _text().replace("3 3", "99999999999 3", 1).encode(), "99999999999 words"),
    ("dim-wrong.txt", _text().replace("3 3", "3 5", 1).encode(), "5 dimensions but the first"),
    # ...and in binary
    ("count-small.bin", _binary(header=b"2 3"), "holds more than the 2 words"),
    ("count-large.bin", _binary(header=b"4 3"), "announces 4 words of 3 dimensions"),
    ("count-huge.bin", _binary(header=b"99999999999 300"), "more than its .* bytes can hold"),
    ("dim-small.bin", _binary(header=b"3 2"), "control bytes.*right dimension"),
    ("dim-large.bin", _binary(header=b"3 4"), "more than its .* bytes can hold"),
    ("truncated.bin", _binary()[:-5], "ends before"),
    ("cut.bin", _binary()[:20], "more than its 20 bytes can hold"),
    # damaged text
    ("ragged.txt", b"cat 1 0\ndog 0 1 2\n", "line 2 holds 3 values, where line 1 holds 2"),
    ("blank-line.txt", b"cat 1 0\n\ndog 0 1\n", "line 2 is blank"),
    ("trailing-blank.txt", b"cat 1 0\ndog 0 1\n\n", "line 3 is blank"),
    ("not-a-number.txt", b"cat 1 0\ndog x 1\n", "could not read"),
    ("nan.txt", b"cat 1 0\ndog nan 1\n", "vector of 'dog' holds NaN or infinity"),
    ("inf.txt", b"2 2\ncat 1 0\ndog 0 -inf\n", "vector of 'dog' holds NaN or infinity"),
    ("latin-1.txt", "café 1 0\n".encode("latin-1"), "'utf-8' codec can't decode"),
    ("utf-16.txt", "cat 1 0\n".encode("utf-16"), "could not read"),
    # files that are no word vectors at all
    ("image.png", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "could not read"),
    ("random.bin", np.random.default_rng(0).bytes(5000), "could not read"),
    ("array.npy", None, "could not read"),  # written by np.save below
]


def _write(path, content):
    if content is None:
        np.save(path, np.eye(3))
    elif callable(content):
        content(path)
    else:
        path.write_bytes(content)
    return path


@pytest.mark.parametrize("name, content, message", BAD_FILES, ids=[f[0] for f in BAD_FILES])
def test_a_bad_file_fails_in_fit_naming_it(tmp_path, name, content, message):
    path = _write(tmp_path / name, content)
    with pytest.raises(ValueError, match=message) as info:
        WordVectorEncoder(str(path)).fit()
    assert str(path) in str(info.value)
    assert not isinstance(info.value, UntrustedPickleError)


@pytest.mark.parametrize("cut", [0.0003, 0.003, 0.03, 0.5])
def test_a_truncated_fasttext_bin_fails_naming_it(tmp_path, fasttext_bin, cut):
    path = tmp_path / "truncated.bin"
    path.write_bytes(fasttext_bin[: max(1, int(len(fasttext_bin) * cut))])
    with pytest.raises(ValueError, match=re.escape(f"could not read word vectors from '{path}'")):
        WordVectorEncoder(path).fit()


def test_a_missing_file_or_a_folder_is_named(tmp_path):
    for given in (tmp_path / "missing.txt", tmp_path / "missing", str(tmp_path / "no" / "x.vec")):
        with pytest.raises(WeightsNotFoundError, match="does not exist") as info:
            WordVectorEncoder(given).fit()
        assert str(given) in str(info.value)
    folder = tmp_path / "vectors.txt"
    folder.mkdir()
    for given in (folder, str(folder)):
        with pytest.raises(WeightsNotFoundError, match="is a folder, not a file") as info:
            WordVectorEncoder(given).fit()
        assert str(folder) in str(info.value)
    with pytest.raises(WeightsNotFoundError, match="is a folder"):
        load_vectors(folder)


def _loads_as_the_words(path, **params):
    enc = WordVectorEncoder(path, **params).fit()
    assert enc.model_.index_to_key == WORDS
    np.testing.assert_allclose(enc.model_.vectors, VECTORS, rtol=1e-6)
    np.testing.assert_allclose(enc.transform(["the cat"])[0], (VECTORS[0] + VECTORS[2]) / 2)


GOOD_FILES = [
    ("crlf.txt", _text(header=False).replace("\n", "\r\n").encode()),
    ("bom.txt", b"\xef\xbb\xbf" + _text(header=False).encode()),
    ("bom-header.txt", b"\xef\xbb\xbf" + _text().encode()),
    ("trailing-spaces.vec", _text().replace("\n", " \n").encode()),
    ("header-then-blank-lines.txt", _text().encode() + b"\n\n"),
    ("vectors.txt.gz", gzip.compress(_text().encode())),
    ("vectors.txt.bz2", bz2.compress(_text(header=False).encode())),
    ("vectors.txt.xz", lzma.compress(_text().encode())),
    ("gensim.bin", _binary()),
    ("word2vec-c-tool.bin", _binary(newline=b"\n")),  # a newline after each vector
    ("no-extension", _text().encode()),
]


@pytest.mark.parametrize("name, content", GOOD_FILES, ids=[f[0] for f in GOOD_FILES])
def test_odd_but_valid_files_load(tmp_path, name, content):
    _loads_as_the_words(_write(tmp_path / name, content))


@pytest.mark.parametrize(
    "name, content",
    [
        ("dup.txt", b"cat 1 0 0\ndog 0 1 0\ncat 9 9 9\nthe 0.5 0.5 1\n"),
        ("dup-header.txt", b"4 3\ncat 1 0 0\ndog 0 1 0\ncat 9 9 9\nthe 0.5 0.5 1\n"),
        ("dup.bin", _binary(["cat", "dog", "cat", "the"])),
    ],
)
def test_a_word_listed_twice_keeps_its_first_vector_with_a_warning(tmp_path, name, content):
    path = _write(tmp_path / name, content)
    with pytest.warns(UserWarning, match=r"list 1 word\(s\) more than once.*first vector") as info:
        _loads_as_the_words(path)  # no empty slot is left behind (gensim leaves a None word)
    assert str(path) in str(info[0].message)


# -- pickles -------------------------------------------------------------------------------


class _Payload:
    """What a crafted pickle does when unpickled: create the file ``marker``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


PICKLE_NAMES = ["vectors.kv", "vectors.model", "vectors.txt", "vectors.bin", "vectors", "v.kv.gz"]


def _crafted(path, marker, protocol):
    blob = pickle.dumps(_Payload(marker), protocol=protocol)
    path.write_bytes(gzip.compress(blob) if path.suffix == ".gz" else blob)
    return path


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
@pytest.mark.parametrize("name", PICKLE_NAMES)
def test_a_crafted_pickle_never_runs_without_trust(tmp_path, name, protocol):
    marker = tmp_path / "marker"
    path = _crafted(tmp_path / name, marker, protocol)
    for given in (path, str(path)):
        error = UntrustedPickleError if protocol >= 2 else ValueError  # 0, 1: read as text
        with pytest.raises(error) as info:
            WordVectorEncoder(given).fit()
        assert str(path) in str(info.value)
        with pytest.raises(error):
            load_vectors(given)
        with pytest.raises(error):
            load_vectors(given, trust_pickle=False)
    assert not marker.exists()
    if protocol >= 2:
        message = str(info.value)
        assert "is a pickle" in message and "runs whatever code" in message
        assert "trust_pickle=True" in message


def test_trust_pickle_is_the_one_way_a_pickle_is_unpickled(tmp_path):
    """The control of the test above: with the opt-in, the same file does run."""
    marker = tmp_path / "marker"
    path = _crafted(tmp_path / "vectors.kv", marker, pickle.DEFAULT_PROTOCOL)
    with pytest.raises(TypeError, match="holds no gensim object"):
        WordVectorEncoder(path, trust_pickle=True).fit()
    assert marker.exists()


def _tiny_keyed_vectors():
    kv = gensim_models.KeyedVectors(3)
    kv.add_vectors(WORDS, VECTORS)
    return kv


@pytest.mark.parametrize("sep_limit", [None, 0], ids=["one-file", "with-npy-side-file"])
def test_a_genuine_gensim_file_loads_with_trust(tmp_path, sep_limit):
    path = tmp_path / "vectors.kv"
    kwargs = {} if sep_limit is None else {"sep_limit": sep_limit}
    _tiny_keyed_vectors().save(str(path), **kwargs)
    assert path.with_name("vectors.kv.vectors.npy").exists() == (sep_limit == 0)
    with pytest.raises(UntrustedPickleError):
        WordVectorEncoder(path).fit()
    _loads_as_the_words(path, trust_pickle=True)
    # An untrusting encoder does not get the model a trusting one loaded.
    with pytest.raises(UntrustedPickleError):
        WordVectorEncoder(path).fit()


def test_a_whole_gensim_model_loads_with_trust(tmp_path):
    corpus = [["the", "cat", "runs"], ["the", "dog", "runs"]] * 5
    path = tmp_path / "word2vec.model"
    gensim_models.Word2Vec(corpus, vector_size=4, min_count=1, workers=1, seed=0).save(str(path))
    with pytest.raises(UntrustedPickleError):
        WordVectorEncoder(path).fit()
    assert WordVectorEncoder(path, trust_pickle=True).fit().n_features_out_ == 4


def test_trust_pickle_is_checked_like_every_parameter(tmp_path):
    with pytest.raises(TypeError, match="trust_pickle must be True or False, got 'yes'"):
        WordVectorEncoder(trust_pickle="yes").fit()
    path = _write(tmp_path / "vectors.txt", _text().encode())
    _loads_as_the_words(path, trust_pickle=np.bool_(True))  # text needs no trust, takes it


def _gensim_data_folder(root, name, data, marker):
    folder = root / name
    folder.mkdir()
    (folder / f"{name}.gz").write_bytes(data)
    (folder / "__init__.py").write_text(
        f"open({str(marker)!r}, 'w').close()\n"
        "def load_data():\n"
        "    raise AssertionError('the loader script ran')\n"
    )
    return folder


def test_a_gensim_data_folder_is_read_without_running_its_script(tmp_path, monkeypatch):
    monkeypatch.setenv("GENSIM_DATA_DIR", str(tmp_path))
    marker = tmp_path / "marker"
    _gensim_data_folder(tmp_path, "glove-twitter-25", gzip.compress(_text().encode()), marker)
    _loads_as_the_words("glove-twitter-25")
    assert not marker.exists()


def test_a_gensim_data_folder_holding_a_pickle_needs_trust(tmp_path, monkeypatch):
    monkeypatch.setenv("GENSIM_DATA_DIR", str(tmp_path))
    marker = tmp_path / "marker"
    data = gzip.compress(pickle.dumps(_Payload(marker), protocol=4))
    folder = _gensim_data_folder(tmp_path, "glove-twitter-25", data, marker)
    with pytest.raises(UntrustedPickleError, match="trust_pickle=True") as info:
        WordVectorEncoder("glove-twitter-25").fit()
    assert str(folder) in str(info.value) and not marker.exists()
    with pytest.raises(AssertionError, match="the loader script ran"):
        WordVectorEncoder("glove-twitter-25", trust_pickle=True).fit()
    assert marker.exists()  # trusted: gensim.downloader's own way, its script
