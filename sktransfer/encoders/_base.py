"""What every encoder shares: lazy loading, device choice, batching, pickling."""

from __future__ import annotations

import copy
import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .._params import validate_params


def resolve_device(device):
    """The torch device to run on: "auto" is CUDA when present (then Apple's MPS), else the CPU.

    A device that this machine lacks falls back to the CPU with a warning, so an
    estimator fitted with ``device="cuda"`` still predicts where there is no GPU.
    """
    import torch

    mps = getattr(torch.backends, "mps", None)
    has = {"cuda": torch.cuda.is_available(), "mps": mps is not None and mps.is_available()}
    if device is None or device == "auto":
        return torch.device("cuda" if has["cuda"] else "mps" if has["mps"] else "cpu")
    device = torch.device(device)
    if not has.get(device.type, True):
        warnings.warn(
            f"device {str(device)!r} is not available on this machine; running on the CPU",
            RuntimeWarning,
            stacklevel=3,
        )
        return torch.device("cpu")
    return device


def progress(total, *, enabled, unit, desc):
    """A tqdm bar, or one that does nothing when ``enabled`` is false."""
    from tqdm.auto import tqdm

    return tqdm(total=total, disable=not enabled, unit=unit, desc=desc, leave=False)


class BaseEncoder(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Base class of the pre-trained encoders (transformers in the sklearn sense).

    ``fit`` loads the model (never ``__init__``), so a fresh clone in each CV fold
    costs a load and nothing else. Subclasses implement:

    - ``_load(self)``: build the model and set every other fitted attribute;
      returns the model, which ``fit`` stores as ``model_``;
    - ``_encode(self, X)``: the one place where samples are encoded, in batches;
      returns float32 ``(n_samples, n_features_out_)``;
    - ``_fingerprint(self)``: the parameters that change the output (for caching;
      never batch size, device or verbosity);

    and declare ``_parameter_constraints``, checked at the start of ``fit``.
    """

    _parameter_constraints: dict = {}

    def fit(self, X=None, y=None):
        """Load the pre-trained model; no data is needed or used.

        Every parameter is checked first (a wrong value raises ValueError, a
        wrong type TypeError), then the model is loaded with its weights.

        Parameters
        ----------
        X : ignored
            Accepted for Pipeline compatibility.
        y : ignored
            Accepted for Pipeline compatibility.

        Returns
        -------
        self : object
            The fitted encoder, with ``model_`` and ``n_features_out_`` set.
        """
        validate_params(self)
        self.model_ = self._load()
        return self

    def transform(self, X):
        """Encode ``X`` into one float32 feature vector per sample.

        Parameters
        ----------
        X : array-like or iterable
            The samples, in any form the encoder reads: images for
            :class:`~sktransfer.ImageEncoder`, texts for
            :class:`~sktransfer.SentenceEncoder` and
            :class:`~sktransfer.WordVectorEncoder`.

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
        features = self._encode(X)
        return np.ascontiguousarray(features, dtype=np.float32)

    @property
    def _n_features_out(self):
        return self.n_features_out_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = True
        tags.non_deterministic = False
        tags.transformer_tags.preserves_dtype = ["float32"]
        tags.input_tags.two_d_array = False
        return tags

    def __getstate__(self):
        state = super().__getstate__()
        model = state.get("model_")
        if _is_torch_module(model) and any(p.device.type != "cpu" for p in model.parameters()):
            # Pickles must load on machines without a GPU.
            state["model_"] = copy.deepcopy(model).to("cpu")
        return state

    def _model_on(self, device):
        """``model_``, moved to ``device`` in place if it lives elsewhere."""
        model = self.model_
        if _is_torch_module(model):
            first = next(model.parameters(), None)
            if first is not None and first.device != device:
                model.to(device)
        return model


def _is_torch_module(obj):
    try:
        from torch import nn
    except ImportError:  # pragma: no cover - torch is a hard dependency
        return False
    return isinstance(obj, nn.Module)
