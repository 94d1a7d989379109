"""Ranking candidates from a spec: its data, a ``candidates`` list, a table and a bar chart.

A ranking spec has a spec's ``data`` and ``output`` sections, a ``candidates``
list (as :class:`~sktransfer.ranking.BackboneSelector`'s in a pipeline: backbone
names, estimator nodes, ``{layers_of: NAME}``) and an optional ``rank`` section
(``scorer``, ``cache``, ``regression``, ``scheduler``). Only the training samples are ranked:
those a run of the same ``data`` section would train on. Nothing is trained.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ..exceptions import SpecError
from ._data import check_paths, read_section
from ._data import load as load_data
from ._estimators import ranking_scorers, read_candidates
from ._experiment import _bar, _output_dir, read_source
from ._fields import Section
from ._inputs import check_inputs
from ._rank_outputs import write_ranking

FIELDS = ("name", "data", "candidates", "rank", "output")
RANK_FIELDS = ("scorer", "cache", "regression", "scheduler")


@dataclasses.dataclass
class RankSpec:
    """A checked ranking spec: its fields, the folder its paths start from, the candidates
    built (backbone names and unfitted transformers) and the ``rank`` section's settings."""

    fields: dict
    base_dir: Path
    candidates: list
    scorer: str = "logme"
    cache: object = None
    regression: object = "auto"
    scheduler: str | None = None

    @property
    def name(self):
        return self.fields.get("name") or "ranking"


def load_rank_spec(source, *, base_dir=None):
    """Read and check a ranking spec, before any data is read or candidate fitted.

    Parameters
    ----------
    source : str, path-like or dict
        A YAML file, or the spec as a dict.
    base_dir : path-like, optional
        The folder relative paths start from: the YAML file's, or the working
        directory for a dict.

    Returns
    -------
    RankSpec

    Raises
    ------
    SpecError
        A field is unknown, missing or wrong; a candidate is no backbone or
        estimator; ``layers_of`` names no image backbone.

    Examples
    --------
    >>> spec = load_rank_spec({
    ...     "data": {"dataset": "bbc_news", "per_class": 4},
    ...     "candidates": ["TfidfVectorizer", {"CountVectorizer": {"binary": True}}],
    ... })
    >>> spec.candidates
    [TfidfVectorizer(), CountVectorizer(binary=True)]
    """
    fields, where = read_source(source, base_dir)
    section = Section(fields, "", FIELDS)
    section.get("name", str)
    section.require("data", dict)
    read_section(fields["data"], "data")
    check_paths(fields["data"], where)
    candidates = read_candidates(section.require("candidates", list), "candidates")
    settings = Section(fields.get("rank"), "rank", RANK_FIELDS)
    scorer = settings.get("scorer", str, default="logme", choices=ranking_scorers())
    regression = settings.get("regression", (str, bool), default="auto")
    if isinstance(regression, str):
        settings.get("regression", str, choices=("auto",))
    scheduler = settings.get("scheduler", str)
    cache = _cache(settings, where)
    spec = RankSpec(fields, where, candidates, scorer, cache, regression, scheduler)
    _output_dir(spec)  # checks the output section now, not after the ranking
    return spec


def _cache(settings, base_dir):
    """``rank.cache``: a folder (relative to the spec's), true for the default one, or none."""
    cache = settings.get("cache", (str, bool))
    if isinstance(cache, str):
        return os.path.normpath(Path(base_dir, os.path.expanduser(cache)))
    return True if cache else None


