"""Does the ranking say which candidate will transfer? Scorers against tuned probes.

For each task (a packaged data set at a number of labels per class) and every
offline candidate, on each draw of the labelled set:

- the scorers (LogME, the regularised H-score; LEEP and NCE on the source
  classifier's logits, for the candidates that keep one) on the candidate's
  features of the labelled draw, what a user has before training anything;
- the ground truth: a tuned linear probe (standardised features, logistic
  regression with C by 3-fold cross-validation on the draw) scored on one fixed
  test set, never used to choose anything; with ``--finetune``, also LP-FT
  (``FineTuneClassifier`` with the image recipe, its head reading the
  candidate's layers) on the same draws.

Reported per task: each candidate's mean score and mean test accuracy; per
scorer, Kendall's tau and the weighted tau (scipy's, top ranks weigh more)
between the mean scores and the mean accuracies, whether the top-ranked
candidate is within one point of the best, and the cost of ranking (scoring
time) against fitting every candidate's tuned probe (encoding excluded: the
chosen candidate's encodings are reused, through the embedding cache).

Candidates: images: EfficientNet-Lite0, Lite1, Lite2 at 112 px, Lite0's layer
groups and the concatenations of its last blocks (``layers_of``), raw pixels;
texts: MiniLM (whole articles, windows), GloVe mean and SIF, TF-IDF.

Run by hand, from the repository root, one at a time (each uses both cores)::

    python benchmarks/bench_ranking.py --dataset fashion_mnist --per-class 10 --seeds 5
    python benchmarks/bench_ranking.py --dataset bbc_news --per-class 4 --seeds 5
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy import stats

# --scorers logme,hscore,probe adds the costly probe scorer; leep,nce read source logits.
SCORERS = ("logme", "hscore")
TEST_PER_CLASS = {"fashion_mnist": 100, "bbc_news": 40}
PROBE_C = [0.001, 0.01, 0.1, 1.0, 10.0]


def candidates(dataset, cache):
    from sklearn.feature_extraction.text import TfidfVectorizer

    from sktransfer import ImageEncoder, PixelEncoder, SentenceEncoder, WordVectorEncoder
    from sktransfer.ranking import layers_of

    if dataset == "fashion_mnist":
        networks = [ImageEncoder(f"efficientnet_lite{i}", image_size=112, cache=cache)
                    for i in range(3)]  # fmt: skip
        # The head (layer=None) is Lite0 itself, listed above.
        layers = [e for e in layers_of("efficientnet_lite0", image_size=112, cache=cache)
                  if e.layer is not None]  # fmt: skip
        return [*networks, *layers, PixelEncoder()]
    return [
        SentenceEncoder(long_texts="windows", cache=cache),
        WordVectorEncoder(pooling="mean", cache=cache),
        WordVectorEncoder(pooling="sif", cache=cache),
        TfidfVectorizer(sublinear_tf=True),
    ]


def draw(dataset, per_class, seed):
    """A labelled draw and the fixed test set, as the demo's specs draw them."""
    from sktransfer import datasets

    if dataset == "fashion_mnist":
        X, y = datasets.load_fashion_mnist("train")
        X_test, y_test = datasets.load_fashion_mnist("test")
        test = datasets.stratified_sample(y_test, TEST_PER_CLASS[dataset], seed=0)
        train = datasets.stratified_sample(y, per_class, seed=seed)
        return X[train], y[train], X_test[test], y_test[test]
    texts, labels = datasets.load_bbc_news()
    test = datasets.stratified_sample(labels, TEST_PER_CLASS[dataset], seed=0)
    train = datasets.stratified_sample(labels, per_class, seed=seed, exclude=test)
    return texts[train], labels[train], texts[test], labels[test]


def tuned_probe(features, y, features_test, y_test):
    """Test accuracy of a standardised logistic regression, C by 3-fold CV on the draw."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    folds = StratifiedKFold(min(3, np.unique(y, return_counts=True)[1].min()), shuffle=True,
                            random_state=0)  # fmt: skip
    model = GridSearchCV(
        make_pipeline(StandardScaler(with_mean=not hasattr(features, "toarray")),
                      LogisticRegression(max_iter=2000)),
        {"logisticregression__C": PROBE_C}, cv=folds,
    )  # fmt: skip
    started = time.perf_counter()
    model.fit(features, y)
    return float(model.score(features_test, y_test)), time.perf_counter() - started


def fine_tuned(candidate, X, y, X_test, y_test, seed, cache):
    """Test accuracy of LP-FT (the image recipe) reading the candidate's layers; None for
    a candidate no fine-tuner reads (raw pixels)."""
    from sktransfer import FineTuneClassifier, ImageEncoder

    if not isinstance(candidate, ImageEncoder):
        return None, 0.0
    model = FineTuneClassifier(candidate.backbone, layer=candidate.layer, image_size=112,
                               validation=None, cache=cache, random_state=seed)  # fmt: skip
    started = time.perf_counter()
    model.fit(X, y)
    return float(model.score(X_test, y_test)), time.perf_counter() - started


def source_outputs(encoder, X):
    """The source classifier's logits, or None where the candidate keeps none."""
    try:
        return encoder.source_outputs(X)[1]
    except (AttributeError, ValueError):
        return None


