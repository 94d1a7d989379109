"""The embedding cache: a grid search cached, uncached and with Pipeline(memory=...); memory.

Parts, each run on its own with ``--part``:

``search``
    ``GridSearchCV(make_pipeline(ImageEncoder(), LogisticRegression()), 8 values
    of C, cv=5)`` on ``--n`` Fashion-MNIST images (stratified, 28x28 grey arrays;
    the encoder resizes them to its 224 px), three ways in one run:

    - uncached: every fold and candidate encodes its images again;
    - ``Pipeline(memory=...)``: scikit-learn's caching of the encoder's
      ``fit_transform`` on each training fold (the test folds are encoded for
      every candidate);
    - ``ImageEncoder(cache=DIR)``: each distinct image encoded once, from an
      empty cache directory.

    Reported: wall time, the ratio to the uncached search, and how many images
    went through the backbone (counted). The three searches must agree on
    ``best_params_``.

``prefix``
    ``FineTuneClassifier(freeze=...)`` on ``--n`` Fashion-MNIST images for
    ``--epochs`` epochs, with the frozen part's outputs computed once per fit
    (the default without augmentation) and without (an identity augmentation,
    which makes every epoch run the whole network and changes no pixel), for
    "backbone" and "last:1"; and the head alone (``HeadClassifier``) fitted on
    features encoded beforehand. Reported: the mean epoch time, the one-off
    cost before the first epoch, and the epoch-time ratio.

``memory``
    Peak resident memory (RSS) of a fresh process encoding ``--paths`` image
    files (Fashion-MNIST written as PNG files once, to ``--workdir``) with
    ``ImageEncoder().transform``, for two counts, against the output array's
    own size.

Run by hand, from the repository root (not part of the tests)::

    python benchmarks/bench_cache.py --part search --n 1000
    python benchmarks/bench_cache.py --part prefix --n 500 --epochs 3
    python benchmarks/bench_cache.py --part memory --paths 2000,20000
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

C_VALUES = [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0]


def fashion(n, seed=0):
    from sktransfer.datasets import load_fashion_mnist, stratified_sample

    images, labels = load_fashion_mnist("train")
    index = stratified_sample(labels, n // 10, seed=seed)
    return images[index], labels[index]


# -- part 1: a grid search -------------------------------------------------------------------


class Counter:
    """Counts the images that go through the backbone (ImageEncoder._encode)."""

    def __init__(self):
        from sktransfer import ImageEncoder

        self.count = 0
        original = ImageEncoder._encode

        def counting(encoder, samples, positions):
            self.count += len(samples)
            return original(encoder, samples, positions)

        ImageEncoder._encode = counting


def search(kind, X, y, workdir):
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    from sktransfer import ImageEncoder

    encoder = ImageEncoder(cache=workdir / "embeddings" if kind == "cache" else None)
    memory = str(workdir / "joblib") if kind == "memory" else None
    pipe = Pipeline(
        [("encoder", encoder), ("scale", StandardScaler()),
         ("clf", LogisticRegression(max_iter=500))],
        memory=memory,
    )  # fmt: skip
    grid = GridSearchCV(pipe, {"clf__C": C_VALUES}, cv=5, n_jobs=1)
    return grid.fit(X, y)


def part_search(args):
    X, y = fashion(args.n)
    counter = Counter()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("uncached", "memory", "cache"):
            before = counter.count
            start = time.perf_counter()
            result = search(kind, X, y, Path(tmp))
            seconds = time.perf_counter() - start
            rows.append((kind, seconds, counter.count - before, result.best_params_))
            print(f"  {kind}: {seconds:.1f} s, {counter.count - before} images encoded, "
                  f"best {result.best_params_}", flush=True)  # fmt: skip
    uncached = rows[0][1]
    print()
    print(f"GridSearchCV, {len(C_VALUES)} candidates, cv=5, {len(X)} images")
    print("| search | wall s | ratio to uncached | images encoded | best C |")
    print("| --- | ---: | ---: | ---: | ---: |")
    titles = {"uncached": "uncached", "memory": "`Pipeline(memory=...)`",
              "cache": "`ImageEncoder(cache=DIR)`"}  # fmt: skip
    for kind, seconds, encoded, best in rows:
        print(
            f"| {titles[kind]} | {seconds:.1f} | {seconds / uncached:.3f} | {encoded:,} | "
            f"{best['clf__C']} |"
        )
    if len({str(r[3]) for r in rows}) != 1:
        print("WARNING: the searches disagree on best_params_")


# -- part 2: frozen-prefix caching in fine-tuning ---------------------------------------------


def timed_fit(model, X, y):
    """(mean epoch seconds, seconds of the fit outside its epochs) of ``model.fit(X, y)``."""
    start = time.perf_counter()
    model.fit(X, y)
    total = time.perf_counter() - start
    epochs = list(getattr(model, "net_", model).history_[:, "dur"])  # a head estimator's net_
    return sum(epochs) / len(epochs), total - sum(epochs)


def part_prefix(args):
    from sktransfer import FineTuneClassifier, HeadClassifier, ImageEncoder

    X, y = fashion(args.n)
    common = dict(max_epochs=args.epochs, batch_size=32, validation=None, device="cpu",
                  random_state=0)  # fmt: skip
    rows = []
    for freeze in ("backbone", "last:1"):
        for cached in (True, False):
            augment = "none" if cached else (lambda image: image)
            model = FineTuneClassifier(freeze=freeze, augment=augment, **common)
            epoch, outside = timed_fit(model, X, y)
            rows.append((f'`freeze="{freeze}"`', cached, epoch, outside))
            print(f"  {freeze} cached={cached}: {epoch:.2f} s per epoch, {outside:.1f} s outside",
                  flush=True)  # fmt: skip
    start = time.perf_counter()
    features = ImageEncoder(device="cpu").fit_transform(X)
    encode = time.perf_counter() - start
    head = HeadClassifier(max_epochs=args.epochs, batch_size=32, device="cpu", random_state=0)
    epoch, outside = timed_fit(head, features, y)
    rows.append(("`HeadClassifier` on encoded features", True, epoch, outside + encode))
    print()
    print(f"Fine-tuning EfficientNet-Lite0, {len(X)} images, {args.epochs} epochs, batch 32")
    print("| contender | frozen part | s per epoch | s before the epochs | epoch ratio |")
    print("| --- | --- | ---: | ---: | ---: |")
    uncached = {name: epoch for name, cached, epoch, _ in rows if not cached}
    for name, cached, epoch, outside in rows:
        how = "once per fit" if cached else "every epoch"
        ratio = f"{uncached[name] / epoch:.1f}x faster" if cached and name in uncached else ""
        print(f"| {name} | {how} | {epoch:.2f} | {outside:.1f} | {ratio} |")


# -- part 3: memory --------------------------------------------------------------------------


def write_pngs(workdir, n):
    from PIL import Image

    from sktransfer.datasets import load_fashion_mnist

    images, _ = load_fashion_mnist("train")
    folder = workdir / "pngs"
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{i:05d}.png" for i in range(n)]
    for i, path in enumerate(paths):
        if not path.exists():
            Image.fromarray(images[i % len(images)]).save(path)
    return paths


CHILD = """
import resource, sys, numpy as np
from sktransfer import ImageEncoder
paths = open(sys.argv[1]).read().split()
out = ImageEncoder(device="cpu").fit().transform(paths)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(peak, out.nbytes)
"""


def part_memory(args):
    workdir = Path(args.workdir)
    counts = args.paths
    paths = write_pngs(workdir, max(counts))
    print("| image paths | peak RSS MiB | output MiB | peak minus output MiB |")
    print("| ---: | ---: | ---: | ---: |")
    results = []
    for n in counts:
        listing = workdir / f"paths-{n}.txt"
        listing.write_text("\n".join(map(str, paths[:n])))
        done = subprocess.run(
            [sys.executable, "-c", CHILD, str(listing)], capture_output=True, text=True, check=True
        )
        peak, output = map(int, done.stdout.split()[-2:])
        results.append((n, peak, output))
        mib = 2**20
        print(f"| {n:,} | {peak / mib:.0f} | {output / mib:.1f} | {(peak - output) / mib:.0f} |")
    (n0, p0, o0), (n1, p1, o1) = results[0], results[-1]
    print(f"\nratio of peaks beyond the output ({n1:,} over {n0:,}): {(p1 - o1) / (p0 - o0):.3f}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("search", "prefix", "memory"), required=True)
    parser.add_argument("--n", type=int, default=1000, help="search, prefix: images")
    parser.add_argument("--epochs", type=int, default=3, help="prefix: epochs per fit")
    parser.add_argument(
        "--paths",
        type=lambda v: [int(x) for x in v.split(",")],
        default=[2000, 20000],
        help="memory: image counts",
    )
    parser.add_argument(
        "--workdir", default=os.path.join(tempfile.gettempdir(), "sktransfer-bench-cache")
    )
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=UserWarning)
    import torch

    print(
        f"python {platform.python_version()}, torch {torch.__version__}, {os.cpu_count()} CPUs "
        f"({torch.get_num_threads()} threads), {platform.machine()}"
    )
    {"search": part_search, "prefix": part_prefix, "memory": part_memory}[args.part](args)


if __name__ == "__main__":
    main()
