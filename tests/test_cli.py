import json
import subprocess
import sys
from pathlib import Path

import pytest

from sktransfer import backbones, weights
from sktransfer.cli import main

COLUMNS = ["NAME", "MODALITY", "DIM", "ON", "DISK", "PROVIDER", "DESCRIPTION"]


def _rows(out):
    """The table's rows by name, each split into NAME, MODALITY, DIM, ON DISK, PROVIDER."""
    lines = out.splitlines()
    assert lines[0].split() == COLUMNS
    return {line.split()[0]: line.split()[:5] for line in lines[1:] if not line.startswith(" ")}


@pytest.fixture
def weightless_backbone():
    """A registered backbone with no default weights (as a from-scratch one has none)."""
    spec = backbones.BackboneSpec(
        name="weightless-test-net", modality="image", build=lambda weights: None,
        description="no pre-trained weights", feature_dim=16,
    )  # fmt: skip
    backbones.register(spec, namespace="tests")
    yield spec
    backbones.unregister("tests/weightless-test-net")


def test_backbones_is_a_table_of_name_modality_dim_weights_and_provider(
    capsys, weightless_backbone
):
    assert main(["backbones", "--all"]) == 0
    rows = _rows(capsys.readouterr().out)
    # The packaged defaults are on disk in every install; their dims are static.
    assert rows["efficientnet_lite0"] == ["efficientnet_lite0", "image", "1280", "yes",
                                          "efficientnet_lite"]  # fmt: skip
    assert rows["all-MiniLM-L6-v2"][1:] == ["text", "384", "yes", "sentence-transformers"]
    assert rows["glove-6b-50d"][1:] == ["words", "50", "yes", "gensim"]
    # The caches are empty folders here (conftest): torchvision's files are not there.
    assert rows["resnet50"][1:] == ["image", "2048", "no", "torchvision"]
    assert rows["weightless-test-net"][1:] == ["image", "16", "-", "tests"]
    if "timm/resnet18.a1_in1k" in backbones.REGISTRY:  # the sktransfer-timm plugin
        assert rows["resnet18.a1_in1k"][1:] == ["image", "?", "no", "timm"]  # dims need a build


@pytest.mark.parametrize("where", ["sktransfer", "torch hub"])
def test_weights_saved_in_a_cache_are_reported_on_disk(capsys, where):
    source = backbones.get("resnet18").weights
    directory = weights.cache_dir() if where == "sktransfer" else weights.torch_hub_dir()
    assert main(["backbones", "resnet18", "--all"]) == 0
    assert _rows(capsys.readouterr().out)["resnet18"][3] == "no"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / source.filename).write_bytes(b"only its name matters to the listing")
    assert main(["backbones", "resnet18"]) == 0
    assert _rows(capsys.readouterr().out)["resnet18"][3] == "yes"


def test_listing_builds_nothing_and_connects_nowhere(capsys, monkeypatch, no_network):
    from sktransfer.backbones import _timm, _torchvision

    def no_build(*args, **kwargs):
        raise AssertionError("a plain listing must not build an architecture")

    monkeypatch.setattr(_torchvision, "describe", no_build)
    monkeypatch.setattr(_timm, "describe", no_build)
    assert main(["backbones"]) == 0 and main(["backbones", "--json"]) == 0
    assert no_network == []


def test_json_lists_the_same_fields_with_stable_keys(capsys, weightless_backbone):
    assert main(["backbones", "--all", "--json"]) == 0
    listed = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    keys = ["name", "qualified_name", "modality", "feature_dim", "weights_on_disk", "provider",
            "description"]  # fmt: skip
    assert all(list(row) == keys for row in listed.values())
    assert listed["efficientnet_lite0"] == {
        "name": "efficientnet_lite0",
        "qualified_name": "efficientnet_lite/efficientnet_lite0",
        "modality": "image",
        "feature_dim": 1280,
        "weights_on_disk": True,
        "provider": "efficientnet_lite",
        "description": backbones.get("efficientnet_lite0").description,
    }
    assert listed["resnet50"]["weights_on_disk"] is False
    assert listed["weightless-test-net"]["weights_on_disk"] is None
    assert len(listed) == len(backbones.list())


