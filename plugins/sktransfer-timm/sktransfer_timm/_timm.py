"""Every timm model with pre-trained weights, as sktransfer backbones.

Names are timm's pretrained tags, ``architecture.tag`` (``convnext_tiny.fb_in22k``,
``vit_small_patch16_224.augreg_in21k``...): the tag says which weights, and the
weights decide the preprocessing. Bare architecture names are not registered,
because many (``resnet50``, ``efficientnet_b0``...) are also torchvision's and
would make those short names ambiguous.

Listing is cheap: a spec is made from timm's pretrained config alone (a dict
look-up); nothing is built until a backbone is used, and feature size and layer
groups come from a build on the meta device, which allocates no memory.
"""

from __future__ import annotations

import functools
import math
import os
from collections import OrderedDict

from torch import nn

from sktransfer import weights as weights_module
from sktransfer.backbones import BackboneSpec, ImagePreprocessing, WeightsSource
from sktransfer.exceptions import WeightsNotFoundError

FAMILY = "timm"


# -- trunks ---------------------------------------------------------------------------


def _token_layout_module(num_prefix_tokens, has_class_token):
    """A module giving transformer tokens the layout sktransfer's encoder pools.

    The encoder reads tokens ``(N, 1 + L, C)`` as a class token followed by
    patch tokens. Register tokens are dropped; a model without a class token has
    its patch tokens returned as a feature map ``(N, C, L, 1)``, so that "avg" and
    "max" pool over all of them. None when the tokens already have that layout.
    """
    if has_class_token and num_prefix_tokens == 1:
        return None
    return _TokenLayout(num_prefix_tokens, has_class_token)


class _TokenLayout(nn.Module):
    def __init__(self, num_prefix_tokens, has_class_token):
        super().__init__()
        self.num_prefix_tokens = int(num_prefix_tokens)
        self.has_class_token = bool(has_class_token)

    def forward(self, x):
        import torch

        if x.ndim != 3:  # a feature map: nothing to re-arrange
            return x
        patches = x[:, self.num_prefix_tokens :]
        if self.has_class_token:  # timm puts the class token first, then registers
            return torch.cat([x[:, :1], patches], dim=1)
        return patches.transpose(1, 2).unsqueeze(-1)

    def extra_repr(self):
        return f"num_prefix_tokens={self.num_prefix_tokens}, has_class_token={self.has_class_token}"


class _ToNCHW(nn.Module):
    """Some timm models (Swin, MambaOut...) return channels-last feature maps."""

    def forward(self, x):
        return x.permute(0, 3, 1, 2)