def rank(spec, *, output_dir=None, scorer=None, progress=False, log=None, scheduler=None):
    """Score every candidate on the spec's training samples; write the ranking's files.

    Parameters
    ----------
    spec : RankSpec, dict or path-like
        What :func:`load_rank_spec` accepts, or its result.
    output_dir : path-like, optional
        Where ``ranking.csv``, ``ranking.json`` and ``ranking.png`` go, instead
        of the spec's ``output.dir``; nothing is written when neither says.
    scorer : str, optional
        Instead of the spec's ``rank.scorer``.
    progress : bool, default=False
        One line per candidate on standard error (a bar on a terminal).
    log : callable, optional
        Called with one line per stage (e.g. ``print``).
    scheduler : str, optional
        Score the candidates on this Dask cluster, one task each (an address,
        or ``"local"`` for worker processes here), instead of the spec's
        ``rank.scheduler``; their progress is then in Dask's dashboard.

    Returns
    -------
    dict
        name, scorer, task, data, ``ranking`` (one dict per candidate, best
        first: candidate, score, rank, feature_dim, encode_s, score_s,
        chosen, and index, its position in ``candidates``), chosen, timings
        and files.
    """

    if not isinstance(spec, RankSpec):
        spec = load_rank_spec(spec)
    scorer = scorer or spec.scorer
    if scorer not in ranking_scorers():
        raise SpecError("rank.scorer", f"expected one of {', '.join(ranking_scorers())}")
    log = log or (lambda line: None)
    out = _output_dir(spec, output_dir)
    data, regression = _training_data(spec)
    X, y = data.X_train, data.y_train
    log(f"checking {len(y)} training samples ({data.source})")
    training = dataclasses.replace(data, X_test=_none_of(X), y_test=y[:0])
    check_inputs(
        training,
        classification=not regression,
        progress=_bar("checking images") if progress else None,
    )
    n = len(spec.candidates)
    log(f"ranking {n} candidates by {scorer} on {len(y)} training samples ({data.source})")
    started = time.perf_counter()
    scheduler = scheduler or spec.scheduler
    if scheduler is None:
        rows = _rank_here(spec, X, y, scorer, regression, progress)
    else:
        rows = _rank_on_cluster(spec, X, y, scorer, regression, scheduler, log)
    report = {
        "name": spec.name,
        "scorer": scorer,
        "task": "regression" if regression else "classification",
        "data": {
            "source": data.source,
            "n_train": len(y),
            "classes": None if regression else [str(c) for c in np.unique(y)],
        },
        "ranking": _ranked(rows),
        "timings": {"total_s": time.perf_counter() - started},
        "cluster": None if scheduler is None else {"scheduler": scheduler},
        "files": {},
    }
    report["chosen"] = report["ranking"][0]["candidate"]
    if out is not None:
        report["files"] = write_ranking(report, out)
        log(f"wrote {', '.join(report['files'].values())} in {out}")
    return report


def _rank_here(spec, X, y, scorer, regression, progress):
    """The candidates one after another, with a progress line each."""
    from ..ranking import rank_backbones

    n = len(spec.candidates)
    stream = sys.stderr
    terminal = progress and getattr(stream, "isatty", lambda: False)()
    bar = tqdm(total=n, file=stream, disable=not terminal, unit="candidate")
    rows, started = [], time.perf_counter()
    for i, (candidate, name) in enumerate(zip(spec.candidates, names(spec.candidates)), 1):
        bar.set_description_str(name, refresh=True)
        began = time.perf_counter()
        try:
            row = rank_backbones(
                X, y, [candidate], scorer=scorer, cache=spec.cache, regression=regression
            ).iloc[0]
        except Exception as exc:  # which candidate failed is the first thing to know
            bar.close()
            raise RuntimeError(f"candidate {i}/{n}, {name}: {type(exc).__name__}: {exc}") from exc
        rows.append({**row.to_dict(), "candidate": name, "index": i - 1})
        bar.update(1)
        if progress and not terminal:
            now = time.perf_counter()
            left = (now - started) / i * (n - i)
            print(
                f"candidate {i}/{n} ({now - began:.1f} s): {name}, {scorer} {row['score']:.4f}; "
                f"{tqdm.format_interval(now - started)} elapsed"
                + (f", about {tqdm.format_interval(left)} left" if i < n else ""),
                file=stream,
                flush=True,
            )
    bar.close()
    return rows


