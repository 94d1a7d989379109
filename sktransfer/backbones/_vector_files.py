"""Local files of word vectors: the format told by the content, pickles only when trusted.

:func:`load_vectors` reads word2vec text (a "count dim" header) or binary,
GloVe text (no header), FastText ``.bin`` (with its sub-word n-grams) and,
only when trusted, the pickles gensim's ``save()`` writes. The format is
decided from the file's first bytes, never from its name, and before any
loader runs: a pickle named ``vectors.txt`` is still a pickle, and unpickling
runs whatever code the file names. Text formats are parsed, never unpickled,
so they need no trust.

What a loaded file must be, checked before it is used: not empty, as many
vectors as its header announces, at least one word, vectors of at least one
dimension, finite values. A word listed twice keeps its first vector (as
gensim does), with a warning.
"""

from __future__ import annotations

import bz2
import codecs
import contextlib
import contextvars
import gzip
import lzma
import pickle
import re
import struct
import warnings
from pathlib import Path

import numpy as np

from ..exceptions import MissingDependencyError, UntrustedPickleError, WeightsNotFoundError

FASTTEXT_MAGIC = 793712314  # the first int32 of every FastText .bin file
_HEAD_BYTES = 64 * 1024

# Set by WordVectorEncoder(trust_pickle=True) around a build: specs take only
# ``weights``, and the trust must reach the loader of any name, file or folder.
_TRUST_PICKLE = contextvars.ContextVar("sktransfer_trust_pickle", default=False)


def require_gensim():
    try:
        import gensim  # noqa: F401
    except ImportError as exc:
        raise MissingDependencyError(
            "word vectors need gensim: pip install sktransfer[words]"
        ) from exc
    from gensim.models import KeyedVectors

    return KeyedVectors


def keyed_vectors(words, vectors):
    """KeyedVectors from a word list and a matrix (rows in the same order), without copies."""
    KeyedVectors = require_gensim()
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if len(words) != len(vectors):
        raise ValueError(f"{len(words)} words but {len(vectors)} vectors")
    kv = KeyedVectors(vectors.shape[1], count=0, dtype=np.float32)
    kv.index_to_key = list(words)
    kv.key_to_index = {word: index for index, word in enumerate(kv.index_to_key)}
    if len(kv.key_to_index) != len(words):
        raise ValueError("the word list holds duplicates")
    kv.vectors = vectors
    return kv


# -- trusting pickles --------------------------------------------------------------------


@contextlib.contextmanager
def trusting_pickles(trust=True):
    """Let word vectors that are pickles be unpickled within the block (if ``trust``).

    Parameters
    ----------
    trust : bool, default=True
        Whether pickles are trusted inside the block.

    Yields
    ------
    None
    """
    token = _TRUST_PICKLE.set(bool(trust))
    try:
        yield
    finally:
        _TRUST_PICKLE.reset(token)


def pickles_trusted(trust_pickle=None):
    """``trust_pickle``, or when None what the enclosing :func:`trusting_pickles` says."""
    return _TRUST_PICKLE.get() if trust_pickle is None else bool(trust_pickle)


def untrusted(what, why=None):
    """The error for a pickle that nobody said to trust; ``what`` names the file or folder."""
    why = why or (
        "is a pickle (what gensim's save() writes, or any pickled Python object); loading a "
        "pickle runs whatever code it names"
    )
    return UntrustedPickleError(
        f"{what} {why}, so it is refused by default. If you trust the file's source, pass "
        "trust_pickle=True (e.g. WordVectorEncoder(vectors, trust_pickle=True)). Where it was "
        "made, kv.save_word2vec_format(path, binary=True) writes a format that loads without "
        "trust."
    )


# -- the format --------------------------------------------------------------------------


# The suffixes whose files gensim's readers (smart_open) decompress.
_DECOMPRESS = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}


def _open(path):
    return _DECOMPRESS.get(path.suffix.lower(), open)(path, "rb")


def _compressed(path):
    return path.suffix.lower() in _DECOMPRESS


def sniff_format(path):
    """Tell the format of a word-vectors file from its first bytes (decompressed).

    Returns "empty", "pickle" (protocol 2 and later start with ``0x80``, as
    every file gensim's ``save()`` writes does), "fasttext" (a Facebook
    FastText ``.bin``), "zip", "word2vec-binary", "word2vec" (text with a
    "count dim" header) or "glove" (text without one). Nothing is loaded.
    """
    with _open(Path(path)) as handle:
        head = handle.read(_HEAD_BYTES)
    return _format(head)


def _format(head):
    head = head.removeprefix(codecs.BOM_UTF8)
    if not head.strip() and len(head) < _HEAD_BYTES - 3:
        return "empty"
    if head[:1] == b"\x80":
        return "pickle"
    if len(head) >= 4 and int.from_bytes(head[:4], "little") == FASTTEXT_MAGIC:
        return "fasttext"
    if head[:4] == b"PK\x03\x04":
        return "zip"
    first, _, rest = head.partition(b"\n")
    parts = first.split()
    if not (len(parts) == 2 and all(p.isdigit() for p in parts)):
        return "glove"
    if b"\x00" in rest:
        return "word2vec-binary"
    try:
        rest.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(rest) - 4:  # not just a character cut by the 64 KiB window
            return "word2vec-binary"
    return "word2vec"


