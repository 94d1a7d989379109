"""Shared fixtures: small real images, made on the fly or shipped by scikit-image."""

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

# Tests never download: a missing file must fail fast, not wait on the network.
os.environ.setdefault("SKTRANSFER_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def pytest_addoption(parser):
    parser.addoption(
        "--metadata-routing",
        action="store_true",
        help="run with scikit-learn's metadata routing on, as it is in a process that "
        "imported skada",
    )


def pytest_configure(config):
    if config.getoption("--metadata-routing"):
        import sklearn

        sklearn.set_config(enable_metadata_routing=True)


@pytest.fixture(scope="session")
def skimage_photos():
    """Paths of real photos shipped by scikit-image, by name (e.g. 'coffee')."""
    import skimage

    root = Path(skimage.__file__).parent / "data"
    return {p.stem: p for p in sorted(root.glob("*.png"))}


@pytest.fixture
def rgb_images():
    """Six small random uint8 RGB images (N, H, W, C)."""
    return np.random.default_rng(0).integers(0, 256, (6, 40, 48, 3), dtype=np.uint8)


@pytest.fixture
def image_files(tmp_path, rgb_images):
    """The same six images written as PNG files; returns their paths as str."""
    paths = []
    for i, array in enumerate(rgb_images):
        path = tmp_path / f"img{i}.png"
        Image.fromarray(array).save(path)
        paths.append(str(path))
    return paths


@pytest.fixture(scope="session")
def fashion_split():
    """``split(n_train, n_test)``: disjoint draws per class from Fashion-MNIST's test split,
    as ``(X_train, y_train, X_test, y_test)``; skips where the data is not installed."""
    from sktransfer.datasets import fashion_mnist_available, load_fashion_mnist, stratified_sample

    if not fashion_mnist_available():
        pytest.skip("Fashion-MNIST is not installed (scripts/install.sh installs it)")
    X, y = load_fashion_mnist("test")

    def split(n_train, n_test):
        train = stratified_sample(y, n_train, seed=0)
        test = stratified_sample(y, n_test, seed=1, exclude=train)
        return X[train], y[train], X[test], y[test]

    return split


@pytest.fixture(autouse=True)
def isolated_caches(tmp_path_factory, monkeypatch):
    """Weight caches point at empty folders, so no test sees another's files or models."""
    from sktransfer.encoders import clear_model_cache

    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("SKTRANSFER_HOME", str(home / "sktransfer"))
    monkeypatch.setenv("TORCH_HOME", str(home / "torch"))
    clear_model_cache()  # a model loaded by an earlier test came from its folders


@pytest.fixture
def no_network(monkeypatch):
    """Downloads allowed by the environment, but every connection refused; returns the attempts.

    What a machine without a network does, minus the waiting: a test of "fails
    fast" asserts how many connections were tried, not how long it took.
    """
    import socket

    for variable in ("SKTRANSFER_OFFLINE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(variable, raising=False)
    attempts = []

    def refuse(address, *args, **kwargs):
        attempts.append(address)
        raise ConnectionRefusedError(f"no network in tests ({address})")

    monkeypatch.setattr(socket, "create_connection", refuse)
    real_connect = socket.socket.connect

    def connect(self, address):
        # Local sockets are no network: torch's DataLoader workers hand their
        # batches to the pin-memory thread over one (CUDA runs).
        if self.family == getattr(socket, "AF_UNIX", None):
            return real_connect(self, address)
        return refuse(address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    return attempts


@pytest.fixture(scope="session")
def make_example_data():
    """``make(out, per_class, test_per_class)``: examples/make_example_data.py's image
    folders and table in ``out``, with that many training and test images per class."""
    import importlib.util

    script = Path(__file__).parents[1] / "examples" / "make_example_data.py"
    module = importlib.util.spec_from_file_location("make_data", script)
    make_data = importlib.util.module_from_spec(module)
    module.loader.exec_module(make_data)

    def make(out, per_class, test_per_class):
        args = ["--out", str(out), "--per-class", str(per_class)]
        make_data.main([*args, "--test-per-class", str(test_per_class)])

    return make


@pytest.fixture
def skada():
    """skada imported, routing on while the test runs, the process's setting restored after."""
    import sklearn

    before = sklearn.get_config()["enable_metadata_routing"]
    skada = pytest.importorskip("skada")  # its import switches routing on for the process
    sklearn.set_config(enable_metadata_routing=True)
    yield skada
    sklearn.set_config(enable_metadata_routing=before)
