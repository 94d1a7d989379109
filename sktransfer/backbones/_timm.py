"""timm models as image backbones, through timm's public model API alone.

timm gives every architecture the same interface: ``forward_features``,
``forward_head(pre_logits=True)``, ``group_matcher()`` (the layer groups timm
itself uses for layer-wise learning rates) and a pretrained config from which
``timm.data.resolve_data_config`` reads the preprocessing. :class:`TimmBackbone`
maps that interface onto :class:`~sktransfer.backbones.ImageBackbone`, so any
of timm's ~1,800 pretrained tags (``convnext_tiny.fb_in22k``...) is a backbone:
by name, when it is not a registered one, or listed by the ``sktransfer-timm``
plugin.
"""

from __future__ import annotations

import functools
import math
from collections import OrderedDict

from torch import nn

from .. import weights as weights_module
from ..weights import WeightsSource, hf_source
from ._image import ImageBackbone
from ._spec import BackboneSpec, ImagePreprocessing

FAMILY = "timm"


class TimmBackbone(ImageBackbone):
    """A timm model (its classifier removed) as an image backbone.

    Features, pre-logits and layer groups are timm's own: ``forward_features``,
    ``forward_head(pre_logits=True)`` and the coarse ``group_matcher``.

    Parameters
    ----------
    model : torch.nn.Module
        A model made by ``timm.create_model``.

    Examples
    --------
    >>> import timm, torch
    >>> backbone = TimmBackbone(timm.create_model("resnet18", pretrained=False))
    >>> backbone(torch.zeros(1, 3, 64, 64)).shape
    torch.Size([1, 512])
    >>> list(backbone.layer_groups())
    ['stem', 'layer1', 'layer2', 'layer3', 'layer4']
    """

    def __init__(self, model):
        super().__init__()
        model.reset_classifier(0)  # the classifier is never used: drop its weights
        self.model = model
        self.num_prefix_tokens = int(getattr(model, "num_prefix_tokens", 0) or 0)
        self.has_class_token = getattr(model, "cls_token", None) is not None
        # Swin, MambaOut... return (N, h, w, C); the encoder pools (N, C, h, w).
        self.channels_last_output = getattr(model, "output_fmt", "NCHW") == "NHWC"

    def forward_features(self, x):
        x = self.model.forward_features(x)
        return x.permute(0, 3, 1, 2) if self.channels_last_output else x

    def forward_head(self, x, pre_logits=True):
        if self.channels_last_output:
            x = x.permute(0, 2, 3, 1)
        return self.model.forward_head(x, pre_logits=True)

    def layer_groups(self):
        """Name timm's coarse parameter groups after the module they share, if any.

        Returns
        -------
        OrderedDict of str to list of str
            Parameter names by group, input to output; a group that shares no
            module is "stem" (first), "head" (last) or "group<i>".
        """
        from timm.models import group_parameters

        groups = group_parameters(self.model, self.model.group_matcher(coarse=True))
        groups = [names for names in groups.values() if names]
        named = OrderedDict()
        for index, names in enumerate(groups):
            name = _shared_module(names)
            if not name or not _is_module(self.model, name):
                name = "stem" if index == 0 else "head" if index == len(groups) - 1 else ""
            named[name or f"group{index}"] = [f"model.{n}" for n in names]
        return named

    def stages(self):
        """List the stages of an EfficientNet (the default backbone's family).

        timm has no public way to run a model from an inner layer, so the one
        family whose ``forward_features`` is a plain chain (stem, each stage of
        blocks, head) is listed here.

        Returns
        -------
        list of nn.Module or None
            The stages, input to output; None for the other models.
        """
        from timm.models.efficientnet import EfficientNet

        model = self.model
        if type(model) is not EfficientNet:
            return None
        stem, head = (model.conv_stem, model.bn1), (model.conv_head, model.bn2)
        return [nn.Sequential(*stem), *model.blocks, nn.Sequential(*head)]

    def layer_module(self, layer):
        """Return the module of timm's model whose output ``layer`` names.

        Parameters
        ----------
        layer : str
            A layer group that is one module of timm's model (``"blocks.2"``),
            or the dotted path of any module (``"blocks.2.0"``).

        Returns
        -------
        torch.nn.Module
            The module, inside ``self.model``.

        Raises
        ------
        ValueError
            For a group that is not one module (a stem of separate layers, the
            last block with the final norm): it has no single output.
        AttributeError
            When ``layer`` names no module.
        """
        groups = self.layer_groups()
        if layer in groups:
            names = [n[len("model.") :] for n in groups[layer]]
            if not all(n.startswith(layer + ".") for n in names) or not _is_module(
                self.model, layer
            ):
                parts = list(dict.fromkeys(_top_level(n) for n in names))
                raise ValueError(
                    f"layer group {layer!r} of this timm model is not one module but parts "
                    f"of {parts}: pass the dotted path of a module instead"
                )
        return self.model.get_submodule(layer)


def _shared_module(parameter_names):
    """The module path all the parameters share, down to its first index ("blocks.3")."""
    paths = [n.split(".")[:-1] for n in parameter_names]
    shared = []
    for parts in zip(*paths):
        if len(set(parts)) > 1:
            break
        shared.append(parts[0])
        if parts[0].isdigit():
            break
    return ".".join(shared)


def _top_level(parameter_name):
    """The top-level module (with its index, for a list of blocks) of a parameter."""
    parts = parameter_name.split(".")
    return ".".join(parts[:2]) if len(parts) > 2 and parts[1].isdigit() else parts[0]


