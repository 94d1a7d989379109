"""From estimator names in a spec to estimator objects, through an allow-list only.

A spec names estimators by their public class name: sktransfer's own, and the
public estimators scikit-learn lists in :func:`sklearn.utils.all_estimators`.
Nothing else is ever looked up, and nothing is imported by a name from a spec:
``"os.system"`` is an unknown estimator, not an import path.

An estimator is written as its name (``StandardScaler``) or as a mapping of
its name to its parameters (``{LogisticRegression: {C: 10}}``); a list of them
is a pipeline, with :func:`sklearn.pipeline.make_pipeline`'s step names
(``logisticregression__C`` in a search). ``ColumnTransformer`` takes its
``transformers`` as a list of ``{columns: ..., steps: ..., name: ...}``.

``BackboneSelector``'s ``candidates`` (and a ranking's) are a list of backbone
names, estimator nodes, lists of them (pipelines), and ``{layers_of: NAME}`` or
``{layers_of: {backbone: NAME, image_size: 112}}``, which stands for one image
encoder per layer group (:func:`sktransfer.ranking.layers_of`).
"""

from __future__ import annotations

import functools

from sklearn.base import BaseEstimator
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import make_pipeline

from .._checks import validate_params
from ..exceptions import SpecError
from ._fields import Section, check, did_you_mean, join, show

SKTRANSFER_ESTIMATORS = (
    "ImageEncoder",
    "PixelEncoder",
    "SentenceEncoder",
    "WordVectorEncoder",
    "FineTuneClassifier",
    "FineTuneRegressor",
    "HeadClassifier",
    "HeadRegressor",
    "BackboneSelector",
)

# Parameters that trust a file to run code: a spec is data and never grants that.
NEVER_FROM_A_SPEC = ("trust_pickle",)

# Searches are the spec's `search` section; a FunctionTransformer needs a callable,
# which plain data cannot give.
_NOT_IN_A_PIPELINE = ("GridSearchCV", "RandomizedSearchCV", "FunctionTransformer")


@functools.lru_cache(maxsize=1)
def allowed():
    """Name -> class of every estimator a spec may name."""
    from sklearn.utils import all_estimators

    import sktransfer

    classes = {name: cls for name, cls in all_estimators() if "SearchCV" not in name}
    for name in _NOT_IN_A_PIPELINE:
        classes.pop(name, None)
    for name in SKTRANSFER_ESTIMATORS:
        classes[name] = getattr(sktransfer, name)
    return classes


def is_estimator_node(value):
    """Whether a spec value names an estimator: ``"Name"`` or ``{Name: params}``."""
    if isinstance(value, str):
        return value in allowed()
    return isinstance(value, dict) and len(value) == 1 and next(iter(value)) in allowed()


def build_pipeline(steps, path):
    """A pipeline from a list of estimator nodes (make_pipeline's step names)."""
    if isinstance(steps, (str, dict)):
        steps = [steps]
    check(steps, path, list)
    if not steps:
        raise SpecError(path, "a pipeline needs at least one step")
    return make_pipeline(*(build_estimator(s, join(path, i)) for i, s in enumerate(steps)))


def build_estimator(node, path):
    """An estimator from ``"Name"`` or ``{Name: {param: value}}``, its parameters checked."""
    if isinstance(node, str):
        name, params = node, {}
    elif isinstance(node, dict) and len(node) == 1:
        name, params = next(iter(node.items()))
        params = {} if params is None else params
    else:
        raise SpecError(
            path, f"expected an estimator name or {{Name: {{parameters}}}}, got {show(node)}"
        )
    cls = allowed().get(name)
    if cls is None:
        why = " A spec names estimators, never import paths." if "." in str(name) else ""
        raise SpecError(
            path,
            f"unknown estimator {show(name)}.{why}{did_you_mean(name, allowed())}"
            " sktransfer's estimators and scikit-learn's public ones are accepted.",
        )
    path = join(path, name)
    check(params, path, dict)
    if cls is ColumnTransformer:
        return _column_transformer(params, path)
    known = cls().get_params(deep=False)
    skorch_routed = hasattr(cls, "prefixes_")  # skorch's optimizer__lr, callbacks__...
    values = {}
    for key, value in params.items():
        if key in NEVER_FROM_A_SPEC:
            raise SpecError(
                join(path, key),
                f"{key} cannot be set by a spec: a spec never makes the library run code from "
                "a file. Convert the file to a format that needs no trust, or use the estimator "
                "from Python.",
            )
        if key not in known and not (skorch_routed and "__" in str(key)):
            raise SpecError(
                join(path, key),
                f"{name} has no parameter {show(key)}.{did_you_mean(key, known)}",
            )
        values[key] = _parameter(name, key, value, join(path, key))
    estimator = cls(**values)
    check_parameters(estimator, path)
    return estimator


def _parameter(name, key, value, path):
    """A parameter's value, in the syntax of its estimator where it has one of its own."""
    if name == "BackboneSelector" and key == "candidates":
        return read_candidates(value, path)
    if name == "BackboneSelector" and key == "scorer":
        return check(value, path, str, choices=ranking_scorers())
    return _value(value, path)


def _value(value, path):
    """A parameter's value: an estimator node built, a list of them a pipeline."""
    if is_estimator_node(value):
        return build_estimator(value, path)
    if isinstance(value, list) and value and all(is_estimator_node(v) for v in value):
        return build_pipeline(value, path)
    return value


def ranking_scorers():
    """The scorers a ranking of candidates can use, by name."""
    from ..ranking import SCORERS

    return sorted(SCORERS)


