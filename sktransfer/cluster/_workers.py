"""What a Dask worker must load to run an estimator, and the check that it can.

:func:`sktransfer.cluster.check_workers` sends :func:`worker_problems` to each
worker with :func:`loads`: one unfitted clone per distinct model the estimator
(and a search's grid) would load in ``fit``. Loading it there is the check, and
leaves the model in that worker's process-level cache for the fits to come.
"""

from __future__ import annotations

import os

import numpy as np
from sklearn.base import BaseEstimator, clone

from .. import backbones


def worker_problems(version, estimators):
    """What this worker lacks to load ``estimators``: a list of lines, empty when nothing."""
    from .. import __version__

    if __version__ != version:
        return [f"runs sktransfer {__version__}, the client {version}"]
    problems = []
    for estimator in estimators:
        try:
            _load(estimator)
        except Exception as exc:  # whatever stops the load there stops the fits there
            problems.append(f"{_described(estimator)}: {type(exc).__name__}: {exc}")
    return problems


def _load(estimator):
    """Load what ``estimator`` loads in ``fit``; an encoder keeps it for the fits to come."""
    from ..encoders import BaseEncoder

    if isinstance(estimator, BaseEncoder):
        estimator.fit()
    else:
        spec = backbones.resolve(estimator.backbone, modality=("image", "text"))
        spec.load(estimator.weights)


def _described(estimator):
    from ..encoders import BaseEncoder

    name = type(estimator).__name__
    if isinstance(estimator, BaseEncoder):
        key = estimator._model_key() or ()
        loaded = ", ".join(f"{k}={v!r}" for k, v in key if k in ("backbone", "model", "vectors"))
        return f"{name}({loaded})" if loaded else repr(estimator)
    return f"{name}(backbone={estimator.backbone!r}, weights={estimator.weights!r})"


def loads(estimator):
    """Unfitted clones of the sktransfer estimators that running ``estimator`` fits, one per load.

    A search's candidates count: every value its grid gives a parameter is tried
    on a clone of its estimator.
    """
    from ..encoders import BaseEncoder

    try:
        from ..finetune import FineTuneClassifier, FineTuneRegressor

        fine_tuners = (FineTuneClassifier, FineTuneRegressor)
    except ImportError:  # skorch missing: no fine-tuner can be in there
        fine_tuners = ()

    found = {}
    for candidate in _candidates(estimator):
        for part in _parts(candidate):
            if isinstance(part, BaseEncoder):
                key = (type(part), repr(part._model_key() or part))
            elif isinstance(part, fine_tuners) and isinstance(part.backbone, (str, os.PathLike)):
                key = ("fine-tuner", os.fspath(part.backbone), repr(part.weights))
            else:
                continue
            found.setdefault(key, clone(part))
    return list(found.values())


def _candidates(estimator):
    inner = getattr(estimator, "estimator", None)
    grids = getattr(estimator, "param_grid", None) or getattr(
        estimator, "param_distributions", None
    )
    if not isinstance(inner, BaseEstimator) or grids is None:
        yield estimator
        return
    yield inner
    for grid in [grids] if isinstance(grids, dict) else grids:
        for name, values in grid.items():
            if isinstance(values, (list, tuple, np.ndarray)):
                for value in values:
                    yield clone(inner).set_params(**{name: value})


def _parts(estimator):
    yield estimator
    for value in estimator.get_params(deep=True).values():
        if isinstance(value, BaseEstimator):
            yield value
