"""Image input checked before any image is decoded: what can be told without reading pixels.

Paths are checked with ``os.stat`` (missing, a directory, a named pipe, an
empty file), PIL images by their size, arrays by their shape, dtype and
values. Each error names the offending image by its index in ``X``, and a
file by its path; decoding errors come later, from :func:`sktransfer.images.read_image`.
"""

from __future__ import annotations

import os
import stat

import numpy as np
from PIL import Image

from .._utils import is_missing
from ..exceptions import ImageLoadError
from ._columns import single_column


def describe(index, item):
    """How errors name an image: "image 3", with the file's path when it is one."""
    name = f" '{os.fspath(item)}'" if isinstance(item, (str, os.PathLike)) else ""
    return f"image {index}{name}"


def file_problem(path):
    """Why ``path`` is no image file, from ``os.stat`` alone; None when it may be one.

    The file is never opened: opening a named pipe waits for a writer, forever.

    Examples
    --------
    >>> import tempfile
    >>> file_problem(tempfile.gettempdir())
    'is a directory, not an image file'
    """
    try:
        info = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return "does not exist"
    except PermissionError:
        return "cannot be reached (permission denied)"
    except (OSError, ValueError) as exc:  # ValueError: a NUL character in the path
        return f"cannot be reached ({exc})"
    if stat.S_ISDIR(info.st_mode):
        return "is a directory, not an image file"
    if not stat.S_ISREG(info.st_mode):
        kind = (
            "a named pipe" if stat.S_ISFIFO(info.st_mode)
            else "a socket" if stat.S_ISSOCK(info.st_mode)
            else "a device"
        )  # fmt: skip
        return f"is not a regular file (it is {kind})"
    if info.st_size == 0:
        return "is empty (0 bytes)"
    return None


def check_images(X):
    """Validate image input and return it as an array batch or a list of items.

    Accepts paths (str / PathLike), PIL images, uint8 / uint16 / float arrays
    shaped (N, H, W, C) or (N, H, W), a list mixing these, or a pandas Series
    (or one-column DataFrame) of them.

    Raises
    ------
    ImageLoadError
        A path that is no regular, non-empty file (a ValueError).
    ValueError
        No images, a wrong shape, an empty image, a missing item (None, NaN),
        NaN or out-of-range pixels.
    TypeError
        Something that is no collection of images, an item of another type,
        an unsupported dtype.
    """
    if X is None:
        raise TypeError("X is None; expected image paths, PIL images or an image array")
    if isinstance(X, (str, os.PathLike, Image.Image)):
        raise TypeError(f"X must be a collection of images; wrap a single image in a list: [{X!r}]")
    X = single_column(X, what="image")
    if isinstance(X, np.ndarray) and X.dtype != object:
        return _check_array_batch(X)
    try:
        items = list(X)
    except TypeError:
        raise TypeError(f"X must be a collection of images, got {type(X).__name__}") from None
    if not items:
        raise ValueError("X holds no images (0 samples)")
    for index, item in enumerate(items):
        _check_item(item, index)
    return items


def _check_item(item, index):
    if isinstance(item, (str, os.PathLike)):
        problem = file_problem(item)
        if problem is not None:
            raise ImageLoadError(f"{describe(index, item)} {problem}")
    elif isinstance(item, np.ndarray):
        _check_array_image(item, index)
    elif isinstance(item, Image.Image):
        try:
            item.load()  # decodes a lazily opened image now
        except (ValueError, AssertionError):  # what PIL raises for a closed image
            raise ValueError(
                f"image {index} is a closed PIL image (its close() was called, or the "
                "'with Image.open(...)' block that opened it has ended): pass it open, or "
                "pass its file's path"
            ) from None
        except OSError as exc:
            raise ImageLoadError(f"image {index} is not a readable image ({exc})") from exc
        if 0 in item.size:
            width, height = item.size
            raise ValueError(f"image {index} is a PIL image without pixels ({width} x {height})")
    elif is_missing(item):
        raise ValueError(
            f"image {index} is missing ({item!r}); expected a path, a PIL image or an array"
        )
    else:
        raise TypeError(
            f"image {index} is a {type(item).__name__}; expected a path, a PIL image or an array"
        )


