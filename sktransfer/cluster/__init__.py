"""Running on a Dask cluster: connecting, checking the workers, searches, bulk encoding.

Dask does the distribution (its scheduler, retries and dashboard); this module gives
sktransfer's estimators what they need there, and nothing of its own beyond that:

- :func:`connect`: a client of a running scheduler, or of a new ``LocalCluster``;
- :func:`check_workers`: every worker runs this sktransfer and can load every
  backbone an estimator (or a search's grid) names, checked before any work is sent;
- :func:`fit`: ``estimator.fit`` under joblib's Dask backend, which scikit-learn's
  searches and ``cross_validate`` use to send their fits to the workers;
- :func:`encode`: a fitted encoder over a large collection (a list, a Dask Bag, a
  Dask DataFrame column), sent to each worker once.

Estimators travel unfitted, without weights (``fit`` loads them, never
``__init__``); each worker process keeps the models it loaded for the next fits
(the encoders' process-level model cache), and an embedding cache on a shared
directory is shared by every worker, each sample encoded once across the cluster.
Needs the ``cluster`` extra: ``pip install sktransfer[cluster]``.
"""

from __future__ import annotations

import contextlib
import os
import warnings

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ..exceptions import MissingDependencyError, WorkerError
from ._workers import loads as estimator_loads
from ._workers import worker_problems

DEFAULT_PARTITION_SIZE = 256
NANNY_ENVIRON = "distributed.nanny.pre-spawn-environ"


def _distributed():
    try:
        import distributed
    except ImportError as exc:
        raise MissingDependencyError(
            "running on a Dask cluster needs dask.distributed: pip install 'sktransfer[cluster]'"
        ) from exc
    return distributed


def connect(scheduler="local", *, n_workers=None, dashboard_address=":8787", timeout=10):
    """A Dask client of the scheduler at ``scheduler``, or of a new local cluster.

    Parameters
    ----------
    scheduler : str or distributed.Client, default="local"
        ``"local"`` starts a ``LocalCluster`` of worker processes with one
        thread each (torch and NumPy run one thread per worker there, so a
        process per core is what uses the machine), closed with the client;
        its workers keep glibc's memory trimming default (see the README).
        An address (``"tcp://host:8786"``) connects to a running scheduler.
        A client is returned as it is.
    n_workers : int, default=None
        Worker processes of a local cluster; None is one per core.
    dashboard_address : str or None, default=":8787"
        Where a local cluster serves Dask's dashboard (the tasks, live);
        None serves none.
    timeout : float, default=10
        Seconds to wait for a remote scheduler to answer.

    Returns
    -------
    distributed.Client

    Raises
    ------
    ConnectionError
        The scheduler does not answer.

    Examples
    --------
    >>> from sktransfer.cluster import connect
    >>> with connect("local", n_workers=1, dashboard_address=None) as client:  # doctest: +SKIP
    ...     print(len(client.scheduler_info()["workers"]))
    1
    """
    distributed = _distributed()
    if isinstance(scheduler, distributed.Client):
        return scheduler
    if scheduler == "local":
        import dask

        # Dask's nannies set MALLOC_TRIM_THRESHOLD_=65536 in their workers, to hand
        # memory back to the OS early; with torch's large short-lived tensors that
        # halves a CPU worker's throughput (benchmarks/RESULTS.md). Read when each
        # nanny starts, so it holds for the workers it restarts too.
        untrimmed = {f"{NANNY_ENVIRON}.MALLOC_TRIM_THRESHOLD_": None}
        with dask.config.set(untrimmed):
            return distributed.Client(
                n_workers=n_workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=dashboard_address,
            )
    try:
        return distributed.Client(scheduler, timeout=timeout)
    except OSError as exc:
        raise ConnectionError(
            f"cannot reach the Dask scheduler at {scheduler!r} within {timeout} s ({exc}). "
            "Start one with 'dask scheduler' and workers with 'dask worker ADDRESS', or use "
            "scheduler='local' for a cluster on this machine."
        ) from exc


