"""PixelEncoder: raw pixels as features, the "no transfer" baseline for images."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin

from .. import images
from .._checks import BOOLEAN, Interval, validate_params

# ITU-R BT.601 luma, the weights of PIL's "L" conversion; they sum to 1, so a grey
# image keeps its levels.
LUMA = (0.299, 0.587, 0.114)

# Images read, then resized together: one call on a stack is several times faster
# than one per image, and gives the same numbers.
CHUNK = 256


class PixelEncoder(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Raw pixels as features: the image baseline that transfers nothing.

    What a pre-trained :class:`~sktransfer.ImageEncoder` should beat: each image
    is read exactly as ``ImageEncoder`` reads it (file paths, PIL images,
    arrays, a Series; made RGB the same way; bad input named by its index and
    file), optionally turned grey, resized to ``size x size``, scaled to
    [0, 1] and flattened. Nothing is learned: ``fit`` only checks the
    parameters, and ``transform`` works without it.

    Parameters
    ----------
    size : int, default=32
        Side of the square every image is resized to, with
        ``torchvision.transforms.v2.Resize((size, size), bilinear,
        antialias=True)`` on float pixels. The image is stretched to the
        square: its aspect ratio is not kept and nothing is cropped.
    grayscale : bool, default=True
        Turn the RGB image grey (ITU-R BT.601 luma, ``0.299 R + 0.587 G +
        0.114 B``, PIL's weights) before resizing: one value per pixel
        instead of three.

    Attributes
    ----------
    n_features_out_ : int
        ``size * size`` (grey) or ``size * size * 3`` (colour).

    Examples
    --------
    >>> import numpy as np
    >>> from sktransfer import PixelEncoder
    >>> images = np.random.default_rng(0).integers(0, 256, (4, 28, 28), dtype=np.uint8)
    >>> PixelEncoder(size=16).fit_transform(images).shape
    (4, 256)
    >>> PixelEncoder(size=8, grayscale=False).fit(images).get_feature_names_out()[:2]
    array(['pixelencoder0', 'pixelencoder1'], dtype=object)
    """

    _parameter_constraints = {"size": [Interval(int, 1)], "grayscale": [BOOLEAN]}

    def __init__(self, *, size=32, grayscale=True):
        self.size = size
        self.grayscale = grayscale

    def fit(self, X=None, y=None):
        """Check the parameters; no data is needed or used.

        Parameters
        ----------
        X : ignored
            Accepted for Pipeline compatibility.
        y : ignored
            Accepted for Pipeline compatibility.

        Returns
        -------
        self : object
            The encoder, with ``n_features_out_`` set.
        """
        self.n_features_out_ = self._n_features_out
        return self

    def transform(self, X):
        """Resize and flatten each image into one float32 row of pixels.

        Parameters
        ----------
        X : images
            What :class:`~sktransfer.ImageEncoder` reads: a list of file paths,
            PIL images or arrays; an array ``(N, H, W)`` or ``(N, H, W, C)``
            (uint8, uint16, or floats in [0, 1]); a pandas Series or
            one-column DataFrame of these.

        Returns
        -------
        ndarray of shape (n_samples, n_features_out_), dtype float32
            Values in [0, 1]. Row ``i`` reshaped to ``(size, size)`` (grey)
            or ``(size, size, 3)`` (RGB) is image ``i`` resized.
        """
        n_features = self._n_features_out  # checks the parameters
        items = images.check_images(X)
        out = np.empty((len(items), n_features), dtype=np.float32)
        for start in range(0, len(items), CHUNK):
            stop = min(start + CHUNK, len(items))
            pixels = self._resized(
                [images.scale(images.to_tensor(items[i], i)) for i in range(start, stop)]
            )
            # (N, C, H, W) -> rows in (H, W, C) order, the order of an image array.
            out[start:stop] = pixels.permute(0, 2, 3, 1).reshape(stop - start, -1).numpy()
        return out

    def _resized(self, tensors):
        """The images grey if asked, resized to ``size x size``, stacked, clipped to [0, 1]."""
        import torch
        from torchvision.transforms import InterpolationMode, v2

        resize = v2.Resize(
            (self.size, self.size), interpolation=InterpolationMode.BILINEAR, antialias=True
        )
        if len({t.shape for t in tensors}) == 1:
            batch = resize(self._coloured(torch.stack(tensors)))
        else:
            batch = torch.stack([resize(self._coloured(t)) for t in tensors])
        # Luma weights that sum to 1 in decimals may not quite do so in float32.
        return batch.clamp_(0.0, 1.0)

    def _coloured(self, images):
        """(..., 3, H, W) RGB as it is, or as (..., 1, H, W) grey levels."""
        if not self.grayscale:
            return images
        import torch

        luma = torch.tensor(LUMA).view(3, 1, 1)
        return (images * luma).sum(dim=-3, keepdim=True)

    @property
    def _n_features_out(self):
        validate_params(self)
        return self.size * self.size * (1 if self.grayscale else 3)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False  # stateless: transform needs no fit
        tags.non_deterministic = False
        tags.input_tags.two_d_array = False
        tags.input_tags.three_d_array = True
        tags.input_tags.string = True
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags
