"""LP-FT (head_init="probe"), the recipes per modality and the warm-up schedule.

The head's starting point is checked against a probe fitted here with
scikit-learn's own classes, on the features the body gives before training.
"""

import numpy as np
import pytest
import torch
from scipy.special import softmax
from sklearn.linear_model import LogisticRegression, RidgeCV
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from skorch.callbacks import Callback
from test_fine_tune import TINY

from sktransfer import FineTuneClassifier, FineTuneRegressor
from sktransfer.finetune import RECIPES, _probe
from sktransfer.finetune._probe import probe


def tiny(estimator=FineTuneClassifier, **params):
    defaults = dict(max_epochs=2, batch_size=8, validation=None, device="cpu", random_state=0)
    return estimator(TINY, **{**defaults, **params})


class BeforeTraining(Callback):
    """What the net holds when its first epoch begins: the head, and the body's features."""

    def __init__(self, X):
        self.X = X

    def on_epoch_begin(self, net, **kwargs):
        if len(net.history) != 1:
            return
        module = net.module_
        module.eval()
        with torch.no_grad():
            x = torch.from_numpy(self.X).permute(0, 3, 1, 2).contiguous()
            self.features = module.features(net.model_inputs(x)).numpy()
            self.logits = module.head(torch.from_numpy(self.features)).numpy()
        self.head = {k: v.clone() for k, v in module.head.state_dict().items()}


@pytest.fixture(scope="module")
def three_classes():
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (36, 32, 32, 3), dtype=np.uint8)
    y = np.repeat(["a", "b", "c"], 12)
    X[y == "b", :16] //= 3  # classes the features can tell apart
    X[y == "c", :, :16] //= 3
    return X, y


@pytest.mark.parametrize("n_classes", [3, 2])
def test_the_head_starts_as_the_probe_fitted_on_the_body_features(three_classes, n_classes):
    X, y = three_classes
    keep = np.isin(y, ["a", "b", "c"][:n_classes])
    X, y = X[keep], y[keep]
    seen = BeforeTraining(X)
    model = tiny(freeze="none", head_init="probe", callbacks=[seen]).fit(X, y)
    codes = np.searchsorted(model.classes_, y)
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    logistic = LogisticRegression(max_iter=200, tol=1e-3)
    search = GridSearchCV(logistic, {"C": np.logspace(-3, 1, 5)},
                          cv=cv, scoring="neg_log_loss")  # fmt: skip
    expected = search.fit(seen.features, codes)
    np.testing.assert_allclose(
        softmax(seen.logits, axis=1), expected.predict_proba(seen.features), atol=1e-4
    )
    assert expected.best_params_["C"] == model.probe_.C
    # The probe's epoch measured it and trained nothing; the others trained.
    assert model.history_[0, "probe"] is True
    assert len(model.history_) == 1 + model.max_epochs
    assert all("probe" not in row for row in model.history_[1:])


def test_a_regressor_starts_from_ridge(three_classes):
    X, _ = three_classes
    target = X.mean(axis=(1, 2, 3)) / 255
    seen = BeforeTraining(X)
    tiny(FineTuneRegressor, freeze="none", head_init="probe", callbacks=[seen]).fit(X, target)
    expected = RidgeCV(alphas=np.logspace(-2, 3, 6)).fit(seen.features, target[:, None])
    np.testing.assert_allclose(seen.logits.ravel(), expected.predict(seen.features), atol=1e-4)


def test_early_stopping_returns_the_probe_when_fine_tuning_only_hurts(three_classes):
    X, y = three_classes
    seen = BeforeTraining(X)
    model = tiny(
        freeze="none", head_init="probe", lr=30.0, backbone_lr=30.0, schedule=None,
        max_epochs=6, validation=0.25, patience=2, callbacks=[seen],
    ).fit(X, y)  # fmt: skip
    valid_loss = model.history_[:, "valid_loss"]
    assert int(np.argmin(valid_loss)) == 0  # the probe's epoch was the best
    assert len(valid_loss) == 3  # and patience 2 stopped there
    for name, value in model.module_.head.state_dict().items():
        torch.testing.assert_close(value, seen.head[name])


