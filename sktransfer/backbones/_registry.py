"""The backbone registry: built-in families plus entry-point plugins, found lazily.

Naming rule: every backbone has a qualified name ``namespace/name``, where the
namespace is its built-in family (``torchvision``) or the name of the entry point
that provided it. The short name works as long as exactly one source claims it;
when two do, the short name raises ``AmbiguousBackboneError`` listing the
qualified names, and nothing is overridden silently.
"""

from __future__ import annotations

import builtins
import importlib
import os
import threading
import warnings
from importlib.metadata import entry_points

from .._utils import close_names, did_you_mean
from ..exceptions import AmbiguousBackboneError, UnknownBackboneError, WeightsNotFoundError
from ._spec import MODALITIES, BackboneSpec

ENTRY_POINT_GROUP = "sktransfer.backbones"

# Built-in families: namespace -> "module:attribute" giving the specs (loaded lazily,
# like plugins, so that importing sktransfer stays cheap).
_BUILTIN_FAMILIES = {
    "efficientnet_lite": "sktransfer.backbones._efficientnet_lite:specs",
    "torchvision": "sktransfer.backbones._torchvision:specs",
    "scratch": "sktransfer.backbones._scratch:specs",
    "sentence-transformers": "sktransfer.backbones._sentence_transformers:specs",
    "gensim": "sktransfer.backbones._gensim:specs",
}


# What else a user may pass as a backbone of each modality: the family functions that
# turn it into a spec (a loaded model, a local path, a Hub or timm name) or return None.
_UNREGISTERED = {
    "image": ("sktransfer.backbones._image:spec_for", "sktransfer.backbones._timm:spec_for"),
    "text": ("sktransfer.backbones._sentence_transformers:spec_for",),
    "words": ("sktransfer.backbones._gensim:spec_for",),
}


def _key(name):
    """Look-ups ignore case and treat '-' and '_' alike."""
    return name.strip().lower().replace("-", "_")


def _bare(name):
    """A name that is neither a path on this machine nor a Hub name ("org/name")."""
    return "/" not in name and os.sep not in name and not os.path.exists(name)


def _load_object(reference):
    module, _, attribute = reference.partition(":")
    obj = importlib.import_module(module)
    for part in attribute.split("."):
        obj = getattr(obj, part)
    return obj


def _as_specs(obj, origin):
    """An entry point may give a spec, an iterable of specs or a callable returning either."""
    if callable(obj) and not isinstance(obj, BackboneSpec):
        obj = obj()
    specs = [obj] if isinstance(obj, BackboneSpec) else builtins.list(obj)
    for spec in specs:
        if not isinstance(spec, BackboneSpec):
            raise TypeError(f"{origin} gave {spec!r}, not a BackboneSpec")
    return specs


def _hint_on_missing(build, hint):
    """``build``, with ``hint`` added to the message of a WeightsNotFoundError it raises."""

    def build_with_hint(weights="default"):
        try:
            return build(weights)
        except WeightsNotFoundError as exc:
            raise WeightsNotFoundError(f"{exc} {hint}") from exc

    return build_with_hint


