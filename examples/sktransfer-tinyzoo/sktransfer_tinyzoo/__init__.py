"""A minimal sktransfer backbone plugin: one tiny CNN, ``tiny_cnn``.

sktransfer finds this package through its entry point in the group
``sktransfer.backbones`` (see ``pyproject.toml``); nobody imports it by hand.
The entry point names :func:`specs`, which sktransfer calls once, the first
time its registry is used.

There are no published pre-trained weights for ``tiny_cnn``: ``weights=None``
gives a random initialisation, a path loads a state dict, and
``weights="default"`` loads the file :data:`WEIGHTS` names once you have put
it where sktransfer looks (``$SKTRANSFER_HOME/weights/tiny_cnn-v1.pth``; see
the README).
"""

from __future__ import annotations

from collections import OrderedDict

from sktransfer.backbones import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    BackboneSpec,
    ImagePreprocessing,
    WeightsSource,
)

__version__ = "0.1.0"

NAME = "tiny_cnn"
GROUPS = ("stem", "stage1", "stage2")
FEATURE_DIM = 64

# Where weights="default" looks. No ``url``: there is nothing to download, so
# sktransfer never tries the network and, when the file is missing, says where
# to save it.
WEIGHTS = WeightsSource(filename="tiny_cnn-v1.pth")

# 64 x 64 input: the shorter side resized to 72, then the centre 64 x 64.
PREPROCESSING = ImagePreprocessing(
    input_size=64,
    resize_size=72,
    mean=IMAGENET_MEAN,
    std=IMAGENET_STD,
    interpolation="bilinear",
)


def make_model():
    """Return the architecture, randomly initialised, in eval mode.

    Three layer groups, each a stride-2 convolution, batch norm and ReLU:
    ``stem`` (3 -> 16 channels), ``stage1`` (16 -> 32) and ``stage2``
    (32 -> 64). The features are the last map averaged over its positions
    (``pre_logits=None``), 64 numbers per image.

    Returns
    -------
    sktransfer.backbones.SequentialBackbone
        The model.
    """
    # torch is imported here, not at the top: listing backbones builds nothing.
    from torch import nn

    from sktransfer.backbones import SequentialBackbone

    def block(channels_in, channels_out):
        return nn.Sequential(
            nn.Conv2d(channels_in, channels_out, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(channels_out),
            nn.ReLU(),
        )

    groups = OrderedDict(stem=block(3, 16), stage1=block(16, 32), stage2=block(32, FEATURE_DIM))
    return SequentialBackbone(groups).eval()


def build(weights="default"):
    """Build ``tiny_cnn`` with the weights the user asked for, on the CPU.

    Parameters
    ----------
    weights : "default", None or path-like
        ``"default"``: the file named by :data:`WEIGHTS`, found offline by
        :func:`sktransfer.weights.resolve`; None: a random initialisation;
        a path: a state dict saved from this model.

    Returns
    -------
    sktransfer.backbones.SequentialBackbone
        The model, in eval mode.

    Raises
    ------
    sktransfer.exceptions.WeightsNotFoundError
        The default file is not in place, or the path does not exist.
    ValueError
        The file is not a state dict of this architecture.
    """
    from sktransfer.weights import load_state_dict, resolve

    model = make_model()
    path = resolve(WEIGHTS, weights, backbone=f"tinyzoo/{NAME}")
    if path is not None:
        state = load_state_dict(path)  # torch.load(weights_only=True), or safetensors
        try:
            model.load_state_dict(state)
        except RuntimeError as exc:  # missing, unexpected or mis-shaped tensors
            raise ValueError(f"weights file '{path}' does not fit {NAME}: {exc}") from exc
    return model


def specs():
    """Return the backbones of this plugin (what the entry point names).

    Returns
    -------
    list of sktransfer.backbones.BackboneSpec
        One spec, ``tiny_cnn``.
    """
    return [
        BackboneSpec(
            name=NAME,
            modality="image",
            build=build,
            description="a tiny 3-stage CNN (24k params), no published weights",
            preprocessing=PREPROCESSING,
            feature_dim=FEATURE_DIM,
            layer_groups=GROUPS,
            weights=WEIGHTS,
            family="tinyzoo",
        )
    ]