# -- loading -----------------------------------------------------------------------------


def load_vectors(path, *, trust_pickle=None):
    """Word vectors from a local file, whatever its format (see :func:`sniff_format`).

    A FastText ``.bin`` keeps its sub-word n-grams, so words missing from its
    vocabulary still get vectors. Text files may be compressed (``.gz``,
    ``.bz2``, ``.xz``) and may start with a UTF-8 byte order mark.

    Parameters
    ----------
    path : str or path-like
        The file.
    trust_pickle : bool, optional
        Allow a pickle (gensim's ``save()`` format). None: as the enclosing
        :func:`trusting_pickles` says, by default not.

    Returns
    -------
    gensim.models.KeyedVectors
        The vectors (FastText's keep their n-grams).

    Raises
    ------
    WeightsNotFoundError
        No such file, or a folder.
    UntrustedPickleError
        The file is a pickle and it is not trusted (nothing is unpickled).
    ValueError
        The file cannot be read as word vectors; the message names it.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "tiny.txt"
    >>> _ = path.write_text("cat 1.0 0.0\\ndog 0.9 0.1\\n")  # GloVe: no header line
    >>> kv = load_vectors(path)
    >>> kv.index_to_key, kv.vector_size
    (['cat', 'dog'], 2)
    """
    KeyedVectors = require_gensim()
    path = Path(path).expanduser()
    if path.is_dir():
        raise WeightsNotFoundError(f"'{path}' is a folder, not a file of word vectors")
    if not path.is_file():
        raise WeightsNotFoundError(f"word vectors file '{path}' does not exist")
    with _reading(path), _open(path) as handle:
        head = handle.read(_HEAD_BYTES)
    kind = _format(head)
    _check_head(path, kind, head)
    if kind == "pickle" and not pickles_trusted(trust_pickle):
        raise untrusted(f"word vectors file '{path}'")
    with _reading(path, kind):
        if kind == "pickle":
            kv = _unpickle(path)
        elif kind == "fasttext":
            from gensim.models.fasttext import load_facebook_vectors

            kv = load_facebook_vectors(str(path))
        else:
            kv = KeyedVectors.load_word2vec_format(
                str(path),
                binary=kind == "word2vec-binary",
                no_header=kind == "glove",
                encoding="utf-8-sig",  # a byte order mark is no part of the first word
            )
    duplicates = len(kv.key_to_index) < len(kv.index_to_key)
    if kind == "word2vec-binary":
        _check_binary_words(path, kv)
    kv = check_vectors(kv, f"'{path}'")
    if kind == "word2vec-binary" and not duplicates:
        _check_binary_size(path, kv)
    return kv


# What gensim's readers raise on a damaged file (FastText's .bin reader asserts sizes).
_DAMAGED = (ValueError, OSError, struct.error, IndexError, OverflowError, AssertionError)
_DAMAGED += (lzma.LZMAError, pickle.UnpicklingError)


@contextlib.contextmanager
def _reading(path, kind=None):
    """Errors of the readers as one ValueError that names the file (and the format)."""
    what = f"could not read word vectors from '{path}'" + (f" (as {kind})" if kind else "")
    try:
        yield
    except EOFError as exc:
        raise ValueError(
            f"{what}: the file ends before what it announces (truncated, or a wrong count "
            f"in its header): {exc}"
        ) from exc
    except _DAMAGED as exc:
        where = _bad_line(path, kind) if kind in ("glove", "word2vec") else None
        raise ValueError(f"{what}: {where or exc}") from exc


def _bad_line(path, kind):
    """The first line of a text file whose number of values differs from the first's, if any.

    Only looked for once a reader failed: gensim's own message ("could not
    broadcast...") names neither the line nor what is wrong with it.
    """
    try:
        with _open(path) as handle:
            if kind == "word2vec":
                handle.readline()
            first = dim = None
            for number, line in enumerate(handle, start=2 if kind == "word2vec" else 1):
                values = len(line.rstrip().split(b" ")) - 1
                if dim is None:
                    first, dim = number, values
                elif values != dim:
                    what = "is blank" if line.isspace() else f"holds {values} values"
                    return f"line {number} {what}, where line {first} holds {dim}"
    except (OSError, EOFError, lzma.LZMAError):
        pass
    return None