class _Features(nn.Module):
    """A whole timm model as one layer group: its ``forward_features``."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model.forward_features(x)


class _ViTEmbedding(nn.Module):
    """Patch embedding, class / register tokens and position embedding of a timm ViT.

    It holds exactly the parameters and modules timm's ``_pos_embed`` reads, and
    runs timm's own code on them, so the trunk stays in step with timm's
    ``forward_features`` without owning the transformer blocks twice.
    """

    def __init__(self, vit):
        super().__init__()
        self.patch_embed = vit.patch_embed
        self.cls_token = vit.cls_token
        self.reg_token = vit.reg_token
        self.pos_embed = vit.pos_embed
        self.pos_drop = vit.pos_drop
        self.patch_drop = vit.patch_drop
        self.norm_pre = vit.norm_pre
        self.dynamic_img_size = vit.dynamic_img_size
        self.no_embed_class = vit.no_embed_class
        self.num_prefix_tokens = vit.num_prefix_tokens
        self._pos_embed_fn = type(vit)._pos_embed

    def forward(self, x):
        x = self.patch_embed(x)
        x = self._pos_embed_fn(self, x)
        x = self.patch_drop(x)
        return self.norm_pre(x)


def _seq(*modules):
    modules = [m for m in modules if m is not None]
    return modules[0] if len(modules) == 1 else nn.Sequential(*modules)


def _numbered(prefix, modules, start=1):
    return [(f"{prefix}{i}", m) for i, m in enumerate(modules, start)]


def _efficientnet(m):
    return [("stem", _seq(m.conv_stem, m.bn1)), *_numbered("stage", m.blocks),
            ("head", _seq(m.conv_head, m.bn2))]  # fmt: skip


def _mobilenetv3(m):  # its head conv comes after pooling, in forward_head
    return [("stem", _seq(m.conv_stem, m.bn1)), *_numbered("stage", m.blocks)]


def _resnet(m):
    stem = ("stem", _seq(m.conv1, m.bn1, m.act1, m.maxpool))
    return [stem, *[(f"layer{i}", getattr(m, f"layer{i}")) for i in range(1, 5)]]


def _convnext(m):
    groups = [("stem", m.stem), *_numbered("stage", m.stages)]
    name, last = groups[-1]
    groups[-1] = (name, _seq(last, m.norm_pre))
    return groups


def _regnet(m):
    return [("stem", m.stem), *[(f"s{i}", getattr(m, f"s{i}")) for i in range(1, 5)],
            ("head", m.final_conv)]  # fmt: skip


def _byobnet(m):
    return [("stem", m.stem), *_numbered("stage", m.stages), ("head", m.final_conv)]


def _vit(m):
    layout = _token_layout_module(m.num_prefix_tokens, m.cls_token is not None)
    return [("embed", _ViTEmbedding(m)), *_numbered("block", m.blocks),
            ("norm", _seq(m.norm, layout))]  # fmt: skip


def _rules():
    """timm classes whose forward_features is a chain of modules.

    Each entry is (class, trunk function, other methods the trunk relies on).
    """
    from timm.models.byobnet import ByobNet
    from timm.models.convnext import ConvNeXt
    from timm.models.efficientnet import EfficientNet
    from timm.models.mobilenetv3 import MobileNetV3
    from timm.models.regnet import RegNet
    from timm.models.resnet import ResNet
    from timm.models.vision_transformer import VisionTransformer

    return [
        (EfficientNet, _efficientnet, ()),
        (MobileNetV3, _mobilenetv3, ()),
        (ResNet, _resnet, ()),
        (ConvNeXt, _convnext, ()),
        (RegNet, _regnet, ()),
        (ByobNet, _byobnet, ()),
        (VisionTransformer, _vit, ("_pos_embed",)),
    ]


def _fallback(model):
    """One group running ``forward_features``, its output brought to the encoder's layout."""
    model.reset_classifier(0)  # the classifier is never used; drop its weights
    modules = [_Features(model)]
    if getattr(model, "output_fmt", "NCHW") == "NHWC":
        modules.append(_ToNCHW())
    # Token outputs (checked at run time: only transformers give 3-d outputs) get
    # the class-token-first layout; feature maps pass through untouched.
    has_cls = getattr(model, "cls_token", None) is not None
    modules.append(_token_layout_module(getattr(model, "num_prefix_tokens", int(has_cls)), has_cls))
    return [("features", _seq(*modules))]


def trunk_of(model):
    """Cut a timm model into an ``nn.Sequential`` of layer groups, input to output.

    Architectures whose ``forward_features`` is a plain chain of modules
    (EfficientNet, MobileNetV3, ResNet, ConvNeXt, RegNet, ByobNet, ViT) get one
    group per stage; any other model becomes a single group ``features``. The
    output is ``forward_features``' (N, C, h, w) feature map, or for transformers
    tokens (N, 1 + L, C) with the class token first.
    """
    for cls, rule, methods in _rules():
        # A subclass overriding what the rule mirrors (DeiT's distillation token
        # in _pos_embed...) takes the generic path instead.
        if isinstance(model, cls) and all(
            getattr(type(model), m) is getattr(cls, m) for m in ("forward_features", *methods)
        ):
            return nn.Sequential(OrderedDict(rule(model)))
    return nn.Sequential(OrderedDict(_fallback(model)))


# -- weights --------------------------------------------------------------------------


