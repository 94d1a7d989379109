"""A fitted estimator saved where a GPU is loads and predicts where none is.

The pickle or model file (``sktransfer.save``) is loaded in a fresh process with
``CUDA_VISIBLE_DEVICES=""``: on a GPU machine that is exactly a CPU-only machine;
on a CPU machine the estimator was still fitted with ``device="cuda"``, the
parameter a GPU user would have set.
"""

import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch

from sktransfer import FineTuneClassifier, ImageEncoder, SentenceEncoder
from sktransfer._utils import resolve_device

HAS_CUDA = torch.cuda.is_available()

LOAD_AND_PREDICT = """
import pickle, sys, warnings
import numpy as np
import torch

assert not torch.cuda.is_available()
# The warning comes when the model is loaded (a fine-tuner) or first runs (an encoder).
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    if sys.argv[1].endswith(".skops"):
        from sktransfer.persistence import read

        saved = read(sys.argv[1])
        encoder, X = saved["model"], np.asarray(saved["X"])
    else:
        with open(sys.argv[1], "rb") as handle:
            encoder, X = pickle.load(handle)
    features = getattr(encoder, sys.argv[3])(X)
assert any("not available on this machine" in str(w.message) for w in caught)
np.save(sys.argv[2], features)
"""


def _fit_on_cuda(encoder, X):
    """``encoder`` fitted with ``device="cuda"``, and its features.

    Without a GPU, ``fit`` refuses "cuda": the CPU stands in, and the fitted
    encoder is given the device a GPU user's pickle would hold.
    """
    encoder.set_params(device="cuda" if HAS_CUDA else "cpu").fit(X)
    encoder.set_params(device="cuda")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # no GPU here: the CPU stands in
        return encoder, encoder.transform(X)


def _predict_in_a_process_without_cuda(tmp_path, encoder, X, method="transform", *, fmt):
    """What ``encoder`` gives for ``X`` in a new process without CUDA, after a pickle or
    a model file (``fmt``, "pickle" or "skops")."""
    import sktransfer

    blob = tmp_path / f"fitted.{fmt}"
    if fmt == "skops":
        sktransfer.save(encoder, blob, X=np.asarray(X))
    else:
        blob.write_bytes(pickle.dumps((encoder, X)))
    out = tmp_path / "features.npy"
    env = {"CUDA_VISIBLE_DEVICES": "", "PATH": "", "HOME": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-c", LOAD_AND_PREDICT, str(blob), str(out), method],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return np.load(out)


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["pickle", "skops"])
def test_image_encoder_fitted_for_cuda_predicts_without_it(fmt, tmp_path, rgb_images):
    torch.manual_seed(0)
    encoder, expected = _fit_on_cuda(
        ImageEncoder("resnet18", weights=None, device="cuda"), rgb_images
    )
    features = _predict_in_a_process_without_cuda(tmp_path, encoder, rgb_images, fmt=fmt)
    # GPU vs CPU arithmetic: other convolution kernels (TF32), and a batch resized on the
    # GPU in float where the CPU resizes uint8 (~7e-3 on an H100; see test_image.py).
    tolerance = {"rtol": 2e-2, "atol": 2e-2} if HAS_CUDA else {"rtol": 1e-3, "atol": 1e-4}
    np.testing.assert_allclose(features, expected, **tolerance)


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["pickle", "skops"])
def test_sentence_encoder_fitted_for_cuda_predicts_without_it(fmt, tmp_path):
    pytest.importorskip("sentence_transformers")
    texts = ["a fitted encoder travels", "from a GPU to a laptop"]
    encoder, expected = _fit_on_cuda(SentenceEncoder(device="cuda"), texts)
    features = _predict_in_a_process_without_cuda(tmp_path, encoder, texts, fmt=fmt)
    np.testing.assert_allclose(features, expected, rtol=1e-3, atol=1e-4)


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["pickle", "skops"])
def test_fine_tuner_fitted_for_cuda_predicts_without_it(fmt, tmp_path, rgb_images):
    model = FineTuneClassifier(
        "resnet18", weights=None, freeze="last:1", max_epochs=1, batch_size=3,
        validation=None, device="cuda" if HAS_CUDA else "cpu", random_state=0,
    )  # fmt: skip
    model.fit(rgb_images, ["a", "b", "c"] * 2)
    expected = model.predict_proba(rgb_images)
    model.net_.device = "cuda"  # what a GPU user's net holds; fit refuses it without a GPU
    proba = _predict_in_a_process_without_cuda(
        tmp_path, model, rgb_images, "predict_proba", fmt=fmt
    )
    np.testing.assert_allclose(proba, expected, rtol=1e-3, atol=1e-4)


@pytest.mark.skipif(not HAS_CUDA, reason="needs a CUDA device")
def test_the_pickle_holds_only_cpu_tensors(rgb_images):
    encoder = ImageEncoder("resnet18", weights=None, device="cuda").fit(rgb_images)
    encoder.transform(rgb_images)  # the model now lives on the GPU
    assert next(encoder.model_.parameters()).is_cuda
    restored = pickle.loads(pickle.dumps(encoder))
    assert all(t.device.type == "cpu" for t in restored.model_.state_dict().values())
    assert next(encoder.model_.parameters()).is_cuda  # pickling did not move the original


def test_a_missing_device_falls_back_to_the_cpu_with_a_warning(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.warns(RuntimeWarning, match="'cuda:1' is not available on this machine"):
        assert resolve_device("cuda:1") == torch.device("cpu")
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type in ("cpu", "mps")
