"""What ``sktransfer backbones`` shows: one row per backbone, as a table or as JSON.

A row builds nothing and downloads nothing, so the ~1,900 backbones of a full
install list in well under a second once the registry is loaded. The feature size
is the one the spec knows without a build (:attr:`BackboneSpec.known_feature_dim`:
static for the built-in families, computed on demand for timm's tags); whether the
default weights are on disk is :func:`sktransfer.weights.on_disk`, the offline
policy's own look-up; the provider is the spec's namespace (the entry point or
built-in family). ``details=True`` computes what takes a build: the remaining
feature sizes and the layer groups.
"""

from __future__ import annotations

import warnings

from .. import weights as weights_module
from ..backbones import REGISTRY

_COLUMNS = (
    ("NAME", "name"),
    ("MODALITY", "modality"),
    ("DIM", "feature_dim"),
    ("ON DISK", "weights_on_disk"),
    ("PROVIDER", "provider"),
    ("DESCRIPTION", "description"),
)


def row(name, spec, *, details=False):
    """The listing's row for ``spec``, listed as ``name``.

    Parameters
    ----------
    name : str
        The name the registry lists it under (qualified when two sources
        share the short name).
    spec : BackboneSpec
        The backbone.
    details : bool, default=False
        Also compute what may take a build of the architecture: a feature
        size the spec does not know statically, and ``layer_groups``.

    Returns
    -------
    dict
        ``name``, ``qualified_name``, ``modality``, ``feature_dim`` (None
        where unknown), ``weights_on_disk`` (None where the backbone has no
        default weights), ``provider`` (its namespace) and ``description``,
        in this order, which ``--json`` keeps; ``layer_groups`` too with
        ``details``.
    """
    if details:
        feature_dim = _computed(spec, "feature_dim")
    else:
        feature_dim = spec.known_feature_dim
    described = {
        "name": name,
        "qualified_name": spec.qualified_name,
        "modality": spec.modality,
        "feature_dim": feature_dim,
        "weights_on_disk": None if spec.weights is None else weights_module.on_disk(spec.weights),
        "provider": spec.namespace,
        "description": spec.description,
    }
    if details:
        groups = _computed(spec, "layer_groups")
        described["layer_groups"] = None if groups is None else list(groups)
    return described


def rows(names, *, details=False):
    """The rows of the registered backbones ``names`` (as :meth:`Registry.list` gives them)."""
    return [row(name, REGISTRY.get(name), details=details) for name in names]


def _computed(spec, attribute):
    # One backbone that cannot be built here (a missing extra, an architecture that
    # fails on this torch) must not take the rest of the listing down with it.
    try:
        return getattr(spec, attribute)
    except Exception as exc:
        warnings.warn(
            f"{spec.qualified_name}: {attribute} unknown ({type(exc).__name__}: {exc})",
            RuntimeWarning,
            stacklevel=3,
        )
        return None


def _cell(key, value):
    if key == "weights_on_disk":
        return {True: "yes", False: "no", None: "-"}[value]
    if key == "feature_dim":
        return "?" if value is None else str(value)
    return "-" if value is None else str(value)


def table(listed):
    """``listed`` rows as aligned columns under a header.

    A row's layer groups, when it has them, follow on an indented line.

    Examples
    --------
    >>> print(table([{"name": "tiny", "modality": "image", "feature_dim": 8,
    ...               "weights_on_disk": None, "provider": "mine", "description": "a test"}]))
    NAME  MODALITY  DIM  ON DISK  PROVIDER  DESCRIPTION
    tiny  image     8    -        mine      a test
    """
    header = [title for title, _ in _COLUMNS]
    cells = [[_cell(key, r[key]) for _, key in _COLUMNS] for r in listed]
    widths = [max(len(line[i]) for line in [header, *cells]) for i in range(len(header))]

    def aligned(line):
        return "  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip()

    lines = [aligned(header)]
    for r, line in zip(listed, cells):
        lines.append(aligned(line))
        if "layer_groups" in r:
            groups = r["layer_groups"]
            lines.append("    groups: " + ("?" if groups is None else ", ".join(groups)))
    return "\n".join(lines)
