"""sktransfer on a Dask LocalCluster: how bulk encoding and a search scale with workers.

For each worker count in ``--workers`` (a fresh ``LocalCluster`` of that many
single-threaded worker processes from ``sktransfer.cluster.connect("local")``,
started and warmed up before timing: each worker has imported torch and loaded
the model), three measurements:

``bulk``
    ``sktransfer.cluster.encode`` of ``--n`` Fashion-MNIST images, written as PNG
    files once, with a fitted ``ImageEncoder(image_size=--size, device=--device)``,
    in partitions of ``--partition`` images.
``search``
    ``sktransfer.cluster.fit`` of ``GridSearchCV(make_pipeline(ImageEncoder(...),
    RidgeClassifier()), 4 alphas, cv=3)`` on ``--search-n`` of those images,
    without an embedding cache (each of the 12 fits encodes its fold again:
    the work that spreads over the workers). Not with one worker: joblib runs
    the fits of a single worker thread in the client, so that row would time
    this process.
``overhead``
    ``cluster.encode`` of a transformer that does nothing, one sample per task,
    ``--tasks`` tasks: the scheduling cost of one task, as wall time x workers /
    tasks.

Reported per worker count: wall time, the speed-up over one worker and its ratio
to the ideal (the worker count), and the overhead per task. The worker counts are
measured in turn, ``--repeat`` times over, and the best time of each is kept: on a
shared machine, a slow spell then hits every count alike. For reference, the
same encoding and the same search in this process alone (torch using every
core, the fits one after another) are timed too: on one machine, single-threaded workers
compete with torch's own threads, so they are the figures to beat.

Run by hand, from the repository root (not part of the tests)::

    python benchmarks/bench_dask.py --workers 1,2 --n 1000
    python benchmarks/bench_dask.py --workers 1,2,4,8 --n 4000   # where there are the cores
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

ALPHAS = [0.1, 1.0, 10.0, 100.0]


def image_files(n, folder):
    from PIL import Image

    from sktransfer.datasets import load_fashion_mnist, stratified_sample

    images, labels = load_fashion_mnist("train")
    index = stratified_sample(labels, n // 10, seed=0)
    paths = []
    for i, image in enumerate(images[index]):
        paths.append(str(folder / f"{i:05d}.png"))
        Image.fromarray(image).save(paths[-1])
    return paths, labels[index]


class Nothing(TransformerMixin, BaseEstimator):
    """A transformer that does no work: what a task costs beyond its work."""

    def fit(self, X=None, y=None):
        self.fitted_ = True
        return self

    def transform(self, samples):
        return np.zeros((len(samples), 1), dtype=np.float32)

    def get_feature_names_out(self):
        return ["nothing"]


def a_search(encoder):
    from sklearn.linear_model import RidgeClassifier
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline

    pipe = make_pipeline(encoder, RidgeClassifier())
    return GridSearchCV(pipe, {"ridgeclassifier__alpha": ALPHAS}, cv=3)


def timed(function):
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def measure(workers, args, paths, labels):
    from sktransfer import ImageEncoder, cluster

    def encoder():
        return ImageEncoder(image_size=args.size, device=args.device)

    fitted = encoder().fit()
    with cluster.connect("local", n_workers=workers, dashboard_address=None) as client:
        # Warm up: every worker imports torch and loads the model before timing.
        cluster.check_workers(client, encoder())
        cluster.encode(fitted, paths[: 2 * workers], client=client, partition_size=1).compute()
        bulk, _ = timed(
            lambda: cluster.encode(
                fitted, paths, client=client, partition_size=args.partition
            ).compute()
        )
        search = np.nan
        if workers > 1:
            search_x, search_y = paths[: args.search_n], labels[: args.search_n]
            grid = a_search(encoder())
            search, _ = timed(lambda: cluster.fit(grid, search_x, search_y, client=client))
        nothing, _ = timed(
            lambda: cluster.encode(
                Nothing().fit(), list(range(args.tasks)), client=client, partition_size=1
            ).compute()
        )
    return {"bulk": bulk, "search": search, "overhead": nothing * workers / args.tasks}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", default="1,2", help="worker counts, comma-separated")
    parser.add_argument("--n", type=int, default=1000, help="images to bulk-encode")
    parser.add_argument("--search-n", type=int, default=300, help="images to search on")
    parser.add_argument("--size", type=int, default=112, help="image_size of the encoder")
    parser.add_argument("--partition", type=int, default=64, help="images per bulk task")
    parser.add_argument("--tasks", type=int, default=400, help="tasks for the overhead")
    parser.add_argument("--device", default="cpu", help="the encoders' device")
    parser.add_argument("--repeat", type=int, default=2, help="rounds over the worker counts")
    args = parser.parse_args()
    counts = [int(w) for w in args.workers.split(",")]

    from sktransfer import ImageEncoder

    with tempfile.TemporaryDirectory() as tmp:
        paths, labels = image_files(args.n, Path(tmp))
        fitted = ImageEncoder(image_size=args.size, device=args.device).fit()
        fitted.transform(paths[:8])  # warm up
        alone, _ = timed(lambda: fitted.transform(paths))
        search_x, search_y = paths[: args.search_n], labels[: args.search_n]
        encoder = ImageEncoder(image_size=args.size, device=args.device)
        search_alone, _ = timed(lambda: a_search(encoder).fit(search_x, search_y))
        results = {}
        for _ in range(args.repeat):
            for workers in counts:
                row = measure(workers, args, paths, labels)
                print(f"  {workers} worker(s): {row}", flush=True)
                best = results.setdefault(workers, row)
                results[workers] = {key: min(best[key], row[key]) for key in row}

    import torch

    print()
    print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"torch {torch.__version__} ({torch.get_num_threads()} threads here), "
        f"device={args.device}, Lite0 at {args.size} px"
    )
    print(
        f"this process alone: encoder.transform of {args.n} images {alone:.1f} s, "
        f"the search {search_alone:.1f} s"
    )
    print(f"best of {args.repeat} rounds over the worker counts")
    print()
    one = results[counts[0]]
    print(
        f"| workers | bulk {args.n} images (s) | speed-up | of ideal | search, 12 fits on "
        f"{args.search_n} (s) | speed-up over this process | overhead per task (ms) |"
    )
    print("|---|---|---|---|---|---|---|")
    for workers, row in results.items():
        bulk_up = one["bulk"] / row["bulk"]
        search = "-" if np.isnan(row["search"]) else f"{row['search']:.1f}"
        search_up = "-" if np.isnan(row["search"]) else f"{search_alone / row['search']:.2f}x"
        print(
            f"| {workers} | {row['bulk']:.1f} | {bulk_up:.2f}x | "
            f"{bulk_up / (workers / counts[0]):.0%} | {search} | {search_up} | "
            f"{1000 * row['overhead']:.1f} |"
        )


if __name__ == "__main__":
    main()
