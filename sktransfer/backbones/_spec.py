"""What a backbone is: how to build it, how to feed it, what it returns."""

from __future__ import annotations

import warnings
from collections import OrderedDict
from dataclasses import dataclass

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

MODALITIES = ("image", "text", "words")


@dataclass(frozen=True)
class ImagePreprocessing:
    """How images are turned into the tensor a vision backbone was trained on.

    Each image, as a ``(3, H, W)`` tensor (uint8, or float in [0, 1]), is
    resized with
    ``torchvision.transforms.v2.Resize(resize_size, interpolation, antialias=True)``
    (its shorter side becomes ``resize_size``, the other keeps the aspect ratio,
    rounded down; skipped when None), then centre-cropped with
    ``v2.CenterCrop(input_size)`` to ``input_size x input_size``, scaled to
    [0, 1] and normalised with ``mean`` and ``std``. Along each axis the crop
    starts ``round(margin / 2)`` pixels in, where ``margin`` is the resized
    length minus ``input_size`` and ``round`` is Python's (half to even): an
    odd margin leaves its extra pixel at the bottom / right when
    ``margin % 4 == 1`` and at the top / left when ``margin % 4 == 3``
    (torchvision's rounding, kept for fidelity). An image smaller than the crop
    is padded with zeros (black, before normalisation). timm's ``crop_pct``
    is ``input_size / resize_size``.

    Parameters
    ----------
    input_size : int, default=224
        Side of the square the backbone receives.
    resize_size : int or None, default=256
        Length the shorter side is resized to before the crop; None crops
        (or pads) the image as it is.
    mean : tuple of 3 float, default=IMAGENET_MEAN
        Per-channel mean subtracted from the [0, 1] pixels (RGB order).
    std : tuple of 3 float, default=IMAGENET_STD
        Per-channel standard deviation the pixels are divided by.
    interpolation : str, default="bilinear"
        A ``torchvision.transforms.InterpolationMode`` value that torchvision
        resizes tensors with: "bilinear", "bicubic", "nearest",
        "nearest-exact" (and "lanczos" in recent torchvision).

    Examples
    --------
    >>> ImagePreprocessing(input_size=224, resize_size=256).interpolation
    'bilinear'
    """

    input_size: int = 224
    resize_size: int | None = 256
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    interpolation: str = "bilinear"

    def __post_init__(self):
        from torchvision.transforms import InterpolationMode

        modes = tuple(m.value for m in InterpolationMode)
        if self.interpolation not in modes:
            raise ValueError(f"interpolation must be one of {modes}, got {self.interpolation!r}")


