"""What a run would do, without doing it: the fits it would make and roughly how long.

The time is a rough figure from one measurement: the pipeline's first
pre-trained network is loaded and encodes a few training samples, and every fit
is counted as a load and such passes (a fine-tuning epoch as three: forward,
backward, update; an encoder's fit as one, though its cache may spare most of
them). What runs besides the network (a probe's search, a solver) is not counted.
"""

from __future__ import annotations

import time

from sklearn.base import clone

from ._progress import candidate_params

MEASURED = 8  # samples encoded to time the network
TRAINING_PASSES = 3  # a training step costs about three forward passes


def describe_plan(spec, estimator, data, baseline_name, baseline, *, log):
    """The plan of a run: its fits and a rough time; logged line by line, returned as a dict."""
    pipeline = getattr(estimator, "estimator", estimator)
    n_train, n_test = len(data.y_train), len(data.y_test)
    # Unlabelled samples join every fit; the target's are scored, and an adapting model
    # is fitted once more without adaptation to measure what it did.
    n_unlabelled = 0 if data.X_unlabelled is None else len(data.X_unlabelled)
    fits = [n + n_unlabelled for n in _fits(estimator, n_train)]
    n_target = 0 if data.y_target is None else len(data.y_target)
    twin = n_target > 0 and n_unlabelled > 0
    passes = sum(n * _passes(pipeline) for n in fits) + n_test + n_target * (1 + twin)
    passes += twin * n_train * _passes(pipeline)
    if baseline is not None:
        passes += n_train * _passes(baseline) + n_test
    seconds, load_s, network = _seconds_per_sample(pipeline, data)
    plan = {
        "name": spec.name,
        "n_train": n_train,
        "n_test": n_test,
        "fits": len(fits) + twin,
        "baseline": baseline_name,
        "estimate_s": None if seconds is None else passes * seconds + len(fits) * load_s,
    }
    extra = f", {n_unlabelled} unlabelled" if n_unlabelled else ""
    extra += f", {n_target} target" if n_target else ""
    log(f"{spec.name}: {n_train} training{extra} and {n_test} test samples, all readable")
    search = f" ({len(fits) - 1} in the search, 1 refit)" if len(fits) > 1 else ""
    log(
        f"{len(fits)} fits of the pipeline{search}"
        + (f", 1 of {baseline_name}" if baseline_name else "")
        + (", 1 without adaptation (to score the target against)" if twin else "")
    )
    if seconds is None:
        log("no pre-trained network in the pipeline: no estimate (such fits take seconds)")
    else:
        minutes = plan["estimate_s"] / 60
        log(
            f"roughly {minutes:.0f} min ({network} encodes {1 / seconds:.0f} samples/s here; "
            "the embedding cache and frozen layers make it less)"
            if minutes >= 1
            else f"roughly {plan['estimate_s']:.0f} s ({network} encodes "
            f"{1 / seconds:.0f} samples/s here)"
        )
    return plan


def _fits(estimator, n_train):
    """The training samples of each fit: the search's folds, then its refit."""
    if not hasattr(estimator, "cv"):
        return [n_train]
    candidates = len(candidate_params(estimator))
    folds = estimator.cv or 5
    return [n_train * (folds - 1) // folds] * (candidates * folds) + [n_train]


def _passes(pipeline):
    """Network passes per training sample in one fit of ``pipeline``."""
    passes = 1
    for step in pipeline.get_params(deep=True).values():
        epochs = getattr(step, "max_epochs", None)
        if epochs is not None and hasattr(step, "backbone"):
            epochs = epochs if isinstance(epochs, int) else _recipe_epochs(step)
            passes = max(passes, 1 + epochs * TRAINING_PASSES)
    return passes


def _recipe_epochs(step):
    from .. import backbones
    from ..finetune import RECIPES

    try:
        modality = backbones.get(step.backbone).modality
    except Exception:  # an estimate must not fail a dry run
        return max(recipe["max_epochs"] for recipe in RECIPES.values())
    return RECIPES["text" if modality == "text" else "image"]["max_epochs"]


def _seconds_per_sample(pipeline, data):
    """Seconds one sample takes through the pipeline's networks, a load of them, and a name."""
    from ..encoders import ENCODERS

    if data.input.get("kind") not in ("images", "arrays", "texts"):
        return None, None, None
    networks = [step for step in _steps(pipeline) if _network(step)]
    for step in networks:
        encoder = _encoder_like(step, ENCODERS)
        if encoder is None:
            continue
        sample = data.X_train[:MEASURED]
        started = time.perf_counter()
        encoder.fit(sample)
        load_s = time.perf_counter() - started
        encoder.transform(sample[:1])  # warm up: the first pass pays for allocations
        started = time.perf_counter()
        encoder.transform(sample)
        # A selector's candidates each encode every sample: as many passes as networks.
        seconds = (time.perf_counter() - started) / len(sample) * len(networks)
        name = step if isinstance(step, str) else step.backbone
        named = name if len(networks) == 1 else f"{name} (and {len(networks) - 1} more)"
        return seconds, load_s * len(networks), named
    return None, None, None


def _steps(pipeline):
    """Every estimator of the pipeline, and the candidates of a BackboneSelector."""
    for step in pipeline.get_params(deep=True).values():
        if not hasattr(step, "get_params"):
            continue  # a parameter's value, not an estimator
        candidates = getattr(step, "candidates", None)
        yield from candidates if isinstance(candidates, (list, tuple)) else [step]


def _network(step):
    """Whether ``step`` runs a pre-trained network (a backbone name is one)."""
    if isinstance(step, str):
        return True
    name = getattr(step, "backbone", None)
    return isinstance(name, str) and getattr(step, "weights", "default") is not None


def _encoder_like(step, encoders):
    """The encoder that runs ``step``'s network as it would: its backbone, size, layer."""
    from .. import backbones
    from ..encoders import BaseEncoder

    if isinstance(step, BaseEncoder):
        return clone(step).set_params(cache=None, verbose=False)
    name = step if isinstance(step, str) else step.backbone
    try:
        encoder = encoders[backbones.get(name).modality](name)
    except Exception:  # an unknown name fails the run itself, not the plan
        return None
    if isinstance(step, str):
        return encoder
    shared = {k: v for k, v in step.get_params(deep=False).items() if k in ("image_size", "device")}
    return encoder.set_params(**{k: v for k, v in shared.items() if k in encoder.get_params()})
