"""Bad parameters as a user meets them: ``fit`` refuses each one before any model is built.

A value of an accepted type but not an accepted value raises ValueError, a
value of no accepted type TypeError; both name the parameter, the value and
what is accepted. ``device`` is checked against this machine: a device torch
does not know, one the machine lacks (CUDA without a GPU, a GPU index past the
last one) and the data-less "meta" device are refused by ``fit``, not by the
first ``transform``.
"""

import re

import numpy as np
import pytest
import torch

import sktransfer.backbones
from sktransfer import (
    FineTuneClassifier,
    FineTuneRegressor,
    HeadClassifier,
    HeadRegressor,
    ImageEncoder,
    PixelEncoder,
    SentenceEncoder,
    WordVectorEncoder,
)
from sktransfer._checks import validate_params

IMAGES = np.random.default_rng(0).integers(0, 256, (4, 16, 16, 3), dtype=np.uint8)
FEATURES = np.random.default_rng(0).random((4, 3)).astype(np.float32)
TEXTS = ["a red fox", "a lazy dog", "the fox ran", "the dog slept"]
FINE_TUNING = {"weights": None, "max_epochs": 1, "validation": None}

# name -> (the estimator with some parameters, fitting it as a user would)
ESTIMATORS = {
    "ImageEncoder": (
        lambda **p: ImageEncoder("small_cnn", **{"weights": None, **p}),
        lambda model: model.fit(IMAGES),
    ),
    "PixelEncoder": (lambda **p: PixelEncoder(**p), lambda model: model.fit(IMAGES)),
    "SentenceEncoder": (lambda **p: SentenceEncoder(**p), lambda model: model.fit(TEXTS)),
    "WordVectorEncoder": (lambda **p: WordVectorEncoder(**p), lambda model: model.fit(TEXTS)),
    "FineTuneClassifier": (
        lambda **p: FineTuneClassifier("small_cnn", **{**FINE_TUNING, **p}),
        lambda model: model.fit(IMAGES, [0, 1, 0, 1]),
    ),
    "FineTuneRegressor": (
        lambda **p: FineTuneRegressor("small_cnn", **{**FINE_TUNING, **p}),
        lambda model: model.fit(IMAGES, np.arange(4.0)),
    ),
    "HeadClassifier": (
        lambda **p: HeadClassifier(**{"max_epochs": 1, **p}),
        lambda model: model.fit(FEATURES, [0, 1, 0, 1]),
    ),
    "HeadRegressor": (
        lambda **p: HeadRegressor(**{"max_epochs": 1, **p}),
        lambda model: model.fit(FEATURES, np.arange(4.0)),
    ),
}
WITH_DEVICE = [name for name, (make, _) in ESTIMATORS.items() if "device" in make().get_params()]


@pytest.fixture
def nothing_built(monkeypatch):
    """Building any torch module, or resolving any backbone, fails the test."""

    def built(*args, **kwargs):
        raise AssertionError("a model was built before the parameters were checked")

    monkeypatch.setattr(torch.nn.Module, "__init__", built)
    monkeypatch.setattr(sktransfer.backbones, "resolve", built)


def _refused(name, params, error, message):
    make, fit = ESTIMATORS[name]
    model = make(**params)  # nothing is checked in __init__, as in scikit-learn
    with pytest.raises(error, match=message) as caught:
        fit(model)
    assert type(caught.value) is error  # not a subclass from deeper down (a torch error)
    return str(caught.value)


def test_every_estimator_with_a_device_is_listed():
    assert set(WITH_DEVICE) == {
        "ImageEncoder", "SentenceEncoder", "FineTuneClassifier", "FineTuneRegressor",
        "HeadClassifier", "HeadRegressor",
    }  # fmt: skip


BAD_DEVICES = {
    "tpu": (ValueError, r"got 'tpu': torch knows no device 'tpu'"),
    "gpu": (ValueError, r"got 'gpu': torch knows no device 'gpu'"),
    "cuda:x": (ValueError, r"got 'cuda:x': torch knows no device"),
    "meta": (ValueError, r"got 'meta': the meta device holds no data"),
    "xla": (ValueError, r"got 'xla': this torch has no 'xla' backend"),
    # No machine has a hundred GPUs: refused with a GPU or without one.
    "cuda:99": (ValueError, r"got 'cuda:99': (no CUDA device|this machine has \d+ CUDA)"),
    torch.device("cuda", 99): (ValueError, r"got device\(type='cuda', index=99\)"),
    3: (TypeError, r"device must be 'auto' or a torch device available here \('cpu'.*\), got 3$"),
}


@pytest.mark.parametrize("device", list(BAD_DEVICES), ids=str)
@pytest.mark.parametrize("name", WITH_DEVICE)
def test_a_device_unknown_or_unusable_here_is_refused_by_fit(name, device, nothing_built):
    error, message = BAD_DEVICES[device]
    text = _refused(name, {"device": device}, error, message)
    assert text.startswith("device must be 'auto' or a torch device available here ('cpu'")


