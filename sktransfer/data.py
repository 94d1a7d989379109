"""Reading images: files, PIL images and arrays in, checked RGB images out.

Every image, whatever it came as, becomes an RGB image: grey levels are
repeated, palettes expanded, alpha composited onto white, CMYK converted,
16-bit depth scaled to 8 bits and the EXIF orientation applied. Problems are
reported with the index (and file name) of the offending image, before any
model runs where that can be checked cheaply.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ._columns import single_column
from .exceptions import ImageLoadError

IMAGE_EXTENSIONS = (
    ".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pbm",
)  # fmt: skip

_SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I")


def _describe(index, item):
    name = f" '{os.fspath(item)}'" if isinstance(item, (str, os.PathLike)) else ""
    return f"image {index}{name}"


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
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        return _on_white(image.convert("RGBA"))
    return image.convert("RGB")


def _float_to_uint8(array):
    return np.clip(np.rint(np.asarray(array, dtype=np.float32) * 255.0), 0, 255).astype(np.uint8)


def load_image(path):
    """Open an image file as RGB; errors name the file.

    Examples
    --------
    >>> import skimage, pathlib
    >>> path = pathlib.Path(skimage.__file__).parent / "data" / "astronaut.png"
    >>> load_image(path).size
    (512, 512)
    """
    try:
        with Image.open(path) as image:
            image.load()
            return to_rgb(image)
    except FileNotFoundError:
        raise ImageLoadError(f"image file '{os.fspath(path)}' does not exist") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise ImageLoadError(f"'{os.fspath(path)}' is not a readable image: {exc}") from exc


def load_image_folder(root, *, extensions=IMAGE_EXTENSIONS):
    """Image paths and labels from a folder with one sub-folder per class.

    Like Keras' ``flow_from_directory`` or torchvision's ``ImageFolder``: classes
    are the sub-folder names, sorted; files are found recursively and filtered
    by extension (case-insensitive); hidden files and folders are skipped.

    Parameters
    ----------
    root : str or PathLike
        The folder holding one sub-folder per class.
    extensions : tuple of str
        File extensions counted as images.

    Returns
    -------
    paths : list of str
        Sorted by class, then by path.
    labels : numpy.ndarray of str
        The class (sub-folder name) of each path.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from PIL import Image
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> for label in ("cat", "dog"):
    ...     (root / label).mkdir()
    ...     Image.new("RGB", (8, 8)).save(root / label / "a.png")
    >>> paths, labels = load_image_folder(root)
    >>> [pathlib.Path(p).name for p in paths], labels.tolist()
    (['a.png', 'a.png'], ['cat', 'dog'])
    """
    root = Path(root)
    if not root.is_dir():
        raise NotADirectoryError(f"image folder '{root}' does not exist or is not a directory")
    extensions = tuple(e.lower() for e in extensions)
    classes = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not classes:
        raise ValueError(f"'{root}' has no class sub-folders (expected root/<class>/<image>)")
    paths, labels = [], []
    for label in classes:
        found = find_images(root / label, extensions=extensions)
        paths += found
        labels += [label] * len(found)
    if not paths:
        raise ValueError(f"no images with extensions {extensions} under '{root}'")
    empty = sorted(set(classes) - set(labels))
    if empty:  # a class that silently vanished would shift every later class's meaning
        raise ValueError(
            f"class folder '{root / empty[0]}' holds no images with extensions {extensions}"
        )
    return paths, np.asarray(labels)


def find_images(folder, *, extensions=IMAGE_EXTENSIONS):
    """The image files under ``folder``, recursively, sorted; hidden ones skipped.

    Parameters
    ----------
    folder : str or PathLike
    extensions : tuple of str
        File extensions counted as images (case-insensitive).

    Returns
    -------
    list of str
    """
    folder = Path(folder)
    extensions = tuple(e.lower() for e in extensions)
    return [
        str(path)
        for path in sorted(folder.rglob("*"))
        if path.is_file()
        and path.suffix.lower() in extensions
        and not any(part.startswith(".") for part in path.relative_to(folder).parts)
    ]


# -- input checking --------------------------------------------------------------------


def _check_array_image(array, index):
    """Check one (H, W) or (H, W, C) image array; returns it unchanged."""
    where = f"image {index}"
    if array.ndim not in (2, 3):
        raise ValueError(f"{where} has shape {array.shape}; expected (H, W) or (H, W, C)")
    if array.ndim == 3 and array.shape[-1] not in (1, 3, 4):
        hint = (
            " It looks channel-first: transpose it to (H, W, C)."
            if array.shape[0] in (1, 3, 4)
            else ""
        )
        raise ValueError(
            f"{where} has {array.shape[-1]} channels (shape {array.shape}); "
            f"expected 1 (grey), 3 (RGB) or 4 (RGBA) in the last axis.{hint}"
        )
    _check_dtype_and_values(array, where)
    return array


def _check_dtype_and_values(array, where):
    if array.dtype in (np.uint8, np.uint16):
        return
    if not np.issubdtype(array.dtype, np.floating):
        raise TypeError(
            f"{where} has dtype {array.dtype}; use uint8 (0-255), uint16 or floats in [0, 1]"
        )
    if array.size == 0:
        raise ValueError(f"{where} is empty (shape {array.shape})")
    if not np.isfinite(array).all():
        raise ValueError(f"{where} contains NaN or infinite pixel values")
    low, high = float(array.min()), float(array.max())
    if low < 0.0 or high > 1.0:
        raise ValueError(
            f"{where} is a float array with values in [{low:g}, {high:g}]; float images must "
            "lie in [0, 1] (divide by 255, or pass uint8)"
        )


def check_images(X):
    """Validate image input and return it as an array batch or a list of items.

    Accepts paths (str / PathLike), PIL images, uint8 / uint16 / float arrays
    shaped (N, H, W, C) or (N, H, W), a list mixing these, or a pandas Series
    (or one-column DataFrame) of them.
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
        if isinstance(item, (str, os.PathLike)):
            if not Path(item).is_file():
                raise ImageLoadError(f"{_describe(index, item)} does not exist")
        elif isinstance(item, np.ndarray):
            _check_array_image(item, index)
        elif not isinstance(item, Image.Image):
            raise TypeError(
                f"image {index} is a {type(item).__name__}; expected a path, a PIL image "
                "or an array"
            )
    return items


