import subprocess
import sys
from pathlib import Path

import pytest

from sktransfer.cli import main


def test_backbones_lists_names_modalities_and_descriptions(capsys):
    assert main(["backbones", "--modality", "image"]) == 0
    lines = capsys.readouterr().out.splitlines()
    resnet = next(line for line in lines if line.startswith("resnet50 "))
    assert "image" in resnet and "torchvision resnet50" in resnet
    assert all(" image " in line for line in lines)


def test_pattern_and_details_show_dimension_and_groups(capsys):
    assert main(["backbones", "ResNet1?", "--details"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in out] == ["resnet18"]
    assert "dim 512, groups: stem, layer1, layer2, layer3, layer4" in out[0]


def test_nothing_matching_is_an_error(capsys):
    assert main(["backbones", "no-such-thing*"]) == 1
    assert "no backbones match" in capsys.readouterr().err


def test_unknown_command_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        main(["nope"])
    assert info.value.code == 2


@pytest.mark.slow
def test_console_script_is_installed():
    script = Path(sys.executable).parent / "sktransfer"
    out = subprocess.run(
        [str(script), "backbones", "--modality", "image"],
        capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    assert "vit_b_16" in out.stdout


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
