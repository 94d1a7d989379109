"""Pre-trained encoders, and the raw-pixel baseline, as scikit-learn transformers."""

from ._base import BaseEncoder, clear_model_cache
from ._image import ImageEncoder
from ._pixels import PixelEncoder
from ._sentence import SentenceEncoder
from ._words import WordVectorEncoder

# The encoder that reads each modality of backbone.
ENCODERS = {"image": ImageEncoder, "text": SentenceEncoder, "words": WordVectorEncoder}

__all__ = [
    "ENCODERS",
    "BaseEncoder",
    "ImageEncoder",
    "PixelEncoder",
    "SentenceEncoder",
    "WordVectorEncoder",
    "clear_model_cache",
]
