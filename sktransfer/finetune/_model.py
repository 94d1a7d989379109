"""The network a fine-tuner trains: a pre-trained body, its layer groups, and a new head."""

from __future__ import annotations

import os
from collections import OrderedDict

import torch
from torch import nn

from .. import backbones
from ..exceptions import AmbiguousBackboneError, MissingDependencyError, UnknownBackboneError


def resolve_backbone(backbone):
    """The spec of ``backbone``, whose modality decides what the estimator reads.

    Registered names, loaded models and timm names are found as such; a
    sentence-transformers model that is not registered is named by its path
    or its full Hugging Face name (``"org/name"``), so that an unknown bare
    name gets the image registry's close names, not a Hub look-up.
    """
    try:
        return backbones.resolve(backbone, modality="image")
    except AmbiguousBackboneError:
        raise
    except UnknownBackboneError:
        name = os.fspath(backbone) if isinstance(backbone, (str, os.PathLike)) else ""
        if "/" not in name and os.sep not in name and not os.path.exists(name):
            raise
    except (TypeError, ValueError):  # a text model, or a backbone of another modality
        pass
    return backbones.resolve(backbone, modality="text")


# timm's BatchNormAct2d and the like subclass these.
BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm)


class TransferModel(nn.Module):
    """A pre-trained body and a new head; the body's parameters in ordered layer groups.

    Parameters
    ----------
    body : nn.Module
        Images: an ``ImageFeatures`` (uint8 or [0, 1] batches in, normalised
        here); text: a ``SentenceTransformer`` (tokenised batches in).
    head : nn.Module
        From the body's feature vector to the outputs.
    groups : OrderedDict of str to list of str
        Names (in this model) of the body's parameters, by layer group, input
        to output.
    mean, std : sequence of 3 float, optional
        Image normalisation.
    """

    def __init__(self, body, head, groups, *, mean=None, std=None):
        super().__init__()
        self.body = body
        self.head = head
        self.groups = groups
        self.is_image = mean is not None
        if self.is_image:
            self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
            self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)

    def forward(self, x=None, **tokens):
        if self.is_image:
            x = x.float().div(255.0) if x.dtype == torch.uint8 else x
            x = ((x - self.mean) / self.std).contiguous(memory_format=torch.channels_last)
            return self.head(self.body(x))
        return self.head(self.body(tokens)["sentence_embedding"])

    def train(self, mode=True):
        """Set training mode, keeping frozen BatchNorm layers in eval mode.

        A BatchNorm layer whose parameters do not train keeps normalising with
        its pre-trained running statistics, and never updates them.
        """
        super().train(mode)
        if mode:
            for module in self.body.modules():
                frozen = not any(p.requires_grad for p in module.parameters(recurse=False))
                if isinstance(module, BATCH_NORMS) and frozen:
                    module.eval()
        return self

    def set_trainable(self, n_last, *, everything=False):
        """Let the head and the last ``n_last`` layer groups train; freeze the rest.

        ``everything`` also trains the body's parameters outside every group.
        """
        parameters = dict(self.body.named_parameters(prefix="body"))
        trainable = set()
        if n_last:
            for names in list(self.groups.values())[-n_last:]:
                trainable.update(names)
        for name, parameter in parameters.items():
            parameter.requires_grad_(everything or name in trainable)
        self.head.requires_grad_(True)

    def trainable_groups(self):
        """Names of the layer groups whose parameters all train now."""
        parameters = dict(self.named_parameters())
        return [
            group
            for group, names in self.groups.items()
            if names and all(n in parameters and parameters[n].requires_grad for n in names)
        ]


def layer_groups(body, modality):
    """Parameter names (prefixed "body.") of each layer group of ``body``, input to output."""
    if modality == "image":
        groups = body.backbone.layer_groups()
        return OrderedDict(
            (name, [f"body.backbone.{p}" for p in names]) for name, names in groups.items()
        )
    from ..backbones._sentence_transformers import transformer_layer_groups

    return OrderedDict(
        (module, [f"body.{module}.{p}" for p, _ in body.get_submodule(module).named_parameters()])
        for module in transformer_layer_groups(body)
    )


def add_lora(body, rank):
    """Put rank-``rank`` LoRA adapters on the body's linear and convolution layers (PEFT).

    Grouped (depthwise) convolutions are left out: PEFT's convolution adapters
    are for dense ones. Everything but the adapters is frozen.
    """
    try:
        from peft import LoraConfig, inject_adapter_in_model
    except ImportError as error:
        raise MissingDependencyError(
            "freeze='lora' needs the peft library: pip install 'sktransfer[lora]'"
        ) from error
    targets = [
        name
        for name, module in body.named_modules()
        if isinstance(module, nn.Linear) or (isinstance(module, nn.Conv2d) and module.groups == 1)
    ]
    if not targets:
        raise ValueError("freeze='lora' found no linear or convolution layer in the backbone")
    config = LoraConfig(r=rank, lora_alpha=rank, target_modules=targets)
    inject_adapter_in_model(config, body)
    for name, parameter in body.named_parameters():
        parameter.requires_grad_("lora_" in name)
    return body
