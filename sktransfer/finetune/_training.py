"""What every trained estimator shares: targets, class weights, the validation split, seeds."""

from __future__ import annotations

import contextlib
import math

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils.class_weight import compute_class_weight

from .._checks import CALLABLE, NONE, InstanceOf, Interval, Options, check_targets, encode_labels
from ._adapt import labelled_mask, with_unlabelled
from ._head import ACTIVATIONS

# Parameters of the head and its training, shared by the fine-tuners and the head estimators.
TRAINING_CONSTRAINTS = {
    "hidden": [InstanceOf((tuple, list), "a tuple of layer sizes")],
    "dropout": [Interval(float, 0.0, 1.0)],
    "activation": [Options(*ACTIVATIONS), CALLABLE],
    "validation": [NONE, Interval(float, 0.0, 1.0, low_open=True)],
    "patience": [NONE, Interval(int, 1)],
    "random_state": [NONE, Interval(int, 0), InstanceOf(np.random.RandomState, "a RandomState")],
}


def check_hidden(hidden, name="hidden"):
    """``hidden`` as a tuple of positive ints, or a ValueError naming ``name`` and the sizes."""
    sizes = tuple(hidden)
    for size in sizes:
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
            raise ValueError(f"{name} must hold layer sizes (ints >= 1), got {hidden!r}")
    return tuple(int(s) for s in sizes)


def backbone_rate(backbone_lr, lr):
    """``backbone_lr`` as a number: absolute, or "<ratio>x" times ``lr``.

    Examples
    --------
    >>> backbone_rate("0.1x", 1e-3), backbone_rate(2e-5, 1e-3)
    (0.0001, 2e-05)
    """
    if not isinstance(backbone_lr, str):
        return float(backbone_lr)
    try:
        if not backbone_lr.endswith("x"):
            raise ValueError
        return float(backbone_lr[:-1]) * lr
    except ValueError:
        raise ValueError(
            f"backbone_lr must be a learning rate (e.g. 1e-4) or a ratio of lr "
            f"(e.g. '0.1x'), got {backbone_lr!r}"
        ) from None


def fit_targets(y, n_samples, *, classifier, adapt="none", sample_domain=None, **warm):
    """The targets a fine-tuner trains on, checked, and what they say of the outputs.

    Returns class indices (int64) or float32 targets of shape (n, k), with -1 or
    NaN for the samples ``adapt`` reads as unlabelled; and ``{"classes": ...}``
    or ``{"n_outputs": ...}`` for a first fit. A warm start passes
    ``classes=classes_`` (a classifier's labels must be among them) and gets ``{}``.
    """
    labelled = labelled_mask(
        y, n_samples, adapt=adapt, classifier=classifier, sample_domain=sample_domain
    )
    n_labelled = n_samples
    if labelled is not None:
        y, n_labelled = np.asarray(y)[labelled], int(labelled.sum())
    if "classes" not in warm:
        y, classes = check_targets(y, n_labelled, classifier=classifier)
        targets = (
            {"classes": classes} if classifier else {"n_outputs": y.shape[1] if y.ndim > 1 else 1}
        )
    elif classifier:
        check_targets(y, n_labelled, classifier=True)  # lengths and missing labels
        y, targets = encode_labels(y, warm["classes"]), {}
    else:
        y, targets = check_targets(y, n_labelled, classifier=False)[0], {}
    if not classifier and y.ndim == 1:
        y = y[:, None]  # MSELoss compares (n, 1) outputs with (n, 1) targets
    return with_unlabelled(y, labelled, classifier=classifier), targets


def class_weights(class_weight, y, classes):
    """Per-class loss weights as float32, or None for ``class_weight=None``.

    ``class_weight`` is "balanced" (``n_samples / (n_classes * count)``, as in
    scikit-learn) or a dict from label to weight (labels left out weigh 1).
    ``y`` holds class indices into ``classes``.
    """
    if class_weight is None:
        return None
    weights = np.ones(len(classes))
    if isinstance(class_weight, dict):
        for label, weight in class_weight.items():
            weights[encode_labels([label], classes)[0]] = weight
    else:
        present = np.unique(y)
        weights[present] = compute_class_weight(class_weight, classes=present, y=y)
    return weights.astype(np.float32)


def validation_split(validation, y, *, classifier, random_state):
    """skorch's ``ValidSplit`` for ``validation`` (a fraction held out), or None.

    Refuses, before training, a split that would leave a class out of either
    side (stratified, for classifiers) or leave no sample on one side.
    """
    if validation is None:
        return None
    from skorch.dataset import ValidSplit

    n = len(y)
    n_valid = math.ceil(validation * n)
    needed = len(np.unique(y)) if classifier else 1
    if n_valid < needed or n - n_valid < needed:
        what = f"one sample of each of the {needed} classes" if classifier else "one sample"
        raise ValueError(
            f"validation={validation} holds out {n_valid} of {n} samples; each side needs at "
            f"least {what}: give more samples, change validation, or set validation=None"
        )
    seed = check_random_state(random_state).randint(2**31 - 1) if random_state is not None else None
    return ValidSplit(validation, stratified=classifier, random_state=seed)


def monitored_loss(validation):
    """The loss that early stopping and a plateau schedule watch: validation's, or training's."""
    return "valid_loss" if validation is not None else "train_loss"


def early_stopping(patience, validation):
    """skorch's ``EarlyStopping`` on the validation loss (training loss without one).

    The best epoch's weights are restored when training ends.
    """
    if patience is None:
        return []
    from skorch.callbacks import EarlyStopping

    monitor = monitored_loss(validation)
    return [("early_stopping", EarlyStopping(monitor=monitor, patience=patience, load_best=True))]


@contextlib.contextmanager
def seeded(random_state):
    """Run the body with torch's random generators seeded from ``random_state``.

    The caller's generator states are restored afterwards (``torch.random.fork_rng``),
    so fitting never changes what the user's own code draws next. None does nothing.
    """
    if random_state is None:
        yield
        return
    import torch

    seed = int(check_random_state(random_state).randint(2**31 - 1))
    with torch.random.fork_rng(devices=range(torch.cuda.device_count())):
        torch.manual_seed(seed)
        yield
