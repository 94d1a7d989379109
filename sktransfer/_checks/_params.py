"""Parameters declared once per estimator, checked in ``fit``.

Each estimator class lists, in ``_parameter_constraints``, what every
parameter accepts (in the spirit of scikit-learn's table of the same name);
:func:`validate_params` checks them all before any heavy work. A value of an
accepted type but not an accepted value (``pooling="mean"``, ``batch_size=0``)
raises ValueError; a value of no accepted type (``batch_size="8"``) raises
TypeError. Both messages name the parameter and everything it accepts.
"""

from __future__ import annotations

import numbers
import os

import numpy as np

from .._utils import available_devices, device_problem, short_repr
from ..cache import EmbeddingCache


class Options:
    """One of a fixed set of values, e.g. ``Options("avg", "max")``."""

    def __init__(self, *values):
        self.values = values

    def accepts(self, value):
        return self.has_type(value) and value in self.values

    def has_type(self, value):
        return any(type(value) is type(v) or isinstance(value, type(v)) for v in self.values)

    def __str__(self):
        return " or ".join(repr(v) for v in self.values)


class Interval:
    """A number of ``kind`` (int or float) in ``[low, high]``; either bound may be None."""

    def __init__(self, kind, low=None, high=None, *, low_open=False):
        self.kind, self.low, self.high, self.low_open = kind, low, high, low_open

    def has_type(self, value):
        if isinstance(value, (bool, np.bool_)):
            return False
        return isinstance(value, numbers.Integral if self.kind is int else numbers.Real)

    def accepts(self, value):
        if not self.has_type(value):
            return False
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return self.high is None or value <= self.high

    def __str__(self):
        name = "an int" if self.kind is int else "a number"
        bounds = []
        if self.low is not None:
            bounds.append(f"{'>' if self.low_open else '>='} {self.low}")
        if self.high is not None:
            bounds.append(f"<= {self.high}")
        return f"{name} {' and '.join(bounds)}".strip()


class InstanceOf:
    """Any instance of ``types``, described as ``description``."""

    def __init__(self, types, description):
        self.types, self.description = types, description

    def accepts(self, value):
        return isinstance(value, self.types)

    has_type = accepts

    def __str__(self):
        return self.description


class Device:
    """``"auto"`` or a torch device this machine can run on ("cpu", "cuda:1", a torch.device).

    One check for every estimator's ``device``, in ``fit``: a device torch does not
    know, one this machine lacks (CUDA without a GPU, an index past the last GPU)
    and the data-less "meta" device are refused before any model is built.
    """

    def has_type(self, value):
        return isinstance(value, str) or type(value).__name__ == "device"

    def accepts(self, value):
        return self.has_type(value) and (value == "auto" or device_problem(value) is None)

    def problem(self, value):
        return None if value == "auto" else device_problem(value)

    def __str__(self):
        names = ", ".join(repr(name) for name in available_devices())
        return f"'auto' or a torch device available here ({names})"


class _Callable:
    has_type = accepts = staticmethod(callable)

    def __str__(self):
        return "a callable"


class _None:
    @staticmethod
    def accepts(value):
        return value is None

    has_type = accepts

    def __str__(self):
        return "None"


BOOLEAN = InstanceOf((bool, np.bool_), "True or False")
PATH = InstanceOf((str, os.PathLike), "a path")
CALLABLE = _Callable()
NONE = _None()


# A ``cache`` parameter: a directory, True for the user cache directory, or a cache.
CACHE = [NONE, BOOLEAN, PATH, InstanceOf(EmbeddingCache, "an EmbeddingCache")]


def validate_params(estimator):
    """Check every parameter of ``estimator`` against its class's ``_parameter_constraints``.

    Raises
    ------
    ValueError
        A parameter has an accepted type but not an accepted value.
    TypeError
        A parameter has none of the accepted types.

    Examples
    --------
    >>> class Encoder:
    ...     _parameter_constraints = {"batch_size": [Options("auto"), Interval(int, 1)]}
    ...     batch_size = 0
    >>> validate_params(Encoder())
    Traceback (most recent call last):
    ...
    ValueError: batch_size must be 'auto' or an int >= 1, got 0
    """
    for name, constraints in type(estimator)._parameter_constraints.items():
        value = getattr(estimator, name)
        if any(c.accepts(value) for c in constraints):
            continue
        expected = " or ".join(str(c) for c in constraints)
        typed = [c for c in constraints if c.has_type(value)]
        # A constraint may say why a value of its type is refused (a device this machine lacks).
        reasons = [c.problem(value) for c in typed if hasattr(c, "problem")]
        reason = next((f": {r}" for r in reasons if r), "")
        error = ValueError if typed else TypeError
        raise error(f"{name} must be {expected}, got {short_repr(value)}{reason}")
