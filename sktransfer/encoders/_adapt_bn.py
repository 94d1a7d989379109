"""``ImageEncoder(adapt_bn=True)``: AdaBN on the frozen encoder.

``fit`` re-estimates the BatchNorm statistics of a copy of the pre-trained
model on the target images (a negative ``sample_domain``, skada's convention,
or every image given), and of another copy on the source images when
``sample_domain`` tells them apart; ``transform`` normalises each domain by
its own statistics. The model loaded for the process is never changed: other
encoders share it.
"""

from __future__ import annotations

import copy
import warnings

import numpy as np
from sklearn.utils.validation import check_is_fitted

from .._checks import validate_params
from .._utils import resolve_device
from ..cache import source_name
from ._base import BaseEncoder


class AdaptBNEncoder(BaseEncoder):
    """An encoder whose ``fit`` can adapt its BatchNorm statistics (``adapt_bn``).

    The base of :class:`~sktransfer.ImageEncoder`, whose ``_batches`` and
    ``_batch_size`` it reads. A subclass of ``BaseEncoder``, so that
    scikit-learn's ``set_output`` wraps its ``transform`` and ``fit_transform``.
    """

    # skada's pipelines and scikit-learn's metadata routing hand ``sample_domain`` over.
    __metadata_request__fit = {"sample_domain": True}
    __metadata_request__transform = {"sample_domain": True}
    # Encoders pickled before adapt_bn existed adapt nothing.
    adapt_bn = False

    def fit(self, X=None, y=None, sample_domain=None):
        """Load the pre-trained model; with ``adapt_bn``, adapt it to the images ``X``.

        Every parameter is checked first (a wrong value raises ValueError, a
        wrong type TypeError), then the model is loaded with its weights.
        Without ``adapt_bn`` nothing else happens and no data is read. With it,
        every BatchNorm layer's statistics are re-estimated on the target
        images of ``X`` (AdaBN), preprocessed as ``transform`` preprocesses
        them, in a copy of the model: the loaded one, which other encoders of
        this process share, is left as it is.

        Parameters
        ----------
        X : array-like or iterable, optional
            The images, as ``transform`` reads them; required with
            ``adapt_bn``, ignored without.
        y : ignored
            Accepted for Pipeline compatibility.
        sample_domain : array-like of int of shape (n_samples,), optional
            The domain of each image, as skada marks them: negative for the
            target domain, whose images the model then serves, non-negative
            for the source ones, which get statistics of their own
            (``source_model_``). None: every image is a target. Read only with
            ``adapt_bn``.

        Returns
        -------
        self : object
            The fitted encoder, with ``model_`` and ``n_features_out_`` set.

        Raises
        ------
        ValueError
            With ``adapt_bn``: no ``X``, a ``sample_domain`` not of one
            domain per image, or no target image in it.
        """
        validate_params(self)
        if self.adapt_bn:  # the images checked before the load, which takes a while
            samples, target = _adaptation_images(self, X, sample_domain)
        pretrained = self._shared_load()
        fitted = (pretrained, pretrained, 0)
        if self.adapt_bn:
            fitted = adapted_models(self, pretrained, samples, target)
        self.model_, self.source_model_, self.n_adapted_ = fitted
        return self

    def transform(self, X, sample_domain=None):
        """Encode ``X`` into one float32 feature vector per image.

        Parameters
        ----------
        X : array-like or iterable
            The images: paths, PIL images, an array (N, H, W, C) or (N, H, W),
            a list of these or a pandas column of them.
        sample_domain : array-like of int of shape (n_samples,), optional
            The domain of each image, as skada marks them. With ``adapt_bn``
            and a source model of their own, images of a non-negative domain
            are encoded with ``source_model_`` and the others with ``model_``;
            otherwise ignored. None: every image with ``model_``, the target
            domain's.

        Returns
        -------
        ndarray of shape (n_samples, n_features_out_), dtype float32
            The features, in the order of ``X``.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            ``fit`` has not been called.
        """
        check_is_fitted(self, "model_")
        samples = self._check_samples(X)
        # Encoders pickled before adapt_bn existed have no source model.
        if sample_domain is None or getattr(self, "source_model_", self.model_) is self.model_:
            return self._features(samples)
        return transform_by_domain(self, samples, sample_domain)

    def fit_transform(self, X, y=None, sample_domain=None):
        """``fit(X, y, sample_domain)``, then ``transform(X, sample_domain)``.

        Parameters
        ----------
        X : array-like or iterable
            The images, as ``transform`` reads them.
        y : ignored
            Accepted for Pipeline compatibility.
        sample_domain : array-like of int of shape (n_samples,), optional
            The domain of each image, as skada marks them (see ``fit``).

        Returns
        -------
        ndarray of shape (n_samples, n_features_out_), dtype float32
            The features, in the order of ``X``.
        """
        return self.fit(X, y, sample_domain).transform(X, sample_domain)


