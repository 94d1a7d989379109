"""Built-in family: every classification architecture torchvision ships.

Each model becomes a :class:`~sktransfer.backbones.SequentialBackbone`: its
convolutional (or transformer) trunk cut into layer groups, ordered from input
to output, whose output is the last feature map ``(N, C, h, w)`` (or, for vision
transformers, the tokens ``(N, 1 + L, C)`` with the class token first), and the
classifier's own pooling and pre-logits layers (``forward_head``): everything
before its last layer, whose input is the "auto" feature vector.

torchvision offers no API for either cut, hence the small function per
architecture family below.
"""

from __future__ import annotations

import functools
import re
from collections import OrderedDict

import torch
import torchvision
from torch import nn
from torchvision.models import get_model, get_model_weights, list_models

from .. import weights as weights_module
from ..weights import WeightsSource
from ._image import SequentialBackbone
from ._spec import BackboneSpec, ImagePreprocessing

FAMILY = "torchvision"


# -- trunks: one small function per architecture family --------------------------------


def _split_at_pools(layers):
    """Group a flat conv stack into blocks that each end with a max-pool (VGG style)."""
    blocks, current = [], []
    for layer in layers:
        current.append(layer)
        if isinstance(layer, nn.MaxPool2d):
            blocks.append(current)
            current = []
    if current:
        blocks.append(current)
    return OrderedDict((f"block{i}", nn.Sequential(*b)) for i, b in enumerate(blocks, 1))


def _stem_blocks_head(layers):
    """First layer is the stem, last the head conv, everything between a block each."""
    layers = list(layers)
    groups = OrderedDict(stem=layers[0])
    groups.update((f"block{i}", layer) for i, layer in enumerate(layers[1:-1], 1))
    groups["head"] = layers[-1]
    return groups


def _seq(*layers):
    return nn.Sequential(*layers)


def _resnet(m):
    groups = OrderedDict(stem=_seq(m.conv1, m.bn1, m.relu, m.maxpool))
    groups.update((f"layer{i}", getattr(m, f"layer{i}")) for i in range(1, 5))
    return groups


def _densenet(m):
    f = m.features
    groups = OrderedDict(stem=_seq(f.conv0, f.norm0, f.relu0, f.pool0))
    for i in range(1, 5):
        parts = [getattr(f, f"denseblock{i}")]
        parts += [getattr(f, f"transition{i}")] if i < 4 else [f.norm5, nn.ReLU(inplace=False)]
        groups[f"block{i}"] = _seq(*parts)
    return groups


def _pairs_after_stem(features, final=()):
    """ConvNeXt / Swin: stem, stage, (downsample, stage)...; downsampling joins its stage."""
    layers = list(features)
    groups = OrderedDict(stem=layers[0], stage1=layers[1])
    for i, start in enumerate(range(2, len(layers), 2), 2):
        groups[f"stage{i}"] = _seq(*layers[start : start + 2])
    if final:
        last = next(reversed(groups))
        groups[last] = _seq(groups[last], *final)
    return groups


def _swin(m):
    return _pairs_after_stem(m.features, final=(m.norm, m.permute))


def _convnext(m):
    return _pairs_after_stem(m.features)


def _regnet(m):
    groups = OrderedDict(stem=m.stem)
    groups.update(m.trunk_output.named_children())
    return groups


def _maxvit(m):
    groups = OrderedDict(stem=m.stem)
    groups.update((f"stage{i}", block) for i, block in enumerate(m.blocks, 1))
    return groups


def _mnasnet(m):
    layers = list(m.layers)
    groups = OrderedDict(stem=_seq(*layers[:8]))
    groups.update((f"block{i}", layer) for i, layer in enumerate(layers[8:-3], 1))
    groups["head"] = _seq(*layers[-3:])
    return groups


def _shufflenet(m):
    return OrderedDict(
        stem=_seq(m.conv1, m.maxpool),
        stage2=m.stage2,
        stage3=m.stage3,
        stage4=m.stage4,
        head=m.conv5,
    )


