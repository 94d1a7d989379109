"""sktransfer: transfer learning as scikit-learn estimators."""

from . import backbones
from .encoders import ImageEncoder
from .exceptions import (
    AmbiguousBackboneError,
    ImageLoadError,
    MissingDependencyError,
    UnknownBackboneError,
    WeightsNotFoundError,
)

__version__ = "0.1.0"

__all__ = [
    "AmbiguousBackboneError",
    "ImageEncoder",
    "ImageLoadError",
    "MissingDependencyError",
    "UnknownBackboneError",
    "WeightsNotFoundError",
    "backbones",
]
