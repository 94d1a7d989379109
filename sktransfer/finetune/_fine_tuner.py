"""What both fine-tuners are to scikit-learn: parameters, checks, and the skorch net they own.

A fine-tuner is a plain scikit-learn estimator that owns a skorch net
(``net_``), as :class:`~sktransfer.HeadClassifier` does: its parameters are
set in ``__init__`` and checked in ``fit``, so cloning, ``set_params`` and a
search never fail on a value that ``fit`` would refuse; skorch's own
parameters travel as ``prefix__name`` (``optimizer__weight_decay``,
``iterator_train__num_workers``, ``callbacks__<name>__<param>``) and reach the
net unchanged.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from .. import backbones, images
from .._checks import (
    BOOLEAN,
    CACHE,
    CALLABLE,
    NONE,
    PATH,
    Device,
    InstanceOf,
    Interval,
    Options,
    validate_params,
)
from .._utils import resolve_device
from ..backbones.windows import LONG_TEXTS
from ._adapt import ADAPTATIONS
from ._freeze import Freeze
from ._inputs import AUGMENTATIONS, Samples
from ._legacy import LoadsOldModels
from ._net import MODALITIES, accuracy
from ._persist import PersistsFineTunedNet
from ._recipes import AUTO, with_recipe
from ._routing import RENAMED, RoutedParams
from ._schedule import SCHEDULES
from ._training import (
    TRAINING_CONSTRAINTS,
    backbone_rate,
    check_hidden,
    fit_targets,
    seeded,
    validation_split,
)

# Where 0.1.0 defined the validation accuracy: its pickled callbacks name it here.
_accuracy = accuracy


class FineTuner(LoadsOldModels, PersistsFineTunedNet, RoutedParams, BaseEstimator):
    """What both fine-tuners share (a base class; the public ones say what they predict)."""

    _net_class = None  # set by each estimator
    _classifier = True
    _parameter_constraints = {
        **TRAINING_CONSTRAINTS,
        "weights": [Options("default"), NONE, PATH],
        "image_size": [NONE, Interval(int, 8)],
        "layer": [NONE, InstanceOf((str, list, tuple), "a layer name or a list of them")],
        "max_seq_length": [NONE, Interval(int, 1)],
        "long_texts": [Options(*LONG_TEXTS)],
        "freeze": [InstanceOf((str, int, np.integer), "a freeze strategy")],
        "head_init": [Options(AUTO, "probe", "random")],
        "batchnorm": [Options(AUTO, "eval", "train")],
        "adapt": [Options(*ADAPTATIONS)],
        "adapt_weight": [Interval(float, 0.0)],
        "lr": [Options(AUTO), Interval(float, 0.0, low_open=True)],
        "backbone_lr": [Interval(float, 0.0), InstanceOf(str, "a ratio such as '0.1x'")],
        "optimizer": [CALLABLE],
        "max_epochs": [Options(AUTO), Interval(int, 1)],
        "batch_size": [Options(AUTO), Interval(int, 1)],
        "schedule": [NONE, Options(AUTO, *SCHEDULES)],
        "augment": [Options(*AUGMENTATIONS), CALLABLE],
        "device": [Device()],
        "precision": [Options("float32", "bfloat16")],
        "cache": CACHE,
        "callbacks": [NONE, InstanceOf(list, "a list of skorch callbacks")],
        "warm_start": [BOOLEAN],
        "verbose": [BOOLEAN, Interval(int, 0)],
    }

    def __init__(
        self,
        backbone="efficientnet_lite0",
        *,
        weights="default",
        image_size=None,
        layer=None,
        max_seq_length=None,
        long_texts="truncate",
        freeze="auto",
        head_init="auto",
        batchnorm="auto",
        adapt="none",
        adapt_weight=1.0,
        hidden=(),
        dropout=0.0,
        activation="relu",
        lr="auto",
        backbone_lr="auto",
        optimizer=torch.optim.AdamW,
        max_epochs="auto",
        batch_size="auto",
        validation=0.1,
        patience=None,
        schedule="auto",
        augment="none",
        device="auto",
        precision="float32",
        cache=None,
        random_state=None,
        callbacks=None,
        warm_start=False,
        verbose=0,
        **kwargs,
    ):
        self.backbone = backbone
        self.weights = weights
        self.image_size = image_size
        self.layer = layer
        self.max_seq_length = max_seq_length
        self.long_texts = long_texts
        self.freeze = freeze
        self.head_init = head_init
        self.batchnorm = batchnorm
        self.adapt = adapt
        self.adapt_weight = adapt_weight
        self.hidden = hidden
        self.dropout = dropout
        self.activation = activation
        self.lr = lr
        self.backbone_lr = backbone_lr
        self.optimizer = optimizer
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.validation = validation
        self.patience = patience
        self.schedule = schedule
        self.augment = augment
        self.device = device
        self.precision = precision
        self.cache = cache
        self.random_state = random_state
        self.callbacks = callbacks
        self.warm_start = warm_start
        self.verbose = verbose
        # skorch's parameters (prefix__name) and old names: stored as they come, checked in fit.
        vars(self).update(kwargs)

    # -- parameters ----------------------------------------------------------------------

    def _check_params(self):
        """Every parameter checked, as the net takes them; errors name the parameter.

        "auto" values stay "auto" here: :meth:`_resolved` fills them in once
        the modality is known. Everything else is parsed, so a wrong value
        fails before any data is read.
        """
        validate_params(self)
        name, hidden = "hidden", self.hidden
        for old, new in RENAMED.items():
            if old in vars(self):
                warnings.warn(
                    f"{type(self).__name__}({old}=...) is deprecated since sktransfer 0.2.0 and "
                    f"will be refused in 0.3.0; use {new}=...",
                    FutureWarning,
                    stacklevel=3,
                )
                if self.hidden != ():
                    raise ValueError(f"give {new} alone: {old} is its deprecated name")
                name, hidden = old, vars(self)[old]
        routed = self._routed_params()
        params = {
            "backbone": self.backbone,
            "weights": self.weights,
            "image_size": self.image_size,
            "layer": self.layer,
            "max_seq_length": self.max_seq_length,
            "long_texts": self.long_texts,
            "freeze": self.freeze,
            "head_init": self.head_init,
            "batchnorm": self.batchnorm,
            "adapt": self.adapt,
            "adapt_weight": float(self.adapt_weight),
            "hidden": check_hidden(hidden, name),
            "dropout": self.dropout,
            "activation": self.activation,
            "lr": self.lr,
            "backbone_lr": self.backbone_lr,
            "optimizer": self.optimizer,
            "max_epochs": self.max_epochs,
            "batch_size": self.batch_size,
            "validation": self.validation,
            "patience": self.patience,
            "schedule": self.schedule,
            "augment": self.augment,
            "precision": self.precision,
            "cache": self.cache,
            "random_state": self.random_state,
            "callbacks": self.callbacks,
            "verbose": int(self.verbose),
            "device": str(resolve_device(self.device)),
            **routed,
        }
        if params["freeze"] != AUTO:
            Freeze.parse(params["freeze"])
        if params["adapt"] == "entropy" and not self._classifier:
            raise ValueError("adapt='entropy' sharpens class predictions: a regressor has none")
        if AUTO not in (params["lr"], params["backbone_lr"]):
            backbone_rate(params["backbone_lr"], params["lr"])
        if params["head_init"] == "probe" and params["hidden"]:
            raise ValueError(
                f"head_init='probe' starts a linear head as a linear probe; with "
                f"hidden={params['hidden']} the head is not linear: give hidden=() or "
                "head_init='random'"
            )
        return params

    def _resolved(self, params, modality):
        """``params`` with the recipe of ``modality`` for every "auto", parsed for the net.

        Sets ``recipe_``, the values the recipe's parameters took.
        """
        params, self.recipe_ = with_recipe(params, modality)
        params["freeze"] = Freeze.parse(params["freeze"])
        params["backbone_lr"] = backbone_rate(params["backbone_lr"], params["lr"])
        return params

    # -- data ----------------------------------------------------------------------------

    def _samples(self, X, y, *, reset, sample_domain=None):
        """``X`` and ``y`` checked, as a dataset; ``reset`` learns classes / outputs anew.

        With ``adapt``, the unlabelled samples keep -1 (a class index) or NaN as targets.
        """
        spec = backbones.resolve(self.backbone, modality=MODALITIES)
        modality = spec.modality if reset else self.modality_
        for name, reader, unset in (
            ("image_size", "image", None),
            ("layer", "image", None),
            ("max_seq_length", "text", None),
            ("long_texts", "text", "truncate"),
        ):
            if modality != reader and getattr(self, name) != unset:
                raise ValueError(
                    f"{name} is for {reader} backbones; {spec.name!r} reads {modality}: "
                    f"leave {name}={unset!r} (got {getattr(self, name)!r})"
                )
        # Set in every fit: a warm start may train at another size (progressive resizing).
        preprocessing = (
            images.preprocessing_at(spec.preprocessing, self.image_size)
            if modality == "image"
            else None
        )
        samples = Samples.of(X, modality, preprocessing)
        if y is None:
            raise ValueError(f"{type(self).__name__} needs targets y to fit")
        warm = {} if reset else {"classes": getattr(self, "classes_", None)}
        y, targets = fit_targets(y, len(samples), classifier=self._classifier, adapt=self.adapt,
                                 sample_domain=sample_domain, **warm)  # fmt: skip
        # A split too small fails now, before the backbone is even built.
        validation_split(self.validation, y.ravel() if self._classifier else y,
                         classifier=self._classifier, random_state=self.random_state)  # fmt: skip
        samples.y = y
        self.modality_, self.preprocessing_ = modality, preprocessing
        return samples, {"modality": modality, "preprocessing": preprocessing, "y": y, **targets}

    # -- fitting -------------------------------------------------------------------------

    def fit(self, X, y, sample_domain=None, **fit_params):
        """Fine-tune: a new head on the pre-trained backbone, layers frozen per ``freeze``.

        Every parameter and the input are checked before the model is built:
        a wrong value, bad labels, a wrong length, a validation split too
        small and a missing image file fail at once, naming the parameter or
        the item; an image that cannot be decoded is named when its batch is
        first read.

        Parameters
        ----------
        X : images or texts
            As the backbone reads them: image paths, PIL images, arrays (a
            list, an (N, H, W, C) array, a Series); or texts.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Labels (any type, strings included) or regression targets; with
            ``adapt``, -1 (or None; NaN for a regressor) marks an unlabelled
            sample.
        sample_domain : array-like of shape (n_samples,), optional
            The samples' domains as skada gives them, with ``adapt``: negative
            for target samples, which are then unlabelled whatever ``y`` says.
        **fit_params : dict
            Passed on to skorch's ``fit``.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        warm = self.warm_start and hasattr(self, "net_")
        return self._train(X, y, fit_params, warm=warm, sample_domain=sample_domain)

    def partial_fit(self, X, y=None, classes=None, sample_domain=None, **fit_params):
        """Train for ``max_epochs`` more epochs, from where the last fit left off.

        Parameters
        ----------
        X : images or texts
            As for :meth:`fit`.
        y : array-like
            Targets; a classifier's labels must be among ``classes_`` after
            the first fit.
        classes : ignored
            Accepted for scikit-learn's signature; the classes are learned
            from the first ``y``.
        sample_domain : array-like of shape (n_samples,), optional
            As for :meth:`fit`: with ``adapt``, negative for the target samples.
        **fit_params : dict
            Passed on to skorch.

        Returns
        -------
        self : object
            The estimator.
        """
        warm = hasattr(self, "net_")
        return self._train(X, y, fit_params, warm=warm, sample_domain=sample_domain)

    def _train(self, X, y, fit_params, *, warm, sample_domain=None):
        params = self._check_params()
        samples, data = self._samples(X, y, reset=not warm, sample_domain=sample_domain)
        params = self._resolved(params, data["modality"])
        if warm:
            net = self.net_
            net.carry(params)
        else:
            net = self._net_class(**params)
        net.prepare(**data, probe=params["head_init"] == "probe" and not warm)
        with seeded(self.random_state):
            if warm:
                net.partial_fit(samples, samples.y, **fit_params)
            else:
                net.fit(samples, samples.y, **fit_params)
        self._fitted(net)
        return self

    def _fitted(self, net):
        """Take the fitted attributes of a trained ``net``."""
        self.net_ = net
        self.modality_, self.preprocessing_ = net.modality_, net.preprocessing_
        self.probe_ = getattr(net, "probe_", None)
        self.layer_groups_ = list(net.module_.groups)
        if self._classifier:
            self.classes_ = net.classes_
        else:
            self.n_outputs_ = net.n_outputs_

    # -- predicting ----------------------------------------------------------------------

    def predict_proba(self, X):
        """The network's outputs: class probabilities (softmax) or predicted targets.

        Parameters
        ----------
        X : images or texts
            As for ``fit``.

        Returns
        -------
        ndarray of shape (n_samples, n_classes) or (n_samples, n_outputs_)
            One row per sample, float32.
        """
        check_is_fitted(self, "net_")
        return self.net_.predict_proba(Samples.of(X, self.modality_, self.preprocessing_))

    def transform(self, X):
        """The fine-tuned features of ``X``: what the head reads, for any other estimator.

        The trained body's pooled output (the layers of ``layer`` concatenated,
        a text's windows averaged), in eval mode: a fine-tuned model feeds
        clustering, retrieval or a domain adapter as an encoder does.

        Parameters
        ----------
        X : images or texts
            As for ``fit``.

        Returns
        -------
        ndarray of shape (n_samples, n_features), dtype float32
            One row per sample.
        """
        check_is_fitted(self, "net_")
        return self.net_.transform(X)

    @property
    def module_(self):
        """The trained network: the backbone (``module_.body``) and the head (``module_.head``)."""
        check_is_fitted(self, "net_")
        return self.net_.module_

    @property
    def history_(self):
        """The skorch history: losses, scores and ``trainable_groups`` per epoch."""
        check_is_fitted(self, "net_")
        return self.net_.history_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = True  # on a GPU; random_state makes CPU fits repeatable
        tags.input_tags.two_d_array = False
        tags.input_tags.three_d_array = True
        tags.input_tags.string = True
        return tags