class InceptionInput(nn.Module):
    """Re-normalises ImageNet input the way Google's GoogLeNet / Inception v3 weights expect.

    torchvision does this inside ``forward()`` when ``transform_input=True``, which
    its pre-trained weights for both are used with.
    """

    def forward(self, x):
        scale = x.new_tensor([0.229 / 0.5, 0.224 / 0.5, 0.225 / 0.5]).view(1, 3, 1, 1)
        shift = x.new_tensor([(0.485 - 0.5) / 0.5, (0.456 - 0.5) / 0.5, (0.406 - 0.5) / 0.5])
        return x * scale + shift.view(1, 3, 1, 1)


class PatchEmbedding(nn.Module):
    """Patches, class token and position embedding: the input end of a torchvision ViT."""

    def __init__(self, vit):
        super().__init__()
        self.conv_proj = vit.conv_proj
        self.class_token = vit.class_token
        self.pos_embedding = vit.encoder.pos_embedding

    def forward(self, x):
        x = self.conv_proj(x).flatten(2).transpose(1, 2)
        cls = self.class_token.expand(x.shape[0], -1, -1)
        return torch.cat([cls, x], dim=1) + self.pos_embedding


def _googlenet(m):
    return OrderedDict(
        stem=_seq(InceptionInput(), m.conv1, m.maxpool1, m.conv2, m.conv3, m.maxpool2),
        inception3=_seq(m.inception3a, m.inception3b, m.maxpool3),
        inception4=_seq(
            m.inception4a, m.inception4b, m.inception4c, m.inception4d, m.inception4e, m.maxpool4
        ),
        inception5=_seq(m.inception5a, m.inception5b),
    )


def _inception_v3(m):
    return OrderedDict(
        stem=_seq(
            InceptionInput(),
            m.Conv2d_1a_3x3, m.Conv2d_2a_3x3, m.Conv2d_2b_3x3, m.maxpool1,
            m.Conv2d_3b_1x1, m.Conv2d_4a_3x3, m.maxpool2,
        ),
        mixed5=_seq(m.Mixed_5b, m.Mixed_5c, m.Mixed_5d),
        mixed6=_seq(m.Mixed_6a, m.Mixed_6b, m.Mixed_6c, m.Mixed_6d, m.Mixed_6e),
        mixed7=_seq(m.Mixed_7a, m.Mixed_7b, m.Mixed_7c),
    )  # fmt: skip


def _vit(m):
    groups = OrderedDict(embed=PatchEmbedding(m))
    groups.update((f"block{i}", layer) for i, layer in enumerate(m.encoder.layers, 1))
    groups["norm"] = m.encoder.ln
    return groups


def _classifier_input(*layers):
    """Pooling, then the classifier's layers before its last one (their output is its input)."""
    return nn.Sequential(*layers)


def _vgg_head(m):  # fc6 and fc7 (dropout is inactive in eval mode): the classic 4096-d features
    return _classifier_input(m.avgpool, nn.Flatten(1), *list(m.classifier)[:-1])


def _convnext_head(m):  # a LayerNorm after pooling
    return _classifier_input(m.avgpool, *list(m.classifier)[:-1])


def _classifier_head(m):  # MobileNetV3, MaxViT: pooling inside or before the classifier
    pool = [] if isinstance(m.classifier[0], nn.AdaptiveAvgPool2d) else [m.avgpool, nn.Flatten(1)]
    return _classifier_input(*pool, *list(m.classifier)[:-1])


class ClassToken(nn.Module):
    """The first token of a transformer's output."""

    def forward(self, x):
        return x[:, 0]


def _vit_head(m):  # the class token, then the optional pre-logits layer and its Tanh
    return _classifier_input(ClassToken(), *list(m.heads)[:-1])


# name prefix -> (trunk function, pre-logits function or None for global averaging);
# the first matching prefix wins. SqueezeNet's classifier is a 1x1 convolution on the
# last feature map, before pooling: its "pre-logits" are that map, averaged.
_RULES = [
    ("resnet", _resnet, None),
    ("resnext", _resnet, None),
    ("wide_resnet", _resnet, None),
    ("vgg", lambda m: _split_at_pools(m.features), _vgg_head),
    ("alexnet", lambda m: _split_at_pools(m.features), _vgg_head),
    ("squeezenet", lambda m: _split_at_pools(m.features), None),
    ("densenet", _densenet, None),
    ("efficientnet", lambda m: _stem_blocks_head(m.features), None),
    ("mobilenet_v2", lambda m: _stem_blocks_head(m.features), None),
    ("mobilenet_v3", lambda m: _stem_blocks_head(m.features), _classifier_head),
    ("mnasnet", _mnasnet, None),
    ("shufflenet", _shufflenet, None),
    ("regnet", _regnet, None),
    ("convnext", _convnext, _convnext_head),
    ("swin", _swin, None),
    ("maxvit", _maxvit, _classifier_head),
    ("googlenet", _googlenet, None),
    ("inception", _inception_v3, None),
    ("vit", _vit, _vit_head),
]

