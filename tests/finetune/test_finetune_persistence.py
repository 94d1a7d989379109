"""Fine-tuners and heads saved with skops (no pickle) and pickle: no torch object kept,
only sktransfer's types to trust, the same predictions after loading, weights checked.

The image cases use a tiny CNN registered under a name (a backbone given as a spec
object would carry this file's build function into the model file); the text cases
the packaged MiniLM.
"""

import pickle
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
import skops.io
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from test_fine_tune import FIXED, TEXTS, TINY, TOPICS, build_tiny

from sktransfer import (
    FineTuneClassifier,
    FineTuneRegressor,
    HeadClassifier,
    HeadRegressor,
    backbones,
)
from sktransfer.backbones import BackboneSpec
from sktransfer.exceptions import WeightsMismatchError
from sktransfer.finetune._persist import SAVED

NAME = "tiny_saved"
TOLERANCE = {"rtol": 1e-5, "atol": 1e-6}
# What the build function of the registered backbone was asked for, call by call.
BUILT = []


def _build(weights="default"):
    BUILT.append(weights)
    return build_tiny(weights)


@pytest.fixture(scope="module", autouse=True)
def registered():
    spec = BackboneSpec(name=NAME, modality="image", build=_build, preprocessing=TINY.preprocessing)
    backbones.register(spec, namespace="tests", overwrite=True)
    yield
    backbones.unregister(f"tests/{NAME}")


def _tiny(estimator=FineTuneClassifier, **params):
    defaults = dict(max_epochs=2, batch_size=8, validation=None, device="cpu", random_state=0)
    return estimator(NAME, **{**defaults, **FIXED, **params})


def _images():
    rng = np.random.default_rng(0)
    X = rng.integers(0, 128, (12, 32, 32, 3), dtype=np.uint8)
    y = np.array(["dark", "light"] * 6)
    X[y == "light"] += 120
    return X, y


def _image(**params):
    return _tiny(**params), *_images()


def _text(freeze):
    pytest.importorskip("sentence_transformers")
    if freeze == "lora":
        pytest.importorskip("peft")
    model = FineTuneClassifier(
        "all-MiniLM-L6-v2", freeze=freeze, max_epochs=1, batch_size=4, validation=None,
        device="cpu", random_state=0,
    )  # fmt: skip
    return model, TEXTS[:4], TOPICS[:4]


def _dann():
    X, y = _images()
    shifted = np.clip(X.astype(int) + 60, 0, 255).astype(np.uint8)
    y = np.concatenate([y, np.full(len(y), None, dtype=object)])
    return _tiny(adapt="dann", freeze="last:1"), np.concatenate([X, shifted]), y


def _regressor():
    X, y = _images()
    return _tiny(FineTuneRegressor, freeze="last:1"), X, (y == "light").astype(float)


def _pipeline():
    return make_pipeline(_tiny(freeze="last:1"), LogisticRegression()), *_images()


def _features(classifier=True):
    X = np.random.default_rng(0).normal(size=(20, 5)).astype(np.float32)
    return X, np.array(["a", "b"] * 10) if classifier else X[:, :2] * 2.0  # two targets


CASES = {
    "image": lambda: _image(head_init="probe", weights="default"),
    "image-lora": lambda: _image(freeze="lora:2"),
    "text": pytest.param(lambda: _text("backbone"), marks=pytest.mark.slow),
    "text-lora": pytest.param(lambda: _text("lora"), marks=pytest.mark.slow),
    "dann": _dann,
    "regressor": _regressor,
    "head-classifier": lambda: (
        HeadClassifier(
            hidden=(4,), class_weight="balanced", max_epochs=3, device="cpu", random_state=0
        ),
        *_features(),
    ),
    "head-regressor": lambda: (
        HeadRegressor(
            hidden=(4,), activation=torch.nn.GELU, max_epochs=3, device="cpu", random_state=0
        ),
        *_features(classifier=False),
    ),
    "pipeline": _pipeline,
}
_FITTED = {}


