"""A fitted estimator's skorch net (``net_``) as plain data, and the net rebuilt from it.

What pickle, joblib and ``skops.io`` keep of a fine-tuner or a head: no torch
object, so that skops can write it (it cannot construct a tensor) and any
machine, with or without a GPU, can read it. The net becomes its module's
weights (every array: a trained network is its weights), their digest, its
history (as JSON), the device it ran on, its loss's
class weights, and the values it was built with. Loading builds the net as
``fit`` does, initialised, puts the arrays in and checks the digest
(:class:`~sktransfer.exceptions.WeightsMismatchError` otherwise); the model
then predicts and transforms as it did.

A loaded model trains on (``partial_fit``, ``warm_start``) from its weights,
with a fresh optimizer: AdamW's moments, a schedule's step and the callbacks'
state (early stopping's best loss) start anew, as in a fit.

States that earlier releases pickled, with the skorch net itself, load as they
did.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import warnings

import numpy as np
import torch

from .._utils import resolve_device
from .._utils._module_state import module_state, restore_module
from ._freeze import Freeze
from ._training import backbone_rate, check_hidden, seeded

# Where a state keeps its net's description; never an attribute of a loaded estimator.
SAVED = "_net_saved"

# The fine-tuner's net's values, as it was last built or carried: ``fit`` resolved the
# "auto" ones, and a later set_params does not change the trained net.
NET_VALUES = (
    "weights", "image_size", "layer", "max_seq_length", "long_texts", "head_init",
    "batchnorm", "adapt", "adapt_weight", "hidden", "dropout", "activation", "validation",
    "patience", "schedule", "augment", "precision", "class_weight", "lr", "max_epochs",
    "batch_size",
)  # fmt: skip

# Parameters that may hold a class of torch's own: such a class travels by its name,
# which skops reads as a string, where it would ask the user to trust the type.
_CLASSES = ("optimizer", "activation")
_NAMESPACES = ("torch.optim", "torch.nn")


def plain(value):
    """``value`` with numpy and torch scalars and arrays as Python numbers and lists.

    Dicts, lists and tuples are walked; any other object is kept as it is.
    """
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(plain(v) for v in value)
    if isinstance(value, (np.generic, np.ndarray, torch.Tensor)):
        return value.tolist()
    return value


def by_name(value):
    """A class of ``torch.optim`` or ``torch.nn`` as its name ("torch.optim.AdamW")."""
    for namespace in _NAMESPACES:
        module = importlib.import_module(namespace)
        if isinstance(value, type) and getattr(module, value.__name__, None) is value:
            return f"{namespace}.{value.__name__}"
    return value


def from_name(value):
    """What :func:`by_name` named: a string of another form is returned as it is."""
    if isinstance(value, str) and value.startswith(tuple(f"{n}." for n in _NAMESPACES)):
        namespace, _, name = value.rpartition(".")
        found = getattr(importlib.import_module(namespace), name, None)
        if isinstance(found, type):
            return found
    return value


def history_data(history):
    """A skorch history as one JSON string; as lists and dicts where JSON cannot hold it."""
    rows = plain(list(history))
    try:
        # One string: skops writes each number of a list as a node of its own, and a
        # long fit's losses per batch would take megabytes (15 for 10,000 batches).
        return json.dumps(rows)
    except (TypeError, ValueError):  # a callback recorded some object: kept as it is
        return rows


def describe(net):
    """What every persisted net keeps: weights, loss weights, history and device."""
    criterion = module_state(net.criterion_)["arrays"]
    return {
        "module": module_state(net.module_),
        "criterion": criterion,
        "history": history_data(net.history_),
        "device": str(net.device),
    }


def criterion_params(saved):
    """The loss's saved arrays (a class weight) as the net's ``criterion__`` parameters."""
    return {f"criterion__{k}": torch.from_numpy(np.array(v)) for k, v in saved["criterion"].items()}


def loading_device(saved):
    """Where a loaded net runs: its saved device, or the CPU (with a warning) if this
    machine lacks it."""
    return str(resolve_device(saved["device"]))


def restore(net, saved, *, network):
    """Put ``saved``'s weights (their digest checked) and history in the initialised ``net``."""
    from skorch.history import History

    restore_module(saved["module"], net.module_, network=network, inplace=True)
    history = saved["history"]
    net.history_ = History(json.loads(history) if isinstance(history, str) else history)
    return net


def _initialised(build):
    # Every random initialisation here is overwritten by the saved weights: the
    # caller's generators are left as they were.
    with seeded(0):
        return build().initialize()


