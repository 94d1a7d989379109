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
