"""Bad image input as a user meets it: files, arrays, data frames and PIL images.

Each case goes through what a user calls (``PixelEncoder.transform``, a fitted
``ImageEncoder``, a fine-tuner's ``fit``) and must fail with the library's own
exception, of the built-in type a user would catch, naming the image by its
position in ``X`` and a file by its path; odd but valid input must simply work.
No input file is ever changed.
"""

import contextlib
import os
import re
import signal
import stat
import struct
import warnings
import zlib

import numpy as np
import pytest
from PIL import Image

from sktransfer import FineTuneClassifier, ImageEncoder, ImageLoadError, PixelEncoder
from sktransfer.data import check_images


@pytest.fixture(scope="module")
def image_encoder():
    """A small random CNN: what matters here is the input, not the features."""
    return ImageEncoder("small_cnn", weights=None, batch_size=2).fit()


def _fine_tune(X):
    model = FineTuneClassifier(
        "small_cnn", weights=None, max_epochs=1, batch_size=2, validation=None, random_state=0
    )
    return model.fit(X, [0, 1] * (len(X) // 2) + [0] * (len(X) % 2))


READERS = {
    "PixelEncoder": lambda encoder, X: PixelEncoder(size=4).transform(X),
    "ImageEncoder": lambda encoder, X: encoder.transform(X),
    "FineTuneClassifier": lambda encoder, X: _fine_tune(X),
}


@pytest.fixture(params=list(READERS))
def read(request, image_encoder):
    """Reads X as one of the estimators does; parametrised over them."""
    return lambda X: READERS[request.param](image_encoder, X)


def _snapshot(folder):
    """Every entry under ``folder``: its kind, and a regular file's size, time and bytes.

    Only regular files are read: opening a named pipe would wait forever.
    """
    state = {}
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = os.path.join(root, name)
            info = os.lstat(path)
            content = None
            if stat.S_ISREG(info.st_mode):
                with open(path, "rb") as handle:
                    content = handle.read()
            state[path] = (stat.S_IFMT(info.st_mode), info.st_size, info.st_mtime_ns, content)
    return state


@contextlib.contextmanager
def _deadline(seconds):
    """Fail, rather than hang, if the body blocks (on a named pipe, say)."""

    def expire(signum, frame):
        raise TimeoutError(f"still running after {seconds} s: blocked?")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


# -- files -------------------------------------------------------------------------------


def _png_header(width, height):
    """A PNG that claims ``width x height`` RGB pixels and holds next to none."""

    def chunk(kind, data):
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 16))
        + chunk(b"IEND", b"")
    )


def _noise(size=(48, 40)):
    return np.random.default_rng(0).integers(0, 256, (*size[::-1], 3), dtype=np.uint8)


def _truncated(path, format):
    Image.fromarray(_noise()).save(path, format=format)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return path


def _written(path, data):
    path.write_bytes(data)
    return path


def _folder(path):
    path.mkdir()
    return path


def _named_pipe(path):
    os.mkfifo(path)
    return path


