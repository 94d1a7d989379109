"""The freeze strategy: which layer groups of the backbone train, epoch by epoch.

One hyperparameter, a string (or an int), so that ``GridSearchCV`` searches
over strategies like over any other value.
"""

from __future__ import annotations

import numbers
import re
from dataclasses import dataclass

FORMS = (
    '"none", "backbone", "last:K" or an int K, "progressive" or "progressive:E", "lora" or "lora:R"'
)
_PATTERN = re.compile(r"(none|backbone|last|progressive|lora)(?::(\d+))?")


@dataclass(frozen=True)
class Freeze:
    """A parsed ``freeze`` value.

    Attributes
    ----------
    kind : {"none", "backbone", "last", "progressive", "lora"}
        The strategy.
    count : int
        "last": how many of the backbone's last layer groups train.
    every : int
        "progressive": epochs between two unfreezings.
    rank : int
        "lora": the rank of the adapters.
    """

    kind: str
    count: int = 0
    every: int = 1
    rank: int = 8

    @classmethod
    def parse(cls, value):
        """Parse ``value``; a ValueError lists the valid forms.

        Examples
        --------
        >>> Freeze.parse("last:2"), Freeze.parse(2) == Freeze.parse("last:2")
        (Freeze(kind='last', count=2, every=1, rank=8), True)
        >>> Freeze.parse("progressive:3").every
        3
        """
        if isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= 0:
            return cls("last", count=int(value))
        match = _PATTERN.fullmatch(value) if isinstance(value, str) else None
        if match is None or (match[2] is not None and match[1] in ("none", "backbone")):
            raise ValueError(f"freeze must be one of {FORMS}, got {value!r}")
        kind, number = match[1], None if match[2] is None else int(match[2])
        if kind == "last":
            if number is None:
                raise ValueError(f'freeze="last" needs a count, e.g. "last:2" ({FORMS})')
            return cls(kind, count=number)
        if number == 0 and kind in ("progressive", "lora"):
            raise ValueError(f"freeze={value!r}: the number must be at least 1 ({FORMS})")
        if kind == "progressive":
            return cls(kind, every=number or 1)
        if kind == "lora":
            return cls(kind, rank=number or 8)
        return cls(kind)

    def check(self, group_names):
        """Refuse a count beyond the backbone's layer groups, naming how many it has."""
        if self.kind == "last" and self.count > len(group_names):
            raise ValueError(
                f"freeze asks for the last {self.count} layer groups, but the backbone has "
                f"{len(group_names)}: {list(group_names)}"
            )

    def trainable(self, n_groups, epoch):
        """How many of the last layer groups train in ``epoch`` (counted from 0)."""
        if self.kind == "none":
            return n_groups
        if self.kind == "last":
            return self.count
        if self.kind == "progressive":  # the head alone first, then one more group each time
            return min(n_groups, epoch // self.every)
        return 0  # "backbone", and "lora" (where the adapters train instead)
