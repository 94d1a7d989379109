"""sktransfer: transfer learning as scikit-learn estimators."""

from importlib.metadata import version

from . import backbones
from .encoders import ImageEncoder, PixelEncoder, SentenceEncoder, WordVectorEncoder
from .exceptions import (
    AmbiguousBackboneError,
    ImageLoadError,
    MissingDependencyError,
    ModelFileError,
    SpecError,
    UnknownBackboneError,
    UntrustedPickleError,
    WeightsMismatchError,
    WeightsNotFoundError,
    WorkerError,
)
from .persistence import load, save

__version__ = version("sktransfer")  # one place: pyproject.toml

# The trained estimators need torch and skorch, the ranking scipy's statistics: imported
# on first use, so that ``import sktransfer`` (in every Dask worker too) stays light.
_FINE_TUNING = ("FineTuneClassifier", "FineTuneRegressor", "HeadClassifier", "HeadRegressor")
_RANKING = ("BackboneSelector", "layers_of", "rank_backbones")


def __getattr__(name):
    if name in _FINE_TUNING:
        from . import finetune

        return getattr(finetune, name)
    if name in _RANKING:
        from . import ranking

        return getattr(ranking, name)
    raise AttributeError(f"module 'sktransfer' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_FINE_TUNING, *_RANKING])


__all__ = [
    "AmbiguousBackboneError",
    "BackboneSelector",
    "FineTuneClassifier",
    "FineTuneRegressor",
    "HeadClassifier",
    "HeadRegressor",
    "ImageEncoder",
    "ImageLoadError",
    "MissingDependencyError",
    "ModelFileError",
    "PixelEncoder",
    "SentenceEncoder",
    "SpecError",
    "UnknownBackboneError",
    "UntrustedPickleError",
    "WeightsMismatchError",
    "WeightsNotFoundError",
    "WordVectorEncoder",
    "WorkerError",
    "backbones",
    "layers_of",
    "load",
    "rank_backbones",
    "save",
]
