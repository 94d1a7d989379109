import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch
from torchvision.models import resnet18

from sktransfer import ImageEncoder, WeightsNotFoundError, backbones, weights


@pytest.fixture(scope="module")
def resnet18_state():
    torch.manual_seed(1)
    return resnet18().state_dict()


def _features(weights_arg, images):
    # On the CPU: the reference features are computed there, and a GPU's convolutions
    # (TF32 by default) differ from them by ~1e-2.
    encoder = ImageEncoder("resnet18", weights=weights_arg, batch_size=8, device="cpu")
    return encoder.fit_transform(images)


def _save(state, directory, name=None):
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / (name or backbones.get("resnet18").weights.filename)
    torch.save(state, path)
    return path


def test_default_weights_found_in_torch_hub_cache(resnet18_state, rgb_images):
    path = _save(resnet18_state, weights.torch_hub_dir())
    assert weights.find(backbones.get("resnet18").weights) == path
    np.testing.assert_allclose(
        _features("default", rgb_images), _features(path, rgb_images), atol=1e-5
    )


def test_default_weights_found_in_sktransfer_cache(resnet18_state, rgb_images):
    path = _save(resnet18_state, weights.cache_dir())
    assert weights.find(backbones.get("resnet18").weights) == path


def test_path_loads_the_state_dict_that_was_saved(resnet18_state, rgb_images, tmp_path):
    path = _save(resnet18_state, tmp_path, "mine.pt")
    model = resnet18()
    model.load_state_dict(resnet18_state)
    model.fc = torch.nn.Identity()
    x = ImageEncoder("resnet18", weights=None)  # only to borrow the exact preprocessing
    x.fit(rgb_images)
    expected = _reference_features(model.eval(), rgb_images, x.preprocessing_)
    np.testing.assert_allclose(_features(str(path), rgb_images), expected, atol=1e-4)


def _reference_features(model, images, pre):
    """The textbook torchvision recipe, written out by hand."""
    from torchvision.transforms import v2

    transform = v2.Compose([
        v2.ToImage(), v2.Resize(pre.resize_size, antialias=True), v2.CenterCrop(pre.input_size),
        v2.ToDtype(torch.float32, scale=True), v2.Normalize(pre.mean, pre.std),
    ])  # fmt: skip
    batch = torch.stack([transform(image) for image in images])
    with torch.no_grad():
        return model(batch).numpy()


@pytest.mark.parametrize("wrap", ["state_dict", "model", "module."])
def test_wrapped_checkpoints_are_unwrapped(resnet18_state, rgb_images, tmp_path, wrap):
    if wrap == "module.":
        state = {f"module.{k}": v for k, v in resnet18_state.items()}
    else:
        state = {wrap: resnet18_state, "epoch": 3}
    path = _save(state, tmp_path, "wrapped.pt")
    plain = _save(resnet18_state, tmp_path, "plain.pt")
    np.testing.assert_allclose(_features(path, rgb_images), _features(plain, rgb_images), atol=1e-6)


def test_random_init_with_weights_none(rgb_images):
    assert _features(None, rgb_images).shape == (len(rgb_images), 512)


def test_missing_weights_offline_fail_without_a_connection_and_say_where(
    rgb_images, monkeypatch, no_network
):
    monkeypatch.setenv("SKTRANSFER_OFFLINE", "1")
    source = backbones.get("resnet18").weights
    with pytest.raises(WeightsNotFoundError, match="downloads are disabled") as info:
        ImageEncoder("resnet18").fit(rgb_images)
    assert no_network == []
    message = str(info.value)
    assert source.url in message and str(weights.cache_dir() / source.filename) in message
    assert str(weights.torch_hub_dir()) in message


def test_no_network_fails_after_one_connection_attempt(rgb_images, no_network):
    with pytest.raises(WeightsNotFoundError, match="download.pytorch.org cannot be reached"):
        ImageEncoder("resnet18").fit(rgb_images)
    assert no_network == [("download.pytorch.org", 443)]


