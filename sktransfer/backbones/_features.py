"""The feature vector an image estimator takes from a backbone: its pooling and its layer."""

from __future__ import annotations

import torch
from torch import nn

from ._image import pool


class _StopForward(Exception):
    pass


class ImageFeatures(nn.Module):
    """``backbone``'s features of a batch, pooled into one vector per image.

    What every image estimator runs: :class:`~sktransfer.ImageEncoder` in eval
    mode, the fine-tuners as the body under their new head. It takes
    normalised images ``(N, 3, H, W)`` and returns ``(N, D)``.

    Parameters
    ----------
    backbone : ImageBackbone
        The model.
    pooling : {"auto", "avg", "max", "flatten", "cls"}
        "auto" is the backbone's own ``forward_head`` (what its classifier
        received) for the last layer, and "avg" for an intermediate ``layer``.
    layer : str or list of str, optional
        A layer group or a dotted module path whose output is taken instead of
        the last one; the forward pass stops there. Several layers: each one's
        output is pooled, and the vectors are concatenated in the order given
        (the pass stops after the last one it needs).

    Attributes
    ----------
    pooling : str
        The pooling in use: "pre_logits" (the backbone's own) or one of the
        explicit ones.

    Examples
    --------
    >>> import torch
    >>> from collections import OrderedDict
    >>> from torch import nn
    >>> from sktransfer.backbones import ImageFeatures, SequentialBackbone
    >>> backbone = SequentialBackbone(OrderedDict(stem=nn.Conv2d(3, 8, 3), stage=nn.ReLU()))
    >>> features = ImageFeatures(backbone, pooling="max")
    >>> features(torch.zeros(2, 3, 16, 16)).shape, features.feature_size(16)
    (torch.Size([2, 8]), 8)
    """

    def __init__(self, backbone, pooling="auto", layer=None):
        super().__init__()
        self.backbone = backbone
        self.layer = list(layer) if isinstance(layer, (list, tuple)) else layer
        if layer is not None and not self._layers():
            raise ValueError("layer must name at least one layer; None takes the last one")
        for name in self._layers():
            try:
                backbone.layer_module(name)
            except AttributeError:
                groups = list(backbone.layer_groups())
                raise ValueError(
                    f"the backbone has no layer {name!r}; its layer groups are {groups} "
                    "(a dotted module path, e.g. a block inside one, also works)"
                ) from None
        if pooling == "auto":
            pooling = "pre_logits" if layer is None else "avg"
        self.pooling = pooling

    def forward(self, x):
        if self.pooling == "pre_logits":
            return self.backbone(x)
        if self.layer is None:
            return self._pooled(self.backbone.forward_features(x))
        return torch.cat([self._pooled(out) for out in self._until_layers(x)], dim=1)

    def _layers(self):
        if self.layer is None:
            return []
        return self.layer if isinstance(self.layer, list) else [self.layer]

    def _pooled(self, out):
        if self.pooling == "pre_logits":
            return self.backbone.forward_head(out, pre_logits=True)
        if self.pooling == "cls" and out.ndim != 3:
            raise ValueError(
                "pooling='cls' needs a transformer's tokens; this output is a feature map"
            )
        return pool(out, self.pooling, self.backbone.num_prefix_tokens)

    def feature_size(self, input_size, *, image_size=None, backbone=None):
        """The length of the feature vector, from one blank ``input_size`` image.

        The backbone's output is checked here, once, before any real image
        runs: it must be one vector per image, ``(N, D)``. A backbone that
        cannot take the size (a vision transformer's position embeddings, a
        kernel larger than a small map) fails here too: as a ValueError naming
        ``image_size`` when the user chose the size.

        Parameters
        ----------
        input_size : int
            Side of the square images the backbone will receive.
        image_size : int, optional
            The estimator's ``image_size``, named in the error where it is the cause.
        backbone : str, optional
            The backbone's name, for the messages.

        Returns
        -------
        int
            ``D``, the length of each image's feature vector.
        """
        name = f"backbone {backbone!r}" if backbone else "the backbone"
        was_training = self.training
        try:
            with torch.no_grad():
                out = self.eval()(torch.zeros(1, 3, input_size, input_size))
        except (RuntimeError, AssertionError) as exc:  # what torch and torch._assert raise
            if image_size is None:
                raise
            raise ValueError(
                f"image_size={image_size} does not fit {name} ({type(exc).__name__}: {exc}); "
                "leave image_size=None for its own input size"
            ) from exc
        finally:
            self.train(was_training)
        if out.ndim != 2:
            raise ValueError(
                f"{name} gives features of shape {tuple(out.shape)} for one image, not one "
                "vector (1, D): its forward_head must pool the feature map (an ImageBackbone's "
                "default averages it; a SequentialBackbone pools in its pre_logits)"
            )
        return int(out.shape[1])

    def stage_of(self, parameters):
        """Find the first backbone stage that uses any of ``parameters``.

        Parameters
        ----------
        parameters : iterable of torch.nn.Parameter
            Parameters of the backbone.

        Returns
        -------
        int or None
            The stage's index; the number of stages when none uses them (they
            are used after the stages, in the pre-logits layers); None when
            the backbone is no chain of stages (:meth:`ImageBackbone.stages`)
            or the features come from an inner ``layer``.
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
        """Run the backbone's stages before ``stop`` (see :meth:`stage_of`).

        Parameters
        ----------
        x : torch.Tensor
            Normalised images.
        stop : int
            The index of the first stage not to run.

        Returns
        -------
        torch.Tensor
            The output of stage ``stop - 1``.
        """
        for stage in self.backbone.stages()[:stop]:
            x = stage(x)
        return x

    def forward_from(self, x, start):
        """Compute the features from the output of the stages before ``start``.

        Parameters
        ----------
        x : torch.Tensor
            What :meth:`forward_until` gave for ``start``.
        start : int
            The index of the first stage to run.

        Returns
        -------
        torch.Tensor
            ``(N, D)``, as :meth:`forward` gives for the images.
        """
        for stage in self.backbone.stages()[start:]:
            x = stage(x)
        return self._pooled(x)

    def _until_layers(self, x):
        """The outputs of the ``layer`` modules: forward hooks capture them, and the
        pass ends once all are captured.

        The whole forward pass runs up to there, so the layers of ``forward_head``
        (a "pre_logits" group) can be taken too.
        """
        names = self._layers()
        captured = {}

        def capture(name):
            def hook(module, inputs, output):
                captured.setdefault(name, output)
                if len(captured) == len(names):
                    raise _StopForward

            return hook

        handles = [
            self.backbone.layer_module(name).register_forward_hook(capture(name))
            for name in dict.fromkeys(names)
        ]
        try:
            self.backbone(x)
        except _StopForward:
            pass
        finally:
            for handle in handles:
                handle.remove()
        missing = [name for name in names if name not in captured]
        if missing:
            raise ValueError(
                f"layer {missing[0]!r} is not used in the backbone's forward pass; "
                f"its layer groups are {list(self.backbone.layer_groups())}"
            )
        return [captured[name] for name in names]