# Google's architectures carry auxiliary classifiers whose weights are in the files.
_BUILD_KWARGS = {
    "googlenet": dict(aux_logits=True, init_weights=False),
    "inception_v3": dict(aux_logits=True, init_weights=False),
}

_DENSENET_OLD_KEY = re.compile(
    r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var))$"
)


def _rule(name):
    for prefix, trunk, head in _RULES:
        if name.startswith(prefix):
            return trunk, head
    raise KeyError(f"no trunk rule for torchvision model {name!r}")


def _fix_legacy_keys(name, state_dict):
    """The published DenseNet files use key names older than the module (torchvision remaps too)."""
    if not name.startswith("densenet"):
        return state_dict
    fixed = {}
    for key, value in state_dict.items():
        match = _DENSENET_OLD_KEY.match(key)
        fixed[match.group(1) + match.group(2) if match else key] = value
    return fixed


def backbone_of(name, model):
    """Cut torchvision's classifier ``model`` (architecture ``name``) into an ImageBackbone."""
    trunk, head = _rule(name)
    tokens = name.startswith("vit")
    return SequentialBackbone(
        trunk(model),
        head(model) if head is not None else None,
        num_prefix_tokens=int(tokens),
        has_class_token=tokens,
    )


def build(name, weights="default", *, source=None, input_size=224):
    """Build torchvision's ``name`` with the requested weights, as an ImageBackbone."""
    return backbone_of(name, _model(name, weights, source=source, input_size=input_size))


def source_classifier(name, weights="default", *, source=None, input_size=224):
    """The last ``nn.Linear`` of torchvision's ``name``: the one that gives its class logits.

    None for SqueezeNet, whose classifier is a convolution on the feature map.
    """
    model = _model(name, weights, source=source, input_size=input_size)
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    # Registered last in every torchvision classifier, after any auxiliary heads.
    return linears[-1] if linears else None


def _model(name, weights, *, source, input_size):
    """torchvision's whole classifier ``name``, with the requested weights."""
    path = weights_module.resolve(source, weights, backbone=name)
    kwargs = dict(_BUILD_KWARGS.get(name, {}))
    if name.startswith("vit"):  # position embeddings are sized for the weights' resolution
        kwargs["image_size"] = input_size
    if path is None:
        return get_model(name, weights=None, **kwargs)
    state = _fix_legacy_keys(name, weights_module.load_state_dict(path))

    def load(model, assign):
        try:
            model.load_state_dict(state, assign=assign)
        except RuntimeError as exc:
            raise ValueError(f"weights file '{path}' does not fit {name}: {exc}") from exc

    return weights_module.build_with_weights(lambda: get_model(name, weights=None, **kwargs), load)