@contextlib.contextmanager
def connected(scheduler):
    """:func:`connect` as a context: a client made here is closed (with its local cluster)."""
    distributed = _distributed()
    if isinstance(scheduler, distributed.Client):
        yield scheduler
        return
    client = connect(scheduler)
    try:
        yield client
    finally:
        client.close()


def check_workers(client, estimator=None):
    """Check that every worker can run ``estimator``; raise naming what a worker lacks.

    Each worker must import this version of sktransfer and the plugins the
    estimator's classes come from, and load every backbone it names (for a
    search, every backbone in its grid too) with its weights. Loading one
    there also keeps it in that worker's model cache for the fits to come.

    Parameters
    ----------
    client : distributed.Client
    estimator : estimator, default=None
        What will run; None checks the sktransfer version only.

    Raises
    ------
    WorkerError
        One line per worker and backbone that failed, with the worker's
        address, the error it gave and what to install.
    """
    from .. import __version__

    workers = sorted(client.scheduler_info()["workers"])
    if not workers:
        raise WorkerError("the Dask cluster has no workers")
    loads = [] if estimator is None else estimator_loads(estimator)
    futures = {
        address: client.submit(worker_problems, __version__, loads, workers=[address], pure=False)
        for address in workers
    }
    problems = []
    for address, future in futures.items():
        try:
            problems += [f"worker {address}: {problem}" for problem in future.result()]
        except Exception as exc:  # the check itself could not run there
            problems.append(
                f"worker {address}: cannot run sktransfer ({type(exc).__name__}: {exc})"
            )
    if problems:
        raise WorkerError(
            "\n".join(
                [
                    f"{len(problems)} problem(s) on the Dask workers:",
                    *problems,
                    f"Every worker needs what this machine has: sktransfer {__version__} and "
                    "the plugins that provide these backbones (the same 'pip install'), and "
                    "their weights, in $SKTRANSFER_HOME (or the folders that "
                    "'sktransfer backbones' looks in) on a shared disk or on each worker.",
                ]
            )
        )


def fit(estimator, X, y=None, *, client, **fit_params):
    """``estimator.fit(X, y)`` with its parallel work run by the Dask workers.

    The workers are checked first (:func:`check_workers`), then ``fit`` runs
    under joblib's Dask backend: ``X`` and ``y`` are sent to every worker once,
    a search's or ``cross_validate``'s fits go to the workers (``n_jobs=None``
    means all of them), Dask retries those of a worker that dies, and the
    final refit runs here. On a cluster of a single worker thread, joblib
    runs the fits here too (with a warning). The fitted estimator is a plain
    scikit-learn object: it pickles, and predicts without the cluster.

    Parameters
    ----------
    estimator : estimator
        Usually a ``GridSearchCV`` or ``RandomizedSearchCV``.
    X, y : array-like
        As ``estimator.fit`` takes them.
    client : distributed.Client
    **fit_params
        Passed to ``estimator.fit``.

    Returns
    -------
    estimator : the fitted estimator
    """
    import joblib

    check_workers(client, estimator)
    if sum(client.nthreads().values()) == 1:
        warnings.warn(
            "the Dask cluster has one worker thread: joblib runs the fits in this process",
            RuntimeWarning,
            stacklevel=2,
        )
    # On every worker: joblib would send them to one, and a search loses them with it.
    shared = [data for data in (X, y) if data is not None]
    with joblib.parallel_backend("dask", client=client, scatter=shared):
        return estimator.fit(X, y, **fit_params)


