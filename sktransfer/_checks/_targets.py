"""Checking targets: labels for a classifier, numbers for a regressor, errors naming the index."""

from __future__ import annotations

import numpy as np

from .._utils import is_missing


def check_targets(y, n_samples, *, classifier):
    """Checked targets: labels for a classifier, float32 values for a regressor.

    Raises ValueError, before any training, for y of the wrong length, missing
    labels (None, NaN; the message names the first index), a single class, and
    a regressor given non-numeric targets.

    Returns
    -------
    y : ndarray
        Classifier: the class indices (int64); regressor: float32, 1-D or 2-D.
    classes : ndarray or None
        The sorted labels (classifier), else None.
    """
    y = np.asarray(y.to_numpy() if hasattr(y, "to_numpy") else y)
    if y.ndim == 0 or len(y) != n_samples:
        got = "a scalar" if y.ndim == 0 else f"{len(y)} targets"
        raise ValueError(f"y has {got} but X has {n_samples} samples")
    missing = [i for i, v in enumerate(y.ravel()) if is_missing(v)]
    if missing:
        raise ValueError(
            f"y has missing values (None or NaN) at index {missing[0]}"
            + (f" and {len(missing) - 1} more" if len(missing) > 1 else "")
        )
    if not classifier:
        if y.dtype.kind not in "biuf":
            try:
                y = y.astype(np.float64)
            except (TypeError, ValueError):
                raise ValueError(
                    f"a regressor needs numeric targets, got {y.dtype} values such as "
                    f"{_plain(y.ravel()[0])!r}; for labels use the classifier"
                ) from None
        if not np.isfinite(y).all():
            raise ValueError("y has infinite values")
        return y.astype(np.float32), None
    if y.ndim == 2 and y.shape[1] == 1:
        y = y.ravel()
    if y.ndim != 1:
        raise ValueError(f"y must be one label per sample (1-D), got shape {y.shape}")
    classes, encoded = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise ValueError(
            f"y has a single class, {_plain(classes[0])!r}; a classifier needs at least two"
        )
    return encoded.astype(np.int64), classes


def _plain(value):
    """A numpy scalar as the Python value it holds: messages show 'cat', not np.str_('cat')."""
    return value.item() if isinstance(value, np.generic) else value


def encode_labels(y, classes):
    """Class indices of ``y`` in ``classes``; a ValueError names a label never seen in fit."""
    y = np.asarray(y.to_numpy() if hasattr(y, "to_numpy") else y).ravel()
    index = np.searchsorted(classes, y)
    index = np.clip(index, 0, len(classes) - 1)
    unknown = classes[index] != y
    if unknown.any():
        first = int(np.flatnonzero(unknown)[0])
        raise ValueError(
            f"y has label {_plain(y[first])!r} (index {first}) that the first fit did not see; "
            f"the classes are {classes.tolist()}"
        )
    return index.astype(np.int64)