def read_candidates(value, path):
    """The candidates of a ranking, each checked: names, estimators, layer groups expanded.

    Parameters
    ----------
    value : list
        As the spec writes them: a backbone name (``efficientnet_lite0``), an
        estimator node (``PixelEncoder``, ``{ImageEncoder: {layer: blocks.4}}``),
        a list of them (a pipeline), ``{layers_of: NAME}`` or ``{layers_of:
        {backbone: NAME, image_size: 112, concatenations: false}}``.
    path : str
        The field, for errors.

    Returns
    -------
    list
        Backbone names (str) and unfitted transformers, in the spec's order.
    """
    check(value, path, list)
    if not value:
        raise SpecError(path, "give at least one candidate")
    candidates = []
    for i, item in enumerate(value):
        where = join(path, i)
        if isinstance(item, dict) and len(item) == 1 and "layers_of" in item:
            candidates += _layers_of(item["layers_of"], join(where, "layers_of"))
        elif is_estimator_node(item):
            candidates.append(build_estimator(item, where))
        elif isinstance(item, list):
            candidates.append(build_pipeline(item, where))
        elif isinstance(item, str):
            candidates.append(_backbone(item, where))
        else:
            name = next(iter(item)) if isinstance(item, dict) and len(item) == 1 else None
            hint = did_you_mean(name, [*allowed(), "layers_of"]) if isinstance(name, str) else ""
            raise SpecError(
                where,
                "expected a backbone name, an estimator (Name or {Name: {parameters}}), a list "
                f"of estimators or {{layers_of: backbone}}, got {show(item)}.{hint}",
            )
    return candidates


def _backbone(name, path, modality=None):
    """A registered backbone's name, checked; its modality's names are the close ones."""
    from .. import backbones
    from ..exceptions import UnknownBackboneError

    try:
        backbones.get(name)
    except UnknownBackboneError as exc:
        if name in backbones.REGISTRY:  # a short name two sources share: name them
            raise SpecError(path, str(exc)) from None
        if modality:
            what, names = f"not a registered {modality} backbone", backbones.list(modality)
        else:
            what = "neither a registered backbone nor an estimator"
            names = [*allowed(), *backbones.list()]
        raise SpecError(path, f"{show(name)} is {what}.{did_you_mean(name, names)}") from None
    return name


def _layers_of(value, path):
    """``{layers_of: ...}``: one image encoder per layer group of a backbone."""
    from .. import backbones
    from ..ranking import layers_of

    written_as_name = isinstance(value, str)
    fields = ("backbone", "image_size", "concatenations")
    section = Section({"backbone": value} if written_as_name else value, path, fields)
    where = path if written_as_name else join(path, "backbone")
    name = _backbone(section.require("backbone", str), where, modality="image")
    modality = backbones.get(name).modality
    if modality != "image":
        raise SpecError(
            where,
            f"layers_of reads an image backbone's layer groups; {show(name)} is a {modality} "
            "backbone: list it as a candidate of its own",
        )
    return layers_of(
        name,
        image_size=section.get("image_size", int, low=1),
        concatenations=section.get("concatenations", bool, default=True),
    )


def _column_transformer(params, path):
    section = Section(
        params,
        path,
        ("transformers", "remainder", "sparse_threshold", "n_jobs", "verbose_feature_names_out"),
    )
    entries = section.require("transformers", list)
    transformers = []
    for i, entry in enumerate(entries):
        where = join(join(path, "transformers"), i)
        part = Section(entry, where, ("columns", "steps", "name"))
        columns = part.require("columns", (str, list))
        steps = part.value.get("steps", "passthrough")
        if steps in ("passthrough", "drop"):
            transformer = steps
        elif isinstance(steps, list) and len(steps) > 1:
            transformer = build_pipeline(steps, join(where, "steps"))
        else:
            transformer = build_estimator(
                steps[0] if isinstance(steps, list) else steps, join(where, "steps")
            )
        default_name = columns if isinstance(columns, str) else "_".join(map(str, columns))
        name = part.get("name", str, default=default_name)
        transformers.append((name, transformer, columns))
    if not transformers:
        raise SpecError(join(path, "transformers"), "a ColumnTransformer needs at least one entry")
    remainder = section.get("remainder", str, default="drop", choices=("drop", "passthrough"))
    options = {k: v for k, v in params.items() if k not in ("transformers", "remainder")}
    return ColumnTransformer(transformers, remainder=remainder, **options)


def check_parameters(estimator, path):
    """Check an estimator's parameters as its ``fit`` would, without fitting anything."""
    try:
        if type(estimator).__name__ == "BackboneSelector":
            _check_selector(estimator)  # a search may set its scorer or candidates
        elif _is_ours(estimator):
            # The fine-tuners' check also parses freeze strategies and learning-rate ratios.
            getattr(estimator, "_check_params", lambda: validate_params(estimator))()
        elif hasattr(estimator, "_validate_params"):
            # scikit-learn checks its parameters at the start of fit; this is that check.
            estimator._validate_params()
    except (TypeError, ValueError) as exc:
        raise SpecError(path, str(exc)) from None


def check_tree(estimator, path):
    """:func:`check_parameters` for an estimator and every estimator inside it."""
    check_parameters(estimator, path)
    for name, value in estimator.get_params(deep=True).items():
        if isinstance(value, BaseEstimator):
            check_parameters(value, join(path, name))


def _check_selector(selector):
    if selector.scorer not in ranking_scorers():
        raise ValueError(
            f"scorer must be one of {', '.join(ranking_scorers())}, got {show(selector.scorer)}"
            + did_you_mean(selector.scorer, ranking_scorers())
        )
    if not isinstance(selector.candidates, list) or not selector.candidates:
        raise ValueError(f"candidates must be a non-empty list, got {show(selector.candidates)}")


def _is_ours(estimator):
    return type(estimator).__module__.startswith("sktransfer.")
