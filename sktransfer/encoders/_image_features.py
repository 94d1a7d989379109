"""Where ``ImageFeatures`` lived in sktransfer 0.1.0: encoders pickled then name this module.

It is :class:`sktransfer.backbones.ImageFeatures` now; this alias stays so that
saved models load.
"""

from ..backbones import ImageFeatures

__all__ = ["ImageFeatures"]