def _check_array_image(array, index):
    """Check one (H, W) or (H, W, C) image array; returns it unchanged."""
    where = f"image {index}"
    if array.ndim not in (2, 3):
        raise ValueError(f"{where} has shape {array.shape}; expected (H, W) or (H, W, C)")
    if array.ndim == 3:
        _check_channels_last(array.shape, where, "transpose it to (H, W, C)")
    if 0 in array.shape:
        raise ValueError(f"{where} is empty (shape {array.shape})")
    _check_dtype(array[None], where, lambda _: where)
    _check_floats(array[None], lambda _: where)
    return array


def _check_array_batch(X):
    if X.ndim not in (3, 4):
        raise ValueError(
            f"an image array must be (N, H, W) or (N, H, W, C), got shape {X.shape}"
            + (" (one image? add a leading axis)" if X.ndim == 2 else "")
        )
    if X.shape[0] == 0:
        raise ValueError("X holds no images (0 samples)")
    if X.ndim == 3 and X.shape[-1] in (1, 3, 4):
        # (N, H, W) is N grey images, but images 1, 3 or 4 pixels wide are rarely
        # meant: this is one image whose last axis holds its channels.
        kind = {1: "grey", 3: "RGB", 4: "RGBA"}[X.shape[-1]]
        raise ValueError(
            f"X has shape {X.shape}: one {kind} image of {X.shape[0]} x {X.shape[1]} pixels? "
            "Pass it in a list ([x]) or add a batch axis (x[None]). An (N, H, W) array is "
            f"read as N grey images; for {X.shape[0]} grey images {X.shape[-1]} pixels wide, "
            "add a channel axis: x[..., None]"
        )
    if X.ndim == 4:
        _check_channels_last(X.shape, "X", "use X.transpose(0, 2, 3, 1)")
    if 0 in X.shape:
        raise ValueError(f"image 0 is empty: X has shape {X.shape}")
    _check_dtype(X, "X", lambda i: f"image {i}")
    _check_floats(X, lambda i: f"image {i}")
    return X


def _check_channels_last(shape, where, fix):
    """A ValueError unless the last axis of ``shape`` holds 1, 3 or 4 channels.

    ``where`` names the image (or "X"); ``fix`` says how to make a channel-first
    array channel-last, suggested when the axis after the batch looks like channels.
    """
    if shape[-1] in (1, 3, 4):
        return
    hint = f" It looks channel-first: {fix}." if shape[-3] in (1, 3, 4) else ""
    raise ValueError(
        f"{where} has {shape[-1]} channels (shape {shape}); "
        f"expected 1 (grey), 3 (RGB) or 4 (RGBA) in the last axis.{hint}"
    )


def _check_dtype(X, name, where):
    """A TypeError unless ``X``'s dtype is uint8, uint16 or floating; ints get a way out.

    ``name`` says what has the dtype ("X"), ``where(i)`` names image ``i`` of ``X``.
    """
    if X.dtype in (np.uint8, np.uint16) or np.issubdtype(X.dtype, np.floating):
        return
    message = f"{name} has dtype {X.dtype}; use uint8 (0-255), uint16 or floats in [0, 1]"
    if X.dtype == bool:
        message += " (booleans as black and white: x.astype(np.uint8) * 255)"
    elif np.issubdtype(X.dtype, np.integer):
        flat = X.reshape(len(X), -1)
        outside = np.flatnonzero((flat.min(axis=1) < 0) | (flat.max(axis=1) > 255))
        if outside.size:
            bad = flat[outside[0]]
            message = (
                f"{where(outside[0])} has dtype {X.dtype} and values in "
                f"[{bad.min()}, {bad.max()}], beyond uint8's 0-255; scale the pixels to "
                "floats in [0, 1] or to uint8 / uint16"
            )
        else:
            message += "; its values fit in uint8: x.astype(np.uint8)"
    raise TypeError(message)


def _check_floats(X, where):
    """A ValueError naming the first image with NaN, infinite or out-of-[0, 1] values."""
    if not np.issubdtype(X.dtype, np.floating):
        return
    flat = X.reshape(len(X), -1)
    finite = np.isfinite(flat).all(axis=1)
    if not finite.all():
        bad = int(np.flatnonzero(~finite)[0])
        raise ValueError(f"{where(bad)} contains NaN or infinite pixel values")
    low, high = flat.min(axis=1), flat.max(axis=1)
    outside = np.flatnonzero((low < 0.0) | (high > 1.0))
    if outside.size:
        bad = int(outside[0])
        raise ValueError(
            f"{where(bad)} is a float image with values in [{low[bad]:g}, {high[bad]:g}]; "
            "float images must lie in [0, 1] (divide by 255, or pass uint8)"
        )