def _is_module(model, path):
    try:
        model.get_submodule(path)
    except AttributeError:
        return False
    return True


def preprocessing_of(pretrained_cfg):
    """sktransfer's preprocessing from a timm pretrained config (a dict).

    timm resizes the shorter side to ``floor(size / crop_pct)`` and crops the
    centre. Its "squash" and "border" crop modes (a few weights) are read as a
    centre crop, which is the same for square images.
    """
    from timm.data import resolve_data_config

    config = resolve_data_config(pretrained_cfg=pretrained_cfg)
    size = config["input_size"][-1]
    interpolation = config["interpolation"]
    return ImagePreprocessing(
        input_size=int(size),
        resize_size=int(math.floor(size / (config["crop_pct"] or 0.875))),
        mean=tuple(float(v) for v in config["mean"]),
        std=tuple(float(v) for v in config["std"]),
        interpolation=interpolation if interpolation in ("bilinear", "nearest") else "bicubic",
    )


def weights_source(pretrained_cfg):
    """Where timm finds a pretrained tag's weights: its Hub repository, or its URL."""
    hub_id, url = pretrained_cfg.get("hf_hub_id"), pretrained_cfg.get("url")
    if hub_id:
        filename = pretrained_cfg.get("hf_hub_filename") or "model.safetensors"
        return hf_source(hub_id, filename=filename)
    if url:
        return WeightsSource(filename=url.rsplit("/", 1)[-1], url=url)
    return None


def create(name, weights="default"):
    """timm's model ``name`` with the requested weights, as a :class:`TimmBackbone`.

    Parameters
    ----------
    name : str
        A timm model name, with or without its pretrained tag.
    weights : "default", None or path
        As for every backbone (see :func:`sktransfer.weights.resolve`). A file
        is read by :func:`sktransfer.weights.load_state_dict` (``.npz`` files by
        timm's reader) and loaded by timm, checkpoint filters included.
    """
    return TimmBackbone(_model(name, weights))


def source_classifier(name, weights="default"):
    """The classifier of timm's model ``name`` with these weights (``get_classifier()``)."""
    return _model(name, weights).get_classifier()


def _model(name, weights):
    """timm's whole model, classifier included, with the requested weights."""
    import timm

    if weights is None:
        return timm.create_model(name, pretrained=False)
    cfg = timm.models.get_pretrained_cfg(name)
    source = weights_source(cfg.to_dict()) if cfg is not None else None
    path = weights_module.resolve(source, weights, backbone=name)
    if str(path).endswith(".npz"):  # timm's own reader of Big Transfer / JAX checkpoints
        overlay = dict(file=str(path), custom_load=True)
    else:  # read by the library's one safe loader; timm filters and loads the state dict
        overlay = dict(state_dict=weights_module.load_state_dict(path))
    try:
        return timm.create_model(name, pretrained=True, pretrained_cfg_overlay=overlay)
    except (RuntimeError, KeyError, ValueError) as exc:
        raise ValueError(f"weights file '{path}' does not fit timm's {name}: {exc}") from exc


@functools.cache
def describe(name):
    """(feature_dim, layer_groups) of ``name``, from a weight-less forward pass."""
    import timm
    import torch

    size = timm.models.get_pretrained_cfg(name).input_size
    try:  # on the meta device nothing is allocated and nothing computed
        with torch.device("meta"):
            model = create(name, weights=None).eval()
            with torch.no_grad():
                out = model(torch.empty(1, *size))
    except Exception:  # models that compute with real tensors at build time
        model = create(name, weights=None).eval()
        with torch.no_grad():
            out = model(torch.zeros(1, *size))
    return int(out.shape[-1]), tuple(model.layer_groups())


def usable(pretrained_cfg):
    """RGB weights on square inputs: what sktransfer's image pipeline feeds."""
    size = tuple(pretrained_cfg.input_size or ())
    return len(size) == 3 and size[0] == 3 and size[1] == size[2] and len(pretrained_cfg.mean) == 3


def spec(name):
    """The spec of timm's model ``name`` (a pretrained tag), from its config alone (no build).

    Examples
    --------
    >>> s = spec("resnet18.a1_in1k")
    >>> s.modality, s.preprocessing.input_size, s.preprocessing.interpolation
    ('image', 224, 'bicubic')
    """
    import timm

    cfg = timm.models.get_pretrained_cfg(name)
    if cfg is None:
        raise ValueError(f"timm has no pretrained config for {name!r}")
    config = cfg.to_dict()
    origin = cfg.hf_hub_id or cfg.url or "timm"
    return BackboneSpec(
        name=name,
        modality="image",
        build=functools.partial(create, name),
        description=f"timm {name} ({cfg.input_size[1]} px, weights from {origin})",
        preprocessing=preprocessing_of(config),
        feature_dim=lambda: describe(name)[0],
        layer_groups=lambda: describe(name)[1],
        weights=weights_source(config),
        family=FAMILY,
        source_classifier=functools.partial(source_classifier, name),
    )


def specs(filter=""):
    """One spec per usable timm pretrained tag matching ``filter`` (timm's wildcards)."""
    import timm

    names = timm.list_models(filter, pretrained=True)
    return [spec(n) for n in names if usable(timm.models.get_pretrained_cfg(n))]


def spec_for(name):
    """A spec for a timm model name that is not registered, or None when timm has none."""
    if not isinstance(name, str):
        return None
    try:
        import timm
    except ImportError:  # pragma: no cover - timm is a dependency
        return None
    if "." not in name or timm.models.get_pretrained_cfg(name) is None:
        return None
    return spec(name)
