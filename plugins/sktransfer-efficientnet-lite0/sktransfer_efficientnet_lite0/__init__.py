"""sktransfer backbone ``efficientnet_lite0``: EfficientNet-Lite0 with offline ImageNet weights.

sktransfer finds this package through its ``sktransfer.backbones`` entry point;
importing it by hand is never needed. Importing it is cheap: timm and the
weights load only when a backbone is built.
"""

from ._lite0 import (
    ARCHITECTURE,
    FEATURE_DIM,
    LAYER_GROUPS,
    NAME,
    PREPROCESSING,
    WEIGHTS,
    build_classifier,
    build_trunk,
    load_weights,
    map_state_dict,
    packaged_weights_path,
    specs,
    trunk_of,
)

__version__ = "0.1.0"

__all__ = [
    "ARCHITECTURE",
    "FEATURE_DIM",
    "LAYER_GROUPS",
    "NAME",
    "PREPROCESSING",
    "WEIGHTS",
    "build_classifier",
    "build_trunk",
    "load_weights",
    "map_state_dict",
    "packaged_weights_path",
    "specs",
    "trunk_of",
]