def _hf_cached_file(cfg):
    """Path of the weights file of ``cfg`` in the Hugging Face cache, or None."""
    hub_id = cfg.get("hf_hub_id")
    if not hub_id:
        return None
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    repo, _, revision = hub_id.partition("@")
    names = [cfg["hf_hub_filename"]] if cfg.get("hf_hub_filename") else [
        "model.safetensors", "pytorch_model.bin"]  # fmt: skip
    for filename in names:
        path = try_to_load_from_cache(repo, filename, revision=revision or None)
        if isinstance(path, str) and os.path.isfile(path):
            return path
    return None


def _url_cached_file(cfg):
    url = cfg.get("url")
    if not url:
        return None
    path = weights_module.find(WeightsSource(filename=url.rsplit("/", 1)[-1], url=url))
    return str(path) if path is not None else None


def _hf_cache_dir():
    try:
        from huggingface_hub import constants

        return constants.HF_HUB_CACHE
    except ImportError:
        return "~/.cache/huggingface/hub"


def _missing_message(name, cfg, reason):
    hub_id, url = cfg.get("hf_hub_id"), cfg.get("url")
    origin = f"the Hugging Face Hub repository '{hub_id}'" if hub_id else f"'{url}'"
    return (
        f"pre-trained weights for timm/{name} not found: {reason}. They come from {origin}; "
        f"fetch them where a network is available (timm.create_model({name!r}, "
        f"pretrained=True) stores them in the Hugging Face cache '{_hf_cache_dir()}'), "
        "or pass weights='/path/to/model.safetensors' (a timm state dict); "
        "weights=None gives random initialisation."
    )


def _create_from_file(name, path, cfg):
    """timm's own loading code (checkpoint filters included) on a local file."""
    import timm

    overlay = dict(file=str(path), source="", custom_load=bool(cfg.get("custom_load"))
                   and str(path).endswith(".npz"))  # fmt: skip
    try:
        return timm.create_model(name, pretrained=True, pretrained_cfg_overlay=overlay)
    except (RuntimeError, KeyError, ValueError) as exc:
        raise ValueError(f"weights file '{path}' does not fit timm/{name}: {exc}") from exc


def create_model(name, weights="default"):
    """Build timm's ``name`` with the requested weights, offline first.

    Parameters
    ----------
    name : str
        A timm model name with its pretrained tag, e.g. ``"resnet18.a1_in1k"``.
    weights : "default", None or path
        "default": the pretrained weights, from the Hugging Face cache or the
        torch hub cache, else downloaded by timm unless the environment disables
        downloads (``HF_HUB_OFFLINE``, ``SKTRANSFER_OFFLINE``), in which case a
        :class:`~sktransfer.exceptions.WeightsNotFoundError` is raised at once.
        None: random initialisation. A path: a local timm state dict
        (``.safetensors``, ``.pth`` or ``.bin``).

    Returns
    -------
    torch.nn.Module
        The whole timm model, classifier included, in eval mode.
    """
    import timm

    if weights is None:
        return timm.create_model(name, pretrained=False).eval()
    if not (isinstance(weights, str) and weights == "default"):
        path = weights_module.resolve(None, weights, backbone=f"timm/{name}")
        return _create_from_file(name, path, {}).eval()
    cfg = timm.models.get_pretrained_cfg(name).to_dict()
    local = _hf_cached_file(cfg) or _url_cached_file(cfg)
    if local is not None:
        return _create_from_file(name, local, cfg).eval()
    if weights_module.offline():
        raise WeightsNotFoundError(
            _missing_message(name, cfg, "they are not in the local caches and downloads "
                             "are disabled by the environment")  # fmt: skip
        )
    try:
        with weights_module.socket_timeout(weights_module.DOWNLOAD_TIMEOUT):
            return timm.create_model(name, pretrained=True).eval()
    except Exception as exc:  # no network, no such file, HTTP errors: all mean "not here"
        raise WeightsNotFoundError(
            _missing_message(name, cfg, f"the download failed ({type(exc).__name__}: {exc})")
        ) from exc


def build_trunk(name, weights="default"):
    """The backbone as sktransfer uses it: :func:`trunk_of` a timm model."""
    return trunk_of(create_model(name, weights))


# -- what a spec needs without building ----------------------------------------------


