"""HeadClassifier / HeadRegressor: sklearn's estimator checks, training options, persistence."""

import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits, make_classification
from sklearn.metrics import recall_score
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from sktransfer import HeadClassifier, HeadRegressor, ImageEncoder


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Run torch on one thread: these networks are tiny, and on a small machine
    (two cores, other processes running) torch's threads mostly wait on each
    other; a fit measured 15 s of CPU time on two threads and 1 s on one."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def classifier(**params):
    return HeadClassifier(**{"device": "cpu", "random_state": 0, **params})


def regressor(**params):
    return HeadRegressor(**{"device": "cpu", "random_state": 0, **params})


@pytest.fixture
def blobs():
    """Two noisy, linearly separable classes with string labels, in 5 features."""
    rng = np.random.default_rng(0)
    y = np.array(["cat", "dog"] * 40)
    X = rng.normal(size=(80, 5))
    X[y == "dog", :2] += 2.0
    return X, y


# -- scikit-learn's contract ------------------------------------------------------------

# Every check runs; none is skipped. A higher learning rate and fewer epochs than the
# defaults keep it fast (the defaults take a minute or more on two cores), and
# check_class_weight_classifiers needs them: it trains on 50 unscaled, very noisy
# samples (two steps an epoch), which the defaults' 200 AdamW steps at 1e-3 cannot fit.
CHECKED = [
    HeadClassifier(lr=3e-2, max_epochs=30, device="cpu", random_state=0),
    HeadRegressor(lr=3e-2, max_epochs=30, device="cpu", random_state=0),
]


@parametrize_with_checks(CHECKED)
def test_sklearn_compatible(estimator, check):
    check(estimator)


# -- labels, targets and outputs ----------------------------------------------------------


def test_string_labels_round_trip(blobs):
    X, y = blobs
    model = classifier(lr=1e-2, max_epochs=30).fit(X, y)
    assert list(model.classes_) == ["cat", "dog"]
    assert model.predict(X).dtype == y.dtype
    assert set(model.predict(X)) == {"cat", "dog"}
    assert model.score(X, y) > 0.9
    proba = model.predict_proba(X)
    assert proba.shape == (80, 2) and proba.dtype == np.float64
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    assert model.net_.module_[-1].out_features == 2


def test_regressor_one_and_several_targets():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 4))
    Y = np.column_stack([X @ [1.0, -1.0, 0.5, 0.0], X[:, 0] - X[:, 3]])
    single = regressor(lr=1e-2, max_epochs=40).fit(X, Y[:, 0])
    assert single.n_outputs_ == 1 and single.predict(X).shape == (120,)
    assert single.score(X, Y[:, 0]) > 0.9
    multi = regressor(lr=1e-2, max_epochs=40).fit(X, Y)
    assert multi.n_outputs_ == 2 and multi.predict(X).shape == (120, 2)
    assert multi.predict(X).dtype == np.float64
    assert multi.score(X, Y) > 0.9


def test_dataframe_feature_names(blobs):
    pd = pytest.importorskip("pandas")
    X, y = blobs
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(5)])
    model = classifier(max_epochs=2).fit(frame, y)
    assert list(model.feature_names_in_) == ["f0", "f1", "f2", "f3", "f4"]
    with (
        pytest.warns(UserWarning, match="X does not have valid feature names"),
        pytest.raises(ValueError, match="X has 4 features, but HeadClassifier is expecting 5"),
    ):
        model.predict(X[:, :4])


# -- training options ---------------------------------------------------------------------


def test_hidden_layers_dropout_and_activation(blobs):
    X, y = blobs
    model = classifier(hidden=(16, 8), dropout=0.25, activation="tanh", max_epochs=2).fit(X, y)
    layers = [type(layer).__name__ for layer in model.net_.module_]
    assert layers == ["Linear", "Tanh", "Dropout", "Linear", "Tanh", "Dropout", "Linear"]
    assert model.net_.optimizer_.param_groups[0]["lr"] == 1e-3


