"""The example plugin distribution ``examples/sktransfer-tinyzoo``, installed for real.

pip builds and installs it (offline, without its dependencies) into a temporary
folder, which goes on ``sys.path`` the way a site-packages folder is; a fresh
``Registry`` must then find it through its entry point alone, and the encoders
must use it by name. This is what ``docs/plugins.md`` promises plugin authors.
"""

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import sktransfer.backbones
from sktransfer import ImageEncoder, WeightsNotFoundError
from sktransfer.backbones import ENTRY_POINT_GROUP, Registry

pytestmark = pytest.mark.slow  # pip builds a wheel: a few seconds

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sktransfer-tinyzoo"
MODULE = "sktransfer_tinyzoo"


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The folder pip installed the example into (once for this module)."""
    work = tmp_path_factory.mktemp("tinyzoo")
    # pip builds in the source folder (build/, *.egg-info): build a copy, not the repository.
    source = shutil.copytree(
        EXAMPLE, work / "src", ignore=shutil.ignore_patterns("build", "*.egg-info")
    )
    target = work / "site-packages"
    command = [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation"]
    command += ["--no-index", "--no-cache-dir", "--disable-pip-version-check", "--quiet"]
    result = subprocess.run(
        [*command, "--target", str(target), str(source)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return target


@pytest.fixture
def registry(installed, monkeypatch):
    """A fresh registry, with the installed example on ``sys.path``; encoders use it."""
    monkeypatch.syspath_prepend(str(installed))
    sys.modules.pop(MODULE, None)
    fresh = Registry()
    monkeypatch.setattr(sktransfer.backbones, "resolve", fresh.resolve)
    yield fresh
    sys.modules.pop(MODULE, None)  # the next test imports it again, through the registry


def test_installed_with_its_entry_point(installed):
    info = next(installed.glob("sktransfer_tinyzoo-*.dist-info"))
    entry_points = (info / "entry_points.txt").read_text()
    assert f"[{ENTRY_POINT_GROUP}]" in entry_points
    assert "tinyzoo = sktransfer_tinyzoo:specs" in entry_points


def test_discovered_by_entry_point_without_being_imported(registry, installed):
    assert MODULE not in sys.modules
    assert "tiny_cnn" in registry.list(modality="image")
    assert MODULE in sys.modules  # imported by the registry, at its first use
    assert Path(sys.modules[MODULE].__file__).is_relative_to(installed)

    spec = registry.get("tiny_cnn")
    assert spec is registry.get("tinyzoo/tiny_cnn")
    assert spec.qualified_name == "tinyzoo/tiny_cnn" and spec.namespace == "tinyzoo"
    assert spec.modality == "image" and spec.family == "tinyzoo"
    assert spec.feature_dim == 64
    assert spec.layer_groups == ("stem", "stage1", "stage2")
    pre = spec.preprocessing
    assert (pre.input_size, pre.resize_size, pre.interpolation) == (64, 72, "bilinear")
    assert spec.weights.filename == "tiny_cnn-v1.pth" and spec.weights.url is None
    assert "resnet18" in registry  # the built-in backbones are all still there


def test_image_encoder_uses_it_by_name(registry, rgb_images):
    spec = registry.get("tiny_cnn")
    encoder = ImageEncoder("tiny_cnn", weights=None, batch_size=4)
    X = encoder.fit_transform(rgb_images)
    assert X.shape == (len(rgb_images), spec.feature_dim) and X.dtype == np.float32
    assert np.isfinite(X).all()
    np.testing.assert_array_equal(encoder.transform(rgb_images), X)
    assert encoder.preprocessing_ is spec.preprocessing and encoder.pooling_ == "pre_logits"

    # the layer groups are the keys of the built model's layer_groups(), as documented
    model = encoder.model_.backbone
    assert isinstance(model, sktransfer.backbones.SequentialBackbone)
    assert tuple(model.layer_groups()) == spec.layer_groups
    assert not model.training

    # an intermediate group: stage1 has 32 channels, averaged over positions
    layered = ImageEncoder("tinyzoo/tiny_cnn", weights=None, layer="stage1").fit(rgb_images)
    assert layered.n_features_out_ == 32 and layered.pooling_ == "avg"


def test_default_weights_are_found_offline(registry, rgb_images, no_network):
    spec = registry.get("tiny_cnn")
    # no file in place: one message naming the file and where to save it, no connection tried
    with pytest.raises(WeightsNotFoundError, match="tiny_cnn-v1.pth") as excinfo:
        ImageEncoder("tiny_cnn").fit(rgb_images)
    target = sktransfer.weights.cache_dir() / spec.weights.filename
    assert str(target) in str(excinfo.value)
    assert no_network == []

    # the file the user places there is what weights="default" loads
    import torch

    trained = spec.build(None)
    target.parent.mkdir(parents=True)
    torch.save(trained.state_dict(), target)
    default = ImageEncoder("tiny_cnn").fit_transform(rgb_images)
    by_path = ImageEncoder("tiny_cnn", weights=target).fit_transform(rgb_images)
    np.testing.assert_array_equal(default, by_path)
    loaded = ImageEncoder("tiny_cnn").fit(rgb_images).model_.backbone.state_dict()
    for key, tensor in trained.state_dict().items():
        assert torch.equal(loaded[key].cpu(), tensor), key  # transform moved it to the GPU

    # a file of another architecture fails loudly
    wrong = target.with_name("wrong.pth")
    torch.save({"conv.weight": torch.zeros(1)}, wrong)
    with pytest.raises(ValueError, match="does not fit tiny_cnn"):
        ImageEncoder("tiny_cnn", weights=wrong).fit(rgb_images)
