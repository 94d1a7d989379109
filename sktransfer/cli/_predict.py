"""Predicting with a model that ``sktransfer run`` saved: read the inputs it expects, write CSV."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..spec import MODEL_FORMAT
from ._inputs import existing, file_samples


def load_model(path, *, trusted=()):
    """Load a model file written by :func:`sktransfer.spec.run`.

    A ``.skops`` file (what ``sktransfer run`` writes) is read without running
    any code: it may construct sktransfer's, scikit-learn's and numpy's types,
    and those named in ``trusted``; anything else is refused with the list of
    types it would construct (:func:`sktransfer.load`). Any other file is read
    as a joblib pickle, as earlier releases wrote them: loading a pickle runs
    whatever code it names, so give only files you trust.

    Returns
    -------
    dict
        ``estimator`` (fitted), ``input`` (what it reads), ``task``, ``name``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model file '{path}' does not exist")
    if path.suffix == ".skops":
        from ..persistence import read

        saved = read(path, trusted=trusted)
        if "input" not in saved:
            raise ValueError(
                f"'{path}' holds a model but not what 'sktransfer run' saves beside it (what "
                "it reads): load it in Python, sktransfer.load"
            )
        return {**saved, "estimator": saved["model"]}
    import joblib

    saved = joblib.load(path)
    if not (isinstance(saved, dict) and saved.get("format") == MODEL_FORMAT):
        raise ValueError(f"'{path}' is not a model file written by 'sktransfer run'")
    return saved


def read_inputs(inputs, spec, *, lines=False):
    """The samples named by ``inputs`` (files, folders, CSV files), and a name for each.

    Parameters
    ----------
    inputs : list of str
        For an image model: image files, folders of them, or CSV files with the
        image column. For a text model: CSV files with the text column, or text
        files (each one sample) and folders of ``.txt`` files. For a table
        model: CSV files with its feature columns.
    spec : dict
        The saved model's ``input``.
    lines : bool, default=False
        Text files hold one sample per non-empty line.

    Returns
    -------
    X, names
    """
    kind = spec["kind"]
    if kind == "arrays":
        raise ValueError("this model was trained on arrays: predict with it in Python")
    frames, items, names = [], [], []
    for given in inputs:
        entry = existing(given)
        if entry.suffix.lower() == ".csv":
            frame = _read_csv(entry, spec)
            frames.append(frame)
            names += [f"{entry}:{row}" for row in range(len(frame))]
        elif kind == "table":
            raise ValueError(f"'{entry}': this model reads CSV files with {spec['features']}")
        else:
            found, found_names = file_samples(entry, kind, lines=lines)
            items += found
            names += found_names
    if not names:
        raise ValueError(f"no samples found in {', '.join(inputs)}")
    if frames and items:
        raise ValueError("give either CSV files or sample files, not both")
    if frames:
        import pandas as pd

        return pd.concat(frames, ignore_index=True), names
    return items, names


def _read_csv(path, spec):
    import pandas as pd

    table = pd.read_csv(path)
    features = spec.get("features") or [_only_column(table, path)]
    missing = [c for c in features if c not in table.columns]
    if missing:
        raise ValueError(
            f"'{path}' lacks the model's columns {missing}; it has {list(table.columns)}"
        )
    for column in spec.get("image_columns", []):
        table[column] = [str(path.parent / p) for p in table[column]]
    # One column of images or texts as a Series (what the encoders take), else a
    # DataFrame of the feature columns (a ColumnTransformer's).
    return table[features[0]] if spec["kind"] in ("images", "texts") else table[features]


def _only_column(table, path):
    if len(table.columns) != 1:
        raise ValueError(f"'{path}': the model was not trained on a CSV; give a one-column CSV")
    return table.columns[0]


def predictions(saved, X, names):
    """A table of each input's prediction, and its class probabilities where there are any."""
    import pandas as pd

    estimator = saved["estimator"]
    table = pd.DataFrame({"input": names, "prediction": estimator.predict(X)})
    if hasattr(estimator, "predict_proba"):
        try:
            probabilities = estimator.predict_proba(X)
        except AttributeError:  # a final step without probabilities (LinearSVC)
            return table
        for label, column in zip(estimator.classes_, np.asarray(probabilities).T):
            table[f"proba_{label}"] = column
    return table
