"""What ``sktransfer backbones`` shows: one row per backbone, as a table or as JSON.

By default the listing shows what can be used now: the backbones whose default
weights are on disk (the packaged ones, and whatever the caches hold), those that
need none, and every backbone of a plugin. The zoos that sktransfer's own families
describe (every torchvision and timm tag, the Hub's sentence encoders, gensim-data's
vectors: about 1,900 rows with the ``sktransfer-timm`` plugin) list only their
downloaded members; ``everything=True`` (``--all``) lists them all.

A row builds nothing and downloads nothing. The feature size is the one the spec
knows without a build (:attr:`BackboneSpec.known_feature_dim`: static for the
built-in families, computed on demand for timm's tags); whether the default weights
are on disk is :func:`sktransfer.weights.on_disk`, the offline policy's own look-up;
the provider is the spec's namespace (the entry point or built-in family).
``details=True`` computes what takes a build: the remaining feature sizes and the
layer groups.
"""

from __future__ import annotations

import fnmatch
import warnings

from .. import weights as weights_module

# The families whose specs describe a public zoo, downloaded on demand, rather than
# backbones a plugin ships: whoever registers them (the sktransfer-timm plugin lists
# timm's tags), their members are usable offline only once their weights are on disk.
ZOO_FAMILIES = frozenset({"torchvision", "timm", "sentence-transformers", "gensim"})

_COLUMNS = (
    ("NAME", "name"),
    ("MODALITY", "modality"),
    ("DIM", "feature_dim"),
    ("ON DISK", "weights_on_disk"),
    ("PROVIDER", "provider"),
    ("DESCRIPTION", "description"),
)


def select(registry, *, modality=None, pattern=None, everything=False):
    """The backbones a listing shows, and how many of the matching ones it hides.

    Parameters
    ----------
    registry : Registry
        Where the backbones come from (``sktransfer.backbones.REGISTRY``).
    modality : {"image", "text", "words"}, optional
        Only the backbones that read this.
    pattern : str, optional
        Only the names matching this shell pattern, case-insensitively; the
        qualified name (``"timm/*"``) matches too.
    everything : bool, default=False
        Also the backbones of a built-in family or of a zoo
        (:data:`ZOO_FAMILIES`, whoever registers it) whose default weights
        are not on disk: the full registry.

    Returns
    -------
    shown : list of (str, BackboneSpec, bool or None)
        The listed name, the spec and whether its default weights are on
        disk (None where it has none), in the registry's order.
    hidden : int
        How many backbones matched but are left out (0 with ``everything``).
    """
    shown, hidden = [], 0
    builtin = set(registry.builtin_families)
    for name in registry.list(modality):
        spec = registry.get(name)
        if pattern and not _matches(pattern, name, spec.qualified_name):
            continue
        on_disk = _on_disk(spec)
        if everything or _usable_now(spec, on_disk, builtin):
            shown.append((name, spec, on_disk))
        else:
            hidden += 1
    return shown, hidden


def _matches(pattern, *names):
    pattern = pattern.lower()
    return any(fnmatch.fnmatch(name.lower(), pattern) for name in names)


def _usable_now(spec, on_disk, builtin):
    if on_disk is None or on_disk:
        return True  # needs no weights, or has them here
    # A plugin's own backbones are listed whatever their weights: installing the plugin
    # was the user's choice of them, and where their files come from is its business.
    return spec.namespace not in builtin and spec.family not in ZOO_FAMILIES


def _on_disk(spec):
    if spec.weights is None:
        return None
    # A plugin whose look-up fails (a broken ``cached``) must not take the rest of the
    # listing down: it warns, naming the backbone and the error, and reads as absent.
    try:
        return weights_module.on_disk(spec.weights)
    except Exception as exc:
        warnings.warn(
            f"{spec.qualified_name}: cannot tell whether its weights are on disk "
            f"({type(exc).__name__}: {exc})",
            RuntimeWarning,
            stacklevel=3,
        )
        return False


def row(name, spec, on_disk, *, details=False):
    """The listing's row for ``spec``, listed as ``name``.

    Parameters
    ----------
    name : str
        The name the registry lists it under (qualified when two sources
        share the short name).
    spec : BackboneSpec
        The backbone.
    on_disk : bool or None
        Whether its default weights are on disk (None where it has none), as
        :func:`select` found.
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
        "weights_on_disk": on_disk,
        "provider": spec.namespace,
        "description": spec.description,
    }
    if details:
        groups = _computed(spec, "layer_groups")
        described["layer_groups"] = None if groups is None else list(groups)
    return described


def rows(shown, *, details=False):
    """The rows of ``shown``, the first value :func:`select` returns."""
    return [row(name, spec, on_disk, details=details) for name, spec, on_disk in shown]


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