def test_pattern_and_modality_filter(capsys):
    assert main(["backbones", "ResNet1?", "--all"]) == 0
    assert list(_rows(capsys.readouterr().out)) == ["resnet18"]
    assert main(["backbones", "torchvision/resnet1?", "--all"]) == 0  # qualified names match too
    assert list(_rows(capsys.readouterr().out)) == ["resnet18"]
    assert main(["backbones", "--modality", "words"]) == 0
    rows = _rows(capsys.readouterr().out)
    assert "glove-6b-50d" in rows and {r[1] for r in rows.values()} == {"words"}
    assert main(["backbones", "all-*", "--modality", "text", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed and all(r["modality"] == "text" and r["name"].startswith("all-") for r in listed)


def test_details_show_layer_groups_and_the_dims_that_take_a_build(capsys):
    assert main(["backbones", "ResNet1?", "--details", "--all"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1].split()[:3] == ["resnet18", "image", "512"]
    assert out[2] == "    groups: stem, layer1, layer2, layer3, layer4"
    assert main(["backbones", "resnet18", "--details", "--json", "--all"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["layer_groups"] == ["stem", "layer1", "layer2", "layer3", "layer4"]
    if "timm/resnet18.a1_in1k" in backbones.REGISTRY:
        assert main(["backbones", "timm/resnet18.a1_in1k", "--details", "--all"]) == 0
        assert _rows(capsys.readouterr().out)["resnet18.a1_in1k"][2] == "512"


def test_nothing_matching_is_an_error(capsys):
    assert main(["backbones", "no-such-thing*"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "no backbones match 'no-such-thing*'" in captured.err
    assert main(["backbones", "resnet*", "--modality", "text"]) == 1
    assert "no text backbones match 'resnet*'" in capsys.readouterr().err


def test_unknown_command_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        main(["nope"])
    assert info.value.code == 2


@pytest.mark.slow
def test_console_script_is_installed():
    script = Path(sys.executable).parent / "sktransfer"
    out = subprocess.run(
        [str(script), "backbones", "--modality", "image", "--all", "--json"],
        capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    listed = {row["name"]: row for row in json.loads(out.stdout)}
    assert listed["vit_b_16"]["feature_dim"] == 768
    assert listed["efficientnet_lite0"]["weights_on_disk"] is True


def test_cache_info_and_clear(tmp_path, capsys):
    import numpy as np

    from sktransfer.cache import EmbeddingCache

    cache = EmbeddingCache(tmp_path)
    described = {"encoder": "ImageEncoder", "backbone": "resnet18", "n_features": 4}
    cache.store("a" * 32, ["1" * 32, "2" * 32], np.zeros((2, 4)), described)
    cache.store("b" * 32, ["1" * 32], np.zeros((1, 4)), {**described, "pooling": "max"})
    assert main(["cache", "info", "--dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "2 encoder fingerprints" in out[0]
    assert out[1].split()[:3] == ["a" * 12, "ImageEncoder", "2"] and "backbone=resnet18" in out[1]
    assert "pooling=max" in out[2]
    assert main(["cache", "clear", "zz", "--dir", str(tmp_path)]) == 1
    assert "no fingerprint starts with 'zz'" in capsys.readouterr().err
    assert main(["cache", "clear", "aaaa", "--dir", str(tmp_path)]) == 0
    assert "removed 2 entries" in capsys.readouterr().out
    assert main(["cache", "clear", "--dir", str(tmp_path)]) == 0
    assert [e["fingerprint"] for e in cache.info()] == []


def test_cache_info_defaults_to_the_user_cache(capsys):
    from sktransfer.cache import default_directory

    assert main(["cache", "info"]) == 0
    assert str(default_directory()) in capsys.readouterr().out