BAD_FILES = {
    "missing": (lambda d: d / "missing.png", "does not exist"),
    "a directory": (lambda d: _folder(d / "folder.png"), "is a directory, not an image file"),
    "a named pipe": (
        lambda d: _named_pipe(d / "pipe.png"),
        r"is not a regular file \(it is a named pipe\)",
    ),
    "empty": (lambda d: _written(d / "empty.png", b""), r"is empty \(0 bytes\)"),
    "truncated PNG": (lambda d: _truncated(d / "cut.png", "PNG"), "is not a readable image"),
    "truncated JPEG": (lambda d: _truncated(d / "cut.jpg", "JPEG"), "is not a readable image"),
    "text named .png": (
        lambda d: _written(d / "notes.png", b"a shopping list, not pixels"),
        r"is not a readable image \(unknown format\)",
    ),
    "0x0 PNG": (lambda d: _written(d / "nothing.png", _png_header(0, 0)), "not a readable image"),
    "decompression bomb": (
        lambda d: _written(d / "bomb.png", _png_header(100_000, 100_000)),
        r"is too large: 10,000,000,000 pixels, more than twice PIL\.Image\.MAX_IMAGE_PIXELS "
        r"\(\d[\d,]*\).*if you trust the file, raise PIL\.Image\.MAX_IMAGE_PIXELS",
    ),
    "huge width": (
        lambda d: _written(d / "wide.png", _png_header(2**31 - 1, 1)),
        "is too large: 2,147,483,647 pixels",
    ),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_a_bad_file_is_named_by_index_and_path(case, read, tmp_path):
    make, message = BAD_FILES[case]
    good = tmp_path / "good.png"
    Image.fromarray(_noise()).save(good)
    bad = make(tmp_path)
    before = _snapshot(tmp_path)
    with _deadline(120), pytest.raises(ImageLoadError, match=message) as caught:
        read([str(good), str(bad)])
    assert isinstance(caught.value, ValueError)
    assert f"image 1 '{bad}' " in str(caught.value)
    assert _snapshot(tmp_path) == before


def test_over_pils_limit_a_file_is_read_with_a_warning_naming_it(tmp_path, monkeypatch):
    """PIL warns up to twice its limit and refuses past that; the library names the file."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    paths = {}
    for name, side in (("small", 10), ("large", 12), ("huge", 15)):
        paths[name] = str(tmp_path / f"{name}.png")
        Image.fromarray(_noise((side, side))).save(paths[name])
    before = _snapshot(tmp_path)
    encoder = PixelEncoder(size=4)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = encoder.transform([paths["small"], paths["large"]])
    assert out.shape == (2, 16)
    (warning,) = [w for w in caught if issubclass(w.category, Image.DecompressionBombWarning)]
    assert f"image 1 '{paths['large']}' has 12 x 12 pixels (144), more than" in str(warning.message)
    assert "PIL.Image.MAX_IMAGE_PIXELS (100)" in str(warning.message)
    with pytest.raises(ImageLoadError, match=r"image 1 '.*huge.png' is too large: 225 pixels"):
        encoder.transform([paths["small"], paths["huge"]])
    # Made an error by a filter, the warning refuses the file like any bad image.
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with pytest.raises(ImageLoadError, match=r"image 0 '.*large.png' has 12 x 12 pixels"):
            encoder.transform([paths["large"]])
    # Files the user trusts: the limit lifted, no warning and no error.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert encoder.transform([paths["huge"], paths["large"]]).shape == (2, 16)
    assert _snapshot(tmp_path) == before


def _odd_files(folder):
    """Valid files in the modes that need converting, written by PIL: path -> mode."""
    rng = np.random.default_rng(1)
    grey = rng.integers(0, 256, (30, 20), dtype=np.uint8)
    rgb = _noise((20, 30))
    images = {
        "palette.png": Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE),
        "bilevel.png": Image.fromarray(grey).convert("1"),
        "grey.jpg": Image.fromarray(grey),
        "grey-alpha.png": Image.merge("LA", [Image.fromarray(grey), Image.fromarray(grey[::-1])]),
        "rgba.png": Image.fromarray(np.dstack([rgb, grey])),
        "cmyk.jpg": Image.fromarray(rgb).convert("CMYK"),
        "sixteen-bit.png": Image.fromarray(grey.astype(np.uint16) * 257),
        "float.tif": Image.fromarray(grey.astype(np.float32) / 255.0),
        "frames.gif": Image.fromarray(rgb).convert("P"),
    }
    transparent = Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE)
    transparent.info["transparency"] = 0
    images["palette-transparent.png"] = transparent
    paths = []
    for name, image in images.items():
        image.save(folder / name)
        paths.append(str(folder / name))
    return paths


def test_files_in_odd_modes_read_as_their_pil_images(tmp_path, image_encoder):
    paths = _odd_files(tmp_path)
    modes = set()
    for path in paths:
        with Image.open(path) as image:
            modes.add(image.mode)
    assert {"P", "1", "L", "LA", "RGBA", "CMYK", "F"} <= modes and modes & {"I;16", "I"}
    before = _snapshot(tmp_path)
    opened = []
    for path in paths:
        with Image.open(path) as image:
            image.load()
            opened.append(image)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pixels = PixelEncoder(size=4, grayscale=False).transform(paths)
        np.testing.assert_array_equal(
            pixels, PixelEncoder(size=4, grayscale=False).transform(opened)
        )
        features = image_encoder.transform(paths)
        np.testing.assert_allclose(features, image_encoder.transform(opened), rtol=1e-5, atol=1e-7)
    assert np.isfinite(features).all() and pixels.min() >= 0 and pixels.max() <= 1
    assert _snapshot(tmp_path) == before


# -- arrays --------------------------------------------------------------------------------


def _with(dtype, value, at):
    """Four 8x8 RGB images of ``dtype``, all 0.5 (or 100), with ``value`` in image ``at``."""
    X = np.full((4, 8, 8, 3), 0.5 if np.issubdtype(dtype, np.floating) else 100, dtype)
    X[at, 1, 2, 0] = value
    return X


def _objects(*items):
    X = np.empty(len(items), dtype=object)
    X[:] = list(items)
    return X


BAD_ARRAYS = {
    # The whole array is wrong: the message names X and its shape.
    "1-D": (np.zeros(5, np.uint8), ValueError, r"got shape \(5,\)"),
    "2-D: one grey image": (np.zeros((8, 8), np.uint8), ValueError, r"one image\? add a leading"),
    "5-D": (np.zeros((1, 2, 8, 8, 3), np.uint8), ValueError, r"got shape \(1, 2, 8, 8, 3\)"),
    "channel-first": (
        np.zeros((2, 3, 8, 8), np.uint8),
        ValueError,
        r"X has 8 channels .*channel-first: use X\.transpose\(0, 2, 3, 1\)",
    ),
    "5 channels": (np.zeros((2, 8, 8, 5), np.uint8), ValueError, r"X has 5 channels"),
    "no images": (np.zeros((0, 8, 8, 3), np.uint8), ValueError, r"X holds no images"),
    "one RGB image": (
        np.zeros((96, 128, 3), np.uint8),
        ValueError,
        r"X has shape \(96, 128, 3\): one RGB image of 96 x 128 pixels\? Pass it in a list "
        r"\(\[x\]\) or add a batch axis \(x\[None\]\).*add a channel axis: x\[\.\.\., None\]",
    ),
    "one RGBA image": (np.zeros((96, 128, 4), np.uint8), ValueError, r"one RGBA image.*x\[None\]"),
    "one grey image with a channel axis": (
        np.zeros((28, 28, 1), np.float32),
        ValueError,
        r"one grey image of 28 x 28 pixels\?",
    ),
    "bool": (np.zeros((2, 8, 8, 3), bool), TypeError, r"X has dtype bool.*astype\(np\.uint8\)"),
    "int64 within 0-255": (
        _with(np.int64, 255, 1),
        TypeError,
        r"X has dtype int64.*its values fit in uint8: x\.astype\(np\.uint8\)",
    ),
    "complex": (np.zeros((2, 8, 8, 3), complex), TypeError, "X has dtype complex128"),
    # One image is wrong: the message names it.
    "0x0 images": (np.zeros((2, 0, 0, 3), np.uint8), ValueError, r"image 0 is empty"),
    "0-wide grey images": (np.zeros((2, 5, 0), np.uint8), ValueError, r"image 0 is empty"),
    "NaN": (_with(np.float32, np.nan, 2), ValueError, "image 2 contains NaN or infinite"),
    "inf": (_with(np.float64, -np.inf, 1), ValueError, "image 1 contains NaN or infinite"),
    "negative floats": (
        _with(np.float32, -0.5, 3),
        ValueError,
        r"image 3 is a float image with values in \[-0.5, 0.5\]; float images must lie in "
        r"\[0, 1\] \(divide by 255",
    ),
    "floats in 0-255": (
        _with(np.float64, 255.0, 1),
        ValueError,
        r"image 1 is a float image with values in \[0.5, 255\]",
    ),
    "int64 over 255": (
        _with(np.int64, 300, 2),
        TypeError,
        r"image 2 has dtype int64 and values in \[100, 300\], beyond uint8's 0-255",
    ),
    "negative int32": (_with(np.int32, -1, 1), TypeError, r"image 1 has dtype int32 .*\[-1, 100\]"),
    "an object array holding a number": (
        _objects(np.zeros((8, 8, 3), np.uint8), 7),
        TypeError,
        "image 1 is a int; expected a path, a PIL image or an array",
    ),
}


@pytest.mark.parametrize("case", list(BAD_ARRAYS))
def test_a_bad_array_gets_its_own_message(case, read):
    X, error, message = BAD_ARRAYS[case]
    with pytest.raises(error, match=message):
        read(X)


BAD_ITEMS = {
    "an empty array": (
        np.zeros((0, 5, 3), np.uint8),
        ValueError,
        r"is empty \(shape \(0, 5, 3\)\)",
    ),
    "a channel-first array": (
        np.zeros((3, 8, 8), np.uint8),
        ValueError,
        r"has 8 channels .*channel-first: transpose it to \(H, W, C\)",
    ),
    "a 2-channel array": (np.zeros((8, 8, 2), np.uint8), ValueError, "has 2 channels"),
    "a 1-D array": (np.zeros(8, np.uint8), ValueError, r"has shape \(8,\); expected \(H, W\)"),
    "a NaN pixel": (_with(np.float32, np.nan, 0)[0], ValueError, "contains NaN or infinite"),
    "floats over 1": (_with(np.float32, 2.0, 0)[0], ValueError, r"values in \[0.5, 2\]"),
    "int64 over 255": (_with(np.int64, 256, 0)[0], TypeError, r"dtype int64 and values in"),
    "booleans": (np.ones((8, 8), bool), TypeError, "has dtype bool"),
    "objects": (np.zeros((8, 8, 3), object), TypeError, "has dtype object"),
    "a 0x0 PIL image": (
        Image.new("RGB", (0, 0)),
        ValueError,
        r"PIL image without pixels \(0 x 0\)",
    ),
    "a 5x0 PIL image": (Image.new("L", (5, 0)), ValueError, r"without pixels \(5 x 0\)"),
    "None": (None, ValueError, r"is missing \(None\); expected a path, a PIL image or an array"),
    "NaN": (float("nan"), ValueError, r"is missing \(nan\)"),
    "a number": (3.5, TypeError, "is a float; expected a path, a PIL image or an array"),
    "bytes": (b"\x89PNG", TypeError, "is a bytes"),
}


@pytest.mark.parametrize("case", list(BAD_ITEMS))
def test_a_bad_item_in_a_list_is_named_by_its_index(case, read):
    item, error, message = BAD_ITEMS[case]
    X = [np.zeros((8, 8, 3), np.uint8), Image.new("RGB", (9, 7)), item]
    with pytest.raises(error, match=message) as caught:
        read(X)
    assert str(caught.value).startswith("image 2 ")


def _strided():
    return _noise((16, 12))[None].repeat(3, axis=0)[:, ::2, ::-1]


def _read_only():
    X = _noise((8, 6))[None].repeat(2, axis=0)
    X.flags.writeable = False
    return X


GOOD_ARRAYS = {
    "strided, reversed": _strided,
    "Fortran order": lambda: np.asfortranarray(_noise((8, 6))[None].repeat(2, axis=0)),
    "read-only": _read_only,
    "read-only items": lambda: list(_read_only()),
    "grey (N, H, W), 5 wide": lambda: _noise((5, 7))[..., 0][None].repeat(2, axis=0),
    "grey (N, H, W, 1)": lambda: _noise((3, 7))[None, ..., :1].repeat(2, axis=0),
    "float16 in [0, 1]": lambda: (_noise()[None] / 255).astype(np.float16),
    "float64 in [0, 1]": lambda: _noise()[None] / 255,
    "uint16": lambda: _noise()[None].astype(np.uint16) * 257,
    "mixed sizes and dtypes": lambda: [_noise((5, 7)), _noise((9, 4))[..., 0] / 255.0],
}


@pytest.mark.parametrize("case", list(GOOD_ARRAYS))
def test_odd_but_valid_arrays_read_as_their_plain_copies(case, image_encoder):
    X = GOOD_ARRAYS[case]()
    plain = [np.array(x, order="C") for x in X] if isinstance(X, list) else np.array(X, order="C")
    for reader in (PixelEncoder(size=4).transform, image_encoder.transform):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # torch warns about read-only arrays
            np.testing.assert_array_equal(reader(X), reader(plain))


# -- data frames and PIL images --------------------------------------------------------


def test_data_frames_and_series(read, tmp_path):
    pd = pytest.importorskip("pandas")
    good = str(tmp_path / "good.png")
    Image.fromarray(_noise()).save(good)
    with pytest.raises(ValueError, match="X is a DataFrame with 2 columns; pass a single image"):
        read(pd.DataFrame({"photo": [good, good], "thumbnail": [good, good]}))
    for missing in (np.nan, None, pd.NA):
        with pytest.raises(ValueError, match=r"^image 1 is missing \("):
            read(pd.Series([good, missing, good], dtype=object))
    with pytest.raises(ValueError, match=r"^image 1 is missing \(nan\)"):
        read(pd.DataFrame({"photo": [good, np.nan]}))
    # The index in messages is the position in X, whatever the Series' labels.
    absent = str(tmp_path / "absent.png")
    with pytest.raises(ImageLoadError, match=rf"^image 1 '{re.escape(absent)}' does not exist"):
        read(pd.Series([good, absent], index=[10, 20]))


ODD_MODES = ["P", "PA", "I;16", "I;16B", "I", "F", "LA", "La", "RGBa", "RGBX", "CMYK", "YCbCr",
             "LAB", "HSV", "1"]  # fmt: skip


def test_pil_images_of_every_mode_are_read(image_encoder):
    images = [Image.new(mode, (9, 7)) for mode in ODD_MODES]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pixels = PixelEncoder(size=4, grayscale=False).transform(images)
        features = image_encoder.transform(images)
    assert pixels.shape == (len(ODD_MODES), 48) and pixels.min() >= 0 and pixels.max() <= 1
    assert np.isfinite(features).all()


# -- the checks themselves -----------------------------------------------------------------


@pytest.mark.parametrize(
    "X, error, message",
    [
        (None, TypeError, "X is None"),
        ([], ValueError, "no images"),
        ("photo.png", TypeError, "wrap a single image in a list"),
        (Image.new("RGB", (4, 4)), TypeError, "wrap a single image in a list"),
        (12, TypeError, "collection of images, got int"),
    ],
)
def test_what_is_no_collection_of_images(X, error, message):
    with pytest.raises(error, match=message):
        check_images(X)