def agreement(name, mean_score, truth, names, cost):
    """One row of the agreement table: taus, the top-ranked candidate, its gap, the cost."""
    known = np.isfinite(mean_score) & np.isfinite(truth)
    score, truth_known, names_known = mean_score[known], truth[known], np.array(names)[known]
    tau = stats.kendalltau(score, truth_known).statistic
    weighted = stats.weightedtau(score, truth_known).statistic
    top = int(np.argmax(score))
    within = "yes" if truth_known.max() - truth_known[top] <= 0.01 else "no"
    return (f"| {name} ({known.sum()}) | {tau:.3f} | {weighted:.3f} | {names_known[top]} "
            f"({truth_known[top]:.3f}) | {within} | {cost} |")  # fmt: skip


def main(argv=None):
    from sklearn.base import clone

    from sktransfer.ranking import SCORERS as ALL
    from sktransfer.ranking import candidate_name

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", choices=tuple(TEST_PER_CLASS), required=True)
    parser.add_argument("--per-class", type=int, required=True)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--cache", default="benchmarks/.cache", help="embedding cache folder")
    parser.add_argument("--scorers", default=",".join(SCORERS), help="comma-separated")
    parser.add_argument(
        "--finetune", action="store_true", help="also LP-FT on every image candidate"
    )
    args = parser.parse_args(argv)
    scorers = args.scorers.split(",")
    pool = candidates(args.dataset, args.cache)
    names = [candidate_name(c) for c in pool]
    scores = {s: np.full((args.seeds, len(pool)), np.nan) for s in scorers}
    accuracy = np.zeros((args.seeds, len(pool)))
    tuned = np.full((args.seeds, len(pool)), np.nan)
    score_s = dict.fromkeys(scorers, 0.0)
    probe_s = encode_s = tune_s = 0.0
    for seed in range(args.seeds):
        X, y, X_test, y_test = draw(args.dataset, args.per_class, seed)
        for j, candidate in enumerate(pool):
            started = time.perf_counter()
            encoder = clone(candidate).fit(X, y)
            features, features_test = encoder.transform(X), encoder.transform(X_test)
            logits = source_outputs(encoder, X)  # the cached features, one layer more
            encode_s += time.perf_counter() - started
            dense = features.toarray() if hasattr(features, "toarray") else features
            for name in scorers:
                inputs = dense if ALL[name].reads == "features" else logits
                if inputs is None:
                    continue
                started = time.perf_counter()
                scores[name][seed, j] = ALL[name](inputs, y)
                score_s[name] += time.perf_counter() - started
            accuracy[seed, j], seconds = tuned_probe(features, y, features_test, y_test)
            probe_s += seconds
            if args.finetune:
                result, seconds = fine_tuned(candidate, X, y, X_test, y_test, seed, args.cache)
                tuned[seed, j] = np.nan if result is None else result
                tune_s += seconds
        print(f"draw {seed + 1}/{args.seeds} done", flush=True)
    mean_accuracy = accuracy.mean(axis=0)
    mean_tuned = tuned.mean(axis=0)
    print(f"\n{args.dataset}, {args.per_class} per class, {args.seeds} draws; "
          f"probes {probe_s:.1f} s, fine-tuning {tune_s:.1f} s, encoding {encode_s:.1f} s "
          "in all\n")  # fmt: skip
    print("| candidate | probe accuracy | fine-tuned | " + " | ".join(scorers) + " |")
    print("| --- | ---: | ---: | " + " | ".join("---:" for _ in scorers) + " |")
    for j in np.argsort(-mean_accuracy):
        cells = " | ".join(f"{np.mean(scores[s][:, j]):.3f}" for s in scorers)
        ft = f"{mean_tuned[j]:.3f} ± {np.std(tuned[:, j]):.3f}" if args.finetune else "-"
        print(f"| {names[j]} | {mean_accuracy[j]:.3f} ± {accuracy[:, j].std():.3f} | {ft} | "
              f"{cells} |")  # fmt: skip
    truths = {"probe": mean_accuracy, **({"fine-tuned": mean_tuned} if args.finetune else {})}
    for truth_name, truth in truths.items():
        print(f"\nagainst the {truth_name} accuracy (candidates compared in brackets)\n")
        print("| scorer | Kendall tau | weighted tau | top-1 | top-1 within 1 point | cost |")
        print("| --- | ---: | ---: | --- | --- | ---: |")
        spent = probe_s if truth_name == "probe" else tune_s
        for name in scorers:
            cost = f"{score_s[name]:.2f} s = {score_s[name] / spent:.1%} of the fits"
            print(agreement(name, scores[name].mean(axis=0), truth, names, cost))


if __name__ == "__main__":
    main()