class Registry:
    """A set of backbones, filled from built-in families and entry points on first use.

    Creating a registry loads nothing. Its first use (any look-up, listing or
    registration) imports the built-in families, then loads every entry point
    of ``group``, once: a plugin that fails to load, or gives anything but
    :class:`BackboneSpec` objects, produces a RuntimeWarning naming it,
    and every other backbone stays available. ``sktransfer.backbones.get``,
    ``list``, ``register``, ``resolve``, ``unregister`` and ``specs`` are the
    methods of the global registry.

    Parameters
    ----------
    group : str, default="sktransfer.backbones"
        The entry-point group read for plugins.
    builtin_families : dict of str to str, optional
        Namespace to ``"module:attribute"`` giving that family's specs; None
        is sktransfer's own families (torchvision, EfficientNet-Lite0 to
        Lite2, the from-scratch ``small_cnn``, sentence-transformers, gensim),
        ``{}`` none (e.g. to test a plugin alone).

    Examples
    --------
    >>> from sktransfer.backbones import BackboneSpec, Registry
    >>> registry = Registry(group="no.such.group", builtin_families={})
    >>> spec = BackboneSpec(name="tiny", modality="image", build=lambda weights: None)
    >>> registry.register(spec, namespace="mine").qualified_name
    'mine/tiny'
    >>> registry.list()
    ['tiny']
    >>> registry.get("tiny") is registry.get("mine/tiny")
    True
    """

    def __init__(self, group=ENTRY_POINT_GROUP, builtin_families=None):
        self.group = group
        self.builtin_families = dict(
            _BUILTIN_FAMILIES if builtin_families is None else builtin_families
        )
        self._by_qualified = {}
        self._by_short = {}
        self._discovered = False
        self._lock = threading.RLock()

    # -- discovery ---------------------------------------------------------------

    def _discover(self):
        with self._lock:
            if self._discovered:
                return
            self._discovered = True
            for namespace, reference in self.builtin_families.items():
                self._load_source(namespace, lambda ref=reference: _load_object(ref), "")
            for ep in entry_points(group=self.group):
                dist = getattr(ep.dist, "name", None) or "an unknown distribution"
                self._load_source(ep.name, ep.load, f" (distribution {dist!r}, {ep.value})")

    def _load_source(self, namespace, load, where):
        try:
            specs = _as_specs(load(), f"backbone plugin {namespace!r}{where}")
        except Exception as exc:  # a broken plugin must not break the registry
            warnings.warn(
                f"sktransfer: backbone plugin {namespace!r}{where} failed to load and "
                f"its backbones are unavailable: {type(exc).__name__}: {exc}",
                RuntimeWarning,
                stacklevel=4,
            )
            return
        for spec in specs:
            try:
                self._add(spec, namespace, overwrite=False)
            except ValueError as exc:
                warnings.warn(
                    f"sktransfer: backbone plugin {namespace!r}{where}: {exc}; it was skipped",
                    RuntimeWarning,
                    stacklevel=4,
                )

    def _add(self, spec, namespace, overwrite):
        if "/" in spec.name or "/" in namespace:
            raise ValueError(
                f"backbone {spec.name!r} of namespace {namespace!r}: names and namespaces "
                "may not contain '/'"
            )
        spec.namespace = namespace
        qualified = _key(spec.qualified_name)
        if qualified in self._by_qualified and not overwrite:
            raise ValueError(
                f"backbone {spec.qualified_name!r} is already registered; "
                "pass overwrite=True to replace it"
            )
        old = self._by_qualified.get(qualified)
        if old is not None:
            self._by_short[_key(old.name)].remove(old)
        self._by_qualified[qualified] = spec
        self._by_short.setdefault(_key(spec.name), []).append(spec)

    # -- public API ----------------------------------------------------------------

    def register(self, spec, *, namespace="user", overwrite=False):
        """Add ``spec`` under ``namespace/spec.name``.

        Parameters
        ----------
        spec : BackboneSpec
            The backbone; its ``namespace`` is set to ``namespace``.
        namespace : str, default="user"
            The first part of its qualified name; no ``/``.
        overwrite : bool, default=False
            Replace a spec already registered under the same qualified name
            instead of raising.

        Returns
        -------
        BackboneSpec
            ``spec`` itself.

        Raises
        ------
        TypeError
            ``spec`` is not a BackboneSpec.
        ValueError
            The name or the namespace contains ``/``, or the qualified name
            is taken and ``overwrite`` is false.
        """
        if not isinstance(spec, BackboneSpec):
            raise TypeError(f"register() takes a BackboneSpec, got {spec!r}")
        self._discover()
        with self._lock:
            self._add(spec, namespace, overwrite)
        return spec

    def unregister(self, name):
        """Remove a backbone.

        Parameters
        ----------
        name : str
            Its short or qualified name.

        Returns
        -------
        BackboneSpec
            The spec removed.

        Raises
        ------
        UnknownBackboneError
            No backbone has this name (AmbiguousBackboneError, a subclass,
            for a short name that two sources share).
        """
        spec = self.get(name)
        with self._lock:
            del self._by_qualified[_key(spec.qualified_name)]
            self._by_short[_key(spec.name)].remove(spec)
        return spec

    def get(self, name):
        """Return the spec registered as ``name``.

        Look-ups ignore case and treat ``-`` and ``_`` alike.

        Parameters
        ----------
        name : str or BackboneSpec
            A short name, or a qualified one (``namespace/name``); a spec is
            returned as it is.

        Returns
        -------
        BackboneSpec
            The registered spec.

        Raises
        ------
        UnknownBackboneError
            No backbone has this name; the message lists the closest ones.
        AmbiguousBackboneError
            Two sources register this short name; the message lists their
            qualified names.
        TypeError
            ``name`` is neither a str nor a BackboneSpec.
        """
        if isinstance(name, BackboneSpec):
            return name
        if not isinstance(name, str):
            raise TypeError(f"a backbone name must be a str, got {type(name).__name__}")
        self._discover()
        key = _key(name)
        if "/" in key:
            if key in self._by_qualified:
                return self._by_qualified[key]
        else:
            found = self._by_short.get(key, [])
            if len(found) == 1:
                return found[0]
            if len(found) > 1:
                names = ", ".join(sorted(s.qualified_name for s in found))
                raise AmbiguousBackboneError(
                    f"backbone {name!r} is provided by several sources; "
                    f"use a qualified name: {names}"
                )
        raise UnknownBackboneError(self._unknown_message(name))

    def resolve(self, backbone, *, modality):
        """The spec for anything a user may pass as a backbone of ``modality``.

        Parameters
        ----------
        backbone : str, path-like, BackboneSpec or a loaded model
            A registered name (short or qualified); else, by modality, a local
            folder or file, a Hugging Face Hub or gensim-data name (text,
            words), a timm model name (images), or an already loaded model
            (``ImageBackbone``, ``SentenceTransformer``, ``KeyedVectors``).
        modality : {"image", "text", "words"} or tuple of them
            What the caller reads; a tuple tries each in turn for a name that
            is not registered (the fine-tuners read images or text).

        Returns
        -------
        BackboneSpec
            The registered spec, or one made for the path, name or model.

        Raises
        ------
        UnknownBackboneError
            Nothing matches; the message lists the closest registered names.
        AmbiguousBackboneError
            A short name that two sources register.
        ValueError
            ``backbone`` is a backbone of another modality.
        """
        modalities = (modality,) if isinstance(modality, str) else tuple(modality)
        for kind in modalities:
            if kind not in MODALITIES:
                raise ValueError(f"modality must be one of {MODALITIES}, got {kind!r}")
        spec = backbone if isinstance(backbone, BackboneSpec) else None
        if spec is None and isinstance(backbone, str) and backbone in self:
            spec = self.get(backbone)  # an ambiguous short name raises here
        if spec is None:
            spec = self._unregistered(backbone, modalities)
        if spec.modality not in modalities:
            raise ValueError(
                f"backbone {spec.name!r} reads {spec.modality}, not {' or '.join(modalities)}"
            )
        return spec

    def _unregistered(self, backbone, modalities):
        """A spec made for a path, a Hub, gensim-data or timm name, or a loaded model.

        The modalities are tried in order. A bare name (no ``/``, no file) that the
        first does not know stops there: its close names are listed, rather than
        the name looked up on a hub.
        """
        for modality in modalities:
            for reference in _UNREGISTERED[modality]:
                spec = _load_object(reference)(backbone)
                if spec is not None:
                    close = self._close_names(backbone, modality)
                    if close:  # a typo of a registered name, most likely
                        spec.build = _hint_on_missing(spec.build, did_you_mean(close).strip())
                    return spec
            if isinstance(backbone, (str, os.PathLike)) and _bare(os.fspath(backbone)):
                break
        if not isinstance(backbone, (str, os.PathLike)):
            raise TypeError(
                f"a backbone must be a name, a path or a loaded {' or '.join(modalities)} "
                f"model, got {type(backbone).__name__}"
            )
        raise UnknownBackboneError(self._unknown_message(os.fspath(backbone), modalities[0]))

    def _close_names(self, name, modality=None, cutoff=0.8):
        if not isinstance(name, str):
            return []
        return close_names(name, self.list(modality), cutoff=cutoff, key=_key)[:5]

    def _unknown_message(self, name, modality=None):
        close = self._close_names(name, modality, cutoff=0.5)
        if not close:  # substring hits help for families: "resnet" -> resnet18, resnet50...
            close = [n for n in self.list(modality) if _key(name) in _key(n)][:5]
        hint = did_you_mean(close) or " Run `sktransfer backbones` to see them all."
        return f"unknown backbone {name!r}.{hint}"

    def list(self, modality=None):
        """Return the backbone names, sorted, optionally only those of one modality.

        A short name stands for itself; where two sources share it, both
        qualified names are listed instead.

        Parameters
        ----------
        modality : {"image", "text", "words"}, optional
            Only the backbones that read this; None lists them all.

        Returns
        -------
        list of str
            Names that :meth:`get` accepts, sorted case-insensitively.
        """
        if modality is not None and modality not in MODALITIES:
            raise ValueError(f"modality must be one of {MODALITIES} or None, got {modality!r}")
        self._discover()
        names = []
        for specs in self._by_short.values():
            for spec in specs:
                if modality is None or spec.modality == modality:
                    names.append(spec.name if len(specs) == 1 else spec.qualified_name)
        return sorted(names, key=str.lower)

    def specs(self, modality=None):
        """Return the specs themselves, in the order of :meth:`list`.

        Parameters
        ----------
        modality : {"image", "text", "words"}, optional
            Only the backbones that read this; None gives them all.

        Returns
        -------
        list of BackboneSpec
            One spec per listed name.
        """
        return [self.get(name) for name in self.list(modality)]

    def __contains__(self, name):
        try:
            self.get(name)
        except AmbiguousBackboneError:
            return True
        except UnknownBackboneError:
            return False
        return True


REGISTRY = Registry()
