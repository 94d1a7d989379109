"""What an experiment measured, and the files that say it: JSON, Markdown, a PNG, a CSV."""

from __future__ import annotations

import json

import numpy as np
from sklearn import metrics

from ._uncertainty import CONFIDENCE, RESAMPLES, bootstrap_intervals, paired_test


def evaluate(estimator, X, y, *, classification):
    """Score a fitted estimator on test data.

    Parameters
    ----------
    estimator : estimator
        Fitted.
    X, y : array-like
        The test samples and their targets.
    classification : bool
        Whether ``estimator`` is a classifier.

    Returns
    -------
    dict
        ``metrics``; ``intervals``, a bootstrap interval ``[low, high]`` of each metric
        (:func:`bootstrap_intervals`); ``predicted``, the predictions; and for a
        classifier ``per_class`` and ``confusion_matrix``.
    """
    predicted = estimator.predict(X)
    intervals = bootstrap_intervals(y, predicted, classification=classification)
    if not classification:
        return {
            "metrics": {
                "r2": float(metrics.r2_score(y, predicted)),
                "mae": float(metrics.mean_absolute_error(y, predicted)),
                "rmse": float(metrics.root_mean_squared_error(y, predicted)),
            },
            "intervals": intervals,
            "predicted": predicted,
        }
    labels = [plain(c) for c in np.unique(np.concatenate([np.asarray(y), predicted]))]
    report = metrics.classification_report(
        y, predicted, labels=labels, output_dict=True, zero_division=0
    )
    return {
        "metrics": {
            "accuracy": float(metrics.accuracy_score(y, predicted)),
            "macro_f1": float(report["macro avg"]["f1-score"]),
            "balanced_accuracy": float(metrics.balanced_accuracy_score(y, predicted)),
        },
        "intervals": intervals,
        "per_class": {str(c): report[str(c)] for c in labels},
        "confusion_matrix": {
            "labels": [str(c) for c in labels],
            "matrix": metrics.confusion_matrix(y, predicted, labels=labels).tolist(),
        },
        "predicted": predicted,
    }


def baseline_summary(name, measured, y, predicted, *, classification):
    """The report's ``baseline`` section: its scores, and the paired test against the model.

    Parameters
    ----------
    name : str
        The baseline's name.
    measured : dict
        What :func:`evaluate` returned for the baseline, ``predicted`` included.
    y : array-like
        The test targets.
    predicted : array-like or None
        The model's predictions for the same test samples; None where they failed (no
        paired test then).
    classification : bool
        Whether both are classifiers.

    Returns
    -------
    dict
        ``name``, ``metrics``, ``intervals``, ``paired_test`` (:func:`paired_test`) and,
        for classifiers, the baseline's ``confusion_matrix``.
    """
    test = None
    if predicted is not None:
        test = paired_test(y, predicted, measured["predicted"], classification=classification)
    summary = {
        "name": name,
        "metrics": measured["metrics"],
        "intervals": measured.get("intervals"),
        "paired_test": test,
    }
    if "confusion_matrix" in measured:
        summary["confusion_matrix"] = measured["confusion_matrix"]
    return summary


def write_json(report, path):
    path.write_text(json.dumps(report, indent=2, default=plain) + "\n")


def write_markdown(report, path):
    path.write_text(markdown(report))


