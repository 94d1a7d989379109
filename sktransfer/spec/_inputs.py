"""Every input of a run checked before any model is built, every bad sample reported at once.

A search that meets a broken image halfway scores that candidate NaN and goes on;
the user learns of it after the whole search. Here each image file is decoded once
(the decoder the encoders use), each text checked as the encoders check it, and
the labels counted against the search's folds, before anything is fitted. The
errors name files as the spec wrote them.
"""

from __future__ import annotations

import os

import numpy as np

from .._checks import check_texts
from ..exceptions import ImageLoadError, SpecError
from ..images import load_image
from ._data import is_text_column

SHOWN = 20  # bad samples listed in one error; the rest are counted


def check_inputs(data, *, classification, folds=None, progress=None):
    """Check the samples of ``data``; raise one :class:`SpecError` listing what is wrong.

    Parameters
    ----------
    data : Data
        The training and test samples of a spec, and its target domain's.
    classification : bool
        Whether the labels are classes (counted against ``folds``).
    folds : int, optional
        The search's cross-validation folds: each class needs that many samples.
    progress : callable, optional
        Wraps an iterable of image paths to show progress (e.g. ``tqdm``).
    """
    problems = []
    parts = [("training", data.X_train), ("test", data.X_test)]
    parts += [("unlabelled", data.X_unlabelled), ("target", data.X_target)]
    for part, X in parts:
        if X is not None:
            problems += _samples(data, X, part, progress)
    if problems:
        more = len(problems) - SHOWN
        listed = "\n  ".join(problems[:SHOWN]) + (f"\n  ... and {more} more" if more > 0 else "")
        raise SpecError("data", f"{len(problems)} bad samples, nothing was fitted:\n  {listed}")
    if classification:
        _check_classes(data.y_train, folds)
    if classification and data.y_target is not None:
        unknown = sorted(set(map(str, data.y_target)) - set(map(str, data.y_train)))
        if unknown:
            raise SpecError(
                "evaluate.target",
                f"holds classes the training samples do not: {', '.join(unknown[:SHOWN])}",
            )


def _samples(data, X, part, progress):
    kind = data.input.get("kind")
    if kind == "images":
        return _images(data, list(X), progress)
    if kind == "texts":
        return _texts(X, f"{part} text")
    if kind == "table":
        problems = []
        for column in data.input.get("image_columns", []):
            problems += _images(data, list(X[column]), progress)
        for column in X.columns:
            if column not in data.input.get("image_columns", []) and is_text_column(X[column]):
                problems += _texts(X[column], f"{part} row", column)
        return problems
    # Arrays: a packaged data set, checked when it was packaged; the files beside them (a
    # target domain's images) are checked here.
    return _images(data, [x for x in X if isinstance(x, (str, os.PathLike))], progress)


def _images(data, paths, progress):
    problems = []
    for path in progress(paths) if progress else paths:
        try:
            load_image(path).close()
        except ImageLoadError as exc:
            problems.append(str(exc).replace(os.fspath(path), data.show(path)))
    return problems


def _texts(texts, what, column=None):
    """Problems named by the CSV's row (a table keeps it as its index), else the position."""
    try:
        check_texts(texts)
        return []
    except (TypeError, ValueError):
        pass
    problems = []
    rows = texts.index if hasattr(texts, "index") else range(len(texts))
    for index, text in zip(rows, list(texts)):
        try:
            check_texts([text])
        except (TypeError, ValueError) as exc:  # the same message, the sample's own index
            where = f"{what} {index}" + (f", column {column!r}," if column else "")
            problems.append(where + str(exc).removeprefix("text 0"))
    return problems


def _check_classes(y, folds):
    classes, counts = np.unique(y, return_counts=True)
    if len(classes) < 2:
        raise SpecError("data", f"the training samples hold one class ({classes[0]!r}): need two")
    if folds and counts.min() < folds:
        few = ", ".join(f"{c!r} ({n})" for c, n in zip(classes, counts) if n < folds)
        raise SpecError(
            "search.cv",
            f"{folds} folds need {folds} training samples of each class; too few: {few}",
        )
