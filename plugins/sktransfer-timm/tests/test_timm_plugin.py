"""The plugin sktransfer-timm: it lists timm's pretrained tags; sktransfer builds them."""

from importlib.metadata import entry_points

import pytest

from sktransfer import AmbiguousBackboneError
from sktransfer.backbones import ENTRY_POINT_GROUP, Registry, TimmBackbone, _timm

timm = pytest.importorskip("timm")
sktransfer_timm = pytest.importorskip("sktransfer_timm")


@pytest.fixture
def no_builds(monkeypatch):
    """Any model built while this fixture is active fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("a model was built while listing")

    monkeypatch.setattr(timm, "create_model", refuse)


def _usable_tags(*patterns):
    names = timm.list_models(list(patterns) or "", pretrained=True)
    return [n for n in names if _timm.usable(timm.models.get_pretrained_cfg(n))]


def test_declared_as_the_entry_point_named_timm():
    (ep,) = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == "timm"]
    assert ep.value == "sktransfer_timm:specs"
    assert ep.load() is sktransfer_timm.specs


def test_lists_every_usable_tag_without_building(no_builds, monkeypatch):
    monkeypatch.delenv("SKTRANSFER_TIMM_FILTER", raising=False)
    specs = sktransfer_timm.specs()
    names = [spec.name for spec in specs]
    assert len(names) > 1000 and len(set(names)) == len(names)
    assert names == _usable_tags()
    assert all("." in name for name in names)  # architecture.tag: weights, not architectures
    assert {spec.family for spec in specs} == {"timm"}
    assert {spec.modality for spec in specs} == {"image"}
    # Specs come from configs alone: the preprocessing and where the weights are.
    spec = specs[names.index("convnext_tiny.fb_in22k")]
    assert spec.preprocessing.input_size == 224
    assert spec.weights.url.endswith("/timm/convnext_tiny.fb_in22k")


def test_the_filter_variable_narrows_the_list(no_builds, monkeypatch):
    monkeypatch.setenv("SKTRANSFER_TIMM_FILTER", " convnext_*, vit_small*,, ")
    names = [spec.name for spec in sktransfer_timm.specs()]
    assert names == _usable_tags("convnext_*", "vit_small*")
    assert names and all(n.startswith(("convnext_", "vit_small")) for n in names)
    monkeypatch.setenv("SKTRANSFER_TIMM_FILTER", "test_vit*")
    assert [s.name for s in sktransfer_timm.specs()] == _usable_tags("test_vit*")
    monkeypatch.setenv("SKTRANSFER_TIMM_FILTER", "no_such_model*")
    assert sktransfer_timm.specs() == []


@pytest.fixture
def registry(monkeypatch):
    """A fresh registry that discovers the plugin through its entry point."""
    monkeypatch.setenv("SKTRANSFER_TIMM_FILTER", "convnext_tiny*,resnet*,test_*,tf_efficientnet_l*")
    return Registry()


def test_backbones_are_in_the_timm_namespace(registry):
    spec = registry.get("timm/convnext_tiny.fb_in22k")
    assert spec.namespace == "timm" and spec.qualified_name == "timm/convnext_tiny.fb_in22k"
    assert registry.get("convnext_tiny.fb_in22k") is spec  # the short name is unique
    names = registry.list(modality="image")
    assert "resnet18.a1_in1k" in names and "timm/resnet18.a1_in1k" not in names
    # Building is sktransfer's timm family: the plugin only lists.
    model = registry.get("timm/test_vit.r160_in1k").build(None)
    assert isinstance(model, TimmBackbone)


def test_torchvision_short_names_stay_unambiguous(registry):
    import torchvision
    from torchvision.models import list_models

    for name in list_models(module=torchvision.models):
        try:
            spec = registry.get(name)
        except AmbiguousBackboneError as exc:  # pragma: no cover - the failure shown
            pytest.fail(f"{name}: {exc}")
        assert spec.family == "torchvision", name
    lite0 = registry.get("efficientnet_lite0")
    assert lite0.qualified_name == "efficientnet_lite/efficientnet_lite0"
    assert "tf_efficientnet_lite0.in1k" in registry.list()