def markdown(report):
    """The report as Markdown: data, model, metrics against the baseline, errors, files."""
    lines = [f"# {report['name']}", ""]
    data = report["data"]
    lines += [
        f"- Data: {data['source']}: {data['n_train']} training and {data['n_test']} test samples"
        + (f", {len(data['classes'])} classes" if data.get("classes") else ""),
        f"- Model: `{report['pipeline']}`",
    ]
    if report.get("search"):
        search = report["search"]
        lines.append(
            f"- Search: {search['method']} over {search['candidates']} candidates, "
            f"cv={search['cv']}; best {search['scoring']} {search['best_score']:.4f} with "
            + ", ".join(f"`{k}={v!r}`" for k, v in search["best_params"].items())
        )
    timings = report["timings"]
    lines += [f"- Fit {timings['fit_s']:.1f} s, predict {timings.get('predict_s', 0):.1f} s", ""]
    baseline = report.get("baseline")
    header = ["metric", "model"] + ([f"baseline: {baseline['name']}"] if baseline else [])
    lines += [_row(header), _row(["---"] * len(header))]
    for name, value in report["metrics"].items():
        row = [name, _score(value, report.get("intervals"), name)]
        if baseline:  # no score where the baseline failed
            against = baseline["metrics"].get(name)
            row.append("" if against is None else _score(against, baseline.get("intervals"), name))
        lines.append(_row(row))
    if report.get("intervals"):
        lines += [
            "",
            f"In brackets: {CONFIDENCE:.0%} bootstrap intervals over the {data['n_test']} test "
            f"samples (percentile, {RESAMPLES} resamples).",
        ]
    test = (baseline or {}).get("paired_test")
    if test:
        lines += ["", f"Paired test against the baseline ({test['test']}): {test['reading']}."]
    lines += _target_lines(report)
    if report.get("note"):
        lines += ["", f"**Note.** {report['note']}"]
    for failure in report.get("errors") or []:  # after the fit: the model is saved all the same
        lines += ["", f"**Failed: {failure['stage']}.** `{failure['error']}`"]
    if report.get("per_class"):
        lines += ["", "## Per class", "", _row(["class", "precision", "recall", "f1", "support"])]
        lines.append(_row(["---"] * 5))
        for name, scores in report["per_class"].items():
            values = [f"{scores[k]:.3f}" for k in ("precision", "recall", "f1-score")]
            lines.append(_row([name, *values, str(int(scores["support"]))]))
        lines += ["", "## Confusion matrix (rows: true, columns: predicted)"]
        matrices = [("Model", report["confusion_matrix"])]
        if (baseline or {}).get("confusion_matrix"):
            matrices.append((f"Baseline: {baseline['name']}", baseline["confusion_matrix"]))
        for title, matrix in matrices:
            if len(matrices) > 1:
                lines += ["", f"### {title}"]
            lines += ["", _row(["", *matrix["labels"]])]
            lines.append(_row(["---"] * (len(matrix["labels"]) + 1)))
            for label, counts in zip(matrix["labels"], matrix["matrix"]):
                lines.append(_row([f"**{label}**", *map(str, counts)]))
    if report.get("files"):
        lines += ["", "## Files", ""]
        lines += [f"- {what}: `{name}`" for what, name in report["files"].items()]
    return "\n".join(lines) + "\n"


def _target_lines(report):
    """The target domain's scores, beside those of the same model without adaptation."""
    target = report.get("target")
    if not target:
        return []
    without = target.get("without_adaptation")
    header = ["metric", f"model (adapt={target['adapt']!r})"] + (
        ["adapt='none'"] if without else []
    )
    lines = ["", f"Target domain: {target['n']} labelled samples from {target['source']}.", ""]
    lines += [_row(header), _row(["---"] * len(header))]
    for name, value in target["metrics"].items():
        row = [name, _score(value, target.get("intervals"), name)]
        if without:
            row.append(_score(without["metrics"][name], without.get("intervals"), name))
        lines.append(_row(row))
    test = (without or {}).get("paired_test")
    if test:
        lines += ["", f"Paired test against adapt='none' ({test['test']}): {test['reading']}."]
    return lines


def _score(value, intervals, name):
    """``0.9800 [0.94, 1.00]``: the score and, where there is one, its interval."""
    interval = (intervals or {}).get(name)
    if interval is None:
        return f"{value:.4f}"
    # Two decimals read best for scores; small errors keep two significant digits.
    style = ".2f" if max(map(abs, interval)) >= 0.1 else ".2g"
    low, high = ("0.00" if t == "-0.00" else t for t in (format(e, style) for e in interval))
    return f"{value:.4f} [{low}, {high}]"


