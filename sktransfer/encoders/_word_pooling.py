"""Pooling word vectors into one vector per text, and the word weights learned for it.

Every pooling but "max" and "minmax" is one sparse product: the text-by-word
count matrix (columns scaled by the word weights, if any) times the embedding
matrix, divided by each text's token count or total weight. "max" and
"minmax" gather the vectors of each text's words and reduce them.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

POOLINGS = ("mean", "max", "sum", "minmax", "tfidf", "sif")


def pool(counts, vectors, pooling, word_weights=None):
    """One vector per text of ``counts``, pooled from the rows of ``vectors``.

    Parameters
    ----------
    counts : WordCounts
        The texts' words, from ``count_words``.
    vectors : ndarray of shape (n_words, dim)
        The embedding matrix.
    pooling : {"mean", "max", "sum", "minmax", "tfidf", "sif"}
        How a text's vectors become one; "tfidf" and "sif" are weighted means.
    word_weights : ndarray of shape (n_words,), optional
        The weight of every word, for "tfidf" (divided by the text's total
        weight) and "sif" (divided by its token count). Out-of-vocabulary words
        weigh as much as the heaviest word (one never seen in ``fit``).

    Returns
    -------
    ndarray of shape (n_texts, dim), or (n_texts, 2 * dim) for "minmax"
        float32; zeros for a text without words.

    Examples
    --------
    >>> from sktransfer.encoders._word_analyzer import WordCounts
    >>> from scipy import sparse
    >>> vectors = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    >>> matrix = sparse.csr_array(np.array([[3.0, 1.0], [0.0, 0.0]], dtype=np.float32))
    >>> counts = WordCounts(matrix, None, n_tokens=4, n_unknown=0)
    >>> pool(counts, vectors, "mean")
    array([[0.75, 0.25],
           [0.  , 0.  ]], dtype=float32)
    >>> pool(counts, vectors, "minmax")
    array([[0., 0., 1., 1.],
           [0., 0., 0., 0.]], dtype=float32)
    """
    if pooling in ("max", "minmax"):
        return _extremes(counts, vectors, both=pooling == "minmax")
    matrix = counts.matrix
    if word_weights is not None:
        matrix = _scale_columns(matrix, _column_weights(word_weights, matrix.shape[1]))
    pooled = _product(matrix, vectors, counts.oov_vectors)
    if pooling == "sum":
        return pooled
    # tfidf is a weighted average; mean and sif (Arora et al.) divide by the token count
    totals = (matrix if pooling == "tfidf" else counts.matrix).sum(axis=1)
    pooled /= np.where(totals > 0, totals, 1).astype(np.float32)[:, None]
    return pooled


def idf_weights(matrices, n_words, n_texts):
    """Smooth inverse document frequencies, ``ln((1 + n) / (1 + df)) + 1``, as float32.

    Parameters
    ----------
    matrices : iterable of sparse matrices of shape (n_texts_i, n_columns_i)
        Count matrices of the fitted texts; only their first ``n_words``
        columns (the vocabulary) are counted.
    n_words : int
        The size of the vocabulary.
    n_texts : int
        The number of fitted texts (the rows of all the matrices).

    Returns
    -------
    ndarray of shape (n_words,)

    Examples
    --------
    >>> from scipy import sparse
    >>> idf_weights([sparse.csr_array([[2.0, 0.0], [1.0, 0.0], [1.0, 1.0]])], 2, 3)
    array([1.       , 1.6931472], dtype=float32)
    """
    df = np.zeros(n_words, dtype=np.int64)
    for matrix in matrices:
        present = matrix.copy()
        present.sum_duplicates()  # a word counts once per text
        df += np.bincount(present.indices, minlength=matrix.shape[1])[:n_words]
    return (np.log((1.0 + n_texts) / (1.0 + df)) + 1.0).astype(np.float32)


def sif_weights(matrices, n_words, alpha):
    """Smooth inverse frequencies, ``alpha / (alpha + p(w))``, as float32.

    Parameters
    ----------
    matrices : iterable of sparse matrices of shape (n_texts_i, n_columns_i)
        Count matrices of the fitted texts; only their first ``n_words``
        columns (the vocabulary) are counted.
    n_words : int
        The size of the vocabulary.
    alpha : float
        The ``a`` of Arora et al. (2017).

    Returns
    -------
    ndarray of shape (n_words,)
        1 for words never seen, smaller the more frequent the word.

    Examples
    --------
    >>> from scipy import sparse
    >>> sif_weights([sparse.csr_array([[3.0, 0.0, 1.0]])], 3, alpha=0.25)
    array([0.25, 1.  , 0.5 ], dtype=float32)
    """
    counts = np.zeros(n_words)
    for matrix in matrices:
        counts += np.bincount(matrix.indices, weights=matrix.data, minlength=matrix.shape[1])[
            :n_words
        ]
    total = counts.sum()
    frequencies = counts / total if total else counts
    return (alpha / (alpha + frequencies)).astype(np.float32)


def first_component(embeddings):
    """The first right singular vector of ``embeddings``, uncentred as in SIF: (1, dim).

    Parameters
    ----------
    embeddings : ndarray of shape (n_texts, dim)
        Pooled vectors of the fitted texts.

    Returns
    -------
    ndarray of shape (1, dim), float32
        Zeros when every embedding is zero.

    Examples
    --------
    >>> u = first_component(np.array([[3.0, 0.0], [-2.0, 0.1]]))
    >>> np.round(np.abs(u), 2)
    array([[1.  , 0.02]], dtype=float32)
    """
    embeddings = np.asarray(embeddings, dtype=np.float64)
    gram = embeddings.T @ embeddings
    if not np.any(gram):
        return np.zeros((1, embeddings.shape[1]), dtype=np.float32)
    _, eigenvectors = np.linalg.eigh(gram)  # ascending eigenvalues: the last is the first
    return eigenvectors[:, -1:].T.astype(np.float32)


def remove_component(embeddings, component):
    """``embeddings`` minus their projection on ``component`` (1, dim), in place.

    Parameters
    ----------
    embeddings : ndarray of shape (n_texts, dim)
        Pooled vectors, float32.
    component : ndarray of shape (1, dim)
        A unit vector, from :func:`first_component`.

    Returns
    -------
    ndarray of shape (n_texts, dim)
        ``embeddings``, modified.

    Examples
    --------
    >>> remove_component(np.array([[3.0, 4.0]]), np.array([[1.0, 0.0]]))
    array([[0., 4.]])
    """
    embeddings -= (embeddings @ component.T) @ component
    return embeddings


def _column_weights(word_weights, n_columns):
    unseen = np.full(n_columns - len(word_weights), word_weights.max(), dtype=np.float32)
    return np.concatenate([word_weights, unseen])


def _scale_columns(matrix, weights):
    data = matrix.data * weights[matrix.indices]
    return sparse.csr_array((data, matrix.indices, matrix.indptr), shape=matrix.shape)


def _product(matrix, vectors, oov_vectors):
    """``matrix`` times the embedding matrix with ``oov_vectors`` under it, not stacked."""
    if oov_vectors is None:
        return matrix @ vectors
    n_words = len(vectors)
    return matrix[:, :n_words] @ vectors + matrix[:, n_words:] @ oov_vectors


def _gather(columns, vectors, oov_vectors):
    """The rows ``columns`` of the embedding matrix with ``oov_vectors`` under it."""
    if oov_vectors is None:
        return vectors[columns]
    n_words = len(vectors)
    out = np.empty((len(columns), vectors.shape[1]), dtype=vectors.dtype)
    in_vocabulary = columns < n_words
    out[in_vocabulary] = vectors[columns[in_vocabulary]]
    out[~in_vocabulary] = oov_vectors[columns[~in_vocabulary] - n_words]
    return out


def _extremes(counts, vectors, *, both):
    """Element-wise max of each text's vectors; with ``both``, [min, max]."""
    matrix, dim = counts.matrix, vectors.shape[1]
    out = np.zeros((counts.n_texts, 2 * dim if both else dim), dtype=np.float32)
    nonempty = np.diff(matrix.indptr) > 0
    if not nonempty.any():
        return out
    rows = _gather(matrix.indices, vectors, counts.oov_vectors)
    starts = matrix.indptr[:-1][nonempty]
    out[nonempty, -dim:] = np.maximum.reduceat(rows, starts, axis=0)
    if both:
        out[nonempty, :dim] = np.minimum.reduceat(rows, starts, axis=0)
    return out