class BackboneSpec:
    """Everything sktransfer needs to know about one pre-trained backbone.

    A spec is cheap to make: it describes the backbone and knows how to build
    it, but builds nothing (``feature_dim`` and ``layer_groups`` may be
    functions, computed when a listing asks). Built-in families and plugins
    give specs to the registry; ``docs/plugins.md`` is the guide to writing
    one.

    Parameters
    ----------
    name : str
        Short name, e.g. ``"resnet50"``; no ``/``.
    modality : {"image", "text", "words"}
        What the backbone reads, which decides the estimators that take it.
    build : callable
        ``build(weights)`` returns the model, with its weights loaded on the
        CPU. ``weights`` is what the user passed: ``"default"`` for the
        pre-trained weights, None for a random initialisation, or a path to a
        local file; :func:`sktransfer.weights.resolve` turns it into a file
        path (or None) following the offline policy, and
        :func:`sktransfer.weights.load_state_dict` reads it safely. The model
        is, by modality: an :class:`~sktransfer.backbones.ImageBackbone`
        (images), a ``sentence_transformers.SentenceTransformer`` (text),
        gensim ``KeyedVectors`` (words).
    description : str
        One line for ``sktransfer backbones``.
    preprocessing : ImagePreprocessing, optional
        Input size, resize, crop, mean/std and interpolation (images only;
        ImageNet's 224 / 256 / bilinear when omitted).
    feature_dim : int or callable, optional
        Size of the feature vector (for images, of ``forward_head``'s output),
        or a function computing it on demand. Only listings read it: the
        estimators measure the built model, so omitting it costs nothing but
        a blank in ``sktransfer backbones``. An int is shown in every listing;
        a function is called only by ``sktransfer backbones --details``.
    layer_groups : tuple of str or callable, optional
        Names of the layer groups, ordered from input to output, or a function
        computing them; for images, the keys of the built model's
        ``layer_groups()``.
    weights : WeightsSource, optional
        Where the default pre-trained weights come from (shown in listings;
        ``build`` is what uses it).
    family : str
        The family of architectures, e.g. ``"torchvision"``.
    source_classifier : callable, optional
        ``source_classifier(weights)`` returns the pre-trained classifier's last
        layer, a ``torch.nn.Linear`` reading ``forward_head``'s output (the
        features of ``ImageEncoder(pooling="auto")``), with the weights
        ``build`` would load, or None where the weights keep none. It lets
        :meth:`~sktransfer.ImageEncoder.source_outputs` give the source
        classes' logits beside the features, for LEEP and NCE (images only).
    default_pooling : {"avg", "max"}, optional
        Deprecated since 0.2.0, removed in 0.3.0 (a FutureWarning): what
        ``pooling="auto"`` does is the model's own ``forward_head``. It is
        only read where ``build`` returns a plain ``nn.Sequential`` (also
        deprecated), whose output it pools; return a
        ``SequentialBackbone(groups, pre_logits=GlobalPool("max"))`` instead.

    Examples
    --------
    >>> from collections import OrderedDict
    >>> from torch import nn
    >>> from sktransfer.backbones import BackboneSpec, SequentialBackbone
    >>> def build(weights):
    ...     return SequentialBackbone(OrderedDict(stem=nn.Conv2d(3, 8, 3), stage=nn.ReLU()))
    >>> spec = BackboneSpec(name="tiny", modality="image", build=build, feature_dim=8)
    >>> spec.build(None)(__import__("torch").zeros(1, 3, 16, 16)).shape
    torch.Size([1, 8])
    """

    def __init__(
        self,
        *,
        name,
        modality,
        build,
        description="",
        preprocessing=None,
        feature_dim=None,
        layer_groups=(),
        weights=None,
        family="",
        source_classifier=None,
        default_pooling=None,
    ):
        if modality not in MODALITIES:
            raise ValueError(f"modality must be one of {MODALITIES}, got {modality!r}")
        if not callable(build):
            raise TypeError(f"build must be callable, got {build!r}")
        if source_classifier is not None and not callable(source_classifier):
            raise TypeError(f"source_classifier must be callable, got {source_classifier!r}")
        if modality == "image" and preprocessing is None:
            preprocessing = ImagePreprocessing()
        self.name = name
        self.modality = modality
        self.build = build
        self.description = description
        self.preprocessing = preprocessing
        self._feature_dim = feature_dim
        self._layer_groups = layer_groups
        self.weights = weights
        self.family = family
        if default_pooling is not None:
            warnings.warn(
                f"BackboneSpec(default_pooling={default_pooling!r}) for {name!r} is deprecated "
                "since sktransfer 0.2.0 and will be refused in 0.3.0: pooling='auto' takes the "
                "model's own forward_head; have build() return a SequentialBackbone(groups, "
                f"pre_logits=GlobalPool({default_pooling!r})) or an ImageBackbone whose "
                "forward_head pools",
                FutureWarning,
                stacklevel=2,
            )
        self.default_pooling = default_pooling
        self.source_classifier = source_classifier
        # Set by the registry: the entry point (or built-in family) that provided it.
        self.namespace = None

    def load(self, weights="default"):
        """Build the model with ``build(weights)`` and check it is what the modality needs.

        Every estimator builds its backbone through here. An image model must be
        an :class:`~sktransfer.backbones.ImageBackbone`; a plain
        ``nn.Sequential`` of layer groups (what 0.1.0 plugins returned) is
        still taken, with a FutureWarning, as a ``SequentialBackbone`` of its
        children that pools with ``default_pooling`` (average by default).

        Parameters
        ----------
        weights : "default", None or path, default="default"
            As for ``build``.

        Returns
        -------
        object
            The model: an ``ImageBackbone`` (images), a ``SentenceTransformer``
            (text), ``KeyedVectors`` (words).

        Raises
        ------
        TypeError
            ``build`` gave an image model that is no ``ImageBackbone``.
        """
        model = self.build(weights)
        if self.modality == "image":
            model = _image_backbone(model, self)
        return model

    def load_source_classifier(self, weights="default"):
        """The pre-trained classifier's last layer, as ``source_classifier(weights)`` gives it.

        Parameters
        ----------
        weights : "default", None or path, default="default"
            As for ``build``: the classifier of the same weights as the features.

        Returns
        -------
        torch.nn.Linear
            In eval mode, on the CPU: it maps ``forward_head``'s output to the
            source classes' logits.

        Raises
        ------
        ValueError
            The backbone keeps no classifier (its spec gives no
            ``source_classifier``, or it returned None), or the layer does not
            read features of the backbone's size.
        """
        from torch import nn

        linear = self.source_classifier(weights) if self.source_classifier else None
        if not isinstance(linear, nn.Linear):
            raise ValueError(
                f"backbone {self.qualified_name!r} keeps no pre-trained classifier, so it has "
                "no source outputs (LEEP, NCE); score its features instead ('logme', "
                "'hscore', 'probe')"
            )
        size = self.known_feature_dim
        if size is not None and linear.in_features != size:
            raise ValueError(
                f"backbone {self.qualified_name!r}: its source classifier reads "
                f"{linear.in_features} features, its forward_head gives {size}"
            )
        return linear.eval().requires_grad_(False)

    @property
    def qualified_name(self):
        """``namespace/name``: unique even when two plugins share a short name."""
        return f"{self.namespace}/{self.name}" if self.namespace else self.name

    @property
    def feature_dim(self):
        """Size of the feature vector (None when the spec does not say)."""
        if callable(self._feature_dim):
            self._feature_dim = self._feature_dim()
        return self._feature_dim

    @property
    def known_feature_dim(self):
        """:attr:`feature_dim` when it costs nothing: given as an int, or computed before.

        None where only calling the spec's function would tell (it may build
        the architecture), or where the spec does not say.
        """
        return None if callable(self._feature_dim) else self._feature_dim

    @property
    def layer_groups(self):
        """Names of the layer groups, input to output."""
        if callable(self._layer_groups):
            self._layer_groups = tuple(self._layer_groups())
        return tuple(self._layer_groups)

    def __repr__(self):
        return f"BackboneSpec(name={self.qualified_name!r}, modality={self.modality!r})"