def _row(cells):
    return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"


def write_confusion_png(report, path):
    """The confusion matrix as a PNG, and the baseline's to its right where there is one.

    Both on the same colour scale and the same rows and columns (matplotlib, no display).

    Parameters
    ----------
    report : dict
        A classifier's report, its ``confusion_matrix`` and maybe the baseline's.
    path : path-like
        The PNG to write.

    Returns
    -------
    matplotlib.figure.Figure
        The figure written: one axes per matrix, and the colour bar's.
    """
    from matplotlib.figure import Figure

    baseline = report.get("baseline") or {}
    panels = [("Model", report["confusion_matrix"], report["metrics"])]
    if baseline.get("confusion_matrix"):
        panels.append(
            (f"Baseline: {baseline['name']}", baseline["confusion_matrix"], baseline["metrics"])
        )
    # Both on the same rows and columns, so that one cell means the same in each.
    labels = list(dict.fromkeys(c for _, m, _ in panels for c in m["labels"]))
    counts = [_aligned(matrix, labels) for _, matrix, _ in panels]
    top = max(1, max(int(c.max()) for c in counts))
    side = max(4.5, 0.55 * len(labels) + 2.5)
    # The figure's own dpi, not savefig's: constrained layout is worked out at the figure's,
    # and a larger one at saving clipped the rotated labels.
    width = side * len(panels) - 1.0 * (len(panels) - 1) + 1.0  # one set of row names
    figure = Figure(figsize=(width, side + 0.4), dpi=120, layout="constrained")
    grid = figure.subplots(1, len(panels), squeeze=False)[0]
    for axes, (title, _, scores), matrix in zip(grid, panels, counts):
        image = _draw_matrix(axes, matrix, labels, top)
        axes.set_title(f"{title}\naccuracy {scores['accuracy']:.3f}")
    for axes in grid[1:]:  # the rows are the model's: their names once, on the left
        axes.set_ylabel("")
        axes.tick_params(labelleft=False)
    figure.colorbar(image, ax=list(grid), label="test samples", shrink=0.8)
    figure.suptitle(report["name"])
    figure.savefig(path)
    return figure


def _aligned(matrix, labels):
    """``matrix``'s counts on the rows and columns of ``labels`` (zero where it has none)."""
    where = [labels.index(c) for c in matrix["labels"]]
    counts = np.zeros((len(labels), len(labels)), dtype=int)
    counts[np.ix_(where, where)] = matrix["matrix"]
    return counts


def _draw_matrix(axes, counts, labels, top):
    image = axes.imshow(counts, cmap="Blues", vmin=0, vmax=top)
    for (row, column), count in np.ndenumerate(counts):
        # Light text on dark cells, on the shared scale rather than each matrix's own.
        colour = "white" if count > top / 2 else "black"
        axes.text(column, row, count, ha="center", va="center", color=colour)
    ticks = np.arange(len(labels))
    axes.set_xticks(ticks, labels, rotation=45, ha="right", rotation_mode="anchor")
    axes.set_yticks(ticks, labels)
    axes.set_xlabel("Predicted label")
    axes.set_ylabel("True label")
    return image


def write_search_table(search, path):
    """The search's candidates as CSV, best first: parameters, scores, times."""
    import pandas as pd

    results = pd.DataFrame(search.cv_results_)
    columns = [c for c in results.columns if c.startswith("param_")] + [
        "mean_test_score",
        "std_test_score",
        "rank_test_score",
        "mean_fit_time",
        "mean_score_time",
    ]
    results[columns].sort_values("rank_test_score").to_csv(path, index=False)


def plain(value):
    """numpy scalars and arrays as JSON's own types."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value if isinstance(value, (str, int, float, bool, type(None))) else str(value)
