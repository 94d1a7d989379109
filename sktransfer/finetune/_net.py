"""The skorch net a fine-tuner trains: backbone, head, freezing, learning rates, batches.

The public estimators (:class:`~sktransfer.FineTuneClassifier`,
:class:`~sktransfer.FineTuneRegressor`) check every parameter and the input,
then build one of these nets with the checked values and train it; it is their
``net_``. What it adds to skorch's nets is all here: the model (a pre-trained
body and a new head), the freeze strategy applied epoch by epoch, a smaller
learning rate for the body, the frozen part's outputs computed once, image
augmentation, and batches collated and sent to the device.
"""

from __future__ import annotations

import re
import sys

import numpy as np
import torch
from skorch import NeuralNetClassifier, NeuralNetRegressor
from skorch.callbacks import EpochScoring, PrintLog

from .. import backbones
from .._utils import resolve_device
from ..backbones import windows
from . import _adapt as adaptation
from ._head import make_head
from ._inputs import Samples, augment_batch, augmentation, collate_samples, to_device
from ._model import TransferModel, add_lora, layer_groups
from ._prefix import frozen_outputs
from ._probe import features as body_features
from ._probe import init_head
from ._schedule import schedule_callbacks
from ._training import class_weights, early_stopping, validation_split

# skorch colours the best scores of its epoch table; in a file or a pipe the codes are noise.
_COLOUR = re.compile(r"\x1b\[[0-9;]*m")


def print_epoch(line):
    """skorch's epoch table, its colour codes kept for a terminal only."""
    print(line if sys.stdout.isatty() else _COLOUR.sub("", line), flush=True)


# What a fine-tuner's backbone may read, tried in this order for an unregistered name.
MODALITIES = ("image", "text")


