"""PixelEncoder: raw pixels, read as ImageEncoder reads images, resized, scaled, flattened."""

import pickle

import numpy as np
import pytest
from PIL import Image
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from sktransfer import ImageLoadError, PixelEncoder


def test_shapes_dtype_and_feature_names(rgb_images):
    grey = PixelEncoder(size=16).fit(rgb_images)
    assert grey.n_features_out_ == 16 * 16
    out = grey.transform(rgb_images)
    assert out.shape == (6, 256) and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    colour = PixelEncoder(size=16, grayscale=False).fit(rgb_images)
    assert colour.n_features_out_ == 16 * 16 * 3
    assert colour.transform(rgb_images).shape == (6, 768)
    names = colour.get_feature_names_out()
    assert len(names) == 768 and names[0] == "pixelencoder0" and names[-1] == "pixelencoder767"


def test_stateless_transform_needs_no_fit(rgb_images):
    encoder = PixelEncoder(size=8)
    np.testing.assert_array_equal(
        encoder.transform(rgb_images), clone(encoder).fit_transform(rgb_images)
    )
    assert not hasattr(encoder, "n_features_out_")
    assert len(encoder.get_feature_names_out()) == 64


def test_values_of_a_known_tiny_image():
    image = np.array([[0, 255], [255, 255]], dtype=np.uint8)
    # At its own size an image is its pixels over 255, row by row.
    np.testing.assert_allclose(PixelEncoder(size=2).transform(image[None]), [[0, 1, 1, 1]])
    # Down to one pixel, bilinear with antialiasing averages the four.
    np.testing.assert_allclose(PixelEncoder(size=1).transform(image[None]), [[0.75]])
    red = np.zeros((1, 2, 2, 3), dtype=np.uint8)
    red[..., 0] = 255
    np.testing.assert_allclose(PixelEncoder(size=2).transform(red), [[0.299] * 4], rtol=1e-6)
    colour = PixelEncoder(size=2, grayscale=False).transform(red)
    np.testing.assert_allclose(colour, [[1, 0, 0] * 4])  # (H, W, C) order


def test_rows_are_the_resized_images_in_array_order(rgb_images):
    square = rgb_images[:, :32, :32]
    colour = PixelEncoder(size=32, grayscale=False).transform(square)
    np.testing.assert_allclose(colour.reshape(square.shape), square / 255.0, atol=1e-6)
    grey = PixelEncoder(size=32).transform(square[..., 1])  # a grey image keeps its levels
    np.testing.assert_allclose(grey.reshape(square.shape[:3]), square[..., 1] / 255.0, atol=1e-6)


def test_paths_pil_arrays_and_series_give_identical_features(rgb_images, image_files):
    for grayscale in (True, False):
        encoder = PixelEncoder(size=20, grayscale=grayscale)
        from_arrays = encoder.transform(rgb_images)
        np.testing.assert_array_equal(encoder.transform(image_files), from_arrays)
        pil = [Image.open(p) for p in image_files]
        np.testing.assert_array_equal(encoder.transform(pil), from_arrays)
        np.testing.assert_array_equal(encoder.transform(list(rgb_images)), from_arrays)
    pd = pytest.importorskip("pandas")
    np.testing.assert_array_equal(encoder.transform(pd.Series(image_files)), from_arrays)


def test_grey_colour_and_mixed_sizes(rgb_images):
    grey = rgb_images[..., 0]
    encoder = PixelEncoder(size=12, grayscale=False)
    # Grey images are made RGB first, as everywhere: three equal channels.
    as_rgb = encoder.transform(grey).reshape(6, 12, 12, 3)
    np.testing.assert_array_equal(as_rgb[..., 0], as_rgb[..., 2])
    np.testing.assert_allclose(
        PixelEncoder(size=12).transform(grey).reshape(6, 12, 12), as_rgb[..., 0], atol=1e-6
    )
    # Images of several sizes are resized one by one, to the same numbers.
    mixed = [rgb_images[0], rgb_images[1, :20, :30], Image.fromarray(rgb_images[2, :33])]
    together = encoder.transform(mixed)
    for row, image in zip(together, mixed):
        np.testing.assert_array_equal(row, encoder.transform([image])[0])


def test_bad_input_and_parameters_are_named(image_files, rgb_images):
    missing = image_files[:2] + [image_files[0].replace("img0", "missing")]
    with pytest.raises(ImageLoadError, match=r"image 2 '.*missing.png' does not exist"):
        PixelEncoder().fit_transform(missing)
    with pytest.raises(ValueError, match="channel-first"):
        PixelEncoder().transform(rgb_images.transpose(0, 3, 1, 2))
    with pytest.raises(ValueError, match="size must be an int >= 1, got 0"):
        PixelEncoder(size=0).fit()
    with pytest.raises(TypeError, match="grayscale must be True or False, got 'yes'"):
        PixelEncoder(grayscale="yes").transform(rgb_images)


def test_sklearn_conventions(rgb_images):
    encoder = PixelEncoder(size=8).fit(rgb_images)
    restored = pickle.loads(pickle.dumps(encoder))
    np.testing.assert_array_equal(restored.transform(rgb_images), encoder.transform(rgb_images))
    full = encoder.transform(rgb_images)
    order = np.array([3, 0, 5, 1])
    np.testing.assert_array_equal(encoder.transform(rgb_images[order]), full[order])
    pytest.importorskip("pandas")
    out = PixelEncoder(size=4).set_output(transform="pandas").transform(rgb_images)
    assert list(out.columns) == [f"pixelencoder{i}" for i in range(16)]


def test_pipeline_with_logistic_regression_on_fashion_mnist(fashion_split):
    X_train, y_train, X_test, y_test = fashion_split(50, 30)
    pipe = make_pipeline(PixelEncoder(size=12), LogisticRegression(max_iter=300))
    pipe.fit(X_train, y_train)
    # Chance is 0.1; raw pixels of 500 images reach about 0.75.
    assert pipe.score(X_test, y_test) >= 0.65
    assert pipe[0].n_features_out_ == pipe[-1].n_features_in_ == 144
