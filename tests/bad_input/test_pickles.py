"""A crafted pickle, given to every loader of a file the user names, never runs its payload.

The payload opens a marker file for writing; a loader that unpickled it would leave
the marker behind. Word vectors have their own matrix (test_word_vectors.py, with
the `trust_pickle` opt-in), the embedding cache its own test (tests/test_cache.py),
and specs theirs (tests/spec/test_spec_errors.py); these are the weight files.
"""

import pickle

import numpy as np
import pytest
import torch

from sktransfer import FineTuneClassifier, ImageEncoder


class _Payload:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def crafted(tmp_path, how):
    """A weights file whose unpickling would create ``tmp_path / "marker"``."""
    marker = tmp_path / "marker"
    path = tmp_path / "weights.pth"
    state = {"conv.weight": torch.zeros(1), "payload": _Payload(marker)}
    if how == "torch.save":
        torch.save(state, path)
    else:
        path.write_bytes(pickle.dumps(state, protocol=4))
    return path, marker


@pytest.mark.parametrize("how", ["torch.save", "pickle"])
@pytest.mark.parametrize(
    "make",
    [
        lambda path: ImageEncoder("resnet18", weights=path, device="cpu"),
        lambda path: ImageEncoder("efficientnet_lite0", weights=path, device="cpu"),
        lambda path: ImageEncoder("resnet18.a1_in1k", weights=path, device="cpu"),  # timm
        lambda path: FineTuneClassifier(
            "small_cnn", weights=path, device="cpu", max_epochs=1, validation=None
        ),
    ],
    ids=["torchvision", "efficientnet_lite0", "timm", "fine-tuner"],
)
def test_a_crafted_weights_file_never_runs(tmp_path, how, make):
    path, marker = crafted(tmp_path, how)
    images = np.zeros((2, 32, 32, 3), dtype=np.uint8)
    with pytest.raises(ValueError, match="could not load weights from '.*weights.pth'"):
        make(path).fit(images, [0, 1])
    assert not marker.exists()
