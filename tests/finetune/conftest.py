"""Data shared by the fine-tuning tests."""

import numpy as np
import pytest


@pytest.fixture
def images():
    """24 random 32x32 RGB images whose label is told by their brightness."""
    rng = np.random.default_rng(0)
    X = rng.integers(0, 128, (24, 32, 32, 3), dtype=np.uint8)
    y = np.array(["dark", "light"] * 12)
    X[y == "light"] += 120
    return X, y
