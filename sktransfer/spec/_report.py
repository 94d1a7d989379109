"""What an experiment measured, and the files that say it: JSON, Markdown, a PNG, a CSV."""

from __future__ import annotations

import json

import numpy as np
from sklearn import metrics

NEGATIVE_TRANSFER = (
    "Transfer did not beat the baseline here: {metric} {score:.3f} against {baseline:.3f} "
    "for {name}. A pre-trained model can do worse than one trained from scratch when its "
    "domain is far from yours (negative transfer), or when there are enough labels to learn "
    "the task directly. Try fine-tuning more layers (freeze='last:2', 'none'), another "
    "backbone, or keep the simpler model."
)


def evaluate(estimator, X, y, *, classification):
    """Score a fitted estimator on test data: the metrics, and for a classifier its errors."""
    predicted = estimator.predict(X)
    if not classification:
        return {
            "metrics": {
                "r2": float(metrics.r2_score(y, predicted)),
                "mae": float(metrics.mean_absolute_error(y, predicted)),
                "rmse": float(metrics.root_mean_squared_error(y, predicted)),
            }
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
        "per_class": {str(c): report[str(c)] for c in labels},
        "confusion_matrix": {
            "labels": [str(c) for c in labels],
            "matrix": metrics.confusion_matrix(y, predicted, labels=labels).tolist(),
        },
        "predicted": predicted,
    }


def primary_metric(classification):
    return "accuracy" if classification else "r2"


def compare(report):
    """The note a report carries when transfer did not beat its baseline (None otherwise)."""
    baseline = report.get("baseline")
    if not baseline:
        return None
    metric = primary_metric(report["task"] == "classification")
    score, against = report["metrics"][metric], baseline["metrics"][metric]
    report["transfer_beats_baseline"] = bool(score > against)
    if score > against:
        return None
    return NEGATIVE_TRANSFER.format(
        metric=metric, score=score, baseline=against, name=baseline["name"]
    )


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
    lines += [f"- Fit {timings['fit_s']:.1f} s, predict {timings['predict_s']:.1f} s", ""]
    baseline = report.get("baseline")
    header = ["metric", "model"] + ([f"baseline: {baseline['name']}"] if baseline else [])
    lines += [_row(header), _row(["---"] * len(header))]
    for name, value in report["metrics"].items():
        row = [name, f"{value:.4f}"]
        if baseline:
            row.append(f"{baseline['metrics'][name]:.4f}")
        lines.append(_row(row))
    if report.get("note"):
        lines += ["", f"**Note.** {report['note']}"]
    if report.get("per_class"):
        lines += ["", "## Per class", "", _row(["class", "precision", "recall", "f1", "support"])]
        lines.append(_row(["---"] * 5))
        for name, scores in report["per_class"].items():
            values = [f"{scores[k]:.3f}" for k in ("precision", "recall", "f1-score")]
            lines.append(_row([name, *values, str(int(scores["support"]))]))
        matrix = report["confusion_matrix"]
        lines += ["", "## Confusion matrix (rows: true, columns: predicted)", ""]
        lines += [_row(["", *matrix["labels"]]), _row(["---"] * (len(matrix["labels"]) + 1))]
        for label, counts in zip(matrix["labels"], matrix["matrix"]):
            lines.append(_row([f"**{label}**", *map(str, counts)]))
    if report.get("files"):
        lines += ["", "## Files", ""]
        lines += [f"- {what}: `{name}`" for what, name in report["files"].items()]
    return "\n".join(lines) + "\n"


def _row(cells):
    return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"


def write_confusion_png(report, path):
    """The confusion matrix as a PNG, class names on both axes (matplotlib, no display)."""
    from matplotlib.figure import Figure

    matrix = report["confusion_matrix"]
    labels = matrix["labels"]
    side = max(4.5, 0.6 * len(labels) + 2.5)
    figure = Figure(figsize=(side + 1, side), layout="constrained")
    axes = figure.add_subplot()
    display = metrics.ConfusionMatrixDisplay(np.array(matrix["matrix"]), display_labels=labels)
    display.plot(ax=axes, cmap="Blues", colorbar=True, xticks_rotation=45)
    axes.set_title(f"{report['name']}: accuracy {report['metrics']['accuracy']:.3f}")
    for tick in axes.get_xticklabels():
        tick.set_horizontalalignment("right")
    figure.savefig(path, dpi=120)


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
