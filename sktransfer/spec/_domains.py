"""Transfer across domains in a spec: unlabelled target samples, and a labelled target test set.

- ``data.unlabelled: PATH``: samples of the target domain without labels. They are
  given to the fine-tuner beside the labelled ones, marked as scikit-learn's
  semi-supervised estimators mark them (``y = -1``, or None) and as skada does
  (``sample_domain``: 1 for the labelled samples, -1 for these), so that its
  ``adapt`` aligns the domains. A folder of images (any layout: no label is read)
  or a CSV whose columns are the training CSV's ``features`` (for the other
  sources: one column of samples). In a search, every training fold holds all of
  them and no validation fold any: the folds score labelled samples only.
- ``evaluate.target: PATH``: labelled samples of the target domain, read as the
  training data's test set would be (a folder of class sub-folders, or a CSV with
  the label column), and scored beside the source test set. When the fitted model
  adapts, the same model fitted without adaptation (``adapt="none"``, on the
  labelled samples only: one more fit) is scored on them too, with a paired test,
  and the report says plainly whether adaptation helped.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from sklearn.base import clone

from ..data import find_images
from ..exceptions import SpecError
from ._baselines import EVALUATE
from ._fields import Section, show

UNLABELLED = "data.unlabelled"
TARGET = "evaluate.target"


def check_adaptation(fields, estimator):
    """Check that unlabelled samples and ``adapt`` come together.

    Only the fine-tuners read unlabelled samples (their ``adapt``); any other final
    step would take their marker for a class. A fine-tuner whose ``adapt`` is
    "none" in every candidate would leave them out; one that adapts needs them.
    """
    pipeline = getattr(estimator, "estimator", estimator)
    name, final = pipeline.steps[-1]
    adapts = "adapt" in final.get_params()
    values = {final.get_params()["adapt"]} if adapts else {"none"}
    for grid in _grids(estimator):
        values |= set(grid.get(f"{name}__adapt", []))
    unlabelled = (fields.get("data") or {}).get("unlabelled") is not None
    if unlabelled and not adapts:
        raise SpecError(
            UNLABELLED,
            "unlabelled samples are read by a fine-tuner's adapt (FineTuneClassifier, "
            f"FineTuneRegressor); this pipeline ends in {type(final).__name__}",
        )
    if unlabelled and values == {"none"}:
        raise SpecError(
            UNLABELLED,
            f"{type(final).__name__} has adapt='none', which leaves unlabelled samples out: "
            f"set adapt (adabn, coral, dann, entropy) or search it (search.params.{name}__adapt)",
        )
    if not unlabelled and values - {"none"}:
        shown = ", ".join(repr(v) for v in sorted(values - {"none"}))
        raise SpecError(
            UNLABELLED,
            f"adapt={shown} aligns the training samples with unlabelled samples of the target "
            "domain: name them here (a folder of images or a CSV)",
        )


def _grids(search):
    """A search's parameter grids, as a list of dicts (none for a pipeline)."""
    grid = getattr(search, "param_grid", None) or getattr(search, "param_distributions", None)
    if grid is None:
        return []
    return grid if isinstance(grid, list) else [grid]


def load_unlabelled(value, base_dir, data):
    """The unlabelled samples ``data.unlabelled`` names, in the training samples' form."""
    where = _path(value, base_dir, UNLABELLED)
    if where.is_dir():
        if data.input.get("kind") not in ("images", "arrays"):
            raise SpecError(UNLABELLED, f"'{value}' is a folder of images; the data holds texts")
        samples = find_images(where)
        if not samples:
            raise SpecError(UNLABELLED, f"'{value}' holds no image")
        data.written[os.fspath(where)] = value
        return samples
    table, columns = _table(where, value, data, UNLABELLED, label=None)
    return _samples(table, columns, data)


def load_target(value, base_dir, data, label):
    """The labelled target samples ``evaluate.target`` names, and their labels."""
    where = _path(value, base_dir, TARGET)
    if where.is_dir():
        from ..data import load_image_folder

        if data.input.get("kind") not in ("images", "arrays"):
            raise SpecError(TARGET, f"'{value}' is a folder of images; the data holds texts")
        try:
            X, y = load_image_folder(where)
        except (OSError, ValueError) as exc:
            raise SpecError(TARGET, str(exc)) from None
        data.written[os.fspath(where)] = value
        return X, y
    table, columns = _table(where, value, data, TARGET, label=label or "label")
    return _samples(table, columns, data), table[label or "label"].to_numpy()


def _path(value, base_dir, field):
    where = Path(os.path.normpath(Path(base_dir, os.path.expanduser(value))))
    if not where.exists():
        raise SpecError(field, f"'{value}' does not exist (from '{base_dir}')")
    return where