class _TransferNet(adaptation.AdaptingNet):
    """What fine-tuning adds to skorch's nets (a mixin put before them).

    Parameters
    ----------
    backbone, weights, image_size, layer, max_seq_length, long_texts, head_init, batchnorm,
    hidden, dropout, activation, validation, patience, schedule, augment, precision, cache,
    random_state, class_weight
        The estimator's parameters, checked, "auto" ones resolved.
    freeze : Freeze
        The parsed freeze strategy.
    backbone_lr : float
        The body's learning rate, a ratio resolved.
    **kwargs
        skorch's own parameters (``lr``, ``max_epochs``, ``optimizer__...``).
    """

    # What models saved before these parameters existed did.
    long_texts = "truncate"
    head_init = "random"
    batchnorm = "train"
    layer = None
    adapt = "none"
    adapt_weight = 1.0

    def __init__(
        self,
        *,
        backbone,
        weights,
        image_size,
        max_seq_length,
        freeze,
        hidden,
        dropout,
        activation,
        backbone_lr,
        validation,
        patience,
        schedule,
        augment,
        precision,
        cache,
        random_state,
        class_weight=None,
        layer=None,
        long_texts="truncate",
        head_init="random",
        batchnorm="train",
        adapt="none",
        adapt_weight=1.0,
        **kwargs,
    ):
        super().__init__(module=TransferModel, train_split=None, **kwargs)
        self.backbone = backbone
        self.weights = weights
        self.image_size = image_size
        self.layer = layer
        self.max_seq_length = max_seq_length
        self.long_texts = long_texts
        self.head_init = head_init
        self.batchnorm = batchnorm
        self.adapt = adapt
        self.adapt_weight = adapt_weight
        self._freeze = freeze
        self.hidden = hidden
        self.dropout = dropout
        self.activation = activation
        self.backbone_lr_ = backbone_lr
        self.validation = validation
        self.patience = patience
        self.schedule = schedule
        self.augment = augment
        self.precision = precision
        self.cache = cache
        self.random_state = random_state
        self.class_weight = class_weight

    def carry(self, params):
        """Take a warm start's parameters (checked, as ``__init__`` takes them), keeping
        the trained weights."""
        freeze = params["freeze"]
        has_adapters = any("lora_" in n for n, _ in self.module_.named_parameters())
        if (freeze.kind == "lora") != has_adapters:
            raise ValueError(
                "freeze cannot switch to or from 'lora' in a warm start; fit anew "
                "(warm_start=False)"
            )
        self._freeze, self.backbone_lr_ = freeze, params["backbone_lr"]
        names = "patience", "schedule", "augment", "precision", "validation", "cache"
        for name in (*names, "long_texts", "batchnorm", "adapt", "adapt_weight"):
            setattr(self, name, params[name])
        self.set_params(**{k: params[k] for k in ("lr", "max_epochs", "batch_size", "verbose")})
        self.initialize_callbacks()  # patience, schedule and validation choose them

    def prepare(self, *, modality, preprocessing, y, classes=None, n_outputs=None, probe=False):
        """Set what the data says before a fit: its modality, image preprocessing and targets.

        ``probe`` starts the head as a linear probe in this fit (a fresh one).
        """
        self._probe_pending = probe
        self.modality_ = modality
        self.preprocessing_ = preprocessing
        self._fit_targets = y  # for the loss weights, when the criterion is made
        if classes is not None:
            self.classes_inferred_ = classes
        if n_outputs is not None:
            self.n_outputs_ = n_outputs
        return self

    def check_data(self, X, y=None):
        """Do nothing: ``fit`` has checked ``X`` and ``y`` before skorch sees them.

        Parameters
        ----------
        X : Dataset
            The checked samples.
        y : ndarray, optional
            The checked targets.
        """

    def fit_loop(self, X, y=None, epochs=None, **fit_params):
        if self.adapt == "adabn":  # AdaBN: each domain normalised by its own statistics
            self._adabn(X, y, target=False)
        # Where the frozen part's outputs are the same in every epoch, they are
        # computed once and the rest of the network trains on them.
        outputs = frozen_outputs(self, X)
        data = X if outputs is None else outputs
        epochs = self.max_epochs if epochs is None else epochs
        # One split for the probe and the epochs: the probe never sees validation samples.
        self._split = self.get_split_datasets(data, y)
        # The adaptation losses read the head's input, the features of each batch.
        hook = self.module_.head.register_forward_pre_hook(self._keep_features)
        try:
            if getattr(self, "_probe_pending", False):
                self.probe_ = init_head(self, self._split[0])
                # An epoch that only measures the probe, so early stopping can return it.
                self._probe_epoch, epochs = True, epochs + 1
            super().fit_loop(data, y, epochs=epochs, **fit_params)
        finally:
            hook.remove()
            self.module_.cut_at = None
            self._split, self._probe_pending, self._probe_epoch = None, False, False
            self._features = None
        if self.adapt == "adabn":
            self._adabn(X, y, target=True)
        return self

    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        if training and getattr(self, "_probe_epoch", False):
            # The probe's epoch: its training loss is measured, nothing trains.
            self._probe_epoch = False
            step_fn = self.validation_step
            training = False
        return super().run_single_epoch(iterator, training, prefix, step_fn, **fit_params)

    def initialize_module(self):
        # Build the backbone, put the head on, and apply ``freeze``.
        spec = backbones.resolve(self.backbone, modality=MODALITIES)
        body = spec.load(self.weights)
        if spec.modality == "image":
            body = backbones.ImageFeatures(body, layer=self.layer)
            body = body.to(memory_format=torch.channels_last)
            n_features = body.feature_size(
                self.preprocessing_.input_size, image_size=self.image_size, backbone=spec.name
            )
        else:
            if self.max_seq_length is not None:  # the tokeniser truncates to it
                body.max_seq_length = self.max_seq_length
            n_features = body.get_embedding_dimension()
        n_out = len(self.classes_) if self._classifier else self.n_outputs_
        head = make_head(
            n_features, n_out, hidden=self.hidden, dropout=self.dropout,
            activation=self.activation,
        )  # fmt: skip
        groups = layer_groups(body, spec.modality)
        self._freeze.check(groups)
        pre = self.preprocessing_
        normalise = {"mean": pre.mean, "std": pre.std} if spec.modality == "image" else {}
        if self._freeze.kind == "lora":
            add_lora(body, self._freeze.rank)
        self.module_ = TransferModel(body, head, groups, batchnorm=self.batchnorm, **normalise)
        if self.adapt == "dann":
            self.module_.domain = adaptation.DomainClassifier(n_features)
        self.layer_groups_ = list(groups)
        return self

    def initialize_criterion(self):
        # The loss: cross-entropy (weighted per ``class_weight``) or mean squared error.
        kwargs = self.get_params_for("criterion")
        if self._classifier and self.class_weight is not None and "weight" not in kwargs:
            y = self._fit_targets[self._fit_targets >= 0]  # the labelled samples
            kwargs["weight"] = torch.from_numpy(class_weights(self.class_weight, y, self.classes_))
        self.criterion_ = self.criterion(**kwargs)
        return self

    def initialize_optimizer(self, triggered_directly=None):
        # One optimizer, two parameter groups: the head (and adapters) and the backbone.
        named = dict(self.module_.named_parameters())
        new = [p for n, p in named.items() if n.startswith(("head.", "domain.")) or "lora_" in n]
        body = [p for n, p in named.items() if n.startswith("body.") and "lora_" not in n]
        kwargs = self.get_params_for("optimizer")
        kwargs.pop("lr", None)
        groups = [{"params": new, "lr": self.lr}, {"params": body, "lr": self.backbone_lr_}]
        self.optimizer_ = self.optimizer(groups, lr=self.lr, **kwargs)
        return self

    def get_split_datasets(self, X, y=None, **fit_params):
        # Hold out ``validation`` of the samples (stratified for a classifier), once per fit.
        if getattr(self, "_split", None) is not None:
            return self._split
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
            scoring = EpochScoring(accuracy, name="valid_acc", lower_is_better=False)
            callbacks.append(("valid_acc", scoring))
        callbacks += early_stopping(self.patience, self.validation)
        callbacks += schedule_callbacks(self.schedule, self.validation)
        printed = PrintLog(keys_ignored=["trainable_groups"], sink=self._print_epoch)
        return [*callbacks, ("print_log", printed)]

    def _print_epoch(self, line):
        # skorch's PrintLog leaves verbosity to a sink of one's own: honour verbose=0 here.
        if self.verbose:
            print_epoch(line)

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
        has_adapters = any("lora_" in n for n, _ in self.module_.named_parameters())
        if (self._freeze.kind == "lora") != has_adapters:
            raise ValueError(
                "freeze cannot switch to or from 'lora' in a warm start; fit anew "
                "(warm_start=False)"
            )
        self._freeze.check(self.module_.groups)
        head, body = self.optimizer_.param_groups
        head["lr"], body["lr"] = self.lr, self.backbone_lr_
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
        if getattr(self, "_probe_epoch", False):
            self.history.record("probe", True)
        if self._freeze.kind != "lora":
            epoch = sum(1 for row in self.history[:-1] if not row.get("probe"))
            n_last = self._freeze.trainable(len(self.module_.groups), epoch)
            self.module_.set_trainable(n_last, everything=self._freeze.kind == "none")
        self.history.record("trainable_groups", self.module_.trainable_groups())

    def train_step_single(self, batch, **fit_params):
        transform = augmentation(self.augment) if self.modality_ == "image" else None
        if transform is not None:
            X, y = batch
            batch = augment_batch(transform, X), y
        return super().train_step_single(batch, **fit_params)

    # -- batches and devices ------------------------------------------------------------

    def get_params_for(self, prefix):
        params = super().get_params_for(prefix)
        if prefix == "iterator_train":
            params.setdefault("shuffle", True)  # skorch's DataLoader does not shuffle by default
        if prefix in ("iterator_train", "iterator_valid"):
            params.setdefault("collate_fn", collate_samples)
            params.setdefault("pin_memory", torch.device(self.device).type == "cuda")
        return params

    def model_inputs(self, x):
        """A batch as the module takes it (texts tokenised), on the device."""
        if self.modality_ == "text" and not isinstance(x, dict):
            body = self.module_.body
            if self.long_texts == "windows":  # every window of every text, and whose it is
                rows, text_index = windows.windows(body, list(x))
                x = {**windows.batch(body, rows), "text_index": torch.tensor(text_index)}
            else:
                tokens = body.preprocess(list(x))
                x = {k: v for k, v in tokens.items() if isinstance(v, torch.Tensor)}
        return to_device(x, torch.device(self.device))

    def infer(self, x, **fit_params):
        x = self.model_inputs(x)
        device = torch.device(self.device)
        enabled = self.precision == "bfloat16"
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=enabled):
            out = super().infer(x, **fit_params)
        return out.float()

    def transform(self, X):
        """The head's input for ``X``: the trained body's features, in eval mode."""
        samples = Samples.of(X, self.modality_, self.preprocessing_)
        return body_features(self, self.get_dataset(samples))[0]

    def forward_iter(self, X, training=False, device="cpu"):
        # Every prediction goes through here: X checked as the backbone reads it.
        samples = Samples.of(X, self.modality_, self.preprocessing_)
        yield from super().forward_iter(samples, training, device)

    def __getstate__(self):
        state = super().__getstate__()
        for name in ("_fit_targets", "_split", "_probe_pending", "_probe_epoch"):
            state.pop(name, None)
        return state

    def __setstate__(self, state):
        # A model fitted on a GPU loads where there is none: skorch maps its tensors
        # to the device given, which must be a real one (a warning says so).
        state["device"] = str(resolve_device(state["device"]))
        super().__setstate__(state)


def accuracy(net, X, y):
    y = np.asarray(y)
    labelled = y >= 0  # unlabelled samples (adapt) have no accuracy
    predicted = net.predict_proba(X).argmax(axis=1)
    return float(np.mean(predicted[labelled] == y[labelled])) if labelled.any() else np.nan


class TransferNetClassifier(_TransferNet, NeuralNetClassifier):
    """The net of :class:`~sktransfer.FineTuneClassifier`: cross-entropy on class indices."""

    _classifier = True
    estimator = "FineTuneClassifier"  # the public estimator whose net it is

    def __init__(self, **kwargs):
        super().__init__(criterion=torch.nn.CrossEntropyLoss, **kwargs)


class TransferNetRegressor(_TransferNet, NeuralNetRegressor):
    """The net of :class:`~sktransfer.FineTuneRegressor`: mean squared error."""

    _classifier = False
    estimator = "FineTuneRegressor"

    def __init__(self, **kwargs):
        super().__init__(criterion=torch.nn.MSELoss, **kwargs)
