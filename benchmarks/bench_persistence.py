"""Model files: skops' format (``sktransfer.save``) against joblib, size and load time.

For each fitted model (the packaged backbones; fine-tuners briefly trained on a few
Fashion-MNIST images or BBC News texts), the file each format writes, and the time
to load it in a new process (a user's ``sktransfer predict``: Python and the
imports excluded, the weights read from their packages included), and to predict
one batch after loading. Each file is loaded in its own process, one at a time.

Run by hand, from the repository root (uses both cores)::

    python benchmarks/bench_persistence.py
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

# Loads a file and predicts, in a fresh process: prints the seconds of each.
LOAD = """
import json, sys, time
import joblib, numpy as np
import sktransfer, sklearn, torch  # the imports are not the load's
X = np.load(sys.argv[2], allow_pickle=True)
started = time.perf_counter()
model = sktransfer.load(sys.argv[1]) if sys.argv[1].endswith(".skops") else joblib.load(sys.argv[1])
loaded = time.perf_counter() - started
started = time.perf_counter()
model.predict(list(X) if X.dtype == object else X)
print(json.dumps({"load_s": loaded, "predict_s": time.perf_counter() - started}))
"""


def models(n):
    """(name, fitted model, inputs) for each model measured."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from sktransfer import FineTuneClassifier, ImageEncoder, SentenceEncoder, WordVectorEncoder
    from sktransfer.datasets import load_bbc_news, load_fashion_mnist, stratified_sample

    images, labels = load_fashion_mnist("train")
    chosen = stratified_sample(labels, n, seed=0)
    X, y = np.repeat(images[chosen][..., None], 3, axis=3), labels[chosen]
    texts, topics = load_bbc_news()
    picked = stratified_sample(topics, n, seed=0)
    T, t = texts[picked], topics[picked]
    quick = {"max_epochs": 1, "validation": None, "random_state": 0}
    yield (
        "ImageEncoder (Lite0) + LogisticRegression",
        make_pipeline(ImageEncoder(image_size=64), LogisticRegression(max_iter=1000)).fit(X, y),
        X,
    )
    yield (
        "SentenceEncoder (MiniLM) + LogisticRegression",
        make_pipeline(SentenceEncoder(), LogisticRegression(max_iter=1000)).fit(T, t),
        T,
    )
    yield (
        "WordVectorEncoder (GloVe 50-d) + LogisticRegression",
        make_pipeline(WordVectorEncoder(), LogisticRegression(max_iter=1000)).fit(T, t),
        T,
    )
    for freeze in ("backbone", "last:2"):
        model = FineTuneClassifier(image_size=64, freeze=freeze, **quick).fit(X, y)
        yield f"FineTuneClassifier (Lite0, freeze={freeze!r})", model, X
    for freeze in ("lora", "last:2"):
        model = FineTuneClassifier("all-MiniLM-L6-v2", freeze=freeze, **quick).fit(T, t)
        yield f"FineTuneClassifier (MiniLM, freeze={freeze!r})", model, T


def main(argv=None):
    import joblib

    import sktransfer

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--per-class", type=int, default=4)
    args = parser.parse_args(argv)
    print("| model | skops file | joblib file | skops load | joblib load | predict after skops |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        for name, model, X in models(args.per_class):
            inputs = folder / "inputs.npy"
            np.save(inputs, np.asarray(X, dtype=object if isinstance(X[0], str) else None))
            sktransfer.save(model, folder / "model.skops")
            joblib.dump(model, folder / "model.joblib")
            times = {}
            for fmt in ("skops", "joblib"):
                done = subprocess.run(
                    [sys.executable, "-c", LOAD, str(folder / f"model.{fmt}"), str(inputs)],
                    capture_output=True, text=True, check=True,
                )  # fmt: skip
                times[fmt] = json.loads(done.stdout.strip().splitlines()[-1])
            sizes = {f: (folder / f"model.{f}").stat().st_size / 1e6 for f in ("skops", "joblib")}
            print(f"| {name} | {sizes['skops']:.2f} MB | {sizes['joblib']:.2f} MB | "
                  f"{times['skops']['load_s']:.2f} s | {times['joblib']['load_s']:.2f} s | "
                  f"{times['skops']['predict_s']:.2f} s |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
