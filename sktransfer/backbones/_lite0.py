"""EfficientNet-Lite0's names where they were before Lite1 and Lite2 joined it.

The family lives in :mod:`sktransfer.backbones._efficientnet_lite`; these are
its Lite0 values and functions, for code that imports them from here. The
builds read the variant table there when called: to replace Lite0's weights
source, replace its entry in ``_efficientnet_lite.VARIANTS``, not ``WEIGHTS``.
"""

from __future__ import annotations

from functools import partial

from ._efficientnet_lite import (
    CLASSIFIER,
    VARIANTS,
    load_weights,
    map_state_dict,
    specs,
)
from ._efficientnet_lite import build as _build
from ._efficientnet_lite import build_classifier as _build_classifier

__all__ = [
    "ARCHITECTURE",
    "CLASSIFIER",
    "NAME",
    "PREPROCESSING",
    "WEIGHTS",
    "build",
    "build_classifier",
    "load_weights",
    "map_state_dict",
    "packaged_weights_path",
    "specs",
]

NAME = "efficientnet_lite0"
ARCHITECTURE = VARIANTS[NAME].architecture
PREPROCESSING = VARIANTS[NAME].preprocessing
WEIGHTS = VARIANTS[NAME].weights
packaged_weights_path = WEIGHTS.packaged
build = partial(_build, NAME)
build_classifier = partial(_build_classifier, NAME)