def encode(encoder, inputs, *, client, partition_size=DEFAULT_PARTITION_SIZE):
    """Encode a large collection across the cluster with a fitted encoder.

    The encoder, with its model, is sent to each worker once; each task
    encodes one partition with ``encoder.transform``. Nothing runs until the
    result is computed (``.compute()``, ``.persist()``, or written with
    ``dask.array.to_npy_stack`` / ``DataFrame.to_parquet``); the tasks show
    in Dask's dashboard, and ``distributed.progress(result.persist())`` shows
    them here. A worker that dies has its partitions run again elsewhere.

    Parameters
    ----------
    encoder : fitted encoder
        An :class:`~sktransfer.ImageEncoder`, :class:`~sktransfer.SentenceEncoder`
        or :class:`~sktransfer.WordVectorEncoder` (or any fitted transformer).
    inputs : list, ndarray, pandas Series, dask Bag or dask DataFrame column
        The samples: image paths, texts, or anything ``encoder.transform`` reads.
    client : distributed.Client
    partition_size : int, default=256
        Samples per task, for a list, an array or a pandas Series (a Bag or a
        Dask Series keeps its partitions).

    Returns
    -------
    dask.array.Array or dask.dataframe.DataFrame
        ``(n_samples, n_features)`` float32 rows in the order of ``inputs``;
        for a Dask Series, a DataFrame with its index and one column per
        feature (``encoder.get_feature_names_out()``).
    """
    import dask
    import dask.array as da
    import dask.bag as db
    import dask.dataframe as dd

    check_is_fitted(encoder)
    if isinstance(partition_size, bool) or not isinstance(partition_size, int):
        raise TypeError(f"partition_size must be an int, got {partition_size!r}")
    if partition_size < 1:
        raise ValueError(f"partition_size must be a positive int, got {partition_size!r}")
    if isinstance(inputs, dd.DataFrame):
        raise TypeError("encode reads one column: pass inputs[column], not a DataFrame")
    if not isinstance(inputs, (db.Bag, dd.Series)):
        inputs = _in_memory(inputs)
    check_workers(client)
    shared = client.scatter(encoder, broadcast=True, hash=False)
    names = [str(name) for name in encoder.get_feature_names_out()]
    if isinstance(inputs, dd.Series):
        import pandas as pd

        meta = pd.DataFrame({name: np.array([], dtype=np.float32) for name in names})
        return inputs.map_partitions(_encode_series, shared, names, meta=meta)
    if isinstance(inputs, db.Bag):
        parts = inputs.to_delayed()
        sizes = [np.nan] * len(parts)
        starts = [None] * len(parts)
    else:
        starts = range(0, len(inputs), partition_size)
        parts = [inputs[start : start + partition_size] for start in starts]
        sizes = [len(part) for part in parts]
    encode_part = dask.delayed(_encode_partition, pure=True)
    blocks = [
        da.from_delayed(
            encode_part(shared, part, start),
            shape=(size, len(names)),
            dtype=np.float32,
        )
        for part, start, size in zip(parts, starts, sizes)
    ]
    return da.concatenate(blocks, axis=0)


def _in_memory(inputs):
    if isinstance(inputs, (str, bytes, os.PathLike)) or not hasattr(inputs, "__len__"):
        raise TypeError(
            "inputs must be a list, an array, a pandas Series, a Dask Bag or a Dask "
            f"DataFrame column, got {type(inputs).__name__}"
        )
    if hasattr(inputs, "iloc"):  # a pandas Series: its values, in order
        inputs = inputs.to_numpy()
    if hasattr(inputs, "columns"):
        raise TypeError("encode reads one column: pass inputs[column], not a DataFrame")
    return inputs if isinstance(inputs, np.ndarray) else list(inputs)


# -- run on the workers ------------------------------------------------------------------


def _worker_address():
    from distributed import get_worker

    try:
        return get_worker().address
    except ValueError:  # not on a worker: run in this process (a local scheduler)
        return "this process"


def _encode_partition(encoder, samples, start):
    try:
        return encoder.transform(samples)
    except Exception as exc:
        where = "" if start is None else f"positions there start at sample {start}; "
        _add_note(exc, f"({where}on Dask worker {_worker_address()})")
        raise


def _encode_series(samples, encoder, names):
    import pandas as pd

    try:
        features = encoder.transform(samples)
    except Exception as exc:
        _add_note(
            exc,
            f"(the partition with index {samples.index[:1].tolist()}...; "
            f"on Dask worker {_worker_address()})",
        )
        raise
    return pd.DataFrame(features, index=samples.index, columns=names)


def _add_note(exc, note):
    if hasattr(exc, "add_note"):  # Python 3.11+; Dask carries the note back
        exc.add_note(note)
