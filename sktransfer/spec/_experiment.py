"""A whole experiment from a spec: read and check it, build it, run it, write what it found."""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml
from sklearn.base import clone, is_classifier
from tqdm.auto import tqdm

from ..exceptions import SpecError
from ._baselines import build_baseline, read_baseline
from ._data import check_paths, read_section
from ._data import load as load_data
from ._domains import (
    adapting,
    check_adaptation,
    check_target,
    fit_arguments,
    load_domains,
    without_adaptation,
)
from ._estimators import build_pipeline
from ._fields import Section
from ._inputs import check_inputs
from ._notes import compare, target_note, tried_settings
from ._plan import describe_plan
from ._progress import SearchProgress
from ._report import (
    baseline_summary,
    evaluate,
    plain,
    write_confusion_png,
    write_json,
    write_markdown,
    write_search_table,
)
from ._search import build_search, read_search

FIELDS = ("name", "data", "pipeline", "search", "evaluate", "output")
MODEL_FORMAT = "sktransfer-model/1"


@dataclass
class Spec:
    """A checked experiment spec: its fields, the folder its paths are relative to, and the
    unfitted estimator it describes (built once, when the spec was checked)."""

    fields: dict
    base_dir: Path
    estimator: object = None
    baseline: object = None  # evaluate.baseline as written, checked

    @property
    def name(self):
        return self.fields.get("name") or "experiment"


def load_spec(source, *, base_dir=None):
    """Read and check an experiment spec, before any data is read or model built.

    Parameters
    ----------
    source : str, path-like or dict
        A YAML file, or the spec as a dict (what the YAML holds).
    base_dir : path-like, optional
        The folder relative paths in the spec start from: by default the YAML
        file's folder, or the working directory for a dict.

    Returns
    -------
    Spec

    Raises
    ------
    SpecError
        A field is unknown, missing, of the wrong type or value, names an
        unknown estimator or parameter, or the YAML constructs Python objects.

    Examples
    --------
    >>> spec = load_spec({
    ...     "data": {"dataset": "bbc_news", "per_class": 4},
    ...     "pipeline": ["TfidfVectorizer", "LogisticRegression"],
    ... })
    >>> build(spec)
    Pipeline(steps=[('tfidfvectorizer', TfidfVectorizer()),
                    ('logisticregression', LogisticRegression())])
    """
    fields, where = read_source(source, base_dir)
    section = Section(fields, "", FIELDS)
    section.get("name", str)
    section.require("pipeline", (list, str, dict))
    read_section(fields.get("data"), "data")
    check_paths(fields.get("data"), where)
    # Builds, so checks, every estimator.
    spec = Spec(fields, where, _estimator(fields), read_baseline(fields))
    check_adaptation(fields, spec.estimator)
    check_target(fields, where)
    _output_dir(spec)
    return spec


def read_source(source, base_dir=None):
    """A spec's fields, from a dict or a YAML file, and the folder its paths start from:
    ``base_dir``, else the YAML file's folder, or the working directory for a dict."""
    if isinstance(source, dict):
        return source, Path(base_dir or os.getcwd())
    path = Path(source)
    if not path.is_file():
        raise SpecError("", f"spec file '{path}' does not exist")
    return _read_yaml(path), Path(base_dir or path.parent)


def _read_yaml(path):
    try:
        fields = yaml.safe_load(path.read_text())
    except yaml.constructor.ConstructorError as exc:
        raise SpecError(
            "",
            f"'{path}'{_line(exc)}: the tag {exc.problem.split()[-1] if exc.problem else ''} "
            "would construct a Python object; a spec holds plain data only",
        ) from None
    except yaml.YAMLError as exc:
        raise SpecError("", f"'{path}' is not valid YAML{_line(exc)}: {exc}") from None
    if not isinstance(fields, dict):
        raise SpecError("", f"'{path}' must hold a mapping (data, pipeline, ...)")
    return fields


def _line(exc):
    mark = getattr(exc, "problem_mark", None)
    return f", line {mark.line + 1}" if mark is not None else ""


def build(spec):
    """The estimator a spec describes: its pipeline, or the search around it.

    Parameters
    ----------
    spec : Spec or dict
        A spec from :func:`load_spec`, or a dict it accepts.

    Returns
    -------
    sklearn.pipeline.Pipeline or a search (GridSearchCV, RandomizedSearchCV)
        Unfitted.
    """
    if not isinstance(spec, Spec):
        spec = load_spec(spec)
    return clone(spec.estimator)


def _estimator(fields):
    """The pipeline of a spec's fields, or the search around it; unfitted."""
    pipeline = build_pipeline(fields["pipeline"], "pipeline")
    search = read_search(fields.get("search"), pipeline)
    return build_search(search, pipeline) if search else pipeline