def _table(where, value, data, field, *, label):
    """A CSV of target samples and the columns to read: the training CSV's features, else
    its one column besides ``label``."""
    import pandas as pd

    try:
        table = pd.read_csv(where)
    except (OSError, ValueError) as exc:
        raise SpecError(field, f"'{value}' is not a readable CSV file: {exc}") from None
    columns = data.input.get("features") or [c for c in table.columns if c != label]
    if not data.input.get("features") and len(columns) != 1:
        raise SpecError(field, f"'{value}' must hold one column of samples, not {columns}")
    missing = [c for c in [*columns, *([label] if label else [])] if c not in table.columns]
    if missing:
        raise SpecError(
            field,
            f"'{value}' has no column {show(missing[0])}; its columns: {', '.join(table.columns)}",
        )
    for column in data.input.get("image_columns") or (
        columns if data.input.get("kind") in ("images", "arrays") else []
    ):
        table[column] = [str(where.parent / path) for path in table[column]]
    return table, columns


def _samples(table, columns, data):
    if data.input.get("kind") == "table":
        return table[columns]
    return table[columns[0]]


def fit_arguments(estimator, data):
    """``X``, ``y`` and the fit parameters that fit ``estimator`` on ``data``.

    With unlabelled samples: the labelled ones then the unlabelled ones, each
    unlabelled target marked (-1, None or NaN), ``sample_domain`` given to the
    final step, and a search's folds set so that validation folds hold labelled
    samples only.
    """
    if data.X_unlabelled is None:
        return data.X_train, data.y_train, {}
    n, m = len(data.y_train), len(data.X_unlabelled)
    y = _with_markers(data.y_train, m)
    domain = np.r_[np.ones(n, dtype=np.int64), -np.ones(m, dtype=np.int64)]
    pipeline = getattr(estimator, "estimator", estimator)
    if hasattr(estimator, "cv"):
        estimator.set_params(cv=_labelled_folds(estimator, data.y_train, m))
    name, final = pipeline.steps[-1]
    from sklearn import get_config

    if get_config().get("enable_metadata_routing"):
        final.set_fit_request(sample_domain=True)
        return _concat(data.X_train, data.X_unlabelled), y, {"sample_domain": domain}
    return _concat(data.X_train, data.X_unlabelled), y, {f"{name}__sample_domain": domain}


def _with_markers(y, m):
    """``y`` followed by ``m`` unlabelled markers: NaN for numbers, -1 for integer
    classes, None for the others."""
    y = np.asarray(y)
    if y.dtype.kind == "f":
        return np.r_[y, np.full(m, np.nan)]
    if y.dtype.kind in "iu":
        if (y == -1).any():
            raise SpecError(
                UNLABELLED,
                "-1 marks unlabelled samples (scikit-learn's convention): rename class -1",
            )
        return np.r_[y, -np.ones(m, dtype=y.dtype)]
    return np.concatenate([y.astype(object), np.full(m, None, dtype=object)])


def _labelled_folds(search, y, m):
    """The search's folds over the labelled samples, with every unlabelled one in training."""
    from sklearn.base import is_classifier
    from sklearn.model_selection import check_cv

    folds = check_cv(search.cv, y, classifier=is_classifier(search.estimator))
    n = len(y)
    unlabelled = np.arange(n, n + m)
    return [(np.r_[train, unlabelled], test) for train, test in folds.split(np.zeros((n, 1)), y)]


def _concat(a, b):
    """Two sets of samples as one, in the form the pipeline reads."""
    if hasattr(a, "iloc") and hasattr(b, "iloc"):
        import pandas as pd

        return pd.concat([a, b], ignore_index=True)
    if isinstance(a, np.ndarray) and a.dtype.kind in "OUS" and a.ndim == 1:
        return np.concatenate([a.astype(object), np.asarray(list(b), dtype=object)])
    return list(a) + list(b)


def adapting(fitted):
    """The ``adapt`` of a fitted pipeline's final step ("none" for a step without one)."""
    return fitted.steps[-1][1].get_params().get("adapt", "none")


def without_adaptation(fitted):
    """The same pipeline, unfitted, with ``adapt="none"``: what adaptation is measured
    against."""
    name = fitted.steps[-1][0]
    return clone(fitted).set_params(**{f"{name}__adapt": "none"})


def check_target(fields, base_dir):
    """Check ``evaluate.target``'s type and that it exists (reads nothing)."""
    value = Section(fields.get("evaluate"), "evaluate", EVALUATE).get("target", str)
    if value is not None:
        _path(value, base_dir, TARGET)


def load_domains(fields, base_dir, data):
    """Read ``data.unlabelled`` and ``evaluate.target`` into ``data``."""
    unlabelled = (fields.get("data") or {}).get("unlabelled")
    if unlabelled is not None:
        data.X_unlabelled = load_unlabelled(unlabelled, base_dir, data)
    target = (fields.get("evaluate") or {}).get("target")
    if target is not None:
        label = (fields.get("data") or {}).get("label")
        data.X_target, data.y_target = load_target(target, base_dir, data, label)
        data.target_source = target
