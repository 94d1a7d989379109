"""sktransfer on a Dask LocalCluster: how bulk encoding and a search scale with workers.

For each worker count in ``--workers`` (a fresh ``LocalCluster`` of that many
single-threaded worker processes, started and warmed up before timing: each
worker has imported torch and loaded the model), three measurements:

``bulk``
    ``sktransfer.cluster.encode`` of ``--n`` Fashion-MNIST images, written as PNG
    files once, with a fitted ``ImageEncoder(image_size=--size, device=--device)``,
    in partitions of ``--partition`` images.
``search``
    ``sktransfer.cluster.fit`` of ``GridSearchCV(make_pipeline(ImageEncoder(...),
    RidgeClassifier()), 4 alphas, cv=3)`` on ``--search-n`` of those images,
    without an embedding cache (each of the 12 fits encodes its fold again:
    the work that spreads over the workers).
``overhead``
    ``cluster.encode`` of a transformer that does nothing, one sample per task,
    ``--tasks`` tasks: the scheduling cost of one task, as wall time x workers /
    tasks.

Reported per worker count: wall time, the speed-up over one worker and its ratio
to the ideal (the worker count), and the overhead per task. For reference, the
same encoding in this process alone (``encoder.transform``, torch using every
core) is timed too: on one machine, more single-threaded workers compete with
torch's own threads, so it is the figure to beat.

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
        import numpy as np

        return np.zeros((len(samples), 1), dtype=np.float32)

    def get_feature_names_out(self):
        return ["nothing"]


def timed(function):
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def measure(workers, args, paths, labels):
    import distributed
    from sklearn.linear_model import RidgeClassifier
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline

    from sktransfer import ImageEncoder, cluster

    def encoder():
        return ImageEncoder(image_size=args.size, device=args.device)

    fitted = encoder().fit()
    with distributed.Client(
        n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
    ) as client:
        # Warm up: every worker imports torch and loads the model before timing.
        cluster.check_workers(client, encoder())
        cluster.encode(fitted, paths[: 2 * workers], client=client, partition_size=1).compute()
        bulk, _ = timed(
            lambda: cluster.encode(
                fitted, paths, client=client, partition_size=args.partition
            ).compute()
        )
        search_x, search_y = paths[: args.search_n], labels[: args.search_n]
        grid = GridSearchCV(
            make_pipeline(encoder(), RidgeClassifier()), {"ridgeclassifier__alpha": ALPHAS}, cv=3
        )
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
    args = parser.parse_args()
    counts = [int(w) for w in args.workers.split(",")]

    from sktransfer import ImageEncoder

    with tempfile.TemporaryDirectory() as tmp:
        paths, labels = image_files(args.n, Path(tmp))
        fitted = ImageEncoder(image_size=args.size, device=args.device).fit()
        fitted.transform(paths[:8])  # warm up
        alone, _ = timed(lambda: fitted.transform(paths))
        results = {}
        for workers in counts:
            results[workers] = measure(workers, args, paths, labels)
            print(f"  {workers} worker(s): {results[workers]}", flush=True)

    import torch

    print()
    print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"torch {torch.__version__} ({torch.get_num_threads()} threads here), "
        f"device={args.device}, Lite0 at {args.size} px"
    )
    print(f"this process alone, encoder.transform of {args.n} images: {alone:.1f} s")
    print()
    one = results[counts[0]]
    print(
        f"| workers | bulk {args.n} images (s) | speed-up | of ideal | search 12 fits "
        f"on {args.search_n} (s) | speed-up | of ideal | overhead per task (ms) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for workers, row in results.items():
        ideal = workers / counts[0]
        bulk_up, search_up = one["bulk"] / row["bulk"], one["search"] / row["search"]
        print(
            f"| {workers} | {row['bulk']:.1f} | {bulk_up:.2f}x | {bulk_up / ideal:.0%} | "
            f"{row['search']:.1f} | {search_up:.2f}x | {search_up / ideal:.0%} | "
            f"{1000 * row['overhead']:.1f} |"
        )


if __name__ == "__main__":
    main()