def _final(estimator):
    pipeline = getattr(estimator, "estimator", estimator)
    return pipeline.steps[-1][1]


def _output_dir(spec, override=None):
    output = Section(spec.fields.get("output"), "output", ("dir",))
    name = override or output.get("dir", str)
    if name is None:
        return None
    return Path(os.path.normpath(Path(spec.base_dir, os.path.expanduser(str(name)))))


def run(spec, *, output_dir=None, progress=False, verbose=False, log=None, scheduler=None,
        dry_run=False):  # fmt: skip
    """Run the experiment a spec describes: fit, evaluate, compare, write the outputs.

    Parameters
    ----------
    spec : Spec, dict or path-like
        What :func:`load_spec` accepts, or its result.
    output_dir : path-like, optional
        Where the model and reports go, instead of the spec's ``output.dir``;
        nothing is written when neither says.
    progress : bool, default=False
        The search's fits on standard error, one line each: candidate, fold,
        count and time left.
    verbose : bool, default=False
        Also the encoders' progress bars and the fine-tuners' epoch tables.
    log : callable, optional
        Called with one line per stage (e.g. ``print``).
    scheduler : str, optional
        Run the search's fits on this Dask cluster (an address, or ``"local"``),
        whatever the spec's ``search.backend`` says.
    dry_run : bool, default=False
        Read and check the data and build the baseline, then stop: the result
        is the plan (the number of fits and a rough time), nothing is fitted.

    Returns
    -------
    dict
        The report: data, model, search, metrics, baseline, note, timings,
        errors (each a stage after the fit that failed; the model and the
        report are written all the same), files.
    """
    if not isinstance(spec, Spec):
        spec = load_spec(spec)
    log = log or (lambda line: None)
    scheduler = _scheduler(spec, scheduler)
    estimator = build(spec)
    final = _final(estimator)
    classification = is_classifier(final)
    out = _output_dir(spec, output_dir)
    data = load_data(spec.fields.get("data"), spec.base_dir, classification=classification)
    load_domains(spec.fields, spec.base_dir, data)
    log(f"checking {data.n_samples} samples ({data.source})")
    check_inputs(
        data,
        classification=classification,
        folds=getattr(estimator, "n_splits", None) or getattr(estimator, "cv", None),
        progress=_bar("checking images") if progress else None,
    )
    baseline_name, baseline = (None, None)
    if spec.baseline is not None:
        baseline_name, baseline = build_baseline(spec.baseline, spec.fields, final, data)
    if dry_run:
        return describe_plan(spec, estimator, data, baseline_name, baseline, log=log)
    _show_progress(estimator, progress=progress and scheduler is None, verbose=verbose)
    unlabelled = "" if data.X_unlabelled is None else f" and {len(data.X_unlabelled)} unlabelled"
    log(f"fitting {spec.name} on {len(data.y_train)}{unlabelled} samples ({data.source})")
    X, y, fit_params = fit_arguments(estimator, data)
    started = time.perf_counter()
    if scheduler is None:
        estimator.fit(X, y, **fit_params)
    else:
        from .. import cluster

        with cluster.connected(scheduler) as client:
            log(f"on the Dask cluster at {client.scheduler.address} ({client.dashboard_link})")
            cluster.fit(estimator, X, y, client=client, **fit_params)
            workers = len(client.scheduler_info()["workers"])
    fit_s = time.perf_counter() - started
    fitted = getattr(estimator, "best_estimator_", estimator)
    report = {
        "name": spec.name,
        "task": "classification" if classification else "regression",
        "data": {
            "source": data.source,
            "n_train": len(data.y_train),
            "n_test": len(data.y_test),
            "n_unlabelled": 0 if data.X_unlabelled is None else len(data.X_unlabelled),
            "classes": [str(c) for c in np.unique(data.y_train)] if classification else None,
        },
        "pipeline": " + ".join(type(step).__name__ for _, step in fitted.steps),
        "search": _search_summary(estimator),
        "tried": tried_settings(estimator),
        "cluster": None if scheduler is None else {"scheduler": scheduler, "workers": workers},
        "metrics": {},
        "baseline": None,
        "timings": {"fit_s": fit_s},
        "errors": [],
    }
    # From here on the fitted model is never lost: a failure is written into the report.
    log(f"evaluating on {len(data.y_test)} test samples")
    started = time.perf_counter()
    predicted = None
    with _recorded(report, "evaluating the model on the test samples", log):
        scores = evaluate(estimator, data.X_test, data.y_test, classification=classification)
        predicted = scores.pop("predicted", None)
        report.update(scores)
    report["timings"]["predict_s"] = time.perf_counter() - started
    if baseline is not None:
        log(f"fitting the baseline, {baseline_name}")
        report["baseline"] = {"name": baseline_name, "metrics": {}}
        with _recorded(report, f"the baseline {baseline_name}", log):
            baseline.fit(data.X_train, data.y_train)
            measured = evaluate(baseline, data.X_test, data.y_test, classification=classification)
            report["baseline"] = baseline_summary(
                baseline_name, measured, data.y_test, predicted, classification=classification
            )
    if data.X_target is not None:
        log(f"evaluating on {len(data.y_target)} target samples ({data.target_source})")
        with _recorded(report, "evaluating on the target samples", log):
            report["target"] = _target(fitted, data, classification, log)
    notes = [compare(report), target_note(report)] if not report["errors"] else []
    report["note"] = " ".join(n for n in notes if n) or None
    if out is not None:
        report["files"] = _write(out, report, estimator, data, predicted)
        log(f"wrote {', '.join(report['files'].values())} in {out}")
    return report


