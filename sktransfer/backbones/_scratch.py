"""Built-in backbone ``small_cnn``: a small CNN with no pre-trained weights, trained from scratch.

The baseline that transfer learning must beat: what a network of its own,
trained only on the task's images, achieves.
``FineTuneClassifier("small_cnn", weights=None, freeze="none")`` trains it;
``ImageEncoder("small_cnn", weights=None)`` gives random-weight features. It is
the classic small-image design (VGG-style blocks of two 3x3 convolutions,
BatchNorm and ReLU, max-pooling between them, global average pooling), on
32 px inputs, so Fashion-MNIST's 28 px images are barely resized.
"""

from __future__ import annotations

from collections import OrderedDict

from .. import weights as weights_module
from ..exceptions import WeightsNotFoundError
from ._spec import BackboneSpec, ImagePreprocessing

NAME = "small_cnn"
FAMILY = "scratch"
# Channels of the stem and of each stage; the last is the feature size.
WIDTHS = (32, 64, 128)
GROUPS = ("stem", "stage1", "stage2")

PREPROCESSING = ImagePreprocessing(
    input_size=32, resize_size=32, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5)
)


def _block(n_in, n_out):
    """Two 3x3 convolutions, each followed by BatchNorm and ReLU; the size is kept."""
    from torch import nn

    layers = []
    for channels_in in (n_in, n_out):
        # No bias: the BatchNorm after the convolution has its own.
        layers += [
            nn.Conv2d(channels_in, n_out, 3, padding=1, bias=False),
            nn.BatchNorm2d(n_out),
            nn.ReLU(inplace=True),
        ]
    return nn.Sequential(*layers)


def network():
    """The architecture with a random initialisation (torch's global generator draws it).

    Returns
    -------
    SequentialBackbone
        Groups ``stem`` (a block at full size), ``stage1`` and ``stage2``
        (max-pooling to half the size, then a block); the feature vector is
        the average of the last map, 128 values.
    """
    from torch import nn

    from ._image import SequentialBackbone

    groups = OrderedDict(stem=_block(3, WIDTHS[0]))
    for name, n_in, n_out in zip(GROUPS[1:], WIDTHS, WIDTHS[1:]):
        groups[name] = nn.Sequential(nn.MaxPool2d(2), _block(n_in, n_out))
    return SequentialBackbone(groups)


def build(weights="default"):
    """``small_cnn`` with a random initialisation (None) or the state dict at a path.

    There are no pre-trained weights: "default" raises WeightsNotFoundError.
    """
    if isinstance(weights, str) and weights == "default":
        raise WeightsNotFoundError(
            f"{NAME} has no pre-trained weights: it is a from-scratch baseline; pass weights=None"
        )
    path = weights_module.resolve(None, weights, backbone=NAME)
    if path is None:
        return network()
    state = weights_module.load_state_dict(path)

    def load(model, assign):
        try:
            model.load_state_dict(state, assign=assign)
        except RuntimeError as exc:  # missing, unexpected or misshapen tensors
            raise ValueError(f"weights file '{path}' does not fit {NAME}: {exc}") from exc

    return weights_module.build_with_weights(network, load)


def specs():
    """The from-scratch baseline (listing it builds nothing)."""
    return [
        BackboneSpec(
            name=NAME,
            modality="image",
            build=build,
            description="a small CNN (3 blocks of 2 conv 3x3, 0.29M params) with no "
            "pre-trained weights: a from-scratch baseline (weights=None)",
            preprocessing=PREPROCESSING,
            feature_dim=WIDTHS[-1],
            layer_groups=GROUPS,
            family=FAMILY,
        )
    ]
