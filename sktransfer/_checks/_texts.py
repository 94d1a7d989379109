"""Checking text input: an iterable of str in, a list of str out, errors naming the index."""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np

from .._utils import is_missing, short_repr
from ..cache import digest
from ._columns import single_column


def text_key(text):
    """A digest of one text (lone surrogates included, as broken file names give)."""
    return digest(text.encode("utf-8", "surrogatepass"))


# UTF-16 surrogates: a str may hold one alone (bytes decoded with errors="surrogateescape"
# or "surrogatepass"), but no model can read it: it has no UTF-8 encoding.
_SURROGATE = re.compile("[\ud800-\udfff]")


def check_texts(X):
    """Validate text input and return it as a list of str.

    Accepts any iterable of str (a list, a tuple, a generator, a 1-D array,
    a pandas Series), a one-column DataFrame or a 2-D array with one column
    (what a ``ColumnTransformer`` passes on). A missing value (None, NaN,
    ``pd.NA``), an item that is not a str, or a str that is not valid
    Unicode (a lone surrogate such as ``"\\ud800"``, which has no UTF-8
    encoding) raises an error that names its index. A bare str, a dict of
    columns (a Hugging Face ``datasets`` batch) and a set (no order) raise
    too. Empty and blank strings are valid texts.

    Examples
    --------
    >>> check_texts(("a cat", ""))
    ['a cat', '']
    >>> check_texts(["fine", None])
    Traceback (most recent call last):
    ...
    ValueError: text 1 is missing (None); every item of X must be a str
    """
    if X is None:
        raise TypeError("X is None; expected an iterable of str (e.g. a list of texts)")
    if isinstance(X, (str, bytes)):
        raise TypeError(
            f"X must be a collection of texts, got a single {type(X).__name__}; "
            "wrap it in a list: [text]"
        )
    if isinstance(X, Mapping):  # iterating it would give its keys, read as texts
        keys = list(X)
        example = f"X[{keys[0]!r}]" if keys else "X['text']"
        raise TypeError(
            f"X is a {type(X).__name__} of {len(keys)} columns ({short_repr(keys)}), not a "
            f"collection of texts; pass the one column of texts, e.g. {example}"
        )
    if isinstance(X, (set, frozenset)):
        raise TypeError(
            f"X is a {type(X).__name__}, which has no order (the features could not be "
            "matched to their texts); pass a list"
        )
    X = single_column(X, what="text")
    if isinstance(X, np.ndarray):
        if X.ndim == 2 and X.shape[1] == 1:
            X = X[:, 0]
        if X.ndim != 1:
            raise ValueError(
                f"X must be a 1-D collection of texts, got an array of shape {X.shape}"
            )
        X = X.tolist()  # numpy str_ items become plain str
    elif not isinstance(X, list):
        try:
            X = list(X)
        except TypeError:
            raise TypeError(f"X must be an iterable of str, got a {type(X).__name__}") from None
    if not X:
        raise ValueError("X holds no texts (0 samples)")
    search = _SURROGATE.search
    for index, item in enumerate(X):
        if type(item) is not str and not isinstance(item, str):
            _raise_bad_item(index, item)
        if not item.isascii() and (found := search(item)):
            raise ValueError(
                f"text {index} is not valid Unicode: it holds the lone surrogate "
                f"{found.group()!r} at position {found.start()}, which no model can read "
                "(it comes from bytes decoded with errors='surrogateescape' or 'surrogatepass'); "
                "replace it, e.g. text.encode('utf-8', 'replace').decode('utf-8'), or decode "
                "the original bytes with errors='replace'"
            )
    return X


def _raise_bad_item(index, item):
    if is_missing(item):
        raise ValueError(
            f"text {index} is missing ({item!r}); every item of X must be a str"
            + ("" if item is None else " (fill or drop missing values first, e.g. fillna(''))")
        )
    if isinstance(item, (bytes, bytearray)):
        raise TypeError(f"text {index} is bytes, not str; decode it first (e.g. .decode('utf-8'))")
    if isinstance(item, Mapping):
        raise TypeError(
            f"text {index} is a {type(item).__name__} ({short_repr(item, 40)}), not a str: "
            "rows of a table? pass the one column of texts (e.g. X['text'] or "
            "[row['text'] for row in X])"
        )
    if isinstance(item, (list, tuple)) and item and all(isinstance(t, str) for t in item):
        raise TypeError(
            f"text {index} is a {type(item).__name__} of str ({short_repr(item, 40)}), not a str: "
            "tokens? join them into one text, e.g. ' '.join(tokens)"
        )
    raise TypeError(
        f"text {index} is a {type(item).__name__} ({short_repr(item, 40)}), not a str; "
        "every item of X must be a str"
    )
