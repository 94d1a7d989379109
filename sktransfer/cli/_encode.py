"""``sktransfer encode``: files in, feature shards out, encoded on a Dask cluster.

The client reads the list of inputs (image paths, or texts), the workers encode
partitions of it with one fitted encoder (:func:`sktransfer.cluster.encode`), and
the client writes each partition's features as it arrives: the workers need no
access to the output folder, and the client never holds more than one partition.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from .. import backbones
from ..encoders import ENCODERS
from ._inputs import existing, file_samples

FORMATS = ("npy", "parquet")


def make_encoder(backbone, *, modality=None, batch_size=None):
    """The unfitted encoder for ``backbone``: its modality from the registry, or as given."""
    if modality is None:
        modality = backbones.get(backbone).modality  # an unknown name lists the close ones
    params = {"batch_size": batch_size} if batch_size else {}
    # The one positional parameter of each encoder names its model: backbone, model, vectors.
    return ENCODERS[modality](backbone, **params), modality


def read_inputs(inputs, modality, *, column=None, lines=False):
    """The samples that ``inputs`` name, in order.

    Files and folders are read as :mod:`sktransfer.cli._inputs` says (images,
    or texts: one per file, or per line with ``lines``); CSV files give one
    column, of paths relative to the CSV (images) or of texts.
    """
    kind = "images" if modality == "image" else "texts"
    samples = []
    for entry in inputs:
        path = existing(entry)
        if path.suffix.lower() == ".csv":
            values = _csv_column(path, column)
            if kind == "images":
                values = [str(path.parent / value) for value in values]
            samples += values
        else:
            samples += file_samples(path, kind, lines=lines)[0]
    if not samples:
        raise ValueError(f"no samples found in {', '.join(map(str, inputs))}")
    return samples


def _csv_column(path, column):
    import pandas as pd

    table = pd.read_csv(path)
    if column is None:
        if len(table.columns) != 1:
            raise ValueError(
                f"'{path}' has {len(table.columns)} columns {list(table.columns)}: "
                "name one with --column"
            )
        column = table.columns[0]
    if column not in table.columns:
        raise ValueError(f"'{path}' has no column {column!r}; it has {list(table.columns)}")
    return table[column].astype(str).tolist()


def encode_files(encoder, samples, out, *, client, partition_size, file_format, progress=True):
    """Encode ``samples`` on ``client``'s cluster; write one file per partition to ``out``.

    Writes ``part-00000.npy``... (float32, rows in input order) or
    ``part-00000.parquet``... (an ``input`` column and one column per
    feature), ``inputs.json`` (the samples as a JSON list, for ``npy``) and
    ``encoder.json`` (what encoded them). Returns the paths written.
    """
    from distributed import as_completed
    from tqdm.auto import tqdm

    from ..cluster import encode

    if file_format not in FORMATS:
        raise ValueError(f"file_format must be one of {FORMATS}, got {file_format!r}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    encoder.fit()
    features = encode(encoder, samples, client=client, partition_size=partition_size)
    blocks = features.to_delayed().ravel().tolist()
    futures = client.compute(blocks)
    position = {future.key: part for part, future in enumerate(futures)}
    names = [str(name) for name in encoder.get_feature_names_out()]
    written = []
    bar = tqdm(total=len(samples), unit="sample", disable=not progress, file=sys.stderr)
    with bar:
        for future in as_completed(futures):
            part = position[future.key]
            rows = future.result()
            future.release()
            start = part * partition_size
            path = out / f"part-{part:05d}.{file_format}"
            if file_format == "npy":
                np.save(path, rows)
            else:
                _write_parquet(path, samples[start : start + len(rows)], rows, names)
            written.append(path)
            bar.update(len(rows))
    if file_format == "npy":
        (out / "inputs.json").write_text(json.dumps(samples, ensure_ascii=False) + "\n")
        written.append(out / "inputs.json")
    about = {
        "encoder": repr(encoder),
        "n_samples": len(samples),
        "n_features": len(names),
        "partition_size": partition_size,
        "format": file_format,
    }
    (out / "encoder.json").write_text(json.dumps(about, indent=2) + "\n")
    return sorted(written) + [out / "encoder.json"]


def _write_parquet(path, samples, rows, names):
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = {"input": pa.array(samples, pa.string())}
    columns.update({name: pa.array(rows[:, i]) for i, name in enumerate(names)})
    pq.write_table(pa.table(columns), path)
