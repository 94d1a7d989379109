"""What fine-tuning adds to skorch: the backbone, freezing, learning rates, checked inputs."""

from __future__ import annotations

import numpy as np
import torch
from skorch.callbacks import EpochScoring, LRScheduler, PrintLog

from .._params import (
    BOOLEAN,
    CALLABLE,
    NONE,
    PATH,
    Device,
    InstanceOf,
    Interval,
    Options,
    validate_params,
)
from ..encoders._base import CACHE_CONSTRAINT
from ..encoders._image import preprocessing_at
from ._devices import _DeviceBatches
from ._freeze import Freeze
from ._head import make_head
from ._inputs import (
    AUGMENTATIONS,
    Samples,
    augment_batch,
    augmentation,
)
from ._model import TransferModel, add_lora, layer_groups, resolve_backbone
from ._prefix import frozen_outputs
from ._training import (
    TRAINING_CONSTRAINTS,
    check_hidden,
    check_targets,
    class_weights,
    early_stopping,
    encode_labels,
    seeded,
    validation_split,
)

SCHEDULES = ("plateau", "cosine")


class _FineTuner(_DeviceBatches):
    """What both fine-tuners add to skorch's nets (a mixin put before them)."""

    _parameter_constraints = {
        **{k: v for k, v in TRAINING_CONSTRAINTS.items() if k != "hidden"},
        "head": TRAINING_CONSTRAINTS["hidden"],
        "weights": [Options("default"), NONE, PATH],
        "image_size": [NONE, Interval(int, 8)],
        "max_seq_length": [NONE, Interval(int, 1)],
        "freeze": [InstanceOf((str, int, np.integer), "a freeze strategy")],
        "lr": [Interval(float, 0.0, low_open=True)],
        "backbone_lr": [Interval(float, 0.0), InstanceOf(str, "a ratio such as '0.1x'")],
        "schedule": [NONE, Options(*SCHEDULES)],
        "augment": [Options(*AUGMENTATIONS), CALLABLE],
        "device": [Device()],
        "precision": [Options("float32", "bfloat16")],
        "cache": CACHE_CONSTRAINT,
        "warm_start": [BOOLEAN],
        # skorch's own, checked here too: skorch would fail deep in training, or not at all.
        "max_epochs": [Interval(int, 1)],
        "batch_size": [Interval(int, 1)],
        "verbose": [BOOLEAN, Interval(int, 0)],
    }

    def __init__(
        self,
        backbone="efficientnet_lite0",
        *,
        weights="default",
        image_size=None,
        max_seq_length=None,
        freeze="backbone",
        head=(),
        dropout=0.0,
        activation="relu",
        lr=1e-3,
        backbone_lr="0.1x",
        optimizer=torch.optim.AdamW,
        max_epochs=10,
        batch_size=32,
        validation=0.1,
        patience=None,
        schedule=None,
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
        # skorch's own parameters come back through **kwargs when sklearn clones.
        kwargs.setdefault("module", TransferModel)
        kwargs.setdefault("criterion", self._default_criterion)
        kwargs.setdefault("train_split", None)  # ``validation`` makes the split
        super().__init__(
            optimizer=optimizer, lr=lr, max_epochs=max_epochs, batch_size=batch_size,
            callbacks=callbacks, warm_start=warm_start, verbose=verbose, device=device,
            **kwargs,
        )  # fmt: skip
        self.backbone = backbone
        self.weights = weights
        self.image_size = image_size
        self.max_seq_length = max_seq_length
        self.freeze = freeze
        self.head = head
        self.dropout = dropout
        self.activation = activation
        self.backbone_lr = backbone_lr
        self.validation = validation
        self.patience = patience
        self.schedule = schedule
        self.augment = augment
        self.precision = precision
        self.cache = cache
        self.random_state = random_state

    # -- checks --------------------------------------------------------------------------

    def _check_params(self):
        validate_params(self)
        check_hidden(self.head)
        self._freeze = Freeze.parse(self.freeze)
        self._backbone_lr()

    def _backbone_lr(self):
        """``backbone_lr`` as a number: absolute, or "<ratio>x" times ``lr``."""
        value = self.backbone_lr
        if not isinstance(value, str):
            return float(value)
        try:
            if not value.endswith("x"):
                raise ValueError
            return float(value[:-1]) * self.lr
        except ValueError:
            raise ValueError(
                f"backbone_lr must be a learning rate (e.g. 1e-4) or a ratio of lr "
                f"(e.g. '0.1x'), got {value!r}"
            ) from None

    def _samples(self, X, y, *, reset):
        """``X`` and ``y`` checked, as a dataset; ``reset`` learns classes / outputs anew."""
        spec = resolve_backbone(self.backbone)
        if reset:
            self.modality_ = spec.modality
        if self.modality_ != "image" and self.image_size is not None:
            raise ValueError(
                f"image_size is for image backbones; {spec.name!r} reads {spec.modality}: "
                f"leave image_size=None (got {self.image_size})"
            )
        if self.modality_ != "text" and self.max_seq_length is not None:
            raise ValueError(
                f"max_seq_length is for text backbones; {spec.name!r} reads {spec.modality}: "
                f"leave max_seq_length=None (got {self.max_seq_length})"
            )
        # Set in every fit: a warm start may train at another size (progressive resizing).
        self.preprocessing_ = (
            preprocessing_at(spec.preprocessing, self.image_size)
            if self.modality_ == "image"
            else None
        )
        samples = Samples.of(X, self.modality_, self.preprocessing_)
        if y is None:
            raise ValueError(f"{type(self).__name__} needs targets y to fit")
        if reset:
            y, self.classes_inferred_ = check_targets(y, len(samples), classifier=self._classifier)
            if not self._classifier:
                self.n_outputs_ = 1 if y.ndim == 1 else y.shape[1]
        elif self._classifier:
            check_targets(y, len(samples), classifier=True)  # lengths and missing labels
            y = encode_labels(y, self.classes_)
        else:
            y, _ = check_targets(y, len(samples), classifier=False)
        if not self._classifier and y.ndim == 1:
            y = y[:, None]  # MSELoss compares (n, 1) outputs with (n, 1) targets
        # A split too small fails now, before the backbone is even built.
        validation_split(self.validation, y.ravel() if self._classifier else y,
                         classifier=self._classifier, random_state=self.random_state)  # fmt: skip
        samples.y = y
        self._fit_targets = y  # for the loss weights, when the criterion is made
        return samples

    # -- fitting -------------------------------------------------------------------------

    def fit(self, X, y, **fit_params):
        """Fine-tune: a new head on the pre-trained backbone, layers frozen per ``freeze``.

        Every parameter and the input are checked before the model is built:
        bad labels, a wrong length, a validation split too small and a missing
        image file fail at once, naming the item; an image that cannot be
        decoded is named when its batch is first read.

        Parameters
        ----------
        X : images or texts
            As the backbone reads them: image paths, PIL images, arrays (a
            list, an (N, H, W, C) array, a Series); or texts.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Labels (any type, strings included) or regression targets.
        **fit_params : dict
            Passed on to skorch's ``fit``.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        reset = not (self.warm_start and self.initialized_)
        self._check_params()
        samples = self._samples(X, y, reset=reset)
        with seeded(self.random_state), self._on_device():
            return super().fit(samples, samples.y, **fit_params)

    def partial_fit(self, X, y=None, classes=None, **fit_params):
        """Train for ``max_epochs`` more epochs, from where the last fit left off.

        Parameters
        ----------
        X : images or texts
            As for :meth:`fit`.
        y : array-like
            Targets; a classifier's labels must be among ``classes_`` after
            the first fit.
        classes : ignored
            Accepted for skorch's signature; the classes are learned from
            the first ``y``.
        **fit_params : dict
            Passed on to skorch.

        Returns
        -------
        self : object
            The estimator.
        """
        if not isinstance(X, Samples):  # called by the user, not by fit
            self._check_params()
            samples = self._samples(X, y, reset=not self.initialized_)
            with seeded(self.random_state), self._on_device():
                return super().partial_fit(samples, samples.y, **fit_params)
        return super().partial_fit(X, y, **fit_params)

    def check_data(self, X, y=None):
        """Do nothing: ``fit`` has checked ``X`` and ``y`` before skorch sees them.

        Parameters
        ----------
        X : Dataset
            The checked samples.
        y : ndarray, optional
            The checked targets.
        """

    def fit_loop(self, X, y=None, **fit_params):
        # Where the frozen part's outputs are the same in every epoch, they are
        # computed once and the rest of the network trains on them.
        outputs = frozen_outputs(self, X)
        try:
            return super().fit_loop(X if outputs is None else outputs, y, **fit_params)
        finally:
            self.module_.cut_at = None

    def initialize_module(self):
        # Build the backbone, put the head on, and apply ``freeze``.
        from ..encoders._image_features import ImageFeatures, probe

        spec = resolve_backbone(self.backbone)
        body = spec.build(self.weights)
        if spec.modality == "image":
            body = ImageFeatures(body).to(memory_format=torch.channels_last)
            n_features = probe(body, self.preprocessing_, image_size=self.image_size)
        else:
            if self.max_seq_length is not None:  # the tokeniser truncates to it
                body.max_seq_length = self.max_seq_length
            n_features = body.get_embedding_dimension()
        n_out = len(self.classes_) if self._classifier else self.n_outputs_
        head = make_head(
            n_features, n_out, hidden=check_hidden(self.head), dropout=self.dropout,
            activation=self.activation,
        )  # fmt: skip
        groups = layer_groups(body, spec.modality)
        self._freeze.check(groups)
        pre = self.preprocessing_
        normalise = {"mean": pre.mean, "std": pre.std} if spec.modality == "image" else {}
        if self._freeze.kind == "lora":
            add_lora(body, self._freeze.rank)
        self.module_ = TransferModel(body, head, groups, **normalise)
        self.layer_groups_ = list(groups)
        return self

    def initialize_criterion(self):
        # The loss: cross-entropy (weighted per ``class_weight``) or mean squared error.
        kwargs = self.get_params_for("criterion")
        if self._classifier and self.class_weight is not None and "weight" not in kwargs:
            y = self._fit_targets
            kwargs["weight"] = torch.from_numpy(class_weights(self.class_weight, y, self.classes_))
        self.criterion_ = self.criterion(**kwargs)
        return self

    def initialize_optimizer(self, triggered_directly=None):
        # One optimizer, two parameter groups: the head (and adapters) and the backbone.
        named = dict(self.module_.named_parameters())
        new = [p for n, p in named.items() if n.startswith("head.") or "lora_" in n]
        body = [p for n, p in named.items() if n.startswith("body.") and "lora_" not in n]
        kwargs = self.get_params_for("optimizer")
        kwargs.pop("lr", None)
        groups = [{"params": new, "lr": self.lr}, {"params": body, "lr": self._backbone_lr()}]
        self.optimizer_ = self.optimizer(groups, lr=self.lr, **kwargs)
        return self

    def get_split_datasets(self, X, y=None, **fit_params):
        # Hold out ``validation`` of the samples (stratified for a classifier).
        y = np.asarray(y).ravel() if self._classifier else np.asarray(y)
        split = validation_split(
            self.validation, y, classifier=self._classifier,
            random_state=self.random_state,
        )  # fmt: skip
        if split is None:
            return X, None
        return split(X, y)

    @property
    def _default_callbacks(self):
        callbacks = [
            (n, c) for n, c in super()._default_callbacks if n not in ("print_log", "valid_acc")
        ]
        if self._classifier:  # on the class indices the net trains on, not the labels
            scoring = EpochScoring(_accuracy, name="valid_acc", lower_is_better=False)
            callbacks.append(("valid_acc", scoring))
        callbacks += early_stopping(self.patience, self.validation)
        if self.schedule == "plateau":
            monitor = "valid_loss" if self.validation is not None else "train_loss"
            policy = LRScheduler(policy="ReduceLROnPlateau", monitor=monitor)
            callbacks.append(("lr_scheduler", policy))
        elif self.schedule == "cosine":
            policy = LRScheduler(policy="CosineAnnealingLR", T_max=self.max_epochs)
            callbacks.append(("lr_scheduler", policy))
        return [*callbacks, ("print_log", PrintLog(keys_ignored=["trainable_groups"]))]

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        """Set this fit's learning rates and freeze strategy (for a warm start too).

        Parameters
        ----------
        net : object
            This estimator (skorch's hook signature).
        X, y : Dataset and ndarray, optional
            The training data.
        **kwargs : dict
            Passed on to skorch.
        """
        self._freeze = Freeze.parse(self.freeze)
        has_adapters = any("lora_" in n for n, _ in self.module_.named_parameters())
        if (self._freeze.kind == "lora") != has_adapters:
            raise ValueError(
                "freeze cannot switch to or from 'lora' in a warm start; fit anew "
                "(warm_start=False)"
            )
        self._freeze.check(self.module_.groups)
        head, body = self.optimizer_.param_groups
        head["lr"], body["lr"] = self.lr, self._backbone_lr()
        super().on_train_begin(net, X, y, **kwargs)

    def on_epoch_begin(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        """Freeze and unfreeze layer groups for this epoch; record which train.

        Parameters
        ----------
        net : object
            This estimator (skorch's hook signature).
        dataset_train, dataset_valid : Dataset, optional
            The training and validation data.
        **kwargs : dict
            Passed on to skorch.
        """
        super().on_epoch_begin(net, dataset_train, dataset_valid, **kwargs)
        if self._freeze.kind != "lora":
            epoch = len(self.history) - 1
            n_last = self._freeze.trainable(len(self.module_.groups), epoch)
            self.module_.set_trainable(n_last, everything=self._freeze.kind == "none")
        self.history.record("trainable_groups", self.module_.trainable_groups())

    def train_step_single(self, batch, **fit_params):
        transform = augmentation(self.augment) if self.modality_ == "image" else None
        if transform is not None:
            X, y = batch
            batch = augment_batch(transform, X), y
        return super().train_step_single(batch, **fit_params)

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_fit_targets", None)
        return state


def _accuracy(net, X, y):
    return float(np.mean(net.predict_proba(X).argmax(axis=1) == np.asarray(y)))
