"""Offline-first resolution of pre-trained weights.

``weights="default"`` is looked for, in order, in the package that ships it (if
any), the sktransfer cache directory and the torch hub cache. Only when none
has it, and the network is not switched off, is it downloaded (into the torch
hub cache, as torchvision would); a failed download fails fast with a message
that names the file, its URL and where to put it.
"""

from __future__ import annotations

import os
import socket
from contextlib import contextmanager
from pathlib import Path

from .exceptions import WeightsNotFoundError

OFFLINE_VARIABLES = ("SKTRANSFER_OFFLINE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
DOWNLOAD_TIMEOUT = 15  # seconds without an answer before a download gives up


def cache_dir():
    """The sktransfer weights directory: ``$SKTRANSFER_HOME/weights``, else under XDG's cache."""
    home = os.environ.get("SKTRANSFER_HOME")
    if home:
        return Path(home).expanduser() / "weights"
    xdg = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(xdg).expanduser() / "sktransfer" / "weights"


def torch_hub_dir():
    """Where torch.hub keeps downloaded checkpoints (honours TORCH_HOME)."""
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints"


def search_dirs():
    """Directories searched for a weights file, in order."""
    return [cache_dir(), torch_hub_dir()]


def offline():
    """True when an environment variable forbids downloads."""
    return any(
        os.environ.get(v, "").strip().lower() not in ("", "0", "false", "no")
        for v in OFFLINE_VARIABLES
    )


def find(source):
    """The local path of ``source`` (a WeightsSource), or None when it is not on disk."""
    if source.packaged is not None:
        try:
            path = Path(source.packaged())
        except ImportError:
            path = None
        if path is not None and path.is_file():
            return path
    for directory in search_dirs():
        path = directory / source.filename
        if path.is_file():
            return path
    return None


def resolve(source, weights, *, backbone="this backbone"):
    """Turn the user's ``weights`` argument into a file path, or None for random init.

    Parameters
    ----------
    source : WeightsSource or None
        The backbone's default weights.
    weights : None, "default" or path-like
        What the user asked for.
    backbone : str
        Name used in error messages.
    """
    if weights is None:
        return None
    if isinstance(weights, (str, os.PathLike)) and str(weights) != "default":
        path = Path(weights).expanduser()
        if not path.is_file():
            raise WeightsNotFoundError(f"weights file {str(path)!r} for {backbone} does not exist")
        return path
    if weights != "default":
        raise TypeError(f"weights must be None, 'default' or a path, got {weights!r}")
    if source is None:
        raise WeightsNotFoundError(f"{backbone} has no pre-trained weights; use weights=None")
    path = find(source)
    if path is None:
        path = download(source, backbone=backbone)
    return path


def _missing_message(source, backbone, reason):
    places = " or ".join(f"'{d}'" for d in search_dirs())
    where = f" from {source.url}" if source.url else ""
    return (
        f"pre-trained weights for {backbone} not found: {reason}. "
        f"Download '{source.filename}'{where} and put it in {places} "
        "(or pass weights='/path/to/file'; weights=None gives random initialisation)."
    )


@contextmanager
def socket_timeout(seconds):
    """Sockets opened without their own timeout give up after ``seconds`` (no hangs offline)."""
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(old)


def download(source, *, backbone="this backbone"):
    """Download ``source`` into the torch hub cache; fail fast when offline."""
    if source.url is None:
        raise WeightsNotFoundError(_missing_message(source, backbone, "it is not installed"))
    if offline():
        raise WeightsNotFoundError(
            _missing_message(source, backbone, "downloads are disabled by the environment")
        )
    import torch

    target = torch_hub_dir() / source.filename
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with socket_timeout(DOWNLOAD_TIMEOUT):
            torch.hub.download_url_to_file(source.url, str(target), progress=False)
    except Exception as exc:  # URLError, timeouts, HTTP errors: all mean "not here"
        raise WeightsNotFoundError(
            _missing_message(source, backbone, f"the download failed ({exc})")
        ) from exc
    return target


def load_state_dict(path):
    """Load a state dict safely (``weights_only=True``) onto the CPU.

    Checkpoints that wrap the state dict (``{"state_dict": ...}`` or
    ``{"model": ...}``) and keys saved from ``DataParallel`` (``module.``) are
    unwrapped.
    """
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ValueError(f"could not load weights from '{path}': {exc}") from exc
    for key in ("state_dict", "model", "model_state_dict"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict):
        raise ValueError(f"'{path}' does not hold a state dict but a {type(state).__name__}")
    if state and all(k.startswith("module.") for k in state):
        state = {k[len("module.") :]: v for k, v in state.items()}
    return state