@pytest.fixture(params=list(CASES.values()), ids=list(CASES))
def fitted(request):
    """A fitted model of each case, its input, and what it predicted; fitted once."""
    if request.param not in _FITTED:
        model, X, y = request.param()
        model.fit(X, y)
        _FITTED[request.param] = model, X, y, _outputs(model, X)
    return _FITTED[request.param]


def _outputs(model, X):
    """What a model computes: its predictions, and its fine-tuned features."""
    outputs = {"predict": model.predict(X)}
    if hasattr(model, "predict_proba"):
        outputs["predict_proba"] = model.predict_proba(X)
    features = model[:-1] if hasattr(model, "steps") else model
    if hasattr(features, "transform"):
        outputs["transform"] = features.transform(X)
    return outputs


def _same(model, X, expected):
    found = _outputs(model, X)
    assert found.keys() == expected.keys()
    for name, value in expected.items():
        if value.dtype.kind in "fc":
            np.testing.assert_allclose(found[name], value, **TOLERANCE, err_msg=name)
        else:
            np.testing.assert_array_equal(found[name], value, err_msg=name)


def _estimators(model):
    """The sktransfer estimators of a model (a pipeline's steps)."""
    steps = [step for _, step in model.steps] if hasattr(model, "steps") else [model]
    return [s for s in steps if type(s).__module__.startswith("sktransfer.")]


def _torch_objects(value, path="state", seen=None):
    """Where in ``value`` a tensor, module or optimizer is, walking containers and objects."""
    seen = set() if seen is None else seen
    if id(value) in seen:
        return []
    seen.add(id(value))
    if isinstance(value, (torch.Tensor, torch.nn.Module, torch.optim.Optimizer)):
        return [path]
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, (list, tuple, set)):
        items = enumerate(value)
    elif hasattr(value, "__dict__") and not isinstance(value, type):
        items = vars(value).items()
    else:
        return []
    return [p for k, v in items for p in _torch_objects(v, f"{path}[{k!r}]", seen)]


def test_skops_saves_and_loads_it_trusting_sktransfer_types_only(fitted, tmp_path):
    model, X, _, expected = fitted
    path = tmp_path / "model.skops"
    skops.io.dump(model, path)
    untrusted = skops.io.get_untrusted_types(file=path)
    assert all(name.startswith("sktransfer.") for name in untrusted), untrusted
    _same(skops.io.load(path, trusted=untrusted), X, expected)


def test_pickle_round_trips(fitted):
    model, X, _, expected = fitted
    _same(pickle.loads(pickle.dumps(model)), X, expected)


def test_the_state_holds_no_torch_object(fitted):
    model = fitted[0]
    for estimator in _estimators(model):
        state = estimator.__getstate__()
        assert "net_" not in state and SAVED in state
        assert _torch_objects(state) == []
    assert hasattr(model, "predict")  # the model saved keeps its net
    assert all(hasattr(e, "net_") for e in _estimators(model))


def test_an_edited_weight_is_refused_naming_the_network(fitted):
    model = fitted[0]
    estimator = _estimators(model)[0]
    state = estimator.__getstate__()
    arrays = state[SAVED]["module"]["arrays"]
    name = next(n for n, a in arrays.items() if a.dtype.kind == "f")
    arrays[name] = arrays[name].copy()
    arrays[name].flat[0] += 1.0
    if hasattr(estimator, "backbone"):
        named = f"backbone '{getattr(estimator.backbone, 'name', estimator.backbone)}'"
    else:
        named = f"the {type(estimator).__name__}'s network"
    with pytest.raises(WeightsMismatchError, match=re.escape(named)):
        type(estimator).__new__(type(estimator)).__setstate__(state)


