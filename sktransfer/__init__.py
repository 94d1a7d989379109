"""sktransfer: transfer learning as scikit-learn estimators."""

from . import backbones
from .encoders import ImageEncoder, SentenceEncoder, WordVectorEncoder
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
    "SentenceEncoder",
    "UnknownBackboneError",
    "WeightsNotFoundError",
    "WordVectorEncoder",
    "backbones",
]
