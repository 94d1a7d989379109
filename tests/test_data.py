import numpy as np
import pytest
from PIL import Image

from sktransfer import ImageLoadError
from sktransfer.data import check_images, load_image, load_image_folder, to_rgb


@pytest.mark.parametrize(
    "mode, value, expected",
    [
        ("L", 200, (200, 200, 200)),
        ("LA", (100, 255), (100, 100, 100)),
        ("LA", (100, 0), (255, 255, 255)),  # fully transparent: white
        ("La", (100, 255), (100, 100, 100)),  # premultiplied alpha
        ("La", (100, 128), (227, 227, 227)),  # 100 / 128 * 255 = 199, half on white
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


def test_load_image_names_the_file_it_cannot_read(tmp_path):
    (tmp_path / "folder.png").mkdir()
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "notes.png").write_text("hello")
    for name, problem in [
        ("missing.png", "does not exist"),
        ("folder.png", "is a directory, not an image file"),
        ("empty.png", r"is empty \(0 bytes\)"),
        ("notes.png", r"is not a readable image \(unknown format\)"),
    ]:
        with pytest.raises(ImageLoadError, match=rf"^image file '.*{name}' {problem}"):
            load_image(tmp_path / name)


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


def test_pandas_series_and_single_column_frame(image_files):
    pd = pytest.importorskip("pandas")
    assert check_images(pd.Series(image_files)) == image_files
    assert check_images(pd.DataFrame({"path": image_files})) == image_files
