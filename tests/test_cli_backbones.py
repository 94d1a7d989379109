"""``sktransfer backbones``: what can be used now by default, the whole registry with --all.

The registry is the real one: the built-in families, and whatever plugins this
environment has installed (the sktransfer-timm plugin lists ~1,800 timm tags).
The weight caches are empty folders (conftest), so only the packaged weights are
on disk unless a test puts a file there. A plugin is installed the way pip does it:
a ``*.dist-info`` folder with ``entry_points.txt`` on ``sys.path``, found by a
fresh registry through its entry point.
"""

import json
import sys
import textwrap

import pytest

import sktransfer.backbones
from sktransfer import backbones, weights
from sktransfer.backbones import ENTRY_POINT_GROUP, Registry
from sktransfer.cli import main

PACKAGED = {"efficientnet_lite0": "image", "all-MiniLM-L6-v2": "text", "glove-6b-50d": "words"}
KEYS = ["name", "qualified_name", "modality", "feature_dim", "weights_on_disk", "provider",
        "description"]  # fmt: skip
# Who provides the public zoos: only their downloaded members are usable now.
ZOO_PROVIDERS = {"torchvision", "timm", "sentence-transformers", "gensim", "efficientnet_lite"}


def listed(capsys, *argv):
    """``sktransfer backbones ARGV --json``: (rows by name, stderr)."""
    assert main(["backbones", *argv, "--json"]) == 0
    captured = capsys.readouterr()
    return {row["name"]: row for row in json.loads(captured.out)}, captured.err


def test_default_lists_the_packaged_backbones_and_no_zoo_member_off_disk(capsys):
    shown, err = listed(capsys)
    for name, modality in PACKAGED.items():
        assert shown[name]["modality"] == modality and shown[name]["weights_on_disk"] is True
    assert shown["small_cnn"]["weights_on_disk"] is None  # needs no weights: usable now
    assert "resnet50" not in shown  # torchvision's, its file is not in the (empty) caches
    assert not [
        r for r in shown.values() if r["provider"] in ZOO_PROVIDERS and not r["weights_on_disk"]
    ]
    # stderr counts the rest, once; stdout held the JSON alone (it parsed)
    everything, _ = listed(capsys, "--all")
    hidden = len(everything) - len(shown)
    assert hidden > 0
    assert err.splitlines() == [
        f"{hidden:,} backbones not listed: their default weights are not on disk (--all lists them)"
    ]


def test_all_lists_every_registered_backbone_and_hides_nothing(capsys):
    everything, err = listed(capsys, "--all")
    assert list(everything) == backbones.list()
    assert err == ""
    assert set(PACKAGED) | {"small_cnn", "resnet50"} <= set(everything)
    assert everything["resnet50"]["weights_on_disk"] is False
    assert all(list(row) == KEYS for row in everything.values())
    if "timm/resnet18.a1_in1k" in backbones.REGISTRY:  # the sktransfer-timm plugin
        row = everything["resnet18.a1_in1k"]
        assert row["provider"] == "timm" and row["weights_on_disk"] is False


def test_the_table_says_the_same_and_its_hint_goes_to_stderr(capsys):
    assert main(["backbones"]) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "MODALITY", "DIM", "ON", "DISK", "PROVIDER", "DESCRIPTION"]
    cells = {line.split()[0]: line.split()[1:5] for line in lines[1:]}
    assert cells["efficientnet_lite0"] == ["image", "1280", "yes", "efficientnet_lite"]
    assert cells["glove-6b-50d"] == ["words", "50", "yes", "gensim"]
    assert "not listed" not in out and "--all lists them" in err


@pytest.mark.parametrize("family", ["torchvision", "timm"])
def test_weights_saved_in_a_cache_make_a_zoo_member_usable_now(capsys, family):
    name = {"torchvision": "resnet18", "timm": "resnet18.a1_in1k"}[family]
    if f"{family}/{name}" not in backbones.REGISTRY:
        pytest.skip("the sktransfer-timm plugin is not installed")
    assert name not in listed(capsys)[0]
    weights.cache_dir().mkdir(parents=True, exist_ok=True)
    (weights.cache_dir() / backbones.get(name).weights.filename).write_bytes(b"its name is enough")
    shown, _ = listed(capsys)
    assert shown[name]["weights_on_disk"] is True and shown[name]["provider"] == family


