"""Reading one section of a spec: known keys, expected types, messages that name the field."""

from __future__ import annotations

import numbers

from .._utils import close_names, short_repr
from .._utils import did_you_mean as hint
from ..exceptions import SpecError

# What a YAML value of each kind is called in messages.
_KINDS = {
    str: "a string",
    bool: "true or false",
    int: "an integer",
    float: "a number",
    list: "a list",
    dict: "a mapping",
}


def did_you_mean(name, choices):
    """`` Did you mean: a, b?`` or ``""`` when nothing is close."""
    return hint(close_names(name, choices))


show = short_repr  # how a spec's values appear in messages


class Section:
    """One mapping of the spec, read field by field.

    Every read names the field's path in its error, and :meth:`done` refuses
    the keys nobody read (typos), with the closest known ones.
    """

    def __init__(self, value, path, known):
        if value is None:
            value = {}
        if not isinstance(value, dict):
            raise SpecError(path, f"expected a mapping, got {show(value)}")
        for key in value:
            if key not in known:
                raise SpecError(
                    join(path, key),
                    f"unknown field. Expected one of: {', '.join(known)}."
                    + did_you_mean(key, known),
                )
        self.value, self.path = value, path

    def __contains__(self, key):
        return self.value.get(key) is not None

    def get(self, key, kinds, default=None, *, choices=None, low=None):
        """The value of ``key``, checked to be of one of ``kinds`` (None: ``default``)."""
        value = self.value.get(key)
        if value is None:
            return default
        return check(value, join(self.path, key), kinds, choices=choices, low=low)

    def require(self, key, kinds, **checks):
        if key not in self:
            raise SpecError(join(self.path, key), "required field is missing")
        return self.get(key, kinds, **checks)


def check(value, path, kinds, *, choices=None, low=None):
    """Check that ``value`` is one of ``kinds`` (and in ``choices``, and >= ``low``)."""
    kinds = kinds if isinstance(kinds, tuple) else (kinds,)
    if not any(_is(value, kind) for kind in kinds):
        expected = " or ".join(_KINDS[k] for k in kinds)
        raise SpecError(path, f"expected {expected}, got {show(value)}")
    if choices is not None and value not in choices:
        raise SpecError(
            path,
            f"{show(value)} is not one of: {', '.join(map(str, choices))}."
            + did_you_mean(value, choices),
        )
    if low is not None and isinstance(value, numbers.Real) and value < low:
        raise SpecError(path, f"expected at least {low}, got {show(value)}")
    return value


def _is(value, kind):
    if kind in (int, float):  # YAML's true is not a number
        number = numbers.Integral if kind is int else numbers.Real
        return isinstance(value, number) and not isinstance(value, bool)
    return isinstance(value, kind)


def join(path, key):
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)
