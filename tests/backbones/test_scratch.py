"""small_cnn: the built-in from-scratch baseline, with no pre-trained weights."""

import numpy as np
import pytest
import torch

from sktransfer import FineTuneClassifier, ImageEncoder, WeightsNotFoundError, backbones
from sktransfer.backbones import SequentialBackbone

NO_WEIGHTS = (
    "small_cnn has no pre-trained weights: it is a from-scratch baseline; pass weights=None"
)


def test_listed_as_a_from_scratch_image_baseline(capsys):
    from sktransfer.cli import main

    assert "small_cnn" in backbones.list(modality="image")
    spec = backbones.get("small_cnn")
    assert backbones.get("scratch/small_cnn") is spec
    assert spec.family == "scratch" and spec.weights is None
    assert "from-scratch baseline" in spec.description
    assert spec.feature_dim == 128 and spec.layer_groups == ("stem", "stage1", "stage2")
    pre = spec.preprocessing
    assert (pre.input_size, pre.resize_size, pre.mean, pre.std) == (32, 32, (0.5,) * 3, (0.5,) * 3)
    assert main(["backbones", "small_cnn"]) == 0
    assert "from-scratch baseline" in capsys.readouterr().out


def test_random_initialisation_follows_torch_global_seed():
    build = backbones.get("small_cnn").build
    torch.manual_seed(0)
    first = build(None)
    torch.manual_seed(0)
    again = build(None)
    other = build(None)
    assert isinstance(first, SequentialBackbone)
    for name, tensor in first.state_dict().items():
        assert torch.equal(tensor, again.state_dict()[name]), name
    assert not torch.equal(first.stem[0].weight, other.stem[0].weight)


def test_output_shape_groups_and_stages():
    model = backbones.get("small_cnn").build(None).eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert model(x).shape == (2, 128)
        assert model.forward_features(x).shape == (2, 128, 8, 8)  # pooled twice
        assert model(torch.randn(3, 3, 28, 28)).shape == (3, 128)  # any size pools
        chained = x
        for stage in model.stages():
            chained = stage(chained)
        torch.testing.assert_close(chained, model.forward_features(x), rtol=0, atol=0)
    assert list(model.layer_groups()) == ["stem", "stage1", "stage2"]
    in_stages = {id(p) for stage in model.stages() for p in stage.parameters()}
    assert in_stages == {id(p) for p in model.parameters()}
    assert sum(p.numel() for p in model.parameters()) == pytest.approx(0.29e6, rel=0.02)


def test_default_weights_say_it_is_a_from_scratch_baseline(rgb_images):
    with pytest.raises(WeightsNotFoundError) as info:
        backbones.get("small_cnn").build("default")
    assert str(info.value) == NO_WEIGHTS
    with pytest.raises(WeightsNotFoundError, match="pass weights=None"):
        ImageEncoder("small_cnn").fit(rgb_images)
    assert ImageEncoder("small_cnn", weights=None).fit().transform(rgb_images).shape == (6, 128)


def test_a_weights_file_is_loaded(tmp_path):
    build = backbones.get("small_cnn").build
    saved = build(None)
    with torch.no_grad():
        saved.stage2[1][1].running_mean.uniform_()  # a buffer, not only the parameters
    path = tmp_path / "small_cnn.pt"
    torch.save(saved.state_dict(), path)
    loaded = build(path)
    for name, tensor in saved.state_dict().items():
        assert torch.equal(tensor, loaded.state_dict()[name]), name
    assert not any(t.is_meta for t in loaded.state_dict().values())
    torch.save(torch.nn.Linear(2, 3).state_dict(), tmp_path / "other.pt")
    with pytest.raises(ValueError, match=r"weights file '.*other.pt' does not fit small_cnn"):
        build(tmp_path / "other.pt")
    with pytest.raises(WeightsNotFoundError, match="does not exist"):
        build(tmp_path / "missing.pt")


def test_freeze_strategies_work_on_its_groups():
    rng = np.random.default_rng(0)
    X = rng.integers(0, 128, (8, 28, 28), dtype=np.uint8)
    y = np.array(["dark", "light"] * 4)
    X[y == "light"] += 120
    params = dict(weights=None, max_epochs=2, batch_size=8, validation=None, device="cpu")
    model = FineTuneClassifier("small_cnn", freeze="last:1", random_state=0, **params).fit(X, y)
    assert model.layer_groups_ == ["stem", "stage1", "stage2"]
    assert model.history_[:, "trainable_groups"] == [["stage2"], ["stage2"]]
    before = {k: v.clone() for k, v in model.module_.body.backbone.state_dict().items()}
    model.set_params(warm_start=True).fit(X, y)
    after = model.module_.body.backbone.state_dict()
    changed = {k.split(".")[0] for k, v in after.items() if not torch.equal(v, before[k])}
    assert changed == {"stage2"}  # frozen groups keep weights and BatchNorm statistics
    progressive = FineTuneClassifier("small_cnn", freeze="progressive", random_state=0, **params)
    trained = progressive.set_params(max_epochs=3).fit(X, y).history_[:, "trainable_groups"]
    assert trained == [[], ["stage2"], ["stage1", "stage2"]]


@pytest.mark.slow
def test_trained_from_scratch_on_fashion_mnist_beats_chance(fashion_split):
    X_train, y_train, X_test, y_test = fashion_split(20, 20)
    # From scratch the body learns as fast as the head: backbone_lr="1x".
    model = FineTuneClassifier(
        "small_cnn", weights=None, freeze="none", lr=2e-3, backbone_lr="1x", max_epochs=5,
        batch_size=20, validation=None, device="cpu", random_state=0,
    )  # fmt: skip
    model.fit(X_train, y_train)
    assert model.history_[-1, "train_loss"] < model.history_[0, "train_loss"]
    # Chance is 0.1; 200 images, 5 epochs reach about 0.6 (0.54 to 0.65 over seeds).
    assert model.score(X_test, y_test) >= 0.4