@functools.cache
def describe(name):
    """(feature_dim, layer_groups, default_pooling) of ``name``, from a weight-less pass."""
    import timm
    import torch

    size = timm.models.get_pretrained_cfg(name).input_size
    try:  # on the meta device nothing is allocated and nothing computed
        with torch.device("meta"):
            model = timm.create_model(name, pretrained=False)
            trunk = trunk_of(model.eval())
            with torch.no_grad():
                out = trunk(torch.empty(1, *size))
    except Exception:  # models that compute with real tensors at build time
        model = timm.create_model(name, pretrained=False)
        trunk = trunk_of(model.eval())
        with torch.no_grad():
            out = trunk(torch.zeros(1, *size))
    pool = getattr(model, "global_pool", None)
    pool = getattr(pool, "pool_type", pool)  # CNNs hold a module with a pool_type
    if out.ndim == 3 and pool == "token":
        pooling = "cls"
    elif pool == "max":
        pooling = "max"
    else:
        pooling = "avg"
    dim = out.shape[1] if out.ndim == 4 else out.shape[-1]
    return int(dim), tuple(n for n, _ in trunk.named_children()), pooling


class TimmBackboneSpec(BackboneSpec):
    """A spec whose default pooling, like its feature size, is only known once built."""

    @property
    def default_pooling(self):
        if self._default_pooling is None:
            self._default_pooling = describe(self.name)[2]
        return self._default_pooling

    @default_pooling.setter
    def default_pooling(self, value):
        self._default_pooling = value


def preprocessing_of(cfg):
    """sktransfer's preprocessing from a timm pretrained config.

    timm resizes the shorter side to ``floor(size / crop_pct)`` and crops the
    centre. Its "squash" and "border" crop modes (a few weights) are read as a
    centre crop, which is the same for square images.
    """
    _, height, _ = cfg.input_size
    crop_pct = cfg.crop_pct or 0.875
    interpolation = cfg.interpolation if cfg.interpolation in ("bilinear", "nearest") else "bicubic"
    return ImagePreprocessing(
        input_size=int(height),
        resize_size=int(math.floor(height / crop_pct)),
        mean=tuple(float(v) for v in cfg.mean),
        std=tuple(float(v) for v in cfg.std),
        interpolation=interpolation,
    )


def usable(cfg):
    """RGB weights on square inputs: what sktransfer's image pipeline feeds."""
    size = tuple(cfg.input_size or ())
    return len(size) == 3 and size[0] == 3 and size[1] == size[2] and len(cfg.mean) == 3


def make_spec(name, cfg):
    """The spec of one pretrained tag, from its config only (no build)."""
    source = cfg.hf_hub_id or cfg.url or "timm"
    weights_source = WeightsSource(
        filename=(cfg.url or "").rsplit("/", 1)[-1] or f"{name}.safetensors", url=cfg.url or None
    )
    return TimmBackboneSpec(
        name=name,
        modality="image",
        build=functools.partial(build_trunk, name),
        description=f"timm {name} ({cfg.input_size[1]} px, weights from {source})",
        preprocessing=preprocessing_of(cfg),
        feature_dim=lambda: describe(name)[0],
        layer_groups=lambda: describe(name)[1],
        weights=weights_source,
        default_pooling=None,
        family=FAMILY,
    )


def specs(filter=None):
    """One spec per timm pretrained tag (about 1,800), built from configs alone.

    Parameters
    ----------
    filter : str or list of str, optional
        Wildcard patterns as for ``timm.list_models`` (e.g. ``"convnext_*"``).
        The entry point lists everything; the environment variable
        ``SKTRANSFER_TIMM_FILTER`` (comma-separated patterns) narrows that.
    """
    import timm

    if filter is None and os.environ.get("SKTRANSFER_TIMM_FILTER"):
        filter = [p.strip() for p in os.environ["SKTRANSFER_TIMM_FILTER"].split(",") if p.strip()]
    names = timm.list_models(filter or "", pretrained=True)
    out = []
    for name in names:
        cfg = timm.models.get_pretrained_cfg(name)
        if cfg is not None and usable(cfg):
            out.append(make_spec(name, cfg))
    return out
