"""sktransfer: transfer learning as scikit-learn estimators."""

from importlib.metadata import version

from . import backbones
from .encoders import ImageEncoder, PixelEncoder, SentenceEncoder, WordVectorEncoder
from .exceptions import (
    AmbiguousBackboneError,
    ImageLoadError,
    MissingDependencyError,
    SpecError,
    UnknownBackboneError,
    UntrustedPickleError,
    WeightsNotFoundError,
    WorkerError,
)

__version__ = version("sktransfer")  # one place: pyproject.toml

# The trained estimators need torch and skorch: imported on first use, so that
# ``import sktransfer`` stays light.
_FINE_TUNING = ("FineTuneClassifier", "FineTuneRegressor", "HeadClassifier", "HeadRegressor")


def __getattr__(name):
    if name in _FINE_TUNING:
        from . import finetune

        return getattr(finetune, name)
    raise AttributeError(f"module 'sktransfer' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_FINE_TUNING])


__all__ = [
    "AmbiguousBackboneError",
    "FineTuneClassifier",
    "FineTuneRegressor",
    "HeadClassifier",
    "HeadRegressor",
    "ImageEncoder",
    "ImageLoadError",
    "MissingDependencyError",
    "PixelEncoder",
    "SentenceEncoder",
    "SpecError",
    "UnknownBackboneError",
    "UntrustedPickleError",
    "WeightsNotFoundError",
    "WordVectorEncoder",
    "WorkerError",
    "backbones",
]