def _check_head(path, kind, head):
    """What the first bytes alone refute, before a loader reads the whole file."""
    if kind == "empty":
        raise ValueError(
            f"word vectors file '{path}' is empty"
            + (" once decompressed" if _compressed(path) and path.stat().st_size else "")
            + ("" if head == b"" else " (only white space)")
        )
    if kind == "zip":
        raise ValueError(f"'{path}' is a zip archive; extract the word vectors file from it")
    if kind not in ("word2vec", "word2vec-binary"):
        return
    header, _, rest = head.removeprefix(codecs.BOM_UTF8).partition(b"\n")
    count, dim = map(int, header.split())
    if kind == "word2vec":
        line, newline, _ = rest.partition(b"\n")
        fields = line.rstrip().split(b" ")
        if newline and count and len(fields) - 1 != dim:
            raise ValueError(
                f"word vectors file '{path}': the header announces {dim} dimensions but the "
                f"first vector has {len(fields) - 1} (values are separated by single spaces)"
            )
        with _reading(path, kind):
            lines = _data_lines(path)
        if lines != count:
            raise ValueError(
                f"word vectors file '{path}': the header announces {count} words but "
                f"{lines} lines follow it (a wrong count, or a truncated file)"
            )
    # A binary entry is at least one byte of word, a space and the float32 values.
    elif not _compressed(path) and count * (2 + 4 * dim) > path.stat().st_size:
        raise ValueError(
            f"word vectors file '{path}': the header announces {count} words of {dim} "
            f"dimensions, more than its {path.stat().st_size} bytes can hold (a wrong "
            "header, or a truncated file)"
        )


def _data_lines(path):
    """Lines after the first that hold anything: what a word2vec text header counts."""
    with _open(path) as handle:
        handle.readline()
        return sum(1 for line in handle if not line.isspace())


def _check_binary_size(path, kv):
    """Refuse a binary file with more in it than its header announces (gensim stops early)."""
    if _compressed(path):
        return  # its size cannot be told without decompressing it
    with open(path, "rb") as handle:
        header = handle.readline()
    count = len(kv.index_to_key)
    words = sum(len(word.encode("utf-8")) + 1 for word in kv.index_to_key)
    extra = path.stat().st_size - len(header) - words - count * 4 * kv.vector_size
    # gensim writes no newline between entries, word2vec's C tool one after each.
    if not (0 <= extra <= 1 or count - 1 <= extra <= count + 1):
        raise ValueError(
            f"word vectors file '{path}' holds more than the {count} words of "
            f"{kv.vector_size} dimensions its header announces ({extra} bytes more; a wrong "
            "header?)"
        )


_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _check_binary_words(path, kv):
    """Refuse words holding control bytes: a header with the wrong dimension reads values as words.

    Too few dimensions leave the rest of each vector to the next word, which
    the byte counts cannot tell; the zero bytes of its values can.
    """
    found = _CONTROL.search("\n".join(w for w in kv.index_to_key if w is not None))
    if found:
        raise ValueError(
            f"word vectors file '{path}': words read from it hold control bytes (such as "
            f"{found.group()!r}); does its header announce the right dimension "
            f"({kv.vector_size})?"
        )


def _unpickle(path):
    from gensim.utils import SaveLoad

    try:
        obj = SaveLoad.load(str(path))
    except AttributeError as exc:  # unpickled, but not a gensim object
        raise TypeError(f"'{path}' holds no gensim object, so no word vectors: {exc}") from exc
    return as_keyed_vectors(obj, f"'{path}'")


def as_keyed_vectors(obj, origin):
    """``obj`` as KeyedVectors: itself, or a whole Word2Vec / FastText / Doc2Vec model's ``wv``."""
    KeyedVectors = require_gensim()
    if isinstance(obj, KeyedVectors):
        return obj
    wv = getattr(obj, "wv", None)
    if isinstance(wv, KeyedVectors):
        return wv
    raise TypeError(f"{origin} holds a {type(obj).__name__}, not word vectors")


def check_shape(kv, origin):
    """Refuse vectors of 0 dimensions (they would encode every text as nothing) or no words."""
    vectors = getattr(kv, "vectors", None)
    if int(kv.vector_size) == 0 or getattr(vectors, "ndim", 2) != 2 or vectors.shape[1] == 0:
        raise ValueError(
            f"word vectors {origin} have 0 dimensions: is it a word list, or are the values "
            "separated by tabs or commas? A word vectors file holds one word per line, then "
            "its values, separated by single spaces"
        )
    if not kv.key_to_index:
        raise ValueError(f"word vectors {origin} hold no words")


def check_vectors(kv, origin):
    """``kv`` if it is usable word vectors, without the slots duplicates left; else ValueError.

    ``origin`` names where they come from, for the messages. Every value is
    checked to be finite (one pass over the vectors, in blocks).
    """
    check_shape(kv, origin)
    words = len(kv.key_to_index)
    if words < len(kv.index_to_key):  # gensim skips a repeated word but keeps its slot
        dropped = len(kv.index_to_key) - words
        warnings.warn(
            f"word vectors {origin} list {dropped} word(s) more than once; each keeps its "
            "first vector",
            UserWarning,
            stacklevel=2,
        )
        kv = keyed_vectors(kv.index_to_key[:words], kv.vectors[:words])
    for start in range(0, len(kv.vectors), 65536):  # bounded memory for the mask
        rows = ~np.isfinite(kv.vectors[start : start + 65536]).all(axis=1)
        if rows.any():
            word = kv.index_to_key[start + int(np.argmax(rows))]
            raise ValueError(f"word vectors {origin}: the vector of {word!r} holds NaN or infinity")
    return kv
