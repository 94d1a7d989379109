"""The network a fine-tuner trains: a pre-trained body, its layer groups, and a new head."""

from __future__ import annotations

from collections import OrderedDict

from torch import nn

from .. import backbones, images
from ..backbones import windows
from ..backbones._batchnorm import BATCH_NORMS
from ..exceptions import MissingDependencyError


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
    batchnorm : {"eval", "train"}, default="eval"
        Whether BatchNorm layers that train normalise with the statistics of
        each batch and update their running statistics ("train"), or keep the
        pre-trained ones, training only their scale and shift ("eval").
    """

    # Models saved before ``batchnorm`` existed trained their BatchNorm layers' statistics.
    batchnorm = "train"

    def __init__(self, body, head, groups, *, mean=None, std=None, batchnorm="eval"):
        super().__init__()
        self.batchnorm = batchnorm
        self.body = body
        self.head = head
        self.groups = groups
        self.is_image = mean is not None
        self.cut_at = None  # see ``cut``
        if self.is_image:
            stats = images.channel_stats(mean, std)
            self.register_buffer("mean", stats[0], persistent=False)
            self.register_buffer("std", stats[1], persistent=False)

    def forward(self, x=None, **inputs):
        return self.head(self.features(x, **inputs))

    def features(self, x=None, *, frozen=None, text_index=None, **tokens):
        """The body's feature vectors: what the head reads.

        ``frozen`` is what :meth:`frozen_output` gave (only the part after the
        cut runs); ``text_index`` says which text each window of ``tokens``
        belongs to, when long texts are read as windows.
        """
        if frozen is not None:
            return frozen if self.cut_at == "body" else self.body.forward_from(frozen, self.cut_at)
        if self.is_image:
            return self.body(self._normalised(x))
        out = self.body(tokens)["sentence_embedding"]
        if text_index is None:
            return out
        lengths = tokens["attention_mask"].sum(dim=1)
        return windows.pooled(out, text_index, lengths, int(text_index.max()) + 1)

    def _normalised(self, x):
        return images.normalise(x, self.mean, self.std)

    def cut(self, n_last):
        """Cut the body before its last ``n_last`` layer groups; False where it cannot be.

        Afterwards :meth:`frozen_output` gives what the part before the cut
        outputs, and ``forward(frozen=...)`` runs the rest from there. When that
        part does not train, fine-tuning computes it once per fit. All of the
        body can be cut off (``n_last=0``); an image body also where its
        backbone is a chain of stages (:meth:`ImageBackbone.stages`).
        """
        if n_last == 0:
            self.cut_at = "body"
        elif self.is_image and n_last < len(self.groups):
            names = {n for group in list(self.groups.values())[-n_last:] for n in group}
            self.cut_at = self.body.stage_of(p for n, p in self.named_parameters() if n in names)
        else:
            self.cut_at = None
        return self.cut_at not in (None, 0)

    def frozen_output(self, x=None, **tokens):
        """The output of the body's part before the cut, for a batch of inputs."""
        if not self.is_image:
            return self.features(**tokens)
        x = self._normalised(x)
        return self.body(x) if self.cut_at == "body" else self.body.forward_until(x, self.cut_at)

    def train(self, mode=True):
        """Set training mode, keeping the frozen parts of the body in eval mode.

        A frozen part computes what it computed before fine-tuning: a module
        whose parameters all stay frozen runs in eval mode (no dropout), and a
        BatchNorm layer whose own parameters are frozen keeps normalising with
        its pre-trained running statistics, and never updates them. (So the
        frozen part's outputs can be computed once, in eval mode, and reused.)
        With ``batchnorm="eval"`` every BatchNorm layer does so.
        """
        super().train(mode)
        if mode:
            for module in self.body.modules():  # parents come before their children
                if not module.training:
                    continue
                own = not any(p.requires_grad for p in module.parameters(recurse=False))
                parameters = list(module.parameters())
                keep_stats = own or self.batchnorm == "eval"
                if (isinstance(module, BATCH_NORMS) and keep_stats) or (
                    parameters and not any(p.requires_grad for p in parameters)
                ):
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
    return OrderedDict(
        (module, [f"body.{module}.{p}" for p, _ in body.get_submodule(module).named_parameters()])
        for module in backbones.transformer_layer_groups(body)
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