class PersistsNet:
    """``__getstate__`` / ``__setstate__`` that keep ``net_`` as plain data, and rebuild it.

    A subclass describes its net (:meth:`_describe_net`) and builds it again
    (:meth:`_rebuild_net`).
    """

    def __getstate__(self):
        state = dict(super().__getstate__())  # object's is the instance's own __dict__
        if "net_" in state:
            state[SAVED] = self._describe_net(state.pop("net_"))
        for name in _CLASSES:
            if name in state:
                state[name] = by_name(state[name])
        return state

    def __setstate__(self, state):
        saved = state.pop(SAVED, None)
        for name in _CLASSES:
            if name in state:
                state[name] = from_name(state[name])
        super().__setstate__(state)
        if saved is not None:
            self._rebuild_net(saved)

    def _describe_net(self, net):
        return describe(net)

    def _rebuild_net(self, saved):
        raise NotImplementedError


class PersistsFineTunedNet(PersistsNet):
    """Persistence for the fine-tuners: their net rebuilt as ``fit`` builds it.

    The rebuilt net reads no pre-trained weights file when it need not: it is
    built from a random initialisation (``weights=None``), which every saved
    array then overwrites, wherever that gives the same state dict (the
    built-in, timm and torchvision backbones); else (text backbones, a
    plugin's without a random initialisation) from the weights it was fitted
    with.
    """

    def _describe_net(self, net):
        values = {name: plain(getattr(net, name)) for name in NET_VALUES}
        values["activation"] = by_name(values["activation"])
        if hasattr(net, "backbone_lr_"):
            rate = float(net.backbone_lr_)
        else:  # sktransfer 0.1.0's nets kept the ratio only ("0.1x")
            rate = backbone_rate(net.backbone_lr, net.lr)
        return {
            **describe(net),
            "values": values,
            "freeze": dataclasses.asdict(net._freeze),
            "backbone_lr": rate,
            "adabn_layers": getattr(net, "adabn_layers_", None),
        }

    def _rebuild_net(self, saved):
        with warnings.catch_warnings():
            # fit warned of these (a deprecated name, a missing device) already; the
            # saved device is resolved below, with its own warning.
            warnings.simplefilter("ignore")
            params = self._check_params()
        values = {**saved["values"], "activation": from_name(saved["values"]["activation"])}
        params.update(values, **criterion_params(saved))
        params["freeze"] = Freeze(**saved["freeze"])
        params["backbone_lr"] = saved["backbone_lr"]
        params["device"] = loading_device(saved)
        arrays = saved["module"]["arrays"]
        net = None
        if params["weights"] is not None:
            try:
                net = self._initialised_net({**params, "weights": None})
            except Exception:  # a backbone without a random initialisation: read its weights
                net = None
            if net is not None and not _fits(net.module_, arrays):
                net = None
        if net is None:
            net = self._initialised_net(params)
        net.weights = params["weights"]  # what a warm start and the cache know it by
        name = str(getattr(self.backbone, "name", self.backbone))
        restore(net, saved, network=f"backbone {name!r}")
        if getattr(self, "probe_", None) is not None:
            net.probe_ = self.probe_
        if saved["adabn_layers"] is not None:
            net.adabn_layers_ = saved["adabn_layers"]
        self._fitted(net)

    def _initialised_net(self, params):
        targets = {"classes": self.classes_} if self._classifier else {"n_outputs": self.n_outputs_}

        def build():
            net = self._net_class(**params)
            return net.prepare(
                modality=self.modality_, preprocessing=self.preprocessing_, y=None, **targets
            )

        return _initialised(build)


def _fits(module, arrays):
    """Whether ``module``'s state dict has the names and shapes of ``arrays``."""
    expected = module.state_dict()
    return expected.keys() == arrays.keys() and all(
        tuple(expected[k].shape) == np.shape(v) for k, v in arrays.items()
    )


class PersistsHeadNet(PersistsNet):
    """Persistence for :class:`~sktransfer.HeadClassifier` and
    :class:`~sktransfer.HeadRegressor`: their head rebuilt as ``fit`` builds it."""

    def _describe_net(self, net):
        head = net.get_params_for("module")
        return {**describe(net), "head": {**head, "activation": by_name(head["activation"])}}

    def _rebuild_net(self, saved):
        head = {**saved["head"], "activation": from_name(saved["head"]["activation"])}
        head["hidden"] = check_hidden(head["hidden"])
        weight = saved["criterion"].get("weight")

        def build():
            return self._net(head, class_weights=weight, device=loading_device(saved))

        net = _initialised(build)
        self.net_ = restore(net, saved, network=f"the {type(self).__name__}'s network")