def test_pattern_modality_and_details_work_with_and_without_all(capsys):
    shown, err = listed(capsys, "--modality", "words")
    assert list(shown) == ["glove-6b-50d"] and "words backbones not listed" in err
    everything, err = listed(capsys, "glove-*", "--modality", "words", "--all")
    assert "glove-6b-50d" in everything and "glove-wiki-gigaword-50" in everything and err == ""
    assert list(listed(capsys, "torchvision/resnet1?", "--all")[0]) == ["resnet18"]
    shown, _ = listed(capsys, "small_cnn", "--details")
    assert shown["small_cnn"]["layer_groups"] == ["stem", "stage1", "stage2"]
    # what the pattern matches is all off disk: nothing to list, and stderr says why
    assert main(["backbones", "resnet1?"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "no backbones usable now match 'resnet1?'; 1 backbone not listed: their default "
        "weights are not on disk (--all lists them)\n"
    )
    assert main(["backbones", "no-such-thing*", "--all"]) == 1
    assert "no backbones match 'no-such-thing*'" in capsys.readouterr().err


# A plugin with three backbones whose weights are not on disk: its own (a file to
# put in place), one whose packaged copy is absent from this build (packaged() gives
# None), and a timm tag it re-lists (a zoo member, usable once downloaded).
PLUGIN = """
from sktransfer.backbones import BackboneSpec, ImagePreprocessing, WeightsSource


def _spec(name, family="", **where):
    return BackboneSpec(
        name=name, modality="image", build=lambda weights: None, family=family,
        description="a throw-away test backbone", feature_dim=4,
        preprocessing=ImagePreprocessing(input_size=16, resize_size=None),
        weights=WeightsSource(filename=name + ".pth", **where),
    )


def specs():
    return [
        _spec("plugin_net"),
        _spec("plugin_packaged_net", packaged=lambda: None),
        _spec("plugin_timm_tag.in1k", family="timm"),
    ]
"""


@pytest.fixture
def plugin_registry(tmp_path, monkeypatch):
    """A fresh global registry that finds ``PLUGIN``, installed as distribution sktfake-cli."""
    (tmp_path / "sktfake_cli").mkdir()
    (tmp_path / "sktfake_cli" / "__init__.py").write_text(textwrap.dedent(PLUGIN))
    info = tmp_path / "sktfake_cli-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: sktfake-cli\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\nfakezoo = sktfake_cli:specs\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = Registry()
    monkeypatch.setattr(sktransfer.backbones, "REGISTRY", registry)
    yield registry
    sys.modules.pop("sktfake_cli", None)


@pytest.mark.filterwarnings("error::RuntimeWarning")  # packaged() giving None is no failure
def test_a_plugins_own_backbones_are_listed_by_default(capsys, plugin_registry):
    shown, _ = listed(capsys)
    for name in ("plugin_net", "plugin_packaged_net"):
        assert shown[name]["provider"] == "fakezoo" and shown[name]["weights_on_disk"] is False
    assert "plugin_timm_tag.in1k" not in shown  # a re-listed zoo member, off disk
    assert set(PACKAGED) <= set(shown)  # the built-in families are still there
    everything, _ = listed(capsys, "fakezoo/*", "--all")
    assert sorted(everything) == ["plugin_net", "plugin_packaged_net", "plugin_timm_tag.in1k"]


def test_a_packaged_copy_that_is_absent_reads_as_not_on_disk():
    source = weights.WeightsSource(filename="absent-test-weights.pth", packaged=lambda: None)
    assert weights.find(source) is None and weights.on_disk(source) is False


def test_a_failing_weights_look_up_warns_and_the_listing_goes_on(capsys):
    def broken():
        raise ValueError("a bug in the plugin's look-up")

    spec = backbones.BackboneSpec(
        name="broken-lookup-net", modality="image", build=lambda weights: None, feature_dim=2,
        weights=weights.WeightsSource(filename="broken-lookup-net.pth", cached=broken),
    )  # fmt: skip
    # outside the listing the error is an error: nothing swallows it
    with pytest.raises(ValueError, match="a bug in the plugin"):
        weights.on_disk(spec.weights)
    backbones.register(spec, namespace="tests")
    try:
        with pytest.warns(
            RuntimeWarning, match="tests/broken-lookup-net: cannot tell .*ValueError"
        ):
            shown, _ = listed(capsys)
    finally:
        backbones.unregister("tests/broken-lookup-net")
    assert shown["broken-lookup-net"]["weights_on_disk"] is False
    assert set(PACKAGED) <= set(shown)
