"""Image files on disk: folders of class sub-folders, and the image files under a folder.

The functions that read one image (:func:`load_image`, :func:`read_image`,
:func:`to_rgb`, :func:`array_to_rgb`) and check a collection of them
(:func:`check_images`) live in :mod:`sktransfer.images`; they stay importable
from here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .images import array_to_rgb, check_images, load_image, read_image, to_rgb

__all__ = [
    "IMAGE_EXTENSIONS", "array_to_rgb", "check_images", "find_images", "load_image",
    "load_image_folder", "read_image", "to_rgb",
]  # fmt: skip

IMAGE_EXTENSIONS = (
    ".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pbm",
)  # fmt: skip


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
