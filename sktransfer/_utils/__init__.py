"""Helpers that every package of sktransfer shares: devices and message pieces."""

from ._devices import available_devices, device_problem, is_torch_module, resolve_device
from ._messages import close_names, did_you_mean, is_missing, progress, short_repr

__all__ = [
    "available_devices",
    "close_names",
    "device_problem",
    "did_you_mean",
    "is_missing",
    "is_torch_module",
    "progress",
    "resolve_device",
    "short_repr",
]