def test_failed_download_is_reported_not_hung(rgb_images, monkeypatch, no_network):
    monkeypatch.setattr(weights, "reachable", lambda url: True)
    calls = []

    def broken_transfer(url, dst, **kwargs):
        calls.append(url)
        raise urllib.error.URLError("Connection reset by peer")

    monkeypatch.setattr(torch.hub, "download_url_to_file", broken_transfer)
    with pytest.raises(WeightsNotFoundError, match="download failed.*Connection reset"):
        ImageEncoder("resnet18").fit(rgb_images)
    assert calls == [backbones.get("resnet18").weights.url]


def test_the_search_order_packaged_then_caches_then_the_library_cache(tmp_path):
    for name in ("packaged", "library"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "w.pt").write_bytes(b"x")
    source = weights.WeightsSource(
        filename="w.pt",
        packaged=lambda: tmp_path / "packaged" / "w.pt",
        cached=lambda: tmp_path / "library" / "w.pt",
    )
    assert weights.find(source) == tmp_path / "packaged" / "w.pt"
    mine = weights.cache_dir() / "w.pt"
    mine.parent.mkdir(parents=True)
    mine.write_bytes(b"x")
    no_package = weights.WeightsSource("w.pt", packaged=_not_installed, cached=source.cached)
    assert weights.find(no_package) == mine
    mine.unlink()
    assert weights.find(no_package) == tmp_path / "library" / "w.pt"
    assert weights.find(weights.WeightsSource("w.pt", packaged=_not_installed)) is None


def _not_installed():
    raise ImportError("no such package")


def test_on_disk_says_where_find_looks_and_never_downloads(tmp_path, no_network):
    downloads = []
    source = weights.WeightsSource(
        "w.pt", url="https://example.org/w.pt", packaged=_not_installed,
        download=lambda: downloads.append("w.pt"),
    )  # fmt: skip
    assert weights.on_disk(source) is False
    (tmp_path / "w.pt").write_bytes(b"x")
    assert weights.on_disk(weights.WeightsSource("w.pt", cached=lambda: tmp_path / "w.pt"))
    assert weights.on_disk(weights.WeightsSource("w.pt", packaged=lambda: tmp_path / "w.pt"))
    weights.torch_hub_dir().mkdir(parents=True)
    (weights.torch_hub_dir() / "w.pt").write_bytes(b"x")
    assert weights.on_disk(source) is True
    assert downloads == [] and no_network == []


def test_a_library_download_is_used_only_when_nothing_is_on_disk(tmp_path, monkeypatch, no_network):
    monkeypatch.setattr(weights, "reachable", lambda url: True)
    target = tmp_path / "downloaded.bin"

    def download():
        target.write_bytes(b"x")
        return target

    source = weights.WeightsSource("x.bin", url="https://example.org/x.bin", download=download)
    assert weights.fetch(source, backbone="x") == target
    with pytest.raises(WeightsNotFoundError, match="have no download.*pip install .pkg."):
        weights.fetch(weights.WeightsSource("y.bin", install="pkg"), backbone="y")


def test_missing_path_and_wrong_architecture_are_named(tmp_path, rgb_images, resnet18_state):
    with pytest.raises(WeightsNotFoundError, match="nope.pt"):
        ImageEncoder("resnet18", weights=tmp_path / "nope.pt").fit(rgb_images)
    path = _save(resnet18_state, tmp_path, "resnet18.pt")
    with pytest.raises(ValueError, match="resnet18.pt.*does not fit resnet34"):
        ImageEncoder("resnet34", weights=path).fit(rgb_images)
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="could not load weights from .*garbage.pt"):
        ImageEncoder("resnet18", weights=garbage).fit(rgb_images)


def test_weights_are_loaded_safely(tmp_path):
    """weights_only=True: a pickle that would run code is refused."""
    path = tmp_path / "evil.pt"
    torch.save({"weight": torch.zeros(1), "payload": _Evil()}, path)
    with pytest.raises(ValueError, match="could not load weights"):
        weights.load_state_dict(path)


