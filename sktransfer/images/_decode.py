"""Decoding images: files, PIL images and arrays in, RGB images out.

Every image, whatever it came as, becomes an RGB image: grey levels are
repeated, palettes expanded, alpha composited onto white, CMYK converted,
16-bit depth scaled to 8 bits and the EXIF orientation applied. Problems are
reported with the index (and file name) of the offending image: by
:func:`check_images` before any model runs where that can be checked cheaply
(shapes, dtypes, values, files by ``os.stat``), by :func:`read_image` where the
image is decoded.
"""

from __future__ import annotations

import os
import re
import struct
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .._checks import describe, file_problem
from ..exceptions import ImageLoadError

_SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I")


def _on_white(rgba):
    background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(background, rgba).convert("RGB")


def to_rgb(image):
    """Convert a PIL image of any mode to RGB, applying its EXIF orientation.

    Transparent pixels are composited onto white (what an image viewer shows),
    and 16-bit grey levels are scaled to 8 bits rather than clipped.

    Examples
    --------
    >>> from PIL import Image
    >>> to_rgb(Image.new("LA", (4, 3), (128, 0))).getpixel((0, 0))
    (255, 255, 255)
    >>> to_rgb(Image.new("I;16", (4, 3), 65535)).getpixel((0, 0))
    (255, 255, 255)
    """
    image = ImageOps.exif_transpose(image)
    if image.mode == "RGB":
        return image
    if image.mode in _SIXTEEN_BIT_MODES:
        grey = np.asarray(image, dtype=np.float32) / 65535.0
        return Image.fromarray(_float_to_uint8(grey)).convert("RGB")
    if image.mode == "F":
        return Image.fromarray(_float_to_uint8(np.asarray(image))).convert("RGB")
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode == "La":  # premultiplied: PIL converts it to "LA" only
        image = image.convert("LA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        return _on_white(image.convert("RGBA"))
    return image.convert("RGB")


def _float_to_uint8(array):
    return np.clip(np.rint(np.asarray(array, dtype=np.float32) * 255.0), 0, 255).astype(np.uint8)


def load_image(path):
    """Open an image file as RGB; errors name the file.

    An image over PIL's limit against decompression bombs
    (``PIL.Image.MAX_IMAGE_PIXELS``) is decoded with a
    ``PIL.Image.DecompressionBombWarning`` naming the file, and one over twice
    that limit raises :class:`~sktransfer.ImageLoadError`, as PIL does; raise
    the limit (None lifts it) for files you trust.

    Examples
    --------
    >>> import skimage, pathlib
    >>> path = pathlib.Path(skimage.__file__).parent / "data" / "astronaut.png"
    >>> load_image(path).size
    (512, 512)
    """
    return _load(path, f"image file '{os.fspath(path)}'")


# What PIL raises for files it cannot decode: plugins fail in several ways.
_DECODING_ERRORS = (OSError, ValueError, SyntaxError, EOFError, IndexError, struct.error)


def _load(path, where):
    """``path`` decoded as RGB; errors start with ``where``, the file's description."""
    problem = file_problem(path)
    if problem is not None:
        raise ImageLoadError(f"{where} {problem}")
    try:
        with warnings.catch_warnings():
            # PIL's warning names no file: the one below does.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(path)
    except Image.DecompressionBombError as exc:
        raise ImageLoadError(f"{where} {_too_large(exc)}") from None
    except UnidentifiedImageError:
        raise ImageLoadError(f"{where} is not a readable image (unknown format)") from None
    except _DECODING_ERRORS as exc:
        raise ImageLoadError(f"{where} is not a readable image ({exc})") from exc
    with image:
        _warn_if_large(image.size, where)
        try:
            image.load()
            rgb = to_rgb(image)
        except Image.DecompressionBombError as exc:
            raise ImageLoadError(f"{where} {_too_large(exc)}") from None
        except _DECODING_ERRORS as exc:
            raise ImageLoadError(f"{where} is not a readable image ({exc})") from exc
    if 0 in rgb.size:
        raise ImageLoadError(f"{where} has no pixels ({rgb.width} x {rgb.height})")
    return rgb


_GUARD = "PIL.Image.MAX_IMAGE_PIXELS ({:,}), PIL's guard against decompression bombs"


def _too_large(error):
    """The message for PIL's DecompressionBombError: the image's size and the way out."""
    found = re.search(r"\((\d+) pixels\)", str(error))
    size = f"{int(found.group(1)):,} pixels" if found else f"({error})"
    return (
        f"is too large: {size}, more than twice {_GUARD.format(Image.MAX_IMAGE_PIXELS)}; "
        "if you trust the file, raise PIL.Image.MAX_IMAGE_PIXELS (None lifts the limit)"
    )


def _warn_if_large(size, where):
    """PIL's DecompressionBombWarning (over the limit, up to twice it), naming the file.

    Made an error by a warnings filter, it is an ImageLoadError like any refusal.
    """
    limit, (width, height) = Image.MAX_IMAGE_PIXELS, size
    if limit is None or width * height <= limit:
        return
    try:
        warnings.warn(
            f"{where} has {width} x {height} pixels ({width * height:,}), more than "
            f"{_GUARD.format(limit)}: decoded anyway, as PIL does below twice the limit. "
            "If you trust your files, raise the limit (None lifts it); to refuse such "
            "files, make PIL.Image.DecompressionBombWarning an error",
            Image.DecompressionBombWarning,
            stacklevel=4,
        )
    except Image.DecompressionBombWarning as exc:
        raise ImageLoadError(str(exc)) from None


def read_image(item, index):
    """One checked input item as an RGB PIL image or an (H, W, 3) array.

    Errors name the item by ``index``, its position in the input, and a file by its path.
    """
    if isinstance(item, (str, os.PathLike)):
        return _load(item, describe(index, item))
    if isinstance(item, Image.Image):
        try:
            return to_rgb(item)
        except Exception as exc:
            raise ImageLoadError(f"could not convert image {index} to RGB: {exc}") from exc
    return array_to_rgb(item)


def array_to_rgb(array):
    """(H, W), (H, W, 1), (H, W, 3) or (H, W, 4) to (H, W, 3), keeping the dtype family.

    uint16 is scaled to float in [0, 1]; alpha is composited onto white. The
    result is writable: torch warns about tensors made from read-only memory.
    """
    if array.dtype == np.uint16:
        array = array.astype(np.float32) / 65535.0
    if array.ndim == 2:
        array = array[:, :, None]
    if array.shape[-1] == 1:
        return np.repeat(array, 3, axis=-1)
    if array.shape[-1] == 4:
        white = 255.0 if array.dtype == np.uint8 else 1.0
        alpha = array[..., 3:].astype(np.float32) / white
        rgb = array[..., :3].astype(np.float32) * alpha + white * (1.0 - alpha)
        return np.rint(rgb).astype(np.uint8) if array.dtype == np.uint8 else rgb
    return array if array.flags.writeable else array.copy()
