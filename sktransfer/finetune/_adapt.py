"""Domain adaptation while fine-tuning: unlabelled target samples align with labelled ones.

Unlabelled samples follow scikit-learn's semi-supervised convention: ``y = -1``
(or ``None`` in an object array; NaN for a regressor), and skada's where it is
given: a negative ``sample_domain`` marks a target sample, whose label is then
not read. The labelled samples train the head as always; the unlabelled ones
only enter the adaptation:

- ``"adabn"`` (Li et al., 2016, "Revisiting Batch Normalization For Practical
  Domain Adaptation"): every BatchNorm layer's statistics are re-estimated on the
  labelled samples before training (so the head learns on features normalised as
  their domain's, not as ImageNet's) and on the unlabelled ones after; no
  parameter changes for it.
- ``"coral"`` (Sun and Saenko, 2016, "Deep CORAL"): the distance between the
  covariances of the labelled and the unlabelled samples' features (what the
  head reads), ``||C_s - C_t||_F^2 / (4 d^2)``, added to the loss of each batch.
- ``"dann"`` (Ganin et al., 2016, "Domain-Adversarial Training of Neural
  Networks"): a domain classifier on the features, behind a gradient reversal
  layer, so the body learns features that tell the domains apart as little as
  it can; its cross-entropy is added to the loss.
- ``"entropy"`` (Grandvalet and Bengio, 2005): the mean entropy of the
  unlabelled samples' predicted class probabilities is added to the loss,
  pushing decisions away from them (classifiers only).

``adapt_weight`` multiplies the added loss (1.0, as the papers' defaults).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .._utils import is_missing
from ..backbones._batchnorm import adabn

ADAPTATIONS = ("none", "adabn", "coral", "dann", "entropy")
# The ones that add a loss on the features of each batch.
LOSSES = ("coral", "dann", "entropy")


def labelled_mask(y, n_samples, *, adapt, classifier, sample_domain=None):
    """Which samples are labelled, or None when all are (and ``adapt`` reads none).

    Parameters
    ----------
    y : array-like
        The targets as given.
    n_samples : int
    adapt : str
        Unlabelled markers are read only when adapting: with ``adapt="none"``
        a -1 is a class like any other, and only a negative ``sample_domain``
        leaves a sample out (skada's source-only baseline).
    classifier : bool
    sample_domain : array-like of int, optional
        skada's domains: negative for target samples.

    Returns
    -------
    ndarray of bool or None

    Raises
    ------
    ValueError
        Adapting without any unlabelled sample; no labelled sample;
        ``sample_domain`` of the wrong length.
    """
    if adapt == "none" and sample_domain is None:
        return None
    y = np.asarray(y.to_numpy() if hasattr(y, "to_numpy") else y)
    unlabelled = np.zeros(n_samples, dtype=bool)
    if adapt != "none":  # without an adaptation, -1 is a label like any other
        rows = y.reshape(len(y), -1) if y.ndim else y
        if classifier:
            unlabelled = np.array([is_missing(v) or _is_minus_one(v) for v in rows.ravel()])
        else:
            unlabelled = np.array([any(is_missing(v) for v in row) for row in rows])
    if sample_domain is not None:
        domain = np.asarray(sample_domain)
        if domain.shape != (n_samples,):
            raise ValueError(f"sample_domain has shape {domain.shape}, X has {n_samples} samples")
        unlabelled |= domain < 0
    marker = "y = -1 or None" if classifier else "y = NaN"
    if unlabelled.all():
        raise ValueError(f"adapt={adapt!r}: every sample is unlabelled ({marker}); label some")
    if not unlabelled.any():
        if adapt == "none":
            return None
        raise ValueError(
            f"adapt={adapt!r} aligns the labelled samples with unlabelled ones ({marker}, or "
            "a negative sample_domain), and this y has none"
        )
    return ~unlabelled


def _is_minus_one(value):
    try:
        return not isinstance(value, (str, bytes)) and value == -1
    except (TypeError, ValueError):
        return False


def with_unlabelled(y, labelled, *, classifier):
    """The labelled samples' checked targets spread back over all samples: -1 (class
    index) or NaN (regression target) where unlabelled."""
    if labelled is None:
        return y
    full = np.full((len(labelled), *y.shape[1:]), -1 if classifier else np.nan, dtype=y.dtype)
    full[labelled] = y
    return full


def known(y_true, classifier):
    """The rows of a batch's targets that carry a label."""
    if classifier:
        return y_true >= 0
    return torch.isfinite(y_true).reshape(len(y_true), -1).all(dim=1)