def _rank_on_cluster(spec, X, y, scorer, regression, scheduler, log):
    """One Dask task per candidate (joblib's Dask backend), the samples sent once per worker."""
    import joblib

    from .. import cluster
    from ..ranking import rank_backbones

    score = joblib.delayed(rank_backbones)
    settings = {"scorer": scorer, "cache": spec.cache, "regression": regression}
    with cluster.connected(scheduler) as client:
        log(f"on the Dask cluster at {client.scheduler.address} ({client.dashboard_link})")
        cluster.check_workers(client)
        with joblib.parallel_backend("dask", client=client, scatter=[X, y]):
            tables = joblib.Parallel(n_jobs=-1)(
                score(X, y, [candidate], **settings) for candidate in spec.candidates
            )
    return [
        {**table.iloc[0].to_dict(), "candidate": name, "index": i}
        for i, (table, name) in enumerate(zip(tables, names(spec.candidates)))
    ]


def names(candidates):
    """One name per candidate for a table: :func:`~sktransfer.ranking.candidate_name`, and
    where two share it, the settings that tell them apart (``TfidfVectorizer
    (sublinear_tf=True)``), then a number for those that are the same."""
    from ..ranking import candidate_name

    base = [
        " + ".join(candidate_name(step) for _, step in c.steps)  # a pipeline: its steps
        if hasattr(c, "steps")
        else candidate_name(c)
        for c in candidates
    ]
    shown = [
        name if base.count(name) == 1 else f"{name} {_settings(candidate)}".rstrip()
        for name, candidate in zip(base, candidates)
    ]
    seen = {}
    for i, name in enumerate(shown):
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            shown[i] = f"{name} #{seen[name]}"
    return shown


# The settings a candidate's name already says, or that do not change its features.
_NAMED = ("backbone", "vectors", "layer", "pooling", "cache", "verbose", "device", "batch_size")


def _settings(candidate):
    """``(image_size=112)``: the parameters set away from their defaults, or ``""``."""
    if isinstance(candidate, str) or hasattr(candidate, "steps"):
        return ""
    defaults = type(candidate)().get_params(deep=False)
    changed = [
        f"{key}={value!r}"
        for key, value in candidate.get_params(deep=False).items()
        if key not in _NAMED and repr(value) != repr(defaults.get(key))
    ]
    return f"({', '.join(changed)})" if changed else ""


def _training_data(spec):
    """The spec's data, and whether its targets are real numbers (``rank.regression``)."""
    fields, base_dir, regression = spec.fields["data"], spec.base_dir, spec.regression
    if regression == "auto":
        regression = False
        if "csv" in fields:
            # Only a CSV's labels may be numbers; a classifier's split is stratified (as the
            # run's), so read it once unstratified to tell.
            data = load_data(fields, base_dir, classification=False)
            if _real_targets(np.concatenate([data.y_train, data.y_test])):
                return data, True
    return load_data(fields, base_dir, classification=not regression), regression


def _real_targets(y):
    from sklearn.utils.multiclass import type_of_target

    return type_of_target(y) in ("continuous", "continuous-multioutput")


def _none_of(X):
    """No samples, of the kind ``X`` is (the test part that a ranking leaves unchecked)."""
    return X.iloc[:0] if hasattr(X, "iloc") else X[:0]


def _ranked(rows):
    """The rows best first, each with its rank (ties share one) and whether it is chosen:
    the first of the best in the candidates' order, as BackboneSelector chooses."""
    import pandas as pd

    table = pd.DataFrame(rows)
    table["rank"] = table["score"].rank(ascending=False, method="min").astype(int)
    table = table.sort_values("rank", kind="stable")  # ties stay in the candidates' order
    table["chosen"] = np.arange(len(table)) == 0
    columns = [
        "candidate",
        "score",
        "rank",
        "feature_dim",
        "encode_s",
        "score_s",
        "chosen",
        "index",
    ]
    return table[columns].to_dict("records")