# The feature size of each model's pre-trained weights (its classifier's input, or
# SqueezeNet's last map), as describe() measures it. The weights fix it; measuring it
# builds each model (RegNets not on the meta device), some 45 s for all 80 on two CPU
# cores: too slow for every listing. A model missing here (a newer torchvision's) is
# measured when a listing asks for details.
FEATURE_DIMS = {
    "alexnet": 4096, "googlenet": 1024, "inception_v3": 2048, "maxvit_t": 512,
    "convnext_base": 1024, "convnext_large": 1536, "convnext_small": 768, "convnext_tiny": 768,
    "densenet121": 1024, "densenet161": 2208, "densenet169": 1664, "densenet201": 1920,
    "efficientnet_b0": 1280, "efficientnet_b1": 1280, "efficientnet_b2": 1408,
    "efficientnet_b3": 1536, "efficientnet_b4": 1792, "efficientnet_b5": 2048,
    "efficientnet_b6": 2304, "efficientnet_b7": 2560,
    "efficientnet_v2_l": 1280, "efficientnet_v2_m": 1280, "efficientnet_v2_s": 1280,
    "mnasnet0_5": 1280, "mnasnet0_75": 1280, "mnasnet1_0": 1280, "mnasnet1_3": 1280,
    "mobilenet_v2": 1280, "mobilenet_v3_large": 1280, "mobilenet_v3_small": 1024,
    "regnet_x_16gf": 2048, "regnet_x_1_6gf": 912, "regnet_x_32gf": 2520, "regnet_x_3_2gf": 1008,
    "regnet_x_400mf": 400, "regnet_x_800mf": 672, "regnet_x_8gf": 1920,
    "regnet_y_128gf": 7392, "regnet_y_16gf": 3024, "regnet_y_1_6gf": 888, "regnet_y_32gf": 3712,
    "regnet_y_3_2gf": 1512, "regnet_y_400mf": 440, "regnet_y_800mf": 784, "regnet_y_8gf": 2016,
    "resnet18": 512, "resnet34": 512, "resnet50": 2048, "resnet101": 2048, "resnet152": 2048,
    "resnext50_32x4d": 2048, "resnext101_32x8d": 2048, "resnext101_64x4d": 2048,
    "wide_resnet50_2": 2048, "wide_resnet101_2": 2048,
    "shufflenet_v2_x0_5": 1024, "shufflenet_v2_x1_0": 1024, "shufflenet_v2_x1_5": 1024,
    "shufflenet_v2_x2_0": 2048, "squeezenet1_0": 512, "squeezenet1_1": 512,
    "swin_t": 768, "swin_s": 768, "swin_b": 1024,
    "swin_v2_t": 768, "swin_v2_s": 768, "swin_v2_b": 1024,
    "vgg11": 4096, "vgg11_bn": 4096, "vgg13": 4096, "vgg13_bn": 4096,
    "vgg16": 4096, "vgg16_bn": 4096, "vgg19": 4096, "vgg19_bn": 4096,
    "vit_b_16": 768, "vit_b_32": 768, "vit_l_16": 1024, "vit_l_32": 1024, "vit_h_14": 1280,
}  # fmt: skip


@functools.cache
def describe(name, input_size):
    """(feature_dim, layer_groups) of ``name``, from a weight-less forward pass."""
    try:  # on the meta device no memory is allocated and nothing is computed
        with torch.device("meta"):
            model = build(name, weights=None, input_size=input_size)
        x = torch.empty(1, 3, input_size, input_size, device="meta")
    except NotImplementedError:  # RegNet computes its widths with tensors at build time
        model = build(name, weights=None, input_size=input_size)
        x = torch.zeros(1, 3, input_size, input_size)
    with torch.no_grad():
        out = model.eval()(x)
    return out.shape[-1], tuple(model.layer_groups())


def _preprocessing(weights_enum):
    """Read input size, resize and interpolation off torchvision's own preset."""
    kw = dict(getattr(weights_enum.transforms, "keywords", {}))
    interpolation = kw.get("interpolation")
    return ImagePreprocessing(
        input_size=kw.get("crop_size", 224),
        resize_size=kw.get("resize_size", 256),
        mean=tuple(kw.get("mean", (0.485, 0.456, 0.406))),
        std=tuple(kw.get("std", (0.229, 0.224, 0.225))),
        interpolation=interpolation.value if interpolation is not None else "bilinear",
    )


def _spec(name):
    default = get_model_weights(name).DEFAULT
    preprocessing = _preprocessing(default)
    source = WeightsSource(filename=default.url.rsplit("/", 1)[-1], url=default.url)
    where = {"source": source, "input_size": preprocessing.input_size}
    meta = default.meta
    top1 = meta.get("_metrics", {}).get("ImageNet-1K", {}).get("acc@1")
    accuracy = f", ImageNet top-1 {top1:.1f}%" if top1 else ""
    return BackboneSpec(
        name=name,
        modality="image",
        build=functools.partial(build, name, **where),
        description=f"torchvision {name} ({meta.get('num_params', 0) / 1e6:.1f}M params{accuracy})",
        preprocessing=preprocessing,
        feature_dim=FEATURE_DIMS.get(name, lambda: describe(name, preprocessing.input_size)[0]),
        layer_groups=lambda: describe(name, preprocessing.input_size)[1],
        weights=source,
        family=FAMILY,
        source_classifier=functools.partial(source_classifier, name, **where),
    )


def specs():
    """One spec per torchvision classification model."""
    return [_spec(name) for name in list_models(module=torchvision.models)]
