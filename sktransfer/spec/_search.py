"""The ``search`` section of a spec: a grid or randomized search over any step's parameters.

``params`` maps a parameter of the pipeline, with scikit-learn's ``step__param``
names, to a list of values (an estimator node among them swaps a step); a
randomized search also takes ``{loguniform: [low, high]}``, ``{uniform: [low,
high]}`` or ``{randint: [low, high]}``. Every value is checked against the
step it sets before anything runs. ``backend: dask`` runs the search's fits on a
Dask cluster: ``scheduler`` is its address, or ``local`` (the default) for a
cluster of worker processes on this machine.
"""

from __future__ import annotations

from sklearn.base import BaseEstimator, clone
from sklearn.metrics import get_scorer_names

from ..exceptions import SpecError
from ._estimators import NEVER_FROM_A_SPEC, _value, build_estimator, check_tree
from ._fields import Section, check, did_you_mean, join, show

FIELDS = (
    "method",
    "params",
    "cv",
    "scoring",
    "n_jobs",
    "n_iter",
    "random_state",
    "backend",
    "scheduler",
)
DISTRIBUTIONS = ("loguniform", "uniform", "randint")


def read_search(value, pipeline, path="search"):
    """The checked search settings (None when the spec has no search)."""
    if value is None:
        return None
    section = Section(value, path, FIELDS)
    method = section.get("method", str, default="grid", choices=("grid", "random"))
    grid = section.require("params", dict)
    if not grid:
        raise SpecError(join(path, "params"), "name at least one parameter to search")
    # Parameters a user sets: not the private ones skorch's routing also lists (a___b).
    known = [k for k in pipeline.get_params(deep=True) if not any(
        part.startswith("_") for part in k.split("__"))]  # fmt: skip
    params = {}
    for name, values in grid.items():
        where = join(join(path, "params"), name)
        if name.rsplit("__", 1)[-1] in NEVER_FROM_A_SPEC:
            raise SpecError(where, "a spec never makes the library run code from a file")
        if name not in known:
            raise SpecError(
                where,
                f"the pipeline has no parameter {show(name)}.{did_you_mean(name, known)}",
            )
        params[name] = _values(values, name, pipeline, method, where)
    scoring = section.get("scoring", str)
    if scoring is not None and scoring not in get_scorer_names():
        raise SpecError(
            join(path, "scoring"),
            f"unknown scorer {show(scoring)}.{did_you_mean(scoring, get_scorer_names())}",
        )
    # Checked here; where the search runs is read by the runner (spec._experiment).
    backend = section.get("backend", str, default="local", choices=("local", "dask"))
    scheduler = section.get("scheduler", str)
    if scheduler is not None and backend != "dask":
        raise SpecError(join(path, "scheduler"), "a scheduler needs 'backend: dask'")
    return {
        "method": method,
        "params": params,
        "cv": section.get("cv", int, default=3, low=2),
        "scoring": scoring,
        "n_jobs": section.get("n_jobs", int),
        "n_iter": section.get("n_iter", int, default=10, low=1),
        "random_state": section.get("random_state", int, default=0),
    }


def _values(values, name, pipeline, method, path):
    if method == "random" and isinstance(values, dict):
        return _distribution(values, path)
    check(values, path, list)
    if not values:
        raise SpecError(path, "give at least one value")
    replaces_a_step = isinstance(pipeline.get_params(deep=True)[name], BaseEstimator)
    built, errors = [], []
    for i, value in enumerate(values):
        try:
            built.append(_candidate(pipeline, name, value, replaces_a_step, join(path, i)))
        except SpecError as exc:
            errors.append(exc)
    if len(errors) == 1:
        raise errors[0]
    if errors:  # every bad value at once, not one per run
        raise SpecError(path, "; ".join(str(e).removeprefix(path) for e in errors))
    return built


def _candidate(pipeline, name, value, replaces_a_step, path):
    """One value of a searched parameter, built and checked on a copy of the pipeline."""
    if replaces_a_step and value not in ("passthrough", "drop"):
        value = build_estimator(value, path)
    value = _value(value, path)
    candidate = clone(pipeline)
    try:
        candidate.set_params(**{name: value})
    except (TypeError, ValueError) as exc:
        raise SpecError(path, str(exc)) from None
    check_tree(candidate, path)
    return value


def _distribution(value, path):
    from scipy import stats

    if len(value) != 1 or next(iter(value)) not in DISTRIBUTIONS:
        raise SpecError(
            path,
            f"expected a list of values or one of {{{', '.join(DISTRIBUTIONS)}: [low, high]}}, "
            f"got {show(value)}",
        )
    kind, bounds = next(iter(value.items()))
    kinds = int if kind == "randint" else float
    check(bounds, join(path, kind), list)
    if len(bounds) != 2:
        raise SpecError(join(path, kind), f"expected [low, high], got {show(bounds)}")
    low, high = (check(b, join(join(path, kind), i), kinds) for i, b in enumerate(bounds))
    if not low < high or (kind == "loguniform" and low <= 0):
        raise SpecError(join(path, kind), f"expected 0 < low < high, got {show(bounds)}")
    if kind == "uniform":
        return stats.uniform(low, high - low)
    return getattr(stats, kind)(low, high)


def build_search(search, pipeline):
    """The unfitted search around ``pipeline``."""
    from sklearn.model_selection import GridSearchCV, RandomizedSearchCV

    common = {
        "cv": search["cv"],
        "scoring": search["scoring"],
        "n_jobs": search["n_jobs"],
        # A fit that fails stops the search: scoring it NaN and going on hides the cause.
        "error_score": "raise",
    }
    if search["method"] == "grid":
        return GridSearchCV(pipeline, search["params"], **common)
    return RandomizedSearchCV(
        pipeline,
        search["params"],
        n_iter=search["n_iter"],
        random_state=search["random_state"],
        **common,
    )