def test_class_weight_balanced_helps_the_minority_class():
    X, y = make_classification(
        n_samples=600, n_features=5, n_informative=3, weights=[0.95], class_sep=0.7,
        flip_y=0, random_state=0,
    )  # fmt: skip
    X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y, random_state=0)
    plain = classifier(lr=1e-2, max_epochs=30).fit(X_train, y_train)
    balanced = classifier(lr=1e-2, max_epochs=30, class_weight="balanced").fit(X_train, y_train)

    assert getattr(plain.net_.criterion_, "weight", None) is None
    counts = np.bincount(y_train)
    expected = len(y_train) / (2 * counts)  # scikit-learn's "balanced"
    np.testing.assert_allclose(balanced.net_.criterion_.weight.numpy(), expected, rtol=1e-6)
    recalls = [recall_score(y_test, m.predict(X_test)) for m in (plain, balanced)]
    assert recalls[1] >= recalls[0] + 0.3, recalls


def test_class_weight_dict_by_label(blobs):
    X, y = blobs
    model = classifier(max_epochs=1, class_weight={"dog": 3.0}).fit(X, y)
    np.testing.assert_allclose(model.net_.criterion_.weight.numpy(), [1.0, 3.0])
    match = r"class_weight has label 'bird', which is not in y; the classes are \['cat', 'dog'\]"
    with pytest.raises(ValueError, match=match):
        classifier(max_epochs=1, class_weight={"bird": 2.0}).fit(X, y)


def test_validation_and_early_stopping():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 10))
    y = (X[:, 0] + rng.normal(scale=1.5, size=200) > 0).astype(int)
    model = classifier(hidden=(64,), lr=1e-2, max_epochs=200, validation=0.2, patience=2)
    history = model.fit(X, y).net_.history_
    assert len(history) < 200
    assert "valid_loss" in history[-1]
    assert history[0, "valid_batch_count"] == 2  # 40 of 200 samples, in batches of 32
    # The best epoch's weights are restored.
    best = int(np.argmin(history[:, "valid_loss"]))
    assert len(history) - 1 - best == 2


def test_same_random_state_same_model_and_caller_rng_untouched(blobs):
    X, y = blobs
    torch.manual_seed(123)
    before = torch.get_rng_state()
    first = classifier(hidden=(8,), dropout=0.2, validation=0.25, max_epochs=5).fit(X, y)
    assert torch.equal(torch.get_rng_state(), before)
    second = classifier(hidden=(8,), dropout=0.2, validation=0.25, max_epochs=5).fit(X, y)
    other = classifier(hidden=(8,), dropout=0.2, validation=0.25, max_epochs=5, random_state=1)
    np.testing.assert_array_equal(first.predict_proba(X), second.predict_proba(X))
    assert not np.array_equal(first.predict_proba(X), other.fit(X, y).predict_proba(X))


def test_digits_pipeline_accuracy():
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    # The classic recipe's head: Dense(64, relu), Dense(10, softmax); 20 epochs are plenty.
    model = make_pipeline(StandardScaler(), classifier(hidden=(64,), max_epochs=20))
    assert model.fit(X_train, y_train).score(X_test, y_test) > 0.9


def test_after_an_image_encoder(rgb_images):
    labels = np.array(["a", "b"] * 3)
    encoder = ImageEncoder("resnet18", weights=None, device="cpu")
    model = make_pipeline(encoder, classifier(hidden=(64,), max_epochs=2)).fit(rgb_images, labels)
    assert model[-1].n_features_in_ == 512
    assert model.predict(rgb_images).shape == (6,)


def test_grid_search(blobs):
    X, y = blobs
    search = GridSearchCV(
        classifier(max_epochs=10), {"hidden": [(), (8,)], "lr": [1e-3, 1e-2]}, cv=3
    ).fit(X, y)
    assert set(search.best_params_) == {"hidden", "lr"}
    assert search.cv_results_["mean_test_score"].shape == (4,)
    assert search.predict(X[:3]).dtype == y.dtype


# -- persistence --------------------------------------------------------------------------


