"""The ``data`` section of a spec: where the samples come from, and the test set.

One of three sources:

- ``images: FOLDER``: one sub-folder per class (:func:`sktransfer.data.load_image_folder`);
- ``csv: FILE`` with a ``label`` column; ``features`` (default: every other
  column) are the input, ``image_columns`` hold image paths, relative to the
  CSV's folder;
- ``dataset: fashion_mnist`` or ``bbc_news``, packaged real data.

The test set is ``test`` (a folder or CSV like the training one; the packaged
data sets have their own), else a held-out ``test_size`` of the training data,
stratified for classifiers. ``per_class`` draws that many labelled samples of
each class for training (few-shot experiments) with ``random_state``;
``test_per_class`` draws a fixed test set from a packaged data set.
``unlabelled`` names samples of a target domain without labels (see
``spec._domains``).
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import datasets
from ..data import load_image_folder
from ..exceptions import SpecError
from ._fields import Section, did_you_mean, join, show

FIELDS = (
    "images",
    "csv",
    "dataset",
    "label",
    "features",
    "image_columns",
    "test",
    "test_size",
    "per_class",
    "test_per_class",
    "random_state",
    "unlabelled",
)
DATASETS = ("fashion_mnist", "bbc_news")
TEST_SIZE = 0.25  # held out for testing when the spec names no test set
# test_per_class draws the same test samples whatever random_state draws for training,
# so that draws and contenders compare on one test set (and its features are cached once).
TEST_SEED = 0


@dataclass
class Data:
    """Training and test samples, and what a saved model needs to read new input."""

    X_train: object
    y_train: np.ndarray
    X_test: object
    y_test: np.ndarray
    source: str
    # kind ("images", "texts", "arrays" or "table"), feature columns, image columns.
    input: dict = field(default_factory=dict)
    # The folders the spec's paths resolved to, and each as the spec wrote it.
    written: dict = field(default_factory=dict)
    # Target-domain samples: unlabelled ones to fit on, labelled ones to score on.
    X_unlabelled: object = None
    X_target: object = None
    y_target: np.ndarray = None
    target_source: str = None

    @property
    def n_samples(self):
        """Every sample read: training, test and the target domain's."""
        extra = [self.X_unlabelled, self.y_target]
        return len(self.y_train) + len(self.y_test) + sum(len(x) for x in extra if x is not None)

    def show(self, path):
        """``path`` as the user wrote it: under the folder the spec named, not resolved."""
        path = os.fspath(path)
        for resolved, written in self.written.items():
            if path.startswith(resolved + os.sep):
                return os.path.join(written, path[len(resolved) + 1 :])
        return path


def read_section(value, path="data"):
    """Check the ``data`` section's fields and types; reads no file."""
    section = Section(value, path, FIELDS)
    sources = [key for key in ("images", "csv", "dataset") if key in section]
    if len(sources) != 1:
        raise SpecError(
            path,
            "name exactly one source: images (a folder), csv (a file) or dataset "
            f"({' or '.join(DATASETS)})" + (f"; got {', '.join(sources)}" if sources else ""),
        )
    for key in ("images", "csv", "test", "unlabelled"):
        section.get(key, str)
    section.get("dataset", str, choices=DATASETS)
    if "csv" in section:
        section.require("label", str)
    elif "label" in section or "features" in section or "image_columns" in section:
        raise SpecError(path, "label, features and image_columns are for a csv source")
    for key in ("features", "image_columns"):
        columns = section.get(key, (str, list), default=[])
        for i, column in enumerate([columns] if isinstance(columns, str) else columns):
            if not isinstance(column, str):
                raise SpecError(join(join(path, key), i), f"expected a column name, got {column!r}")
    if not 0 < section.get("test_size", float, default=TEST_SIZE, low=0.0) < 1:
        raise SpecError(join(path, "test_size"), "expected a fraction between 0 and 1")
    section.get("per_class", int, low=1)
    section.get("test_per_class", int, low=1)
    section.get("random_state", int)
    if "test_per_class" in section and "dataset" not in section:
        raise SpecError(join(path, "test_per_class"), "is for a packaged dataset's test split")
    return section


