"""Throw-away plugin distributions, found through importlib.metadata like installed ones.

Each test writes distributions the way pip installs them (a ``*.dist-info``
folder with ``METADATA`` and ``entry_points.txt`` next to the package) into a
temporary folder put on ``sys.path``, then asks a fresh ``Registry`` for
backbones: nothing is imported or registered by hand.
"""

import sys
import textwrap
from importlib.metadata import entry_points

import numpy as np
import pytest
import torch

import sktransfer.backbones
from sktransfer import AmbiguousBackboneError, ImageEncoder, UnknownBackboneError
from sktransfer.backbones import ENTRY_POINT_GROUP, Registry

# A complete, tiny image backbone: 3x3 conv + ReLU, 4 features (one group with parameters).
TINY_PLUGIN = """
from collections import OrderedDict

from sktransfer.backbones import BackboneSpec, ImagePreprocessing


def _build(weights):
    from torch import nn

    from sktransfer.backbones import SequentialBackbone

    if weights is not None:
        raise ValueError("this test backbone has no weights")
    return SequentialBackbone(OrderedDict(conv=nn.Conv2d(3, 4, 3), act=nn.ReLU()))


def specs():
    return [
        BackboneSpec(
            name={name!r},
            modality="image",
            build=_build,
            description="a throw-away test backbone",
            preprocessing=ImagePreprocessing(input_size=16, resize_size=None),
            feature_dim=4,
            layer_groups=("conv",),
        )
    ]
"""


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A fresh site-packages folder on sys.path; ``site(...)`` installs a distribution in it."""
    monkeypatch.syspath_prepend(str(tmp_path))
    modules = []

    def install(dist, entry_point, module, source):
        package = tmp_path / module
        package.mkdir()
        (package / "__init__.py").write_text(textwrap.dedent(source))
        # as in wheels, '-' in the distribution name becomes '_' in the folder name
        # (importlib.metadata reads the name up to the first '-')
        info = tmp_path / f"{dist.replace('-', '_')}-1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
        (info / "entry_points.txt").write_text(
            f"[{ENTRY_POINT_GROUP}]\n{entry_point} = {module}:specs\n"
        )
        (info / "top_level.txt").write_text(module + "\n")
        modules.append(module)

    yield install
    for module in modules:  # the next test installs its own
        sys.modules.pop(module, None)


def fresh_registry():
    """A registry that has discovered nothing yet (the global one may have, long ago)."""
    return Registry()


def test_installed_plugin_is_discovered_without_being_imported(site, monkeypatch):
    site("sktfake-tiny", "tinyplug", "sktfake_tiny", TINY_PLUGIN.format(name="tiny_net"))
    assert any(ep.name == "tinyplug" for ep in entry_points(group=ENTRY_POINT_GROUP))
    assert "sktfake_tiny" not in sys.modules

    registry = fresh_registry()
    assert "sktfake_tiny" not in sys.modules  # discovery is lazy: first use, not creation
    assert "tiny_net" in registry.list(modality="image")
    spec = registry.get("tiny_net")
    assert spec is registry.get("tinyplug/tiny_net") and spec.qualified_name == "tinyplug/tiny_net"
    assert "sktfake_tiny" in sys.modules
    assert "resnet18" in registry  # built-in backbones are all still there

    # and it is a real backbone: the encoder uses it by name
    monkeypatch.setattr(sktransfer.backbones, "resolve", registry.resolve)
    images = np.random.default_rng(0).integers(0, 256, (3, 20, 20, 3), dtype=np.uint8)
    out = ImageEncoder("tiny_net", weights=None).fit_transform(images)
    assert out.shape == (3, 4) and out.dtype == np.float32


def test_a_broken_plugin_only_warns(site):
    site("sktfake-tiny", "tinyplug", "sktfake_tiny", TINY_PLUGIN.format(name="tiny_net"))
    site("sktfake-broken", "brokenplug", "sktfake_broken", "import a_module_that_is_not_there\n")
    site("sktfake-wrong", "wrongplug", "sktfake_wrong", "def specs():\n    return [42]\n")

    registry = fresh_registry()
    with pytest.warns(RuntimeWarning) as record:
        names = registry.list()
    messages = " ".join(str(w.message) for w in record)
    assert "'brokenplug'" in messages and "sktfake-broken" in messages
    assert "ModuleNotFoundError" in messages
    assert "'wrongplug'" in messages and "not a BackboneSpec" in messages
    # everything else still works
    assert "tiny_net" in names and "resnet18" in names
    assert registry.get("tiny_net").build(None) is not None
    assert registry.get("resnet18").preprocessing.input_size == 224
    with pytest.raises(UnknownBackboneError):
        registry.get("brokenplug/anything")


def test_two_plugins_claiming_one_name(site):
    site("sktfake-a", "plug_a", "sktfake_a", TINY_PLUGIN.format(name="shared_net"))
    site("sktfake-b", "plug_b", "sktfake_b", TINY_PLUGIN.format(name="shared_net"))

    registry = fresh_registry()
    with pytest.raises(AmbiguousBackboneError, match="plug_a/shared_net, plug_b/shared_net"):
        registry.get("shared_net")
    a, b = registry.get("plug_a/shared_net"), registry.get("plug_b/shared_net")
    assert a is not b and a.build.__module__ == "sktfake_a" and b.build.__module__ == "sktfake_b"
    names = registry.list()
    assert "plug_a/shared_net" in names and "plug_b/shared_net" in names
    assert "shared_net" not in names
    assert "shared_net" in registry  # known, only ambiguous


def test_unknown_names_list_close_matches(site):
    site("sktfake-tiny", "tinyplug", "sktfake_tiny", TINY_PLUGIN.format(name="tiny_net"))
    registry = fresh_registry()
    with pytest.raises(UnknownBackboneError, match="tiny_net"):
        registry.get("tiny_nett")
    with pytest.raises(UnknownBackboneError, match="resnet18"):
        registry.get("resnet_18")


# A plugin written from 0.1.0's guide: ``default_pooling`` on the spec, and ``build``
# returning a plain nn.Sequential of layer groups (with a feature map as its output).
PLUGIN_0_1_0 = """
from collections import OrderedDict

