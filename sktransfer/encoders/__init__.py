"""Pre-trained encoders as scikit-learn transformers."""

from ._base import BaseEncoder
from ._image import ImageEncoder

__all__ = ["BaseEncoder", "ImageEncoder"]
