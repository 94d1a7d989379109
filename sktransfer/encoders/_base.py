"""What every encoder shares: lazy loading, device choice, batching, pickling."""

from __future__ import annotations

import functools
import os

import numpy as np
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .. import backbones
from .._checks import validate_params
from .._utils import is_torch_module
from .._utils._module_state import is_module_state, module_state, restore_module
from ..cache import model_digest, resolve_cache, source_name
from ..exceptions import UntrustedPickleError

# The parameters that name an encoder's network, for messages.
BACKBONE_PARAMS = ("backbone", "model", "vectors")


def resolve_spec(backbone, modality):
    """The spec of ``backbone`` for an encoder of ``modality``.

    A registered backbone of another modality is refused with the name of the
    encoder that reads it.
    """
    from . import ENCODERS

    if isinstance(backbone, str) and backbone in backbones.REGISTRY:
        spec = backbones.get(backbone)
        if spec.modality != modality:
            reader = ENCODERS[spec.modality].__name__
            raise ValueError(
                f"backbone {spec.name!r} reads {spec.modality}, not {modality}; use {reader}"
            )
    return backbones.resolve(backbone, modality=modality)


class BaseEncoder(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Base class of the pre-trained encoders (transformers in the sklearn sense).

    ``fit`` loads the model (never ``__init__``), so a fresh clone in each CV fold
    costs a load and nothing else. Subclasses implement:

    - ``_load(self)``: build the model and set every other fitted attribute;
      returns the model, which ``fit`` stores as ``model_``;
    - ``_check_samples(self, X)``: ``X`` checked, as a list or an array of samples;
    - ``_sample_keys(self, samples)``: a content digest (str) per sample;
    - ``_encode(self, samples, positions)``: the one place where samples are
      encoded, in batches; returns float32 ``(len(samples), n_features_out_)``;
      ``positions`` are their indices in ``X``, for error messages;
    - ``_fingerprint(self)``: the parameters that change the output (for caching;
      never batch size, device or verbosity; the weights are digested here);

    and declare ``_parameter_constraints``, checked at the start of ``fit``, and a
    ``cache`` parameter. ``transform`` encodes each distinct sample once, and only
    those the cache lacks.
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
        self.model_ = self._shared_load()
        return self

    def _shared_load(self):
        """``self._load()``, shared with every encoder of this process that loads the same.

        Folds and search candidates clone the encoder and fit each clone: they
        find the model the first one loaded (a few models are kept). Fitted
        encoders only read their models, so sharing one is safe.
        """
        if self._model_key() is None:
            return self._load()
        model, fitted = _load_shared_for(self)
        vars(self).update(fitted)
        return model

    def _model_key(self):
        """What ``_load`` reads, as (name, value) pairs in a fixed order; None: not shared.

        Only names and paths are shared (a path with its size and time), never a
        loaded object, nor a random initialisation.
        """
        return None

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
        return self._features(self._check_samples(X))

    def _features(self, samples, positions=None):
        """Features of checked samples: each distinct one encoded once, cached ones read.

        ``positions``: the samples' indices in ``X`` where they are some of its
        samples, for the error messages of ``_encode``.
        """
        keys = self._sample_keys(samples)
        rows = {}  # a sample's key -> its row among the distinct samples
        inverse = np.fromiter((rows.setdefault(k, len(rows)) for k in keys), np.intp, len(keys))
        first = np.empty(len(rows), dtype=np.intp)
        first[inverse[::-1]] = np.arange(len(keys) - 1, -1, -1)  # first position of each
        distinct = list(rows)

        def encode(todo):
            rows = first[todo]
            if isinstance(samples, np.ndarray):
                subset = samples if len(todo) == len(samples) else samples[rows]
            else:
                subset = [samples[i] for i in rows]
            where = rows if positions is None else np.asarray(positions)[rows]
            return np.asarray(self._encode(subset, where), dtype=np.float32)

        cache = resolve_cache(self.cache)
        if cache is None:
            features = encode(np.arange(len(distinct)))
        else:
            features = cache.rows(self._cache_description(), distinct, encode)
        return features if len(distinct) == len(keys) else features[inverse]

    def _cache_description(self):
        """Everything that changes the output: what the cache's fingerprint digests."""
        from .. import __version__

        return {
            "encoder": type(self).__name__,
            "sktransfer": __version__,
            "n_features": int(self.n_features_out_),
            **self._fingerprint(),
            "model_digest": model_digest(self.model_),
        }

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
        """The encoder's state with no torch object: what pickle, joblib and skops write.

        Each network (``model_``, ``source_model_``) becomes its weights' digest and
        the arrays that differ from the model these parameters load (none for a
        pre-trained backbone used as it is: the weights are not stored twice; AdaBN's
        statistics; every weight of a randomly initialised or loaded network), so
        that the state loads on any machine, with or without a GPU.
        """
        # A copy: object.__getstate__ returns the instance's own __dict__.
        state = dict(super().__getstate__())
        models = [k for k, v in state.items() if k.endswith("model_") and _persisted(self, v)]
        if not models:
            return state
        reference = self._reference_model()
        saved = {}  # by identity: a model kept under two names is written once
        for name in models:
            model = state[name]
            if id(model) in saved:
                state[name] = {"same_as": saved[id(model)]}
                continue
            saved[id(model)] = name
            if is_torch_module(model):
                state[name] = module_state(model, reference)
            else:  # word vectors that these parameters load again: their digest only
                state[name] = {"digest": model_digest(model), "arrays": {}, "dtypes": {}}
        return state

    def __setstate__(self, state):
        """Rebuild the networks a state describes (see ``__getstate__``), digests checked.

        States written by earlier releases, which held the torch modules, load as they are.
        """
        saved = {k: v for k, v in state.items() if is_module_state(v) or _is_alias(v)}
        super().__setstate__({k: v for k, v in state.items() if k not in saved})
        if not saved:
            return
        if getattr(self, "trust_pickle", False):  # never written so: an edited file
            raise UntrustedPickleError(
                f"this saved {type(self).__name__} would unpickle {self._backbone_name()!r} "
                "while it loads: refused. Fit the encoder again where you trust the file."
            )
        # A model these parameters load, shared in the process, or a fresh one.
        reference = self._shared_load()
        for name, value in saved.items():
            if not _is_alias(value):
                restored = restore_module(
                    value, reference, network=f"backbone {self._backbone_name()!r}"
                )
                setattr(self, name, restored)
        for name, value in saved.items():
            if _is_alias(value):
                setattr(self, name, getattr(self, value["same_as"]))

    def _reference_model(self):
        """The model these parameters load (shared in the process), or None when they load
        no definite one (random weights, a loaded object): then every array is saved."""
        if self._model_key() is None:
            return None
        return _load_shared_for(self)[0]

    def _backbone_name(self):
        """The backbone's name as messages give it."""
        names = [v for k, v in self.get_params(deep=False).items() if k in BACKBONE_PARAMS]
        return source_name(names[0]) if names else type(self).__name__

    def _model_on(self, device):
        """``model_``, moved to ``device`` in place if it lives elsewhere."""
        model = self.model_
        if is_torch_module(model):
            first = next(model.parameters(), None)
            if first is not None and first.device != device:
                model.to(device)
        return model


def _persisted(encoder, value):
    """Whether ``value`` (a state's entry) is a model that the state keeps torch-free."""
    if is_torch_module(value):
        return True
    # Word vectors that the parameters load again; those unpickled stay as they are.
    return (
        hasattr(value, "index_to_key")
        and encoder._model_key() is not None
        and not (getattr(encoder, "trust_pickle", False))
    )


def _is_alias(value):
    return isinstance(value, dict) and set(value) == {"same_as"}


def _load_shared_for(encoder):
    """The model ``encoder``'s parameters load, shared in the process, and the fitted
    attributes its loading sets."""
    key = tuple(
        (k, os.fspath(v) if isinstance(v, os.PathLike) else v) for k, v in encoder._model_key()
    )
    return _load_shared(type(encoder), key, tuple(_file_stamp(v) for _, v in key))


@functools.lru_cache(maxsize=4)
def _load_shared(cls, key, stamps):
    # ``stamps`` is part of the key only: a weights file rewritten is loaded anew.
    encoder = cls(**dict(key))
    model = encoder._load()
    return model, {k: v for k, v in vars(encoder).items() if k.endswith("_")}


def clear_model_cache():
    """Forget the models shared between the encoders of this process."""
    _load_shared.cache_clear()


def _file_stamp(value):
    """(size, modification time) of an existing file named by ``value``, else None."""
    if isinstance(value, (str, os.PathLike)) and os.path.isfile(value):
        stat = os.stat(value)
        return stat.st_size, stat.st_mtime_ns
    return None
