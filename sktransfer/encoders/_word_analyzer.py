"""Texts to rows of an embedding matrix: scikit-learn's CountVectorizer tokenising.

Tokens are what ``CountVectorizer(lowercase=..., token_pattern=...,
tokenizer=...).build_analyzer()`` makes of a text, so the options mean what
they mean there. A batch of texts becomes a sparse text-by-word count matrix
whose columns are the rows of the embedding matrix (:class:`WordCounts`),
ready to be multiplied by it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import chain, repeat

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import CountVectorizer

TOKEN_PATTERN = r"(?u)\w+"
"""The default tokens: runs of letters, digits and underscores (any script).

Unlike CountVectorizer's own default, one-letter tokens are kept: they have
vectors ("a", "i", "9").
"""


def build_analyzer(*, lowercase=True, token_pattern=TOKEN_PATTERN, tokenizer=None):
    """The function that splits a text into tokens, as CountVectorizer's analyzer does.

    Parameters
    ----------
    lowercase : bool, default=True
        Lower-case the text before tokenising it.
    token_pattern : str, default=TOKEN_PATTERN
        The regular expression whose matches are the tokens (with one
        capturing group, the group's matches); ignored when ``tokenizer`` is
        given.
    tokenizer : callable, optional
        Maps a text (lower-cased first if ``lowercase``) to its tokens (an
        iterable of str, not a str).

    Returns
    -------
    callable
        ``analyze(text) -> list of str``.

    Raises
    ------
    ValueError
        ``token_pattern`` is not a valid regular expression, or has more than
        one capturing group.

    Examples
    --------
    >>> analyze = build_analyzer()
    >>> analyze("Don't panic: café-crème at 9:30!")
    ['don', 't', 'panic', 'café', 'crème', 'at', '9', '30']
    >>> build_analyzer(lowercase=False, tokenizer=str.split)("Don't panic")
    ["Don't", 'panic']
    """
    if tokenizer is not None:
        tokenizer = _checked(tokenizer)
    vectorizer = CountVectorizer(
        lowercase=lowercase, token_pattern=token_pattern, tokenizer=tokenizer
    )
    try:
        return vectorizer.build_analyzer()
    except re.error as exc:
        raise ValueError(
            f"token_pattern {token_pattern!r} is not a valid regular expression: {exc}"
        ) from None
    except ValueError as exc:  # more than one capturing group
        raise ValueError(f"token_pattern {token_pattern!r} cannot be used: {exc}") from None


def _checked(tokenizer):
    """``tokenizer`` returning a list, and failing clearly where it returns a str.

    CountVectorizer would take the characters of a str for tokens.
    """

    def tokenize(text):
        tokens = tokenizer(text)
        if isinstance(tokens, str):
            raise TypeError("the tokenizer returned a str; it must return a list of tokens (str)")
        return list(tokens)

    return tokenize


@dataclass(frozen=True)
class WordCounts:
    """The tokens of a batch of texts, counted by embedding row.

    Attributes
    ----------
    matrix : scipy.sparse.csr_array of shape (n_texts, n_columns), float32
        How often each text holds each word. Column ``j < n_words`` is row
        ``j`` of the embedding matrix; the columns after it are words out of
        the vocabulary that FastText vectors give a vector from their
        sub-words. A word may fill several entries of a row (one per token):
        products and sums count them all.
    oov_vectors : ndarray of shape (n_columns - n_words, dim) or None
        The vectors of those out-of-vocabulary columns; None when the vectors
        have no sub-words, in which case unknown tokens are dropped.
    n_tokens : int
        Tokens in the texts, known or not.
    n_unknown : int
        Tokens that are not in the vocabulary.
    """

    matrix: sparse.csr_array
    oov_vectors: np.ndarray | None
    n_tokens: int
    n_unknown: int

    @property
    def n_texts(self):
        """Texts in the batch."""
        return self.matrix.shape[0]

    @property
    def n_empty(self):
        """Texts without a token that has a vector."""
        return int(np.count_nonzero(np.diff(self.matrix.indptr) == 0))


def count_words(texts, analyze, kv):
    """Tokenise ``texts`` with ``analyze`` and count their words by row of ``kv.vectors``.

    Parameters
    ----------
    texts : list of str
        The texts.
    analyze : callable
        ``analyze(text) -> list of str``, e.g. from :func:`build_analyzer`.
    kv : gensim.models.KeyedVectors
        The word vectors whose rows the columns are.

    Returns
    -------
    WordCounts

    Examples
    --------
    >>> from gensim.models import KeyedVectors
    >>> kv = KeyedVectors(2)
    >>> kv.add_vectors(["cat", "dog"], [[1.0, 0.0], [0.0, 1.0]])
    >>> counts = count_words(["Dog eats dog", "", "cat"], build_analyzer(), kv)
    >>> counts.matrix.toarray()
    array([[0., 2.],
           [0., 0.],
           [1., 0.]], dtype=float32)
    >>> counts.n_tokens, counts.n_unknown, counts.n_empty
    (4, 1, 1)
    """
    token_lists = [analyze(text) for text in texts]
    lengths = np.fromiter(map(len, token_lists), dtype=np.int64, count=len(token_lists))
    tokens = list(chain.from_iterable(token_lists))
    # One dict look-up per token, in C: no Python frame per token.
    ids = np.fromiter(
        map(kv.key_to_index.get, tokens, repeat(-1)), dtype=np.int64, count=len(tokens)
    )
    unknown = ids < 0
    n_unknown = int(np.count_nonzero(unknown))
    n_words = len(kv.index_to_key)
    oov_vectors = None
    if n_unknown and _has_subwords(kv):
        words, inverse = np.unique(np.asarray(tokens, dtype=object)[unknown], return_inverse=True)
        oov_vectors = np.stack([_subword_vector(kv, word) for word in words])
        ids[unknown] = n_words + inverse
    elif n_unknown:
        row_of_token = np.repeat(np.arange(len(texts)), lengths)
        lengths = np.bincount(row_of_token[~unknown], minlength=len(texts))
        ids = ids[~unknown]
    indptr = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum(lengths, out=indptr[1:])
    n_columns = n_words + (0 if oov_vectors is None else len(oov_vectors))
    matrix = sparse.csr_array(
        (np.ones(len(ids), dtype=np.float32), ids, indptr), shape=(len(texts), n_columns)
    )
    return WordCounts(matrix, oov_vectors, n_tokens=len(tokens), n_unknown=n_unknown)


def _has_subwords(kv):
    return bool(getattr(kv, "bucket", 0)) and getattr(kv, "vectors_ngrams", None) is not None


def _subword_vector(kv, word):
    # FastText hashes the word's UTF-8 bytes; a lone surrogate has none. Texts
    # holding one are refused, but a custom tokenizer may still make one: "?".
    return kv.get_vector(word.encode("utf-8", "replace").decode("utf-8"))
