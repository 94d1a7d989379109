"""What a backbone is: how to build it, how to feed it, what it returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

MODALITIES = ("image", "text", "words")


@dataclass(frozen=True)
class ImagePreprocessing:
    """How images are turned into the tensor a vision backbone was trained on.

    Images are resized so that their shorter side is ``resize_size`` (skipped when
    None), centre-cropped to ``input_size`` x ``input_size``, scaled to [0, 1] and
    normalised with ``mean`` and ``std``.
    """

    input_size: int = 224
    resize_size: int | None = 256
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    interpolation: str = "bilinear"


@dataclass(frozen=True)
class WeightsSource:
    """Where the default pre-trained weights of a backbone come from.

    Parameters
    ----------
    filename : str
        The file name looked for in the local caches (the torch hub cache and the
        sktransfer cache) and written there by a download.
    url : str, optional
        Where to download the file when a network is there.
    packaged : callable, optional
        Returns the path of a copy shipped inside an installed package, or raises
        ImportError when that package is not installed.
    """

    filename: str
    url: str | None = None
    packaged: Callable[[], Any] | None = None


class BackboneSpec:
    """Everything sktransfer needs to know about one pre-trained backbone.

    Parameters
    ----------
    name : str
        Short name, e.g. ``"resnet50"``.
    modality : {"image", "text", "words"}
        What the backbone reads.
    build : callable
        ``build(weights)`` returns the model. ``weights`` is what the user passed:
        ``"default"`` for the pre-trained weights, None for random initialisation,
        or a path to a local file. For images the model maps a normalised
        ``(N, 3, H, W)`` batch to a feature map ``(N, C, h, w)`` or tokens
        ``(N, L, C)``, and is an ``nn.Sequential`` whose children are the layer groups.
    description : str
        One line for ``sktransfer backbones``.
    preprocessing : ImagePreprocessing, optional
        Input size, resize, crop, mean/std and interpolation (images only).
    feature_dim : int or callable, optional
        Size of the pooled feature vector, or a function computing it on demand
        (it may need to build the architecture).
    layer_groups : tuple of str or callable, optional
        Module names of the layer groups, ordered from input to output, used to
        freeze the lower part of the network; or a function computing them.
    weights : WeightsSource, optional
        Where the default pre-trained weights come from.
    default_pooling : str
        The pooling the original classifier used: "avg" for CNNs, "cls" for
        vision transformers.
    family : str
        The family of architectures, e.g. ``"torchvision"``.
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
        default_pooling="avg",
        family="",
    ):
        if modality not in MODALITIES:
            raise ValueError(f"modality must be one of {MODALITIES}, got {modality!r}")
        if not callable(build):
            raise TypeError(f"build must be callable, got {build!r}")
        self.name = name
        self.modality = modality
        self.build = build
        self.description = description
        self.preprocessing = preprocessing
        self._feature_dim = feature_dim
        self._layer_groups = layer_groups
        self.weights = weights
        self.default_pooling = default_pooling
        self.family = family
        # Set by the registry: the entry-point (or built-in family) that provided it.
        self.namespace = None

    @property
    def qualified_name(self):
        """``namespace/name``: unique even when two plugins share a short name."""
        return f"{self.namespace}/{self.name}" if self.namespace else self.name

    @property
    def feature_dim(self):
        if callable(self._feature_dim):
            self._feature_dim = self._feature_dim()
        return self._feature_dim

    @property
    def layer_groups(self):
        if callable(self._layer_groups):
            self._layer_groups = tuple(self._layer_groups())
        return tuple(self._layer_groups)

    def __repr__(self):
        return f"BackboneSpec(name={self.qualified_name!r}, modality={self.modality!r})"
