"""Torch devices: which ones this machine has, the one a model runs on ("auto" resolved)."""

from __future__ import annotations

import warnings


def resolve_device(device):
    """The torch device to run on: "auto" is CUDA when present (then Apple's MPS), else the CPU.

    ``fit`` refuses a device this machine lacks (see
    :func:`device_problem`); here, where a fitted estimator
    runs, such a device falls back to the CPU with a warning, so an estimator
    fitted with ``device="cuda"`` still predicts where there is no GPU.
    """
    import torch

    if device is None or device == "auto":
        usable = [kind for kind in ("cuda", "mps") if device_problem(kind) is None]
        return torch.device(usable[0] if usable else "cpu")
    problem = device_problem(device)
    if problem is not None:
        warnings.warn(
            f"device {str(device)!r} is not available on this machine ({problem}); "
            "running on the CPU",
            RuntimeWarning,
            stacklevel=3,
        )
        return torch.device("cpu")
    return torch.device(device)


def device_problem(device):
    """Why a model cannot run on ``device`` here (a str or torch.device), or None.

    Examples
    --------
    >>> device_problem("cpu") is None
    True
    >>> device_problem("tpu")
    "torch knows no device 'tpu'"
    >>> device_problem("meta")
    'the meta device holds no data to compute with'
    """
    import torch

    try:
        device = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        return f"torch knows no device {str(device)!r}"
    if device.type == "cpu":
        return None
    if device.type == "meta":
        return "the meta device holds no data to compute with"
    backend = _backend(device.type)
    if backend is None:
        return f"this torch has no {device.type!r} backend"
    kind = device.type
    count = _device_count(kind, backend)
    if count == 0:
        return f"no {kind.upper()} device is available on this machine"
    if device.index is not None and device.index >= count:
        return f"this machine has {count} {kind.upper()} device(s), {kind}:0 to {kind}:{count - 1}"
    return None


def available_devices():
    """The devices a model can run on here, by name: "cpu", then "cuda", "cuda:0"..., "mps"."""
    names = ["cpu"]
    for kind in ("cuda", "mps", "xpu"):
        backend = _backend(kind)
        count = 0 if backend is None else _device_count(kind, backend)
        if count:
            names += [kind, *(f"{kind}:{i}" for i in range(count) if count > 1)]
    return names


def _backend(kind):
    """The torch module of a device type with ``is_available()`` (torch.cuda), or None."""
    import torch

    backend = torch.backends.mps if kind == "mps" else getattr(torch, kind, None)
    return backend if callable(getattr(backend, "is_available", None)) else None


def _device_count(kind, backend):
    if not backend.is_available():
        return 0
    count = getattr(backend, "device_count", None)
    return 1 if kind == "mps" or not callable(count) else int(count())


def is_torch_module(obj):
    """Whether ``obj`` is a ``torch.nn.Module``."""
    from torch import nn

    return isinstance(obj, nn.Module)
