"""The offline data sets' helpers: domain shifts of images."""

import numpy as np
import pytest

from sktransfer.datasets import SHIFTS, shift_images


def test_domain_shifts_keep_the_images_and_change_their_look():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (5, 28, 28), dtype=np.uint8)
    assert SHIFTS == ("none", "inverted", "noisy", "textured")
    control = shift_images(images, "none")
    assert np.array_equal(control, images) and control is not images
    assert np.array_equal(shift_images(images, "inverted"), 255 - images)
    noisy = shift_images(images, "noisy", seed=1)
    assert noisy.shape == images.shape and noisy.dtype == np.uint8
    assert np.array_equal(noisy, shift_images(images, "noisy", seed=1))  # repeatable
    assert not np.array_equal(noisy, shift_images(images, "noisy", seed=2))
    textured = shift_images(images, "textured")
    assert textured.shape == (5, 28, 28, 3) and textured.dtype == np.uint8


def test_a_textured_pixel_is_its_colour_where_the_garment_is_white():
    white = np.full((1, 8, 8), 255, dtype=np.uint8)
    black = np.zeros((1, 8, 8), dtype=np.uint8)
    garment, background = shift_images(white, "textured"), shift_images(black, "textured")
    assert len(np.unique(garment.reshape(-1, 3), axis=0)) == 1  # one colour, no texture
    assert len(np.unique(background.reshape(-1, 3), axis=0)) > 1  # the texture's stripes


def test_bad_shifts_are_refused():
    images = np.zeros((1, 8, 8), dtype=np.uint8)
    with pytest.raises(ValueError, match="shift must be one of"):
        shift_images(images, "rotated")
    with pytest.raises(ValueError, match="takes uint8 images"):
        shift_images(images.astype(float), "inverted")
