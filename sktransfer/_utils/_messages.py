"""Helpers that messages share: a short repr, close names, missing values, a progress bar."""

from __future__ import annotations

import difflib
import math
import numbers


def short_repr(value, limit=60):
    """``repr(value)``, cut to ``limit`` characters with "..." where it is longer.

    Examples
    --------
    >>> short_repr("x" * 100, limit=10)
    "'xxxxxx..."
    """
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def close_names(name, choices, *, n=5, cutoff=0.6, key=str.lower):
    """The choices closest to a mistyped ``name``, for a "did you mean" hint.

    Those it begins (``"acc"``: accuracy) first, then the most alike; ``key``
    says which spellings count as the same (case, by default).

    Examples
    --------
    >>> close_names("acuracy", ["accuracy", "f1_macro", "balanced_accuracy"])
    ['accuracy']
    >>> close_names("acc", ["accuracy", "f1_macro", "balanced_accuracy"])
    ['accuracy']
    """
    by_key = {key(str(c)): c for c in choices}
    wanted = key(str(name))
    starting = [k for k in by_key if k.startswith(wanted)] if len(wanted) >= 3 else []
    alike = difflib.get_close_matches(wanted, by_key, n, cutoff)
    return [by_key[k] for k in dict.fromkeys(starting + alike)][:n]


def did_you_mean(close):
    """`` Did you mean: a, b?`` for the names in ``close``, or ``""`` for none."""
    return f" Did you mean: {', '.join(map(str, close))}?" if close else ""


def is_missing(item):
    """None, a float NaN, or pandas' NA / NaT: what a missing cell of a column holds.

    Examples
    --------
    >>> [is_missing(v) for v in (None, float("nan"), 0.0, "", "NaN")]
    [True, True, False, False, False]
    """
    if item is None or type(item).__name__ in ("NAType", "NaTType"):
        return True
    if isinstance(item, numbers.Real) and not isinstance(item, bool):
        try:
            return math.isnan(item)
        except (TypeError, ValueError):
            return False
    return False


def progress(total, *, enabled, unit, desc):
    """A tqdm bar, or one that does nothing when ``enabled`` is false."""
    from tqdm.auto import tqdm

    return tqdm(total=total, disable=not enabled, unit=unit, desc=desc, leave=False)