def coral(source, target):
    """Deep CORAL's loss between two batches of features (0 where either has < 2 rows)."""
    if len(source) < 2 or len(target) < 2:
        return source.sum() * 0.0
    d = source.shape[1]
    return (_covariance(source) - _covariance(target)).pow(2).sum() / (4 * d * d)


def _covariance(x):
    centred = x - x.mean(dim=0, keepdim=True)
    return centred.T @ centred / (len(x) - 1)


def entropy(logits):
    """Mean entropy of the softmax of ``logits`` (0 for no rows)."""
    if len(logits) == 0:
        return logits.sum() * 0.0
    log_p = torch.log_softmax(logits, dim=1)
    return -(log_p.exp() * log_p).sum(dim=1).mean()


class _ReverseGradient(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return -grad


class DomainClassifier(nn.Module):
    """DANN's domain classifier: gradient reversal, then a small MLP to one logit."""

    def __init__(self, n_features, hidden=256):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(n_features, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def forward(self, features):
        return self.layers(_ReverseGradient.apply(features)).squeeze(1)


def dann(discriminator, features, target):
    """The domain classifier's cross-entropy: labelled samples 0, unlabelled 1."""
    logits = discriminator(features)
    return nn.functional.binary_cross_entropy_with_logits(logits, target.float())


def adaptation_loss(adapt, features, logits, target, discriminator=None):
    """The loss ``adapt`` adds for one batch; ``target`` marks its unlabelled rows."""
    if adapt == "coral":
        return coral(features[~target], features[target])
    if adapt == "entropy":
        return entropy(logits[target])
    return dann(discriminator, features, target)


class AdaptingNet:
    """What ``adapt`` adds to the fine-tuners' skorch net: the features of each batch
    kept for the losses (a forward pre-hook on the head, set by ``fit_loop``), the
    supervised loss on the labelled samples only, and AdaBN after training."""

    def _keep_features(self, head, inputs):
        self._features = inputs[0]

    def _adabn(self, X, y, *, target):
        """Re-estimate the BatchNorm statistics on the labelled samples (before training:
        the head learns on features normalised as the source domain's) or the unlabelled
        ones (after: the model serves the target domain)."""
        labelled = known(torch.as_tensor(y), self._classifier).numpy()
        chosen = np.flatnonzero(~labelled if target else labelled)
        batches = self.get_iterator(torch.utils.data.Subset(X, chosen), training=False)
        self.adabn_layers_ = adabn(self.module_, (x for x, _ in batches), lambda x: self.infer(x))

    def get_loss(self, y_pred, y_true, X=None, training=False):
        """The supervised loss on the labelled samples, plus ``adapt``'s on the batch."""
        labelled = known(y_true, self._classifier)
        if bool(labelled.all()):
            loss = super().get_loss(y_pred, y_true, X=X, training=training)
        elif bool(labelled.any()):
            loss = super().get_loss(y_pred[labelled], y_true[labelled], X=X, training=training)
        else:  # a batch of unlabelled samples only: nothing supervised in it
            loss = y_pred.sum() * 0.0
        features = getattr(self, "_features", None)  # set while fit_loop runs
        if training and self.adapt in LOSSES and features is not None:
            added = adaptation_loss(
                self.adapt, features, y_pred, ~labelled,
                getattr(self.module_, "domain", None),
            )  # fmt: skip
            loss = loss + self.adapt_weight * added
        return loss
