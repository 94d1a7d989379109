"""Fine-tuning pre-trained backbones, and trainable heads on features (skorch estimators)."""

from ._estimators import FineTuneClassifier, FineTuneRegressor
from ._head_estimators import HeadClassifier, HeadRegressor

__all__ = ["FineTuneClassifier", "FineTuneRegressor", "HeadClassifier", "HeadRegressor"]