def test_the_probe_sees_only_the_training_split(three_classes, monkeypatch):
    X, y = three_classes
    sizes = []

    def recording(classifier):
        fit = probe(classifier)
        return lambda features, y: sizes.append(len(features)) or fit(features, y)

    monkeypatch.setattr(_probe, "probe", recording)
    model = tiny(freeze="backbone", head_init="probe", validation=0.25, max_epochs=1).fit(X, y)
    assert sizes == [27]  # 36 less the 9 held out
    assert model.probe_.n_features_in_ == model.module_.head[-1].in_features


def test_a_warm_start_keeps_its_head(three_classes):
    X, y = three_classes
    model = tiny(freeze="backbone", head_init="probe", max_epochs=1).fit(X, y)
    probe = model.probe_
    model.set_params(warm_start=True, freeze="none").fit(X, y)
    assert model.probe_ is probe
    assert [bool(row.get("probe")) for row in model.history_] == [True, False, False]


def test_random_head_has_no_probe_epoch(three_classes):
    X, y = three_classes
    model = tiny(head_init="random", freeze="backbone").fit(X, y)
    assert model.probe_ is None
    assert len(model.history_) == 2


def test_a_probe_needs_a_linear_head(three_classes):
    X, y = three_classes
    with pytest.raises(ValueError, match=r"head_init='probe'.*hidden=\(8,\)"):
        tiny(head_init="probe", hidden=(8,)).fit(X, y)
    model = tiny(hidden=(8,), freeze="backbone").fit(X, y)  # "auto": a random head
    assert model.recipe_["head_init"] == "random"
    assert model.probe_ is None


def test_auto_takes_the_recipe_of_the_modality_and_keeps_given_values(three_classes):
    X, y = three_classes
    model = FineTuneClassifier(TINY, max_epochs=1, validation=None, device="cpu")
    model.set_params(lr=5e-3).fit(X, y)
    assert model.recipe_ == {**RECIPES["image"], "lr": 5e-3, "max_epochs": 1}
    assert model.net_.backbone_lr_ == RECIPES["image"]["backbone_lr"]
    assert model.get_params()["freeze"] == "auto"  # the parameter itself is left alone


class LearningRates(Callback):
    def on_train_begin(self, net, **kwargs):
        self.rates = []

    def on_batch_begin(self, net, training=False, **kwargs):
        if training:
            self.rates.append([g["lr"] for g in net.optimizer_.param_groups])


def test_warmup_cosine_rises_then_decays_step_by_step(three_classes):
    X, y = three_classes
    rates = LearningRates()
    tiny(freeze="none", head_init="random", lr=1e-2, backbone_lr="0.1x", max_epochs=4,
         batch_size=4, schedule="warmup_cosine", callbacks=[rates]).fit(X, y)  # fmt: skip
    head, body = np.array(rates.rates).T
    assert len(head) == 4 * 9  # every training step, none in between
    np.testing.assert_allclose(body, head * 0.1)  # the body keeps its ratio
    peak = int(np.argmax(head))
    assert peak == 2  # the first tenth of 36 steps warms up: 3 steps
    assert np.all(np.diff(head[: peak + 1]) > 0) and np.all(np.diff(head[peak:]) <= 0)
    assert head[peak] == pytest.approx(1e-2) and head[-1] == pytest.approx(0.0, abs=1e-9)


def test_the_head_can_read_several_layers_as_the_encoder_does(three_classes):
    from sktransfer import ImageEncoder

    X, y = three_classes
    layers = ["stage1", "stage2"]
    seen = BeforeTraining(X)
    model = tiny(layer=layers, freeze="backbone", callbacks=[seen]).fit(X, y)
    assert model.module_.head[-1].in_features == 16 + 32
    encoded = ImageEncoder(TINY, layer=layers, device="cpu").fit().transform(X)
    np.testing.assert_allclose(seen.features, encoded, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="layer is for image backbones"):
        FineTuneClassifier("all-MiniLM-L6-v2", layer="x", validation=None).fit(["a", "b"], [0, 1])