def _target(fitted, data, classification, log):
    """The report's ``target``: the model scored on the labelled target samples and, when it
    adapts, the same model fitted without adaptation (on the labelled samples) beside it."""
    measured = evaluate(fitted, data.X_target, data.y_target, classification=classification)
    predicted = measured.pop("predicted")
    target = {"source": data.target_source, "n": len(data.y_target), "adapt": adapting(fitted)}
    target.update(measured)
    if target["adapt"] != "none":
        log("fitting the same model without adaptation (adapt='none'), to measure what it did")
        plain = without_adaptation(fitted).fit(data.X_train, data.y_train)
        against = evaluate(plain, data.X_target, data.y_target, classification=classification)
        target["without_adaptation"] = baseline_summary(
            "adapt='none'", against, data.y_target, predicted, classification=classification
        )
    return target


@contextlib.contextmanager
def _recorded(report, stage, log):
    """Run a stage after the fit; its failure goes into the report instead of up."""
    try:
        yield
    except Exception as exc:  # any failure is the user's to read, in the report
        report["errors"].append({"stage": stage, "error": f"{type(exc).__name__}: {exc}"})
        log(f"failed: {stage}: {type(exc).__name__}: {exc}")


def _scheduler(spec, override):
    """The Dask scheduler the search runs on, or None to run it here."""
    search = spec.fields.get("search")
    if override is not None:
        if not search:
            raise SpecError("search", "a Dask scheduler runs a search: this spec has none")
        return override
    if search and search.get("backend") == "dask":
        return search.get("scheduler", "local")
    return None


def _show_progress(estimator, *, progress, verbose):
    """One line per fit of a search; with ``verbose``, encoders' bars and epoch tables too."""
    from ..encoders import BaseEncoder

    if progress and hasattr(estimator, "set_callbacks") and estimator.n_jobs in (None, 1):
        estimator.set_callbacks(SearchProgress())  # scikit-learn 1.9+; fits in this process
    if not verbose:
        return
    for step in [estimator, *estimator.get_params(deep=True).values()]:
        if isinstance(step, BaseEncoder):
            step.set_params(verbose=True)
        elif type(step).__name__.startswith("FineTune"):
            step.set_params(verbose=1)


def _bar(description):
    def wrap(items):
        return tqdm(items, desc=description, unit="image", leave=False, disable=None)

    return wrap


def _search_summary(estimator):
    if not hasattr(estimator, "best_params_"):
        return None
    return {
        "method": "grid" if hasattr(estimator, "param_grid") else "random",
        "candidates": len(estimator.cv_results_["params"]),
        "cv": estimator.n_splits_,
        "scoring": estimator.scoring or "score",
        "best_params": {k: plain(v) for k, v in estimator.best_params_.items()},
        "best_score": float(estimator.best_score_),
    }


def _write(out, report, estimator, data, predicted):
    from ..persistence import save

    out.mkdir(parents=True, exist_ok=True)
    fitted = getattr(estimator, "best_estimator_", estimator)
    files = {"model": "model.skops", "JSON report": "report.json", "Markdown": "report.md"}
    # What sktransfer predict reads beside the model: the input's form, the task.
    save(fitted, out / files["model"], run_format=MODEL_FORMAT, input=data.input,
         task=report["task"], name=report["name"])  # fmt: skip
    if report.get("confusion_matrix"):
        files["confusion matrix"] = "confusion_matrix.png"
    if hasattr(estimator, "cv_results_"):
        files["search results"] = "search_results.csv"
    report["files"] = files
    if "confusion matrix" in files:
        write_confusion_png(report, out / files["confusion matrix"])
    if "search results" in files:
        write_search_table(estimator, out / files["search results"])
    write_json(report, out / files["JSON report"])
    write_markdown(report, out / files["Markdown"])
    return files