def _adaptation_images(encoder, X, sample_domain):
    """The checked images given to ``fit`` and which of them are targets."""
    if X is None:
        raise ValueError(
            "adapt_bn=True re-estimates the BatchNorm statistics on the images given to "
            "fit: pass them, fit(X) (or fit(X, y, sample_domain=...) with skada's domains)"
        )
    samples = encoder._check_samples(X)
    target = check_domains(sample_domain, len(samples))
    if not target.any():
        raise ValueError(
            "adapt_bn re-estimates the BatchNorm statistics on the target images, those of "
            "a negative sample_domain, and this sample_domain marks none"
        )
    return samples, target


def check_domains(sample_domain, n_samples):
    """Which samples are targets (negative ``sample_domain``); every one when it is None.

    Raises
    ------
    ValueError
        ``sample_domain`` does not give one domain per sample.
    """
    if sample_domain is None:
        return np.ones(n_samples, dtype=bool)
    domain = np.asarray(sample_domain)
    if domain.shape != (n_samples,):
        raise ValueError(f"sample_domain has shape {domain.shape}, X has {n_samples} samples")
    return domain < 0


def adapted_models(encoder, pretrained, samples, target):
    """The target model, the source model and the number of BatchNorm layers re-estimated.

    Each model is a copy of ``pretrained`` whose statistics come from its
    domain's images (``target`` marks the target ones), or ``pretrained``
    itself where there is nothing to re-estimate: no BatchNorm layer, no
    source image.
    """
    from ..backbones._batchnorm import batch_norms

    if not batch_norms(pretrained):
        warnings.warn(
            f"adapt_bn=True changes nothing for backbone {source_name(encoder.backbone)!r}: "
            "it has no BatchNorm layer (vision transformers normalise each sample alone)",
            UserWarning,
            stacklevel=3,
        )
        return pretrained, pretrained, 0
    model, n_adapted = _reestimated(encoder, pretrained, samples, np.flatnonzero(target))
    source = pretrained
    if not target.all():
        source, _ = _reestimated(encoder, pretrained, samples, np.flatnonzero(~target))
    return model, source, n_adapted


def _reestimated(encoder, pretrained, samples, positions):
    """A copy of the pre-trained model, its statistics re-estimated on ``samples[positions]``."""
    from ..backbones._batchnorm import adabn

    device = resolve_device(encoder.device)
    model = copy.deepcopy(pretrained).to(device)
    batch_size = _even_batch_size(len(positions), encoder._batch_size(device))
    batches = encoder._batches(subset(samples, positions), positions, device, batch_size)
    # In float32 whatever ``precision``: once per fit, and half precision would round them.
    return model, adabn(model, batches, model)


def _even_batch_size(n_samples, batch_size):
    """At most ``batch_size``, in batches of near-equal sizes and never a lone last one.

    A lone image has no statistics where a layer's map is 1 x 1 (torch refuses
    it in training mode), and a small last batch estimates poorly what the
    layers after the first see (each batch is normalised by its own statistics).
    """
    n_batches = -(-n_samples // batch_size)
    size = -(-n_samples // n_batches)
    while n_samples > 1 and n_samples % size == 1:
        size += 1
    return size


def subset(samples, positions):
    """``samples[positions]``, for an array or a list of samples."""
    if isinstance(samples, np.ndarray):
        return samples[positions]
    return [samples[i] for i in positions]


def transform_by_domain(encoder, samples, sample_domain):
    """Features of source samples (``sample_domain >= 0``) from ``source_model_``, of the
    others from ``model_``, in the order of ``samples``."""
    target = check_domains(sample_domain, len(samples))
    out = np.empty((len(samples), encoder.n_features_out_), dtype=np.float32)
    # A shallow copy serving the source: its cache description digests the source model.
    source = copy.copy(encoder)
    source.model_ = encoder.source_model_
    for runner, rows in ((encoder, np.flatnonzero(target)), (source, np.flatnonzero(~target))):
        if len(rows):
            out[rows] = runner._features(subset(samples, rows), rows)
    return out
