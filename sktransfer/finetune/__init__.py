"""Fine-tuning pre-trained backbones, and trainable heads on features (skorch estimators)."""

from ._estimators import FineTuneClassifier, FineTuneRegressor
from ._freeze import Freeze
from ._head_estimators import HeadClassifier, HeadRegressor
from ._recipes import RECIPES
from ._schedule import WarmupCosine

__all__ = [
    "RECIPES",
    "Freeze",
    "FineTuneClassifier",
    "FineTuneRegressor",
    "HeadClassifier",
    "HeadRegressor",
    "WarmupCosine",
]
