"""Fine-tuning pre-trained backbones, and trainable heads on features (skorch estimators)."""

from ._estimators import FineTuneClassifier, FineTuneRegressor

__all__ = ["FineTuneClassifier", "FineTuneRegressor"]