from sktransfer.backbones import BackboneSpec, ImagePreprocessing


def _build(weights):
    from torch import nn

    return nn.Sequential(OrderedDict(
        stem=nn.Conv2d(3, 8, 3, padding=1), stage=nn.Conv2d(8, 48, 3, padding=1),
    ))


def specs():
    return [BackboneSpec(
        name="old_net", modality="image", build=_build, default_pooling={pooling!r},
        preprocessing=ImagePreprocessing(input_size=8, resize_size=None),
    )]
"""


@pytest.mark.parametrize("pooling", ["avg", "max"])
def test_a_plugin_written_for_0_1_0_loads_with_deprecation_warnings(site, monkeypatch, pooling):
    site("sktfake-old", "oldplug", "sktfake_old", PLUGIN_0_1_0.format(pooling=pooling))
    registry = fresh_registry()
    with pytest.warns(FutureWarning, match="default_pooling=.* is deprecated since sktransfer"):
        spec = registry.get("old_net")
    monkeypatch.setattr(sktransfer.backbones, "resolve", registry.resolve)
    images = np.random.default_rng(0).integers(0, 256, (2, 8, 8, 3), dtype=np.uint8)
    encoder = ImageEncoder("old_net", weights=None)
    with pytest.warns(FutureWarning, match="plain nn.Sequential, which is deprecated"):
        features = encoder.fit_transform(images)
    # 0.1.0's meaning: the last map (2, 48, 8, 8) pooled per default_pooling, not a crash.
    assert features.shape == (2, 48)
    with pytest.warns(FutureWarning):
        model = spec.load(None)
    assert list(model.layer_groups()) == ["stem", "stage"]
    maps = model.forward_features(torch.randn(1, 3, 8, 8))
    assert maps.shape == (1, 48, 8, 8)
    pooled = maps.mean(dim=(2, 3)) if pooling == "avg" else maps.amax(dim=(2, 3))
    assert torch.equal(model.forward_head(maps), pooled)


PLAIN_MODULE_PLUGIN = """
from sktransfer.backbones import BackboneSpec


def _build(weights):
    from torch import nn

    return nn.Conv2d(3, 4, 3)


def specs():
    return [BackboneSpec(name="plain_net", modality="image", build=_build)]
"""


def test_a_plain_module_is_refused_naming_the_base_classes(site, monkeypatch):
    site("sktfake-plain", "plainplug", "sktfake_plain", PLAIN_MODULE_PLUGIN)
    registry = fresh_registry()
    monkeypatch.setattr(sktransfer.backbones, "resolve", registry.resolve)
    images = np.zeros((2, 16, 16, 3), dtype=np.uint8)
    with pytest.raises(TypeError, match="returned a Conv2d, not an image backbone: subclass "
                       "sktransfer.backbones.ImageBackbone .*SequentialBackbone"):  # fmt: skip
        ImageEncoder("plain_net", weights=None).fit(images)