def _image_backbone(model, spec):
    """``model`` as an ImageBackbone: as it is, or a 0.1.0 ``nn.Sequential`` made one."""
    from torch import nn

    from ._image import GlobalPool, ImageBackbone, SequentialBackbone

    if isinstance(model, ImageBackbone):
        return model
    name = f"backbone {spec.qualified_name!r}"
    if isinstance(model, nn.Sequential) and type(model) is nn.Sequential:
        warnings.warn(
            f"{name}: build() returned a plain nn.Sequential, which is deprecated since "
            "sktransfer 0.2.0 and will be refused in 0.3.0; return a "
            "sktransfer.backbones.SequentialBackbone(OrderedDict(name=module, ...)) instead "
            "(its children are taken as the layer groups meanwhile)",
            FutureWarning,
            stacklevel=3,
        )
        pooling = spec.default_pooling or "avg"
        if pooling not in ("avg", "max"):
            raise ValueError(
                f"{name}: default_pooling={pooling!r} pools no plain nn.Sequential's feature "
                "map; return an ImageBackbone whose forward_head does it"
            )
        groups = OrderedDict(model.named_children())
        return SequentialBackbone(groups, pre_logits=GlobalPool(pooling))
    raise TypeError(
        f"{name}: build() returned a {type(model).__name__}, not an image backbone: subclass "
        "sktransfer.backbones.ImageBackbone (implement forward_features) or return a "
        "sktransfer.backbones.SequentialBackbone of layer groups (see docs/plugins.md)"
    )
