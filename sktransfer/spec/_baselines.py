"""The ``evaluate.baseline`` of a spec: the same task without transfer, for the data's form.

A built-in baseline answers "does transfer pay here?" in one word:

- ``pixels``: raw pixels, standardised, and a linear model: for images (a
  folder, a CSV column of image paths, Fashion-MNIST's arrays);
- ``tfidf``: TF-IDF and a linear model: for texts (a CSV column, BBC News);
- ``scratch``: the spec's own pipeline with every backbone randomly initialised
  and fully trained: for any data, when the pipeline has a pre-trained backbone.

On a CSV of several columns, ``pixels`` and ``tfidf`` are the same table model:
each image column as standardised pixels, each text column as TF-IDF, numbers
standardised, other columns one-hot encoded; ``pixels`` needs an image column and
``tfidf`` a text column. A baseline that cannot apply is refused naming the field,
when the spec is read where the source says what it holds, else when the data is
read, before any model is fitted. A pipeline written out is a baseline too.
"""

from __future__ import annotations

from sklearn.base import is_classifier

from ..exceptions import SpecError
from ._estimators import build_pipeline, check_tree
from ._fields import Section, check

BASELINES = ("pixels", "tfidf", "scratch")
FIELD = "evaluate.baseline"
EVALUATE = ("baseline", "target")  # the evaluate section's fields

_DATASET_KINDS = {"fashion_mnist": "arrays", "bbc_news": "texts"}
_READS = {"pixels": ("images", "arrays"), "tfidf": ("texts",)}
_SUGGEST = {"images": "pixels", "arrays": "pixels", "texts": "tfidf"}


def read_baseline(fields):
    """The spec's ``evaluate.baseline`` as written (None without one), checked.

    A built-in name is checked against the data source where the source tells what
    it holds; the spec's pipeline must have a pre-trained backbone for ``scratch``.
    """
    evaluate = Section(fields.get("evaluate"), "evaluate", EVALUATE)
    value = evaluate.get("baseline", (str, list, dict))
    if value is None:
        return None
    if isinstance(value, str) and not value[:1].isupper():
        check(value, FIELD, str, choices=BASELINES)
    if value in ("pixels", "tfidf"):
        kind = _kind_in_spec(fields.get("data") or {})
        if kind is not None:
            _check_applies(value, kind)
    elif value == "scratch":
        from_scratch(build_pipeline(fields["pipeline"], "pipeline"))
    else:
        build_pipeline(value, FIELD)  # builds, so checks, every step
    return value


def build_baseline(value, fields, final, data):
    """The unfitted baseline pipeline for ``data``, and the name the report gives it.

    Parameters
    ----------
    value : str, list or dict
        What :func:`read_baseline` returned.
    fields : dict
        The spec's fields (its pipeline, for ``scratch``).
    final : estimator
        The spec's final step: a regressor gets a regressor baseline.
    data : Data
        The data read, whose form picks the built-in baseline's input steps.
    """
    if value == "scratch":
        return value, from_scratch(build_pipeline(fields["pipeline"], "pipeline"))
    if value not in ("pixels", "tfidf"):
        pipeline = build_pipeline(value, FIELD)
        return " + ".join(type(s).__name__ for _, s in pipeline.steps), pipeline
    kind = data.input.get("kind")
    model = {"LogisticRegression": {"max_iter": 2000}} if is_classifier(final) else "Ridge"
    if kind == "table":
        return value, build_pipeline([_table(value, data), model], FIELD)
    _check_applies(value, kind)
    if value == "pixels":
        return value, build_pipeline(["PixelEncoder", "StandardScaler", model], FIELD)
    if is_classifier(final):  # a high C suits TF-IDF's many, sparse features
        model = {"LogisticRegression": {"C": 10.0, "max_iter": 2000}}
    return value, build_pipeline([{"TfidfVectorizer": {"sublinear_tf": True}}, model], FIELD)


def from_scratch(pipeline):
    """The same architecture, randomly initialised and fully trained."""
    changes = {}
    for name in pipeline.get_params(deep=True):
        if name.endswith("__weights"):
            changes[name] = None
        if name.endswith("__freeze"):
            changes[name] = "none"
        if name.endswith("__backbone_lr"):  # the backbone learns as fast as the head
            changes[name] = "1x"
    if not any(name.endswith("__weights") for name in changes):
        raise SpecError(FIELD, "'scratch' needs a pipeline with a pre-trained backbone")
    pipeline.set_params(**changes)
    check_tree(pipeline, FIELD)
    return pipeline


def _kind_in_spec(data):
    """What the source holds, where the spec says it before the data is read; else None
    (a CSV's columns say whether they hold texts)."""
    if "images" in data:
        return "images"
    if "dataset" in data:
        return _DATASET_KINDS.get(data["dataset"])
    features, images = data.get("features"), data.get("image_columns") or []
    features = [features] if isinstance(features, str) else features
    images = [images] if isinstance(images, str) else images
    return "images" if features and len(features) == 1 and features[0] in images else None


def _check_applies(name, kind):
    if kind not in _READS[name]:
        holds = {"images": "images", "arrays": "image arrays", "texts": "texts"}[kind]
        raise SpecError(
            FIELD,
            f"'{name}' reads {'images' if name == 'pixels' else 'texts'}, and the data holds "
            f"{holds}: use '{_SUGGEST[kind]}', 'scratch', or a pipeline",
        )


def _table(name, data):
    """A ColumnTransformer node: each column of the table as the no-transfer model reads it."""
    import pandas as pd

    from ._data import is_text_column

    frame = data.X_train
    images = list(data.input.get("image_columns") or [])
    texts = [c for c in frame.columns if c not in images and is_text_column(frame[c])]
    numbers = [
        c
        for c in frame.columns
        if c not in images + texts and pd.api.types.is_numeric_dtype(frame[c])
    ]
    others = [c for c in frame.columns if c not in images + texts + numbers]
    needed = {
        "pixels": (images, "an image column (data.image_columns)"),
        "tfidf": (texts, "a text column"),
    }
    columns, what = needed[name]
    if not columns:
        raise SpecError(
            FIELD,
            f"'{name}' needs {what}, and the data's columns ({', '.join(map(str, frame.columns))}) "
            "have none: give a pipeline, e.g. [StandardScaler, LogisticRegression]",
        )
    # One column by name (not in a list): the encoders and TF-IDF read a 1-D column.
    transformers = [{"columns": c, "steps": ["PixelEncoder", "StandardScaler"]} for c in images]
    transformers += [
        {"columns": c, "steps": [{"TfidfVectorizer": {"sublinear_tf": True}}]} for c in texts
    ]
    if numbers:
        transformers.append({"columns": numbers, "steps": ["StandardScaler"]})
    if others:
        transformers.append(
            {"columns": others, "steps": [{"OneHotEncoder": {"handle_unknown": "ignore"}}]}
        )
    return {"ColumnTransformer": {"transformers": transformers}}
