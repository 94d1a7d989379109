"""ImageEncoder: a pre-trained vision backbone as a scikit-learn transformer."""

from __future__ import annotations

import os

import numpy as np
from sklearn.utils.validation import check_is_fitted

from .. import backbones, images
from .._checks import BOOLEAN, CACHE, NONE, PATH, Device, InstanceOf, Interval, Options
from .._utils import progress, resolve_device
from ..cache import source_name
from ._adapt_bn import AdaptBNEncoder
from ._base import resolve_spec

POOLINGS = ("auto", "avg", "max", "flatten", "cls")
PRECISIONS = ("float32", "bfloat16", "float16")


class ImageEncoder(AdaptBNEncoder):
    """Features from a pre-trained image backbone, for any scikit-learn estimator.

    The backbone runs batched, in eval mode, under ``torch.inference_mode()``;
    its last feature map (or the output of ``layer``) is pooled into one
    float32 vector per image.

    Parameters
    ----------
    backbone : str or ImageBackbone, default="efficientnet_lite0"
        A name from ``sktransfer.backbones.list("image")``, any timm model
        name with its pretrained tag (``"convnext_tiny.fb_in22k"``), or a
        loaded :class:`~sktransfer.backbones.ImageBackbone`.
    weights : "default", None or path, default="default"
        "default" finds the pre-trained weights offline first (see
        :mod:`sktransfer.weights`); None gives a random initialisation; a path
        loads a local state dict.
    pooling : {"auto", "avg", "max", "flatten", "cls"}, default="auto"
        How the last feature map (N, C, h, w) becomes a vector. "auto" is
        exactly what the pre-trained classifier's last layer received: its
        own pooling and whatever it did before that layer (ConvNeXt's
        LayerNorm, the fc6/fc7 layers of VGG and AlexNet, MobileNetV3's and
        MaxViT's pre-logits layer, a ViT's class token); SqueezeNet, whose
        classifier is a convolution on the map, gets the map's average.
        The others: global average or max over positions, or the whole map
        flattened; for vision transformers (tokens) "cls" takes the class
        token, "avg" and "max" pool the patch tokens. With a ``layer``,
        "auto" is "avg".
    layer : str or list of str, optional
        Take the output of this module instead of the last one: a layer group
        (``spec.layer_groups``, e.g. "layer3" for a ResNet) or a dotted module
        path (e.g. "layer3.1"). The network stops there. A list takes several
        and concatenates their pooled outputs, in its order: lower layers
        (edges, textures) often transfer better to images far from the
        pre-training data, such as greyscale Fashion-MNIST, and the last
        layer can stay among them.
    image_size : int, optional
        Run the backbone on ``image_size x image_size`` images instead of its
        own input size: each image is resized in proportion (its shorter side
        to ``round(image_size * resize_size / input_size)``, the backbone's
        ratio) and centre-cropped to that size. None keeps the backbone's
        preprocessing. Smaller is faster (half the size, a quarter of the
        pixels) and can suit small images; CNNs take any size, most vision
        transformers only their own (a size that does not fit raises
        ValueError in ``fit``).
    batch_size : int or "auto", default="auto"
        Images per forward pass. "auto" is 8 on the CPU and 64 on a GPU: a CPU
        runs these networks fastest on small batches whose activations stay in
        its caches (EfficientNet-Lite0 on two cores: about twice the images per
        second at 8 as at 32), while a GPU needs large ones to be kept busy.
    device : str, default="auto"
        "auto" picks CUDA when present (then Apple's MPS), else the CPU; or a
        torch device this machine has ("cpu", "cuda:1"): ``fit`` refuses one
        it lacks. A fitted encoder loaded where its device is missing runs on
        the CPU, with a warning.
    precision : {"float32", "bfloat16", "float16"}, default="float32"
        Arithmetic of the forward pass. The half-precision ones run under
        ``torch.autocast``: much faster on GPUs and on CPUs with bfloat16
        instructions (EfficientNet-Lite0 on an AVX-512 BF16 CPU: 2.4x), at the
        cost of features that match float32 only to about three digits (cosine
        similarity above 0.999). The output is float32 either way.
    adapt_bn : bool, default=False
        AdaBN (Li et al., 2016, "Revisiting Batch Normalization For Practical
        Domain Adaptation"): ``fit`` re-estimates every BatchNorm layer's
        running statistics on the images it is given, the target domain's,
        and nothing else changes. A CNN normalises each layer with the mean
        and variance of its pre-training images; images of another domain
        (greyscale, inverted, another camera) reach the later layers shifted,
        and their own statistics can undo part of that shift without any
        label (measure it: a few images make noisier statistics than
        ImageNet's). The statistics are computed as ``transform`` reads the
        images, in float32, in batches of at most ``batch_size``.
        With ``sample_domain`` (skada's convention: negative for the target
        samples) the source samples get statistics of their own as well, and
        ``transform(X, sample_domain)`` normalises each sample by its domain's.
        A backbone without BatchNorm (a vision transformer) is left as it is,
        with a warning.
    num_workers : int or "auto", default="auto"
        Worker processes decoding images (a torch DataLoader); 0 does it in
        this process. "auto" is 0 on the CPU, where the network already uses
        every core, and the cores available (at most one per batch) on a GPU.
        On a GPU, images of one size are resized, cropped and normalised there,
        a whole batch at once; images of mixed sizes are resized one by one
        as they are decoded, and so are all images on the CPU (its fastest
        kernels are for uint8 images).
    cache : bool, path or EmbeddingCache, default=None
        Keep each image's features on disk and encode only the images not
        seen before (see :class:`~sktransfer.cache.EmbeddingCache`): a
        directory, ``True`` for the user cache directory, or a cache object.
        Images are known by their content (a file's bytes, an array's
        pixels), the encoder by everything that changes its output. Within one
        call, repeated images are encoded once even without a cache.
    verbose : bool, default=False
        Show a tqdm progress bar while encoding.

    Attributes
    ----------
    model_ : torch.nn.Module
        The backbone with its pooling, in eval mode.
    preprocessing_ : ImagePreprocessing
        Resize, crop and normalisation the backbone expects, at
        ``image_size`` when it is set.
    pooling_ : str
        The pooling in use: "pre_logits" (the classifier's own) or one of
        "avg", "max", "flatten", "cls".
    n_features_out_ : int
        Length of each feature vector.
    source_model_ : torch.nn.Module
        The model for the source samples (a non-negative ``sample_domain`` in
        ``transform``): with ``adapt_bn`` and a ``sample_domain`` in ``fit``,
        the backbone with its statistics re-estimated on the source images;
        else the pre-trained one. Without ``adapt_bn`` it is ``model_``.
    n_adapted_ : int
        The number of BatchNorm layers whose statistics ``fit`` re-estimated
        (0 without ``adapt_bn``).

    Examples
    --------
    >>> import numpy as np
    >>> from sktransfer import ImageEncoder
    >>> images = np.random.default_rng(0).integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    >>> encoder = ImageEncoder("resnet18", weights=None, batch_size=2)
    >>> encoder.fit_transform(images).shape
    (4, 512)
    >>> ImageEncoder("resnet18", weights=None, layer="layer2").fit(images).n_features_out_
    128
    >>> layers = ImageEncoder("resnet18", weights=None, layer=["layer2", "layer4"])
    >>> layers.fit(images).n_features_out_
    640

    AdaBN on images of another domain, here the same images inverted:

    >>> adapted = ImageEncoder("resnet18", weights=None, adapt_bn=True).fit(255 - images)
    >>> adapted.n_adapted_, adapted.transform(255 - images).shape
    (20, (4, 512))
    """

    _parameter_constraints = {
        "weights": [Options("default"), NONE, PATH],
        "pooling": [Options(*POOLINGS)],
        "layer": [NONE, InstanceOf((str, list, tuple), "a layer name or a list of them")],
        "image_size": [NONE, Interval(int, 8)],
        "batch_size": [Options("auto"), Interval(int, 1)],
        "device": [Device()],
        "precision": [Options(*PRECISIONS)],
        "adapt_bn": [BOOLEAN],
        "num_workers": [Options("auto"), Interval(int, 0)],
        "cache": CACHE,
        "verbose": [BOOLEAN],
    }

    def __init__(
        self,
        backbone="efficientnet_lite0",
        *,
        weights="default",
        pooling="auto",
        layer=None,
        image_size=None,
        batch_size="auto",
        device="auto",
        precision="float32",
        adapt_bn=False,
        num_workers="auto",
        cache=None,
        verbose=False,
    ):
        self.backbone = backbone
        self.weights = weights
        self.pooling = pooling
        self.layer = layer
        self.image_size = image_size
        self.batch_size = batch_size
        self.device = device
        self.precision = precision
        self.adapt_bn = adapt_bn
        self.num_workers = num_workers
        self.cache = cache
        self.verbose = verbose

    # -- loading -----------------------------------------------------------------------

    def _model_key(self):
        shareable = (str, os.PathLike)
        if not isinstance(self.backbone, shareable) or self.weights is None:
            return None
        params = ("backbone", "weights", "pooling", "layer", "image_size")
        value = {k: getattr(self, k) for k in params}
        if isinstance(value["layer"], (list, tuple)):  # a key must be hashable
            value["layer"] = tuple(value["layer"])
        return tuple(value.items())

    def _load(self):
        import torch

        spec = resolve_spec(self.backbone, "image")
        model = backbones.ImageFeatures(spec.load(self.weights), self.pooling, self.layer)
        model = model.eval().requires_grad_(False)
        # channels_last lets oneDNN / cuDNN pick their fast convolution kernels.
        model = model.to(memory_format=torch.channels_last)
        # The fitted encoder keeps what it needs from the spec, not the spec itself:
        # a plugin's spec need not be picklable, nor installed where the pickle loads.
        self.preprocessing_ = images.preprocessing_at(spec.preprocessing, self.image_size)
        self.pooling_ = model.pooling
        self.n_features_out_ = model.feature_size(
            self.preprocessing_.input_size, image_size=self.image_size, backbone=spec.name
        )
        return model

    # -- encoding ----------------------------------------------------------------------

    def source_outputs(self, X):
        """The features of ``X`` and the pre-trained classifier's logits, from one pass.

        The logits are what the backbone's own classifier (ImageNet's 1000
        classes for the built-in ones) makes of the features ``transform``
        gives: its last layer applied to them, so nothing runs twice. They are
        what LEEP and NCE (:mod:`sktransfer.ranking`) read.

        Parameters
        ----------
        X : array-like or iterable
            The images, as ``transform`` reads them.

        Returns
        -------
        features : ndarray of shape (n_samples, n_features_out_), dtype float32
            As ``transform`` returns them.
        logits : ndarray of shape (n_samples, n_source_classes), dtype float32
            The source classifier's logits.

        Raises
        ------
        ValueError
            The encoder reads a ``layer`` or pools otherwise than the
            classifier (``pooling="auto"``), or the backbone keeps no
            classifier (a loaded module, SqueezeNet, most plugins).

        Examples
        --------
        >>> import numpy as np
        >>> images = np.random.default_rng(0).integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
        >>> encoder = ImageEncoder("resnet18", weights=None).fit(images)
        >>> features, logits = encoder.source_outputs(images)
        >>> features.shape, logits.shape
        ((2, 512), (2, 1000))
        """
        import torch

        check_is_fitted(self, "model_")
        if self.layer is not None or self.pooling_ != "pre_logits":
            raise ValueError(
                "source outputs are the classifier's logits of the features it was trained "
                f"on: use layer=None and pooling='auto' (this encoder has layer={self.layer!r}, "
                f"pooling={self.pooling!r})"
            )
        spec = resolve_spec(self.backbone, "image")
        classifier = spec.load_source_classifier(self.weights)
        features = self.transform(X)
        with torch.inference_mode():
            logits = classifier(torch.from_numpy(features)).numpy()
        return features, logits

    def _fingerprint(self):
        return {
            "backbone": source_name(self.backbone),
            "weights": self.weights if self.weights is None else os.fspath(self.weights),
            "preprocessing": repr(self.preprocessing_),
            **{k: getattr(self, k) for k in ("pooling", "layer", "precision")},
        }

    def _check_samples(self, X):
        return images.check_images(X)

    def _sample_keys(self, samples):
        return [images.image_key(item) for item in samples]

    def _encode(self, items, positions):
        import torch

        device = resolve_device(self.device)
        model = self._model_on(device)
        batches = self._batches(items, positions, device, self._batch_size(device))
        out = np.empty((len(items), self.n_features_out_), dtype=np.float32)
        start = 0
        bar = progress(len(items), enabled=self.verbose, unit="img", desc=str(self.backbone))
        autocast = torch.autocast(
            device.type,
            dtype=getattr(torch, self.precision),
            enabled=self.precision != "float32",
        )
        with bar, torch.inference_mode(), autocast:
            for batch in batches:
                features = model(batch).float()
                out[start : start + len(batch)] = features.cpu().numpy()
                start += len(batch)
                bar.update(len(batch))
        return out

    def _batches(self, items, positions, device, batch_size):
        """The images as the backbone reads them: resized, normalised batches on ``device``.

        The one preprocessing of ``transform`` and of ``adapt_bn``'s statistics.
        """
        batches = images.loader(
            items, positions, self.preprocessing_, device=device,
            batch_size=batch_size, num_workers=self.num_workers,
        )  # fmt: skip
        prepare = images.DevicePreprocessing(self.preprocessing_, device)
        return (prepare(batch, sized) for batch, sized in batches)

    def _batch_size(self, device):
        """The batch size used on ``device`` ("auto" resolved)."""
        if self.batch_size == "auto":
            return images.auto_batch_size(device)
        return int(self.batch_size)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.input_tags.string = True
        return tags
