"""Does the ranking say which candidate will transfer? Scorers against tuned probes.

For each task (a packaged data set at a number of labels per class) and every
offline candidate, on each draw of the labelled set:

- the scorers (LogME, the regularised H-score) on the candidate's features of the
  labelled draw, what a user has before training anything;
- the ground truth: a tuned linear probe (standardised features, logistic
  regression with C by 3-fold cross-validation on the draw) scored on one fixed
  test set, never used to choose anything.

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

SCORERS = ("logme", "hscore")  # --scorers logme,hscore,probe adds the costly ground truth
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
    args = parser.parse_args(argv)
    scorers = args.scorers.split(",")
    pool = candidates(args.dataset, args.cache)
    names = [candidate_name(c) for c in pool]
    scores = {s: np.zeros((args.seeds, len(pool))) for s in scorers}
    accuracy = np.zeros((args.seeds, len(pool)))
    score_s = dict.fromkeys(scorers, 0.0)
    probe_s = encode_s = 0.0
    for seed in range(args.seeds):
        X, y, X_test, y_test = draw(args.dataset, args.per_class, seed)
        for j, candidate in enumerate(pool):
            started = time.perf_counter()
            encoder = clone(candidate).fit(X, y)
            features, features_test = encoder.transform(X), encoder.transform(X_test)
            encode_s += time.perf_counter() - started
            dense = features.toarray() if hasattr(features, "toarray") else features
            for name in scorers:
                started = time.perf_counter()
                scores[name][seed, j] = ALL[name](dense, y)
                score_s[name] += time.perf_counter() - started
            accuracy[seed, j], seconds = tuned_probe(features, y, features_test, y_test)
            probe_s += seconds
        print(f"draw {seed + 1}/{args.seeds} done", flush=True)
    mean_accuracy = accuracy.mean(axis=0)
    print(f"\n{args.dataset}, {args.per_class} per class, {args.seeds} draws; "
          f"probes {probe_s:.1f} s, encoding {encode_s:.1f} s in all\n")  # fmt: skip
    print("| candidate | probe accuracy | " + " | ".join(scorers) + " |")
    print("| --- | ---: | " + " | ".join("---:" for _ in scorers) + " |")
    for j in np.argsort(-mean_accuracy):
        cells = " | ".join(f"{scores[s][:, j].mean():.3f}" for s in scorers)
        print(f"| {names[j]} | {mean_accuracy[j]:.3f} ± {accuracy[:, j].std():.3f} | {cells} |")
    print("\n| scorer | Kendall tau | weighted tau | top-1 | top-1 within 1 point | cost |")
    print("| --- | ---: | ---: | --- | --- | ---: |")
    best = mean_accuracy.max()
    for name in scorers:
        mean_score = scores[name].mean(axis=0)
        tau = stats.kendalltau(mean_score, mean_accuracy).statistic
        weighted = stats.weightedtau(mean_score, mean_accuracy).statistic
        top = int(np.argmax(mean_score))
        within = "yes" if best - mean_accuracy[top] <= 0.01 else "no"
        print(f"| {name} | {tau:.3f} | {weighted:.3f} | {names[top]} "
              f"({mean_accuracy[top]:.3f}) | {within} | "
              f"{score_s[name]:.2f} s = {score_s[name] / probe_s:.1%} of the probes |")  # fmt: skip


if __name__ == "__main__":
    main()