def test_a_loaded_fine_tuner_trains_on(fitted, tmp_path):
    model, X, y, _ = fitted
    estimator = _estimators(model)[0]
    if not hasattr(estimator, "partial_fit"):
        pytest.skip("a head has no partial_fit")
    path = tmp_path / "model.skops"
    skops.io.dump(estimator, path)
    loaded = skops.io.load(path, trusted=skops.io.get_untrusted_types(file=path))
    epochs = len(loaded.history_)
    before = {n: p.detach().clone() for n, p in loaded.module_.named_parameters()}
    loaded.partial_fit(X, y)
    assert len(loaded.history_) == epochs + loaded.max_epochs
    changed = [n for n, p in loaded.module_.named_parameters() if not torch.equal(p, before[n])]
    assert changed


def test_the_rebuild_starts_from_a_random_initialisation_not_the_weights_file():
    model, X, y = _image(weights="default", freeze="last:1")
    model.fit(X, y)
    BUILT.clear()
    restored = pickle.loads(pickle.dumps(model))
    assert BUILT == [None]
    assert restored.net_.weights == "default"
    np.testing.assert_allclose(restored.predict_proba(X), model.predict_proba(X), **TOLERANCE)


def test_history_travels_as_plain_values(fitted):
    model = fitted[0]
    estimator = _estimators(model)[0]
    assert isinstance(estimator.__getstate__()[SAVED]["history"], str)  # JSON: compact
    plain = (str, int, float, bool, type(None))

    def walk(value):
        if isinstance(value, dict):
            return all(isinstance(k, str) and walk(v) for k, v in value.items())
        if isinstance(value, list):
            return all(walk(v) for v in value)
        return isinstance(value, plain)

    restored = pickle.loads(pickle.dumps(estimator)).net_.history_
    assert walk(list(restored))
    assert list(restored) == list(estimator.net_.history_)


def test_a_history_that_json_cannot_hold_travels_as_it_is():
    model, X, y = _image(max_epochs=1)
    model.fit(X, y)
    model.net_.history.record("noted", {1, 2})  # a set: no JSON for it
    restored = pickle.loads(pickle.dumps(model))
    assert restored.history_[-1, "noted"] == {1, 2}


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_a_model_saved_on_a_gpu_loads_on_the_cpu():
    model, X, y = _image()
    model.fit(X, y)
    state = model.__getstate__()
    state[SAVED]["device"] = "cuda"
    restored = FineTuneClassifier.__new__(FineTuneClassifier)
    with pytest.warns(RuntimeWarning, match="not available on this machine"):
        restored.__setstate__(state)
    assert restored.net_.device == "cpu"
    np.testing.assert_allclose(restored.predict_proba(X), model.predict_proba(X), **TOLERANCE)


def test_a_state_with_the_skorch_net_itself_still_loads():
    """What this release pickled before its nets were saved as plain data."""
    model, X, y = _image()
    model.fit(X, y)
    state = dict(vars(model))
    state["net_"] = pickle.loads(pickle.dumps(model.net_))
    restored = FineTuneClassifier.__new__(FineTuneClassifier)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        restored.__setstate__(state)
    np.testing.assert_allclose(restored.predict_proba(X), model.predict_proba(X), **TOLERANCE)


@pytest.mark.parametrize("name", ["fine_tune_classifier", "head_classifier"])
def test_a_model_of_0_1_0_saves_again_without_pickle(name, tmp_path):
    fixtures = Path(__file__).parents[1] / "fixtures" / "v0_1_0"
    # Fixtures of this repository, written by its own script: trusted.
    model = pickle.loads((fixtures / f"{name}.pkl").read_bytes())
    images = np.random.default_rng(0).integers(0, 256, (6, 32, 32, 3), dtype=np.uint8)
    if name == "head_classifier":
        encoder = pickle.loads((fixtures / "image_encoder.pkl").read_bytes())
        X = encoder.transform(images)
    else:
        X = images
    path = tmp_path / "model.skops"
    skops.io.dump(model, path)
    untrusted = skops.io.get_untrusted_types(file=path)
    assert all(t.startswith("sktransfer.") for t in untrusted), untrusted
    loaded = skops.io.load(path, trusted=untrusted)
    np.testing.assert_allclose(loaded.predict_proba(X), model.predict_proba(X), **TOLERANCE)