def check_paths(value, base_dir, path="data"):
    """Check that the files and folders the section names exist (reads none of them)."""
    section = Section(value, path, FIELDS)
    for key in ("images", "csv", "test", "unlabelled"):
        if key in section:
            _existing(section.get(key, str), base_dir, join(path, key))


def load(value, base_dir, *, classification, path="data"):
    """Read the data a ``data`` section names (paths relative to ``base_dir``)."""
    section = read_section(value, path)
    seed = section.get("random_state", int, default=0)
    if "dataset" in section:
        X, y, X_test, y_test = _packaged(section, seed)
        source = f"dataset {section.get('dataset', str)}"
        return Data(X, y, X_test, y_test, source=source, input=_input_of(X))
    key = "images" if "images" in section else "csv"
    where = _existing(section.get(key, str), base_dir, join(path, key))
    X, y, input_ = _read(section, key, where, path)
    written = {_folder(where, key): _folder(section.get(key, str), key)}
    if "test" in section:
        test = _existing(section.get("test", str), base_dir, join(path, "test"))
        X_test, y_test, _ = _read(section, key, test, path, test=True)
        written[_folder(test, key)] = _folder(section.get("test", str), key)
        X, y = _few_shot(section, X, y, seed)
    else:
        X, X_test, y, y_test = _split(section, X, y, seed, classification, path)
        X, y = _few_shot(section, X, y, seed)
    source = f"{key} {section.get(key, str)}"
    return Data(X, y, X_test, y_test, source=source, input=input_, written=written)


def _folder(path, key):
    """The folder an images source names, or the one a CSV's relative paths start from."""
    return os.fspath(path) if key == "images" else os.path.dirname(os.fspath(path))


def _existing(name, base_dir, path):
    where = Path(os.path.normpath(Path(base_dir, os.path.expanduser(name))))
    if not where.exists():
        relative = "" if os.path.isabs(os.path.expanduser(name)) else f" (from '{base_dir}')"
        raise SpecError(path, f"'{name}' does not exist{relative}.{_close_names(where)}")
    return where


def _close_names(where):
    """ "Did you mean" among the entries of the nearest folder that exists."""
    parent = where.parent
    while not parent.is_dir() and parent != parent.parent:
        parent = parent.parent
    try:
        entries = os.listdir(parent)
    except OSError:
        return ""
    return did_you_mean(where.name, entries)


def _read(section, key, where, path, *, test=False):
    field_path = join(path, "test" if test else key)
    if key == "images":
        if not where.is_dir():
            raise SpecError(field_path, f"'{where}' is not a folder of class sub-folders")
        try:
            paths, labels = load_image_folder(where)
        except (OSError, ValueError) as exc:
            raise SpecError(field_path, str(exc)) from None
        return paths, labels, {"kind": "images"}
    return _read_csv(section, where, field_path)


def _read_csv(section, where, path):
    import pandas as pd

    try:
        table = pd.read_csv(where)
    except (OSError, ValueError) as exc:
        raise SpecError(path, f"'{where}' is not a readable CSV file: {exc}") from None
    label = section.get("label", str)
    features = _names(section.get("features", (str, list))) or [
        c for c in table.columns if c != label
    ]
    image_columns = _names(section.get("image_columns", (str, list)))
    for name, column in [(label, "label")] + [(c, "features") for c in features + image_columns]:
        if name not in table.columns:
            raise SpecError(
                join(section.path, column),
                f"'{where}' has no column {show(name)}; its columns: {', '.join(table.columns)}",
            )
    if table[label].isna().any():
        row = int(np.flatnonzero(table[label].isna().to_numpy())[0])
        raise SpecError(join(section.path, "label"), f"'{where}' row {row} has no label")
    for column in image_columns:
        table[column] = [_image_path(where, row, column, p) for row, p in enumerate(table[column])]
    kind = "table"
    if len(features) == 1 and features[0] in image_columns:
        kind = "images"
    elif len(features) == 1 and is_text_column(table[features[0]]):
        kind = "texts"
    input_ = {"kind": kind, "features": features, "image_columns": image_columns}
    return samples(table, input_), table[label].to_numpy(), input_


