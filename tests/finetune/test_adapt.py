"""Domain adaptation in the fine-tuners: unlabelled samples (y = -1, sample_domain < 0)."""

import numpy as np
import pytest
import torch
from test_fine_tune import TINY, build_tiny
from torch import nn

from sktransfer import FineTuneClassifier, FineTuneRegressor
from sktransfer.finetune._adapt import coral, entropy


def small(**params):
    defaults = dict(max_epochs=2, batch_size=8, validation=None, device="cpu", random_state=0)
    return FineTuneClassifier(TINY, **{**defaults, **params})


@pytest.fixture
def shifted(images):
    """Labelled source images, then as many unlabelled target ones: the same, brighter."""
    X, y = images
    target = np.clip(X.astype(int) + 60, 0, 255).astype(np.uint8)
    labels = np.concatenate([y, np.full(len(y), None, dtype=object)])
    return np.concatenate([X, target]), labels


def _statistics(model):
    return {n: b.clone() for n, b in model.module_.body.named_buffers() if "running" in n}


def test_unlabelled_samples_never_reach_the_supervised_loss(shifted):
    X, y = shifted
    model = small(adapt="adabn", max_epochs=1).fit(X, y)
    y_pred = torch.randn(6, 2, requires_grad=True)
    y_true = torch.tensor([0, 1, -1, -1, 1, -1])
    loss = model.net_.get_loss(y_pred, y_true, training=True)
    labelled = y_true >= 0
    expected = nn.functional.cross_entropy(y_pred[labelled], y_true[labelled])
    torch.testing.assert_close(loss, expected)
    loss.backward()
    assert torch.all(y_pred.grad[~labelled] == 0) and torch.any(y_pred.grad[labelled] != 0)
    assert list(model.classes_) == ["dark", "light"]  # the marker is no class


def test_adabn_changes_only_batchnorm_statistics_and_only_when_asked(shifted):
    X, y = shifted
    pretrained = {n: b for n, b in build_tiny().named_buffers() if "running" in n}
    weights = dict(build_tiny().named_parameters())
    plain = small(adapt="coral", adapt_weight=0.0, freeze="backbone").fit(X, y)
    adapted = small(adapt="adabn", freeze="backbone").fit(X, y)
    for model in (plain, adapted):
        for name, value in model.module_.body.backbone.named_parameters():
            assert torch.equal(value, weights[name]), name
    before, after = _statistics(plain), _statistics(adapted)
    for name, value in pretrained.items():
        assert torch.equal(before[f"backbone.{name}"], value), name  # not asked: untouched
        assert not torch.allclose(after[f"backbone.{name}"], value), name
    # The first BatchNorm's mean is now that of the target images' convolution outputs.
    target = torch.from_numpy(X[len(X) // 2 :]).permute(0, 3, 1, 2).float() / 255
    mean, std = torch.tensor(TINY.preprocessing.mean), torch.tensor(TINY.preprocessing.std)
    with torch.no_grad():
        conv = build_tiny().stem[0]((target - mean[:, None, None]) / std[:, None, None])
    torch.testing.assert_close(
        after["backbone.stem.1.running_mean"], conv.mean(dim=(0, 2, 3)), rtol=1e-4, atol=1e-4
    )
    assert adapted.net_.adabn_layers_ == 3


@pytest.mark.parametrize("adapt", ["coral", "dann", "entropy"])
@pytest.mark.parametrize("freeze", ["backbone", "last:1", "none"])
def test_each_loss_trains_with_every_freeze(shifted, adapt, freeze):
    X, y = shifted
    model = small(adapt=adapt, freeze=freeze).fit(X, y)
    assert set(model.predict(X)) <= {"dark", "light"}
    assert np.isfinite(model.history_[-1, "train_loss"])
    if adapt == "dann":
        domain = dict(model.module_.domain.named_parameters())
        assert all(p.requires_grad for p in domain.values())


def test_multi_class_and_skadas_sample_domain(images):
    X, _ = images
    y = np.array(["a", "b", "c"] * 8)
    domain = np.array([1] * 12 + [-2] * 12)  # skada: sources positive, targets negative
    model = small(adapt="coral").fit(X, y, sample_domain=domain)
    assert list(model.classes_) == ["a", "b", "c"]
    # The targets' labels were never read: only the 12 source samples keep theirs.
    assert np.array_equal(model.net_._fit_targets, np.r_[[0, 1, 2] * 4, [-1] * 12])
    # partial_fit reads them as fit does, for max_epochs more epochs.
    epochs = len(model.history_)
    model.partial_fit(X, y, sample_domain=domain)
    assert len(model.history_) == epochs + 2
    assert np.array_equal(model.net_._fit_targets, np.r_[[0, 1, 2] * 4, [-1] * 12])


def test_a_regressor_adapts_with_nan_targets(images):
    X, _ = images
    targets = X.mean(axis=(1, 2, 3)) / 255
    targets[::3] = np.nan
    settings = dict(max_epochs=1, batch_size=8, validation=None, device="cpu", random_state=0)
    model = FineTuneRegressor(TINY, adapt="coral", **settings).fit(X, targets)
    assert model.predict(X).shape == (len(X),)
    with pytest.raises(ValueError, match="adapt='entropy' sharpens class predictions"):
        FineTuneRegressor(TINY, adapt="entropy", **settings).fit(X, targets)


def test_adaptation_mistakes_are_named(images):
    X, y = images
    with pytest.raises(ValueError, match="adapt='coral' aligns .* and this y has none"):
        small(adapt="coral").fit(X, y)
    with pytest.raises(ValueError, match="every sample is unlabelled"):
        small(adapt="coral").fit(X, np.full(len(X), -1))
    # skada's source-only baseline: adapt="none" leaves the target samples out.
    domain = np.r_[np.ones(16, int), np.full(8, -2)]
    source_only = small(max_epochs=1).fit(X, y, sample_domain=domain)
    assert (source_only.net_._fit_targets >= 0).sum() == 16
    with pytest.raises(ValueError, match="sample_domain has shape"):
        small(adapt="coral").fit(X, y, sample_domain=np.ones(3))
    # Without adapt, -1 is a label like any other.
    labels = np.array([-1, 1] * 12)
    assert list(small(max_epochs=1).fit(X, labels).classes_) == [-1, 1]


def test_the_losses_themselves():
    rng = torch.Generator().manual_seed(0)
    x = torch.randn(64, 5, generator=rng)
    assert coral(x, x).item() == pytest.approx(0.0, abs=1e-7)
    assert coral(x, 3 * x).item() > 0.1
    assert coral(x[:1], x).item() == 0.0  # one row has no covariance
    confident = torch.tensor([[10.0, -10.0], [-10.0, 10.0]])
    assert entropy(confident).item() < 1e-6 < entropy(torch.zeros(2, 2)).item()
    assert entropy(torch.zeros(0, 2)).item() == 0.0