def test_pickle_round_trip(blobs):
    X, y = blobs
    model = classifier(hidden=(8,), validation=0.25, patience=2, max_epochs=10).fit(X, y)
    loaded = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    reg = regressor(max_epochs=3).fit(X, np.arange(80.0))
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(reg)).predict(X), reg.predict(X))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_fitted_on_cuda_loads_without_one(blobs, tmp_path):
    X, y = blobs
    model = HeadClassifier(hidden=(8,), max_epochs=2, device="cuda", random_state=0).fit(X, y)
    assert model.net_.device == "cuda"
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "expected.npy", model.predict_proba(X))
    (tmp_path / "model.pkl").write_bytes(pickle.dumps(model))
    script = (
        "import pickle, sys, warnings, numpy as np, torch\n"
        "assert not torch.cuda.is_available()\n"
        "warnings.simplefilter('ignore')\n"
        "d = sys.argv[1]\n"
        "model = pickle.load(open(d + '/model.pkl', 'rb'))\n"
        "got = model.predict_proba(np.load(d + '/X.npy'))\n"
        "np.testing.assert_allclose(got, np.load(d + '/expected.npy'), atol=1e-5)\n"
        "print(model.net_.device)\n"
    )
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "cpu"


# -- bad input ----------------------------------------------------------------------------


def test_bad_targets_fail_clearly(blobs):
    X, y = blobs
    with pytest.raises(ValueError, match="y has a single class"):
        classifier().fit(X, np.full(80, "cat"))
    with pytest.raises(ValueError, match="inconsistent numbers of samples: \\[80, 79\\]"):
        classifier().fit(X, y[:-1])
    with pytest.raises(ValueError, match="Input y contains NaN"):
        classifier().fit(X, np.where(np.arange(80) == 3, np.nan, 1.0 * (y == "dog")))
    with pytest.raises(ValueError, match="y has missing values \\(None or NaN\\) at index 5"):
        classifier().fit(X, np.where(np.arange(80) == 5, None, y))
    with pytest.raises(ValueError, match="Unknown label type: continuous"):
        classifier().fit(X, np.linspace(0, 1, 80))
    with pytest.raises(ValueError, match="a regressor needs numeric targets, got <U3 values"):
        regressor().fit(X, y)
    with pytest.raises(ValueError, match="Input y contains NaN"):
        regressor().fit(X, np.where(np.arange(80) == 3, np.nan, 1.0))


def test_too_few_samples_for_validation(blobs):
    X, y = blobs
    with pytest.raises(ValueError, match="validation=0.1 holds out 1 of 6 samples"):
        classifier(validation=0.1).fit(X[:6], y[:6])
    with pytest.raises(ValueError, match="holds out 1 of 1 samples"):
        regressor(validation=0.5).fit(X[:1], [1.0])


def test_bad_features_fail_clearly(blobs):
    X, y = blobs
    bad = X.copy()
    bad[2, 1] = np.inf
    with pytest.raises(ValueError, match="Input X contains infinity"):
        classifier().fit(bad, y)
    with pytest.raises(ValueError, match="Expected 2D array, got 1D array"):
        classifier().fit(X[:, 0], y)


@pytest.mark.parametrize(
    "params, error, match",
    [
        ({"hidden": (8, 0)}, ValueError, "hidden must hold layer sizes"),
        ({"hidden": 8}, TypeError, "hidden must be a tuple of layer sizes, got 8"),
        ({"lr": 0.0}, ValueError, "lr must be a number > 0.0, got 0.0"),
        ({"max_epochs": 0}, ValueError, "max_epochs must be an int >= 1"),
        ({"activation": "swish"}, ValueError, "activation must be 'relu' or"),
        ({"class_weight": "auto"}, ValueError, "class_weight must be None or 'balanced'"),
        ({"device": "gpu"}, ValueError, "device must be 'auto' or a torch device"),
        ({"verbose": "yes"}, TypeError, "verbose must be True or False or an int >= 0"),
    ],
)
def test_bad_parameters_fail_in_fit(blobs, params, error, match):
    X, y = blobs
    model = classifier(**params)  # no check in __init__, as in scikit-learn
    with pytest.raises(error, match=match):
        model.fit(X, y)
