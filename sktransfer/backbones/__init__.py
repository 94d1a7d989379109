"""The backbone registry.

Backbones come from built-in families (every torchvision classification model,
the packaged EfficientNet-Lite0, Lite1 and Lite2, the from-scratch baseline
``small_cnn``, sentence-transformers models, word vectors)
and from third-party distributions that declare an entry point in the group
``sktransfer.backbones``; those are discovered on first use, without importing
anything by hand. See :class:`BackboneSpec` for what a backbone declares.

Examples
--------
>>> from sktransfer import backbones
>>> "resnet50" in backbones.list(modality="image")
True
>>> spec = backbones.get("resnet50")
>>> spec.modality, spec.preprocessing.input_size, spec.feature_dim
('image', 224, 2048)
"""

from ..weights import WeightsSource
from ._registry import ENTRY_POINT_GROUP, REGISTRY, Registry
from ._spec import IMAGENET_MEAN, IMAGENET_STD, BackboneSpec, ImagePreprocessing
from ._vector_files import trusting_pickles

__all__ = [
    "ENTRY_POINT_GROUP",
    "BackboneSpec",
    "GlobalPool",
    "ImageBackbone",
    "ImageFeatures",
    "ImagePreprocessing",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "Registry",
    "SequentialBackbone",
    "TimmBackbone",
    "WeightsSource",
    "get",
    "list",
    "register",
    "resolve",
    "specs",
    "timm_specs",
    "transformer_layer_groups",
    "trusting_pickles",
    "unregister",
]

get = REGISTRY.get
list = REGISTRY.list
register = REGISTRY.register
resolve = REGISTRY.resolve
unregister = REGISTRY.unregister
specs = REGISTRY.specs


def timm_specs(filter=""):
    """Return the specs of timm's pretrained tags that match ``filter``.

    Any tag works by name without being listed; the ``sktransfer-timm`` plugin
    lists them all. Making the specs builds nothing: feature size and layer
    groups are computed when a listing first asks for them.

    Parameters
    ----------
    filter : str or list of str, default=""
        Wildcard patterns, as timm reads them (e.g. ``"convnext_*"``); ""
        matches every tag.

    Returns
    -------
    list of BackboneSpec
        One spec per pretrained tag (``"convnext_tiny.fb_in22k"``...) whose
        weights take square RGB input, which is what sktransfer feeds.
    """
    from ._timm import specs as make_specs

    return make_specs(filter)


def __getattr__(name):
    # The model classes need torch; importing sktransfer does not.
    if name in ("GlobalPool", "ImageBackbone", "SequentialBackbone"):
        from ._image import GlobalPool, ImageBackbone, SequentialBackbone

        classes = (GlobalPool, ImageBackbone, SequentialBackbone)
        return {cls.__name__: cls for cls in classes}[name]
    if name == "transformer_layer_groups":
        from ._sentence_transformers import transformer_layer_groups

        return transformer_layer_groups
    if name == "ImageFeatures":
        from ._features import ImageFeatures

        return ImageFeatures
    if name == "TimmBackbone":
        from ._timm import TimmBackbone

        return TimmBackbone
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