def is_text_column(column):
    """Whether a table's column holds texts: strings, whatever pandas' dtype for them
    (``object`` before pandas 3, ``str`` since), missing values aside."""
    import pandas as pd

    return pd.api.types.infer_dtype(column, skipna=True) == "string"


def samples(table, input_):
    """The model's input from a table: one column of images or texts as a Series (what
    the encoders take), else a DataFrame of the feature columns (a ColumnTransformer's)."""
    features = input_["features"]
    return table[features[0]] if input_["kind"] in ("images", "texts") else table[features]


def _names(columns):
    return [columns] if isinstance(columns, str) else list(columns or [])


def _image_path(csv, row, column, value):
    if not isinstance(value, str) or not value:
        raise SpecError("data.image_columns", f"'{csv}' row {row}, column {column!r}: no path")
    where = Path(csv).parent / value
    if not where.is_file():
        raise SpecError(
            "data.image_columns", f"'{csv}' row {row}, column {column!r}: '{where}' does not exist"
        )
    return str(where)


def _input_of(X):
    return {"kind": "texts" if isinstance(X[0], str) else "arrays"}


@functools.lru_cache(maxsize=2)
def _read_packaged(name):
    """A packaged data set, read once per process (a demo or a loop of runs reads it
    again and again); only copies of its samples leave this module."""
    if name == "fashion_mnist":
        return datasets.load_fashion_mnist("train") + datasets.load_fashion_mnist("test")
    return datasets.load_bbc_news()


def _packaged(section, seed):
    name = section.get("dataset", str)
    if name == "fashion_mnist":
        images, labels, test_images, test_labels = _read_packaged(name)
        classes = np.array(datasets.FASHION_MNIST_CLASSES)
        train = _draw(section, "per_class", labels, seed)
        test = _draw(section, "test_per_class", test_labels, TEST_SEED)
        return images[train], classes[labels[train]], test_images[test], classes[test_labels[test]]
    texts, labels = _read_packaged(name)
    if "test_per_class" in section:  # a fixed test set; the training draw from the rest
        test = _draw(section, "test_per_class", labels, TEST_SEED)
        rest = np.setdiff1d(np.arange(len(labels)), test)
        train = rest[_draw(section, "per_class", labels[rest], seed)]
    else:
        train = _draw(section, "per_class", labels, seed)
        test = np.setdiff1d(np.arange(len(labels)), train)
    return texts[train], labels[train], texts[test], labels[test]


def _draw(section, key, labels, seed):
    if key not in section:
        return np.arange(len(labels))
    per_class = section.get(key, int)
    smallest = int(np.unique(labels, return_counts=True)[1].min())
    if per_class > smallest:
        raise SpecError(
            join(section.path, key), f"{per_class} per class, but a class has {smallest}"
        )
    return datasets.stratified_sample(labels, per_class, seed=seed)


def _split(section, X, y, seed, classification, path):
    from sklearn.model_selection import train_test_split

    try:
        return train_test_split(
            X,
            y,
            test_size=section.get("test_size", float, default=TEST_SIZE),
            random_state=seed,
            stratify=y if classification else None,
        )
    except ValueError as exc:
        raise SpecError(join(path, "test_size"), f"cannot hold out a test set: {exc}") from None


def _few_shot(section, X, y, seed):
    if "per_class" not in section:
        return X, y
    index = _draw(section, "per_class", y, seed)
    if isinstance(X, list):
        return [X[i] for i in index], y[index]
    return X.iloc[index] if hasattr(X, "iloc") else X[index], y[index]
