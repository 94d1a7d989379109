import numpy as np
import pytest
from PIL import Image

from sktransfer import ImageLoadError
from sktransfer.data import check_images, load_image, load_image_folder, read_image, to_rgb


@pytest.mark.parametrize(
    "mode, value, expected",
    [
        ("L", 200, (200, 200, 200)),
        ("LA", (100, 255), (100, 100, 100)),
        ("LA", (100, 0), (255, 255, 255)),  # fully transparent: white
        ("RGBA", (255, 0, 0, 128), (255, 127, 127)),
        ("CMYK", (0, 255, 255, 0), (255, 0, 0)),
        ("I;16", 65535, (255, 255, 255)),
        ("I;16", 32896, (128, 128, 128)),  # scaled, not clipped to 255
        ("I", 0, (0, 0, 0)),
        ("F", 0.5, (128, 128, 128)),
        ("1", 1, (255, 255, 255)),
    ],
)
def test_every_mode_becomes_rgb(mode, value, expected):
    rgb = to_rgb(Image.new(mode, (5, 4), value))
    assert rgb.mode == "RGB" and rgb.size == (5, 4)
    assert rgb.getpixel((2, 2)) == pytest.approx(expected, abs=1)


def test_palette_with_and_without_transparency():
    palette = Image.new("P", (4, 4), 1)
    palette.putpalette([0, 0, 0, 10, 200, 30] + [0] * 762)
    assert to_rgb(palette).getpixel((0, 0)) == (10, 200, 30)
    palette.info["transparency"] = 1
    assert to_rgb(palette).getpixel((0, 0)) == (255, 255, 255)


def test_exif_orientation_is_applied(tmp_path):
    image = Image.new("RGB", (40, 20), (255, 0, 0))
    exif = image.getexif()
    exif[0x0112] = 6  # stored sideways: rotate 90 degrees to view
    path = tmp_path / "rotated.jpg"
    image.save(path, exif=exif)
    assert load_image(path).size == (20, 40)


def test_sixteen_bit_png_is_scaled(tmp_path):
    path = tmp_path / "deep.png"
    Image.fromarray(np.full((4, 4), 65535, dtype=np.uint16)).save(path)
    assert load_image(path).getpixel((0, 0)) == (255, 255, 255)


def test_load_image_folder(tmp_path):
    for label, names in {
        "cat": ["b.JPG", "a.png"],
        "dog": ["sub/c.png"],
        ".hidden": ["x.png"],
    }.items():
        for name in names:
            (tmp_path / label / name).parent.mkdir(parents=True, exist_ok=True)
            Image.new("RGB", (4, 4)).save(tmp_path / label / name, format="PNG")
    (tmp_path / "dog" / "notes.txt").write_text("not an image")
    (tmp_path / "readme.md").write_text("ignored")
    paths, labels = load_image_folder(tmp_path)
    assert [p.split("/")[-1] for p in paths] == ["a.png", "b.JPG", "c.png"]
    assert labels.tolist() == ["cat", "cat", "dog"]


def test_load_image_folder_errors(tmp_path):
    with pytest.raises(NotADirectoryError, match="missing"):
        load_image_folder(tmp_path / "missing")
    with pytest.raises(ValueError, match="no class sub-folders"):
        load_image_folder(tmp_path)
    (tmp_path / "cls").mkdir()
    with pytest.raises(ValueError, match="no images"):
        load_image_folder(tmp_path)
    Image.new("RGB", (4, 4)).save(tmp_path / "cls" / "a.png")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("not an image")
    with pytest.raises(ValueError, match="class folder '.*empty' holds no images"):
        load_image_folder(tmp_path)


def test_bad_files_are_named_with_their_index(tmp_path, image_files):
    missing = str(tmp_path / "missing.png")
    with pytest.raises(ImageLoadError, match=r"image 2 '.*missing.png' does not exist"):
        check_images(image_files[:2] + [missing])
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(b"\xff\xd8 this is not a jpeg")
    with pytest.raises(ImageLoadError, match=r"could not read image 4 '.*corrupt.jpg'"):
        read_image(str(corrupt), 4)
    text = tmp_path / "notes.png"
    text.write_text("hello")
    with pytest.raises(ImageLoadError, match=r"image 0 '.*notes.png'.*not a readable image"):
        read_image(str(text), 0)


@pytest.mark.parametrize(
    "X, error, message",
    [
        (None, TypeError, "X is None"),
        ([], ValueError, "no images"),
        ("photo.png", TypeError, "wrap a single image in a list"),
        (np.zeros((0, 8, 8, 3), np.uint8), ValueError, "no images"),
        (np.zeros((8, 8), np.uint8), ValueError, "one image\\? add a leading axis"),
        (np.zeros((2, 8, 8, 5), np.uint8), ValueError, "5 channels"),
        (np.zeros((2, 3, 8, 8), np.uint8), ValueError, "channel-first"),
        (np.zeros((2, 8, 8, 3), np.int32), TypeError, "dtype int32"),
        (np.zeros((2, 8, 8, 3), bool), TypeError, "dtype bool"),
        (np.full((2, 8, 8, 3), 2.0), ValueError, r"values in \[2, 2\].*\[0, 1\]"),
        ([np.zeros((8, 8, 3), np.uint8), 42], TypeError, "image 1 is a int"),
        ([np.zeros((8, 8, 2), np.uint8)], ValueError, "image 0 has 2 channels"),
        ([np.zeros((3, 8, 8), np.uint8)], ValueError, "image 0 .*channel-first"),
        (12, TypeError, "collection of images, got int"),
    ],
)
def test_bad_input_gets_a_clear_error(X, error, message):
    with pytest.raises(error, match=message):
        check_images(X)


def test_nan_pixels_name_the_image():
    X = np.zeros((4, 8, 8, 3), np.float32)
    X[2, 1, 1, 0] = np.nan
    with pytest.raises(ValueError, match="image 2 contains NaN"):
        check_images(X)
    with pytest.raises(ValueError, match="image 1 contains NaN"):
        check_images([X[0], X[2]])


def test_pandas_series_and_single_column_frame(image_files):
    pd = pytest.importorskip("pandas")
    assert check_images(pd.Series(image_files)) == image_files
    assert check_images(pd.DataFrame({"path": image_files})) == image_files
    with pytest.raises(ValueError, match="2 columns"):
        check_images(pd.DataFrame({"a": image_files, "b": image_files}))
