"""A ranking's outputs: the table as text, ``ranking.csv``, ``ranking.json``, ``ranking.png``."""

from __future__ import annotations

import numpy as np

from ._report import write_json

SCORER_NAMES = {
    "logme": "LogME", "hscore": "H-score", "probe": "linear probe", "leep": "LEEP", "nce": "NCE"
}  # fmt: skip
CHOSEN, OTHER = "#d95f02", "#9aa5b1"  # orange against grey, apart in every colour vision


def ranking_table(report):
    """The ranking as plain text: a heading, then one row per candidate, best first.

    Parameters
    ----------
    report : dict
        What :func:`rank` returns.

    Returns
    -------
    str
        Columns candidate, score, rank, dim and seconds (encoding and
        scoring); the chosen row ends with ``<- chosen``.
    """
    data = report["data"]
    header = ["candidate", "score", "rank", "dim", "seconds"]
    rows = [header] + [
        [
            row["candidate"],
            f"{row['score']:.4f}",
            str(row["rank"]),
            str(row["feature_dim"]),
            f"{row['encode_s'] + row['score_s']:.1f}",
        ]
        for row in report["ranking"]
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = []
    for row, chosen in zip(rows, [False] + [r["chosen"] for r in report["ranking"]]):
        cells = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:])]
        lines.append("  ".join(cells) + ("  <- chosen" if chosen else ""))
    heading = (
        f"{report['name']}: {report['scorer']} on {data['n_train']} training samples "
        f"({data['source']}), higher is better"
    )
    return "\n".join([heading, *lines])


def write_ranking(report, out):
    """Write ``ranking.csv``, ``ranking.json`` and ``ranking.png`` in ``out``; their names."""
    import pandas as pd

    out.mkdir(parents=True, exist_ok=True)
    files = {"table": "ranking.csv", "JSON report": "ranking.json", "chart": "ranking.png"}
    report["files"] = files
    pd.DataFrame(report["ranking"]).to_csv(out / files["table"], index=False)
    write_json(report, out / files["JSON report"])
    write_ranking_png(report, out / files["chart"])
    return files


def write_ranking_png(report, path):
    """The scores as horizontal bars, best at the top, the chosen one in its own colour.

    Parameters
    ----------
    report : dict
        What :func:`rank` returns.
    path : path-like
        The PNG to write.

    Returns
    -------
    matplotlib.figure.Figure
        The figure written.
    """
    from matplotlib.figure import Figure

    rows = report["ranking"]
    labels = [row["candidate"] for row in rows]
    scores = np.array([row["score"] for row in rows])
    scorer = SCORER_NAMES.get(report["scorer"], report["scorer"])
    low, high = _axis(scores, report["scorer"])
    # Room for the longest name beside the bars, and a row per candidate.
    width = 5.0 + 0.075 * max(map(len, labels))
    figure = Figure(figsize=(width, 1.3 + 0.4 * len(rows)), dpi=120, layout="constrained")
    axes = figure.subplots()
    positions = np.arange(len(rows))
    chosen = np.array([row["chosen"] for row in rows])
    bars = axes.barh(positions, scores - low, left=low, color=np.where(chosen, CHOSEN, OTHER))
    axes.bar_label(bars, [f"{score:.3f}" for score in scores], padding=4)
    # The best bar is the longest: its name for the choice fits inside it.
    (best,) = np.flatnonzero(chosen)
    bar = bars[best]
    middle = (bar.get_x() + bar.get_width() / 2, bar.get_y() + bar.get_height() / 2)
    axes.text(*middle, "chosen", ha="center", va="center", color="white", fontweight="bold")
    axes.set_yticks(positions, labels)
    axes.get_yticklabels()[best].set_fontweight("bold")
    axes.invert_yaxis()  # the best first, at the top
    axes.set_xlim(low, high)
    if low < 0 < high:
        axes.axvline(0, color="0.55", linewidth=0.8, zorder=0)
    axes.set_xlabel(f"{scorer} score (higher is better)")
    data = report["data"]
    axes.set_title(
        f"{report['name']}: {scorer} on {data['n_train']} training samples\ndata: {data['source']}"
    )
    figure.savefig(path)
    return figure


def _axis(scores, scorer):
    """Where the bars start and the axis ends: from zero for a score with a meaningful zero
    (accuracy, H-score); LogME is a log-evidence, whose zero means nothing, so its bars
    start a little below the lowest score and the longest bar is the best."""
    top, bottom = float(scores.max()), float(scores.min())
    span = (top - bottom) or abs(top) or 1.0
    low = 0.0 if scorer != "logme" and bottom >= 0 else bottom - 0.15 * span
    return low, top + 0.2 * (top - low)  # room for the values past the bars' ends
