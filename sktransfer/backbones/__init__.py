"""The backbone registry.

Backbones come from built-in families (every torchvision classification model)
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

from ._registry import ENTRY_POINT_GROUP, REGISTRY, Registry
from ._spec import IMAGENET_MEAN, IMAGENET_STD, BackboneSpec, ImagePreprocessing, WeightsSource

__all__ = [
    "ENTRY_POINT_GROUP",
    "BackboneSpec",
    "ImagePreprocessing",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "Registry",
    "WeightsSource",
    "get",
    "list",
    "register",
    "unregister",
]

get = REGISTRY.get
list = REGISTRY.list  # noqa: A001 - the public name the design promises
register = REGISTRY.register
unregister = REGISTRY.unregister
specs = REGISTRY.specs
