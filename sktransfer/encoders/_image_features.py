"""The feature vector an image estimator takes from a backbone: its pooling and its layer."""

from __future__ import annotations

import torch
from torch import nn

from ..backbones._image import pool


class _StopForward(Exception):
    pass


class ImageFeatures(nn.Module):
    """``backbone``'s features of a batch, pooled into one vector per image.

    Parameters
    ----------
    backbone : ImageBackbone
        The model.
    pooling : {"auto", "avg", "max", "flatten", "cls"}
        "auto" is the backbone's own ``forward_head`` (what its classifier
        received) for the last layer, and "avg" for an intermediate ``layer``.
    layer : str, optional
        A layer group or a dotted module path whose output is taken instead of
        the last one; the forward pass stops there.

    Attributes
    ----------
    pooling : str
        The pooling in use: "pre_logits" (the backbone's own) or one of the
        explicit ones.
    """

    def __init__(self, backbone, pooling="auto", layer=None):
        super().__init__()
        self.backbone = backbone
        self.layer = layer
        if layer is not None:
            try:
                backbone.layer_module(layer)
            except AttributeError:
                groups = list(backbone.layer_groups())
                raise ValueError(
                    f"the backbone has no layer {layer!r}; its layer groups are {groups} "
                    "(a dotted module path, e.g. a block inside one, also works)"
                ) from None
        if pooling == "auto":
            pooling = "pre_logits" if layer is None else "avg"
        self.pooling = pooling

    def forward(self, x):
        if self.pooling == "pre_logits":
            return self.backbone(x)
        out = self.backbone.forward_features(x) if self.layer is None else self._until_layer(x)
        return self._pooled(out)

    def _pooled(self, out):
        if self.pooling == "pre_logits":
            return self.backbone.forward_head(out, pre_logits=True)
        if self.pooling == "cls" and out.ndim != 3:
            raise ValueError(
                "pooling='cls' needs a transformer's tokens; this output is a feature map"
            )
        return pool(out, self.pooling, self.backbone.num_prefix_tokens)

    def stage_of(self, parameters):
        """Index of the first backbone stage that uses any of ``parameters``.

        The number of stages when none does (they are used after the stages,
        in the pre-logits layers); None when the backbone is no chain of
        stages (:meth:`ImageBackbone.stages`) or the features come from an
        inner ``layer``.
        """
        stages = self.backbone.stages() if self.layer is None else None
        if stages is None:
            return None
        wanted = {id(p) for p in parameters}
        for index, stage in enumerate(stages):
            if any(id(p) in wanted for p in stage.parameters()):
                return index
        return len(stages)

    def forward_until(self, x, stop):
        """The output of the backbone's stages before ``stop`` (see :meth:`stage_of`)."""
        for stage in self.backbone.stages()[:stop]:
            x = stage(x)
        return x

    def forward_from(self, x, start):
        """The features, from the output of the stages before ``start``."""
        for stage in self.backbone.stages()[start:]:
            x = stage(x)
        return self._pooled(x)

    def _until_layer(self, x):
        """The output of ``layer``: a forward hook captures it and ends the pass early.

        The whole forward pass runs up to there, so the layers of ``forward_head``
        (a "pre_logits" group) can be taken too.
        """
        captured = []

        def hook(module, inputs, output):
            captured.append(output)
            raise _StopForward

        handle = self.backbone.layer_module(self.layer).register_forward_hook(hook)
        try:
            self.backbone(x)
        except _StopForward:
            pass
        finally:
            handle.remove()
        if not captured:
            raise ValueError(
                f"layer {self.layer!r} is not used in the backbone's forward pass; "
                f"its layer groups are {list(self.backbone.layer_groups())}"
            )
        return captured[0]


def probe(features, preprocessing, *, image_size=None):
    """The length of ``features``' output, from one blank image of the preprocessing's size.

    A backbone that cannot take that size (a vision transformer's position
    embeddings, a kernel larger than a small map) fails here, in ``fit``: as a
    ValueError naming ``image_size`` when the user chose the size.
    """
    size = preprocessing.input_size
    was_training = features.training
    try:
        with torch.no_grad():
            return int(features.eval()(torch.zeros(1, 3, size, size)).shape[1])
    except (RuntimeError, AssertionError) as exc:  # what torch and torch._assert raise
        if image_size is None:
            raise
        raise ValueError(
            f"image_size={image_size} does not fit this backbone ({type(exc).__name__}: {exc}); "
            "leave image_size=None for its own input size"
        ) from exc
    finally:
        features.train(was_training)