def _check_array_batch(X):
    if X.ndim not in (3, 4):
        raise ValueError(
            f"an image array must be (N, H, W) or (N, H, W, C), got shape {X.shape}"
            + (" (one image? add a leading axis)" if X.ndim == 2 else "")
        )
    if X.shape[0] == 0:
        raise ValueError("X holds no images (0 samples)")
    if X.ndim == 4 and X.shape[-1] not in (1, 3, 4):
        hint = (
            " It looks channel-first: use X.transpose(0, 2, 3, 1)."
            if X.shape[1] in (1, 3, 4)
            else ""
        )
        raise ValueError(
            f"X has {X.shape[-1]} channels (shape {X.shape}); expected 1, 3 or 4 in the "
            f"last axis.{hint}"
        )
    if np.issubdtype(X.dtype, np.floating) and not np.isfinite(X).all():
        bad = int(np.flatnonzero(~np.isfinite(X.reshape(len(X), -1)).all(axis=1))[0])
        raise ValueError(f"image {bad} contains NaN or infinite pixel values")
    _check_dtype_and_values(X, "X")
    return X


def read_image(item, index):
    """One checked input item as an RGB PIL image or an (H, W, 3) array."""
    if isinstance(item, (str, os.PathLike)):
        try:
            return load_image(item)
        except ImageLoadError as exc:
            raise ImageLoadError(f"could not read {_describe(index, item)}: {exc}") from None
    if isinstance(item, Image.Image):
        try:
            return to_rgb(item)
        except Exception as exc:
            raise ImageLoadError(f"could not convert image {index} to RGB: {exc}") from exc
    return array_to_rgb(item)


def array_to_rgb(array):
    """(H, W), (H, W, 1), (H, W, 3) or (H, W, 4) to (H, W, 3), keeping the dtype family.

    uint16 is scaled to float in [0, 1]; alpha is composited onto white.
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
    return array