class _Evil:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_densenet_legacy_keys_are_renamed(tmp_path, rgb_images):
    """The published DenseNet files use 'norm.1' where the module says 'norm1'."""
    from torchvision.models import densenet121

    state = densenet121().state_dict()
    legacy = {}
    for key, value in state.items():
        if ".denselayer" in key and key.endswith("num_batches_tracked"):
            continue  # the old files predate this buffer
        for old, new in (
            ("norm1", "norm.1"),
            ("conv1", "conv.1"),
            ("norm2", "norm.2"),
            ("conv2", "conv.2"),
        ):
            if ".denselayer" in key and f".{old}." in key:
                key = key.replace(f".{old}.", f".{new}.")
        legacy[key] = value
    assert legacy.keys() != state.keys()
    path = _save(legacy, tmp_path, "densenet121-legacy.pth")
    assert ImageEncoder("densenet121", weights=path).fit(rgb_images[:1]).n_features_out_ == 1024


def test_a_path_named_default_is_a_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(WeightsNotFoundError, match="weights file 'default' .*does not exist"):
        weights.resolve(None, Path("default"), backbone="x")


@pytest.fixture
def silent_server(monkeypatch):
    """A port that accepts connections and never answers: a firewall or a stuck proxy.

    Downloads are allowed by the environment.
    """
    import socket
    import threading

    for variable in weights.OFFLINE_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    server = socket.create_server(("127.0.0.1", 0))
    accepted = []
    threading.Thread(target=lambda: accepted.append(server.accept()), daemon=True).start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    server.close()


@pytest.fixture
def connections(monkeypatch):
    """Every network connection opened, as (address, the socket's timeout).

    A socket opened with no timeout is given one, so that a regression fails the
    assertions on the timeouts rather than hanging the run.
    """
    import socket

    opened = []
    connect = socket.socket.connect

    def recording(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6):
            opened.append((tuple(address[:2]), self.gettimeout()))
            if self.gettimeout() is None:
                self.settimeout(30)
        return connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", recording)
    return opened


def test_a_server_that_never_answers_fails_fast_without_trying_the_download(
    silent_server, connections
):
    downloads = []
    source = weights.WeightsSource(
        "w.pt", url=f"{silent_server}/w.pt", download=lambda: downloads.append("w.pt")
    )
    with pytest.raises(WeightsNotFoundError, match="127.0.0.1 cannot be reached") as error:
        weights.fetch(source, backbone="w")
    # One attempt, given up after CONNECT_TIMEOUT (the server stays silent), and no download.
    port = int(silent_server.rsplit(":", 1)[1])
    assert connections == [(("127.0.0.1", port), weights.CONNECT_TIMEOUT)]
    assert downloads == []
    # The message names the file, where it comes from and where to put it.
    assert f"{silent_server}/w.pt" in str(error.value)
    assert str(weights.cache_dir() / "w.pt") in str(error.value)


@pytest.mark.parametrize("family", ["timm", "sentence-transformers"])
def test_hub_families_fail_fast_whatever_the_hub_client_retries(
    family, silent_server, connections, monkeypatch
):
    monkeypatch.setenv("HF_ENDPOINT", silent_server)
    with pytest.raises(WeightsNotFoundError, match="127.0.0.1 cannot be reached") as error:
        if family == "timm":
            ImageEncoder("convnext_tiny.fb_in22k").fit()
        else:
            from sktransfer import SentenceEncoder

            SentenceEncoder("some-organisation/some-model").fit()
    # sktransfer's one attempt, with CONNECT_TIMEOUT; the hub client never connects (nor retries).
    port = int(silent_server.rsplit(":", 1)[1])
    assert connections == [(("127.0.0.1", port), weights.CONNECT_TIMEOUT)]
    assert str(weights.cache_dir()) in str(error.value)
