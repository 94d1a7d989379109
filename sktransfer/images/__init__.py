"""The one image pipeline: decode, check, resize, crop, scale, normalise, collate.

:class:`~sktransfer.ImageEncoder`, :class:`~sktransfer.PixelEncoder` and the
fine-tuners read images through these functions only, so a fix to one step
reaches every estimator. Bad input is named by its index in ``X`` and a file
by its path: :func:`check_images` before any model runs, where that can be
told without decoding; :func:`read_image` where an image is decoded.

Examples
--------
>>> import numpy as np
>>> from sktransfer.backbones import ImagePreprocessing
>>> from sktransfer.images import ImageDataset, check_images, collate
>>> images = check_images(np.zeros((2, 40, 30, 3), dtype=np.uint8))
>>> dataset = ImageDataset(images, ImagePreprocessing(input_size=16, resize_size=20))
>>> collate([dataset[0], dataset[1]]).shape
torch.Size([2, 3, 16, 16])
"""

from .._checks import check_images
from ._decode import array_to_rgb, load_image, read_image, to_rgb
from ._pipeline import (
    Batcher,
    DevicePreprocessing,
    ImageDataset,
    auto_batch_size,
    channel_stats,
    collate,
    image_key,
    loader,
    normalise,
    preprocessing_at,
    resize_and_crop,
    scale,
    to_tensor,
)

__all__ = [
    "Batcher",
    "DevicePreprocessing",
    "ImageDataset",
    "array_to_rgb",
    "auto_batch_size",
    "channel_stats",
    "check_images",
    "collate",
    "image_key",
    "load_image",
    "loader",
    "normalise",
    "preprocessing_at",
    "read_image",
    "resize_and_crop",
    "scale",
    "to_rgb",
    "to_tensor",
]