@pytest.mark.parametrize("name", WITH_DEVICE)
def test_cuda_and_mps_are_refused_where_the_machine_lacks_them(name, monkeypatch, nothing_built):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    for device in ("cuda", "cuda:0", "mps"):
        kind = device.split(":")[0].upper()
        message = (
            rf"^device must be 'auto' or a torch device available here \('cpu'(, 'xpu'.*)?\), "
            rf"got '{device}': no {kind} device is available on this machine$"
        )
        _refused(name, {"device": device}, ValueError, message)


@pytest.mark.parametrize("name", WITH_DEVICE)
def test_auto_and_the_cpu_are_accepted(name):
    make, _ = ESTIMATORS[name]
    for device in ("auto", "cpu", "cpu:0", torch.device("cpu")):
        validate_params(make(device=device))


# (estimator, parameters, error, message); a parameter's other bad values are tested
# with its estimator (tests/encoders, tests/finetune, tests/test_image_size.py).
BAD_PARAMETERS = [
    (
        "ImageEncoder",
        {"batch_size": 0},
        ValueError,
        "batch_size must be 'auto' or an int >= 1, got 0",
    ),
    (
        "ImageEncoder",
        {"batch_size": 8.0},
        TypeError,
        "batch_size must be 'auto' or an int >= 1, got 8.0",
    ),
    (
        "ImageEncoder",
        {"image_size": -1},
        ValueError,
        "image_size must be None or an int >= 8, got -1",
    ),
    ("ImageEncoder", {"num_workers": -1}, ValueError, "num_workers must be 'auto' or an int >= 0"),
    (
        "ImageEncoder",
        {"precision": "int8"},
        ValueError,
        "precision must be 'float32' or 'bfloat16' or 'float16', got 'int8'",
    ),
    (
        "ImageEncoder",
        {"weights": 3},
        TypeError,
        "weights must be 'default' or None or a path, got 3",
    ),
    ("ImageEncoder", {"cache": 3}, TypeError, "cache must be None or True or False or a path"),
    ("PixelEncoder", {"size": -1}, ValueError, "size must be an int >= 1, got -1"),
    ("PixelEncoder", {"size": 2.5}, TypeError, "size must be an int >= 1, got 2.5"),
    ("PixelEncoder", {"grayscale": 1}, TypeError, "grayscale must be True or False, got 1"),
    ("SentenceEncoder", {"batch_size": 0}, ValueError, "batch_size must be an int >= 1, got 0"),
    ("SentenceEncoder", {"prompt": 3}, TypeError, "prompt must be None or a str, got 3"),
    (
        "FineTuneClassifier",
        {"batch_size": 0},
        ValueError,
        "batch_size must be 'auto' or an int >= 1, got 0",
    ),
    (
        "FineTuneClassifier",
        {"max_epochs": 0},
        ValueError,
        "max_epochs must be 'auto' or an int >= 1, got 0",
    ),
    (
        "FineTuneClassifier",
        {"max_epochs": "3"},
        ValueError,
        "max_epochs must be 'auto' or an int >= 1, got '3'",
    ),
    (
        "FineTuneClassifier",
        {"image_size": -1},
        ValueError,
        "image_size must be None or an int >= 8, got -1",
    ),
    (
        "FineTuneClassifier",
        {"augment": "heavy"},
        ValueError,
        "augment must be 'none' or 'light' or 'strong' or a callable, got 'heavy'",
    ),
    (
        "FineTuneClassifier",
        {"augment": 3},
        TypeError,
        "augment must be 'none' or 'light' or 'strong' or a callable, got 3",
    ),
    (
        "FineTuneClassifier",
        {"verbose": "loud"},
        TypeError,
        "verbose must be True or False or an int >= 0, got 'loud'",
    ),
    (
        "FineTuneClassifier",
        {"precision": "float16"},
        ValueError,
        "precision must be 'float32' or 'bfloat16', got 'float16'",
    ),
    ("FineTuneClassifier", {"lr": 0.0}, ValueError, "lr must be 'auto' or a number > 0.0, got 0.0"),
    (
        "FineTuneClassifier",
        {"dropout": 1.5},
        ValueError,
        "dropout must be a number >= 0.0 and <= 1.0, got 1.5",
    ),
    (
        "FineTuneRegressor",
        {"batch_size": -1},
        ValueError,
        "batch_size must be 'auto' or an int >= 1, got -1",
    ),
    (
        "FineTuneRegressor",
        {"max_seq_length": 0},
        ValueError,
        "max_seq_length must be None or an int >= 1, got 0",
    ),
    ("HeadClassifier", {"batch_size": 0}, ValueError, "batch_size must be an int >= 1, got 0"),
    (
        "HeadRegressor",
        {"weight_decay": -1.0},
        ValueError,
        "weight_decay must be a number >= 0.0, got -1.0",
    ),
]


def _case_id(case):
    name, params, *_ = case
    return f"{name}-" + ",".join(f"{k}={v!r}" for k, v in params.items())


@pytest.mark.parametrize(
    "name, params, error, message", BAD_PARAMETERS, ids=[_case_id(c) for c in BAD_PARAMETERS]
)
def test_a_bad_parameter_is_refused_by_fit_naming_it(name, params, error, message, nothing_built):
    _refused(name, params, error, "^" + re.escape(message))
