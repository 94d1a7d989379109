"""The embedding cache: one feature row per sample, keyed by its content and the encoder.

A key joins two digests: the encoder's *fingerprint* (everything that changes its
output: the class, its output-changing parameters, the model's weights, the library
version) and the sample's *content* (an image file's bytes, an array's bytes, a
text). A clone, another fold, another search candidate or another process that asks
for the same sample through the same encoder finds the row; a changed pooling or
weights is another fingerprint, so it never finds a stale row.

The store is :mod:`diskcache` (SQLite): writes are transactions, so a writer that
dies half-way leaves nothing behind, and processes share one directory safely. It
holds raw bytes only, never pickles, and each row carries its own checksum: a row
that fails it, or a store that cannot be read, is a miss.

Processes that need the same missing rows at once (the folds of a search run in
parallel, on one machine or on a Dask cluster) encode each sample once: a process
*claims* the rows it is about to encode, with an expiring entry that it renews
while it works, and the others wait for those rows instead of encoding them too.
A claim whose holder died expires within ``CLAIM_SECONDS`` and is taken over.
Claims only save work: a row is always what its encoder computes, whoever does.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import sqlite3
import threading
import time
import warnings
import weakref
from pathlib import Path

import diskcache
import numpy as np

from ._utils import is_torch_module
from .weights import home

DEFAULT_SIZE_LIMIT = 4 * 2**30
CLAIM_SECONDS = 30  # a claim not renewed for this long belongs to a dead process
_CHECKSUM = 16  # bytes of blake2b in front of each row
_WAIT_SECONDS = (0.05, 1.0)  # first and longest pause between looks at rows others encode


def digest(*parts):
    """A hex digest of byte strings (blake2b, 128 bits)."""
    hasher = hashlib.blake2b(digest_size=16)
    for part in parts:
        hasher.update(part)
    return hasher.hexdigest()


def fingerprint(description):
    """The digest of what a fingerprint stands for (a JSON-able dict)."""
    return digest(json.dumps(description, sort_keys=True, default=str).encode())


def default_directory():
    """Where ``cache=True`` keeps embeddings: ``embeddings`` under ``$SKTRANSFER_HOME``."""
    return home() / "embeddings"


_MODEL_DIGESTS = weakref.WeakKeyDictionary()


def model_digest(model):
    """A digest of a loaded model's weights, computed once per model object.

    A torch module is digested through its state dict; word vectors (gensim's
    ``KeyedVectors``) through their vectors and words. Fitted encoders never
    change their models, so the digest stays valid for the object's lifetime.
    """
    try:
        return _MODEL_DIGESTS[model]
    except (KeyError, TypeError):
        pass
    value = weights_digest(model)
    try:
        _MODEL_DIGESTS[model] = value
    except TypeError:  # an object that takes no weak reference is digested each time
        pass
    return value


def weights_digest(model):
    """A digest of a model's weights as they are now (see :func:`model_digest`)."""
    parts = []
    if is_torch_module(model):
        import torch

        for name, tensor in model.state_dict().items():
            tensor = tensor.detach().to("cpu").contiguous()
            parts += [name.encode(), str(tensor.dtype).encode(), str(tuple(tensor.shape)).encode()]
            parts.append(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    elif hasattr(model, "vectors") and hasattr(model, "index_to_key"):
        parts.append(np.ascontiguousarray(model.vectors).tobytes())
        parts.append("\n".join(map(str, model.index_to_key)).encode("utf-8", "surrogatepass"))
    else:
        raise TypeError(f"cannot digest a {type(model).__name__} model for the cache")
    return digest(*parts)


def source_name(value):
    """A model named by a name or a path, as str; a loaded object by its type.

    Loaded objects are told apart in a fingerprint by their weights' digest.
    """
    if isinstance(value, (str, os.PathLike)):
        return os.fspath(value)
    return type(value).__name__


class EmbeddingCache:
    """Feature rows on disk, one per sample and encoder, shared by processes.

    Give one to an encoder's ``cache`` parameter (or a directory, or ``True``
    for :func:`default_directory`). Only the samples it does not hold are
    encoded; the rows encoded are added.

    Parameters
    ----------
    directory : path-like, default=None
        Where the store lives; ``None`` is :func:`default_directory`. Several
        processes may share it.
    size_limit : int, default=4 GiB
        Bytes on disk past which the least recently used rows are evicted.

    Examples
    --------
    >>> import tempfile
    >>> from sktransfer.cache import EmbeddingCache
    >>> cache = EmbeddingCache(tempfile.mkdtemp())
    >>> cache.store("f" * 32, ["a" * 32], np.ones((1, 3), dtype=np.float32), {"encoder": "demo"})
    >>> cache.lookup("f" * 32, ["a" * 32, "b" * 32], n_features=3)
    {0: array([1., 1., 1.], dtype=float32)}
    >>> [(entry["encoder"], entry["entries"]) for entry in cache.info()]
    [('demo', 1)]
    """

    def __init__(self, directory=None, *, size_limit=DEFAULT_SIZE_LIMIT):
        self.directory = directory
        self.size_limit = size_limit

    @property
    def path(self):
        """The directory, resolved."""
        if self.directory is None:
            return default_directory()
        return Path(self.directory).expanduser()

    def __repr__(self):
        return f"EmbeddingCache({os.fspath(self.path)!r}, size_limit={self.size_limit})"

    # The open store is a connection: it is neither copied nor pickled (clone and
    # joblib's workers reopen it).
    def __getstate__(self):
        return {"directory": self.directory, "size_limit": self.size_limit}

    def __setstate__(self, state):
        self.__dict__.update(state)

    def _store(self):
        store = self.__dict__.get("_open")
        if store is None:  # diskcache reconnects by itself after a fork
            store = self.__dict__["_open"] = diskcache.Cache(
                os.fspath(self.path),
                disk=_RawBytesDisk,
                size_limit=int(self.size_limit),
                eviction_policy="least-recently-used",
                tag_index=True,
                # Culling inside a write transaction would see the file's size before
                # the deletions commit and empty the store: culled after each write.
                cull_limit=0,
            )
        return store

    # -- rows ----------------------------------------------------------------------------

    def lookup(self, fingerprint, keys, n_features):
        """The rows held for ``keys``: ``{position in keys: float32 row}``.

        A row of the wrong length, one that fails its checksum, or a store that
        cannot be read counts as missing (a warning says so for the store).
        """
        size = _CHECKSUM + 4 * int(n_features)
        found = {}
        try:
            store = self._store()
            for position, key in enumerate(keys):
                value = store.get(f"{fingerprint}:{key}")
                if not isinstance(value, bytes) or len(value) != size:
                    continue
                body = value[_CHECKSUM:]
                if hashlib.blake2b(body, digest_size=_CHECKSUM).digest() == value[:_CHECKSUM]:
                    found[position] = np.frombuffer(body, dtype=np.float32)
        except (sqlite3.Error, OSError) as exc:
            self._unreadable(exc)
        return found

    def rows(self, description, keys, compute):
        """Rows for ``keys``: those held read, the others computed and added.

        ``description`` says what computes them (with its ``n_features``, the
        row length); ``compute(indices)`` gives the float32 rows of the keys at
        ``indices`` that the store lacks. Rows that another process has claimed
        are waited for rather than computed (see the module's notes).
        """
        key = fingerprint(description)
        rows = np.empty((len(keys), int(description["n_features"])), dtype=np.float32)
        todo = self._fill(rows, key, keys, np.arange(len(keys)))
        pause = _WAIT_SECONDS[0]
        while len(todo):
            mine = todo[self._claim(key, [keys[i] for i in todo])]
            with self._claim_renewed(key, [keys[i] for i in mine]):
                # Claimed after the look-up: a holder stores its rows before it lets go.
                todo = self._fill(rows, key, keys, todo)
                mine = np.intersect1d(mine, todo)
                if len(mine):
                    rows[mine] = compute(mine)
                    self.store(key, [keys[i] for i in mine], rows[mine], description)
                    todo = np.setdiff1d(todo, mine)
            if len(todo) and not len(mine):  # the rest is being encoded elsewhere
                time.sleep(pause)
                pause = min(2 * pause, _WAIT_SECONDS[1])
        return rows

    def _fill(self, rows, fingerprint, keys, todo):
        """Fill in the rows of ``todo`` (positions in ``keys``) held; returns the rest."""
        found = self.lookup(fingerprint, [keys[i] for i in todo], rows.shape[1])
        if not found:
            return todo
        rows[todo[list(found)]] = np.stack(list(found.values()))
        return np.delete(todo, list(found))

    def _claim(self, fingerprint, keys):
        """Positions of the ``keys`` this process now holds claims on (nobody else did)."""
        owner = f"{socket.gethostname()}:{os.getpid()}".encode()
        try:
            store = self._store()
            with store.transact(retry=True):
                return [
                    position
                    for position, key in enumerate(keys)
                    # add() is atomic, and ignores an expired claim: a dead holder's
                    if store.add(_claim_key(fingerprint, key), owner, expire=CLAIM_SECONDS)
                ]
        except (sqlite3.Error, OSError):  # no store: _unreadable warns when rows are stored
            return list(range(len(keys)))

    @contextlib.contextmanager
    def _claim_renewed(self, fingerprint, keys):
        """Keep the claims on ``keys`` alive while the block runs, and drop them after."""
        if not keys:
            yield
            return
        done = threading.Event()

        def renew():
            while not done.wait(CLAIM_SECONDS / 3):
                try:
                    store = self._store()
                    with store.transact(retry=True):
                        for key in keys:
                            store.touch(_claim_key(fingerprint, key), CLAIM_SECONDS)
                except (sqlite3.Error, OSError):
                    return

        renewer = threading.Thread(target=renew, daemon=True, name="sktransfer-claims")
        renewer.start()
        try:
            yield
        finally:
            done.set()
            renewer.join()
            try:
                store = self._store()
                with store.transact(retry=True):
                    for key in keys:
                        store.delete(_claim_key(fingerprint, key), retry=True)
            except (sqlite3.Error, OSError):
                pass  # they expire

    def store(self, fingerprint, keys, rows, description):
        """Add ``rows`` (float32, one per key) under ``fingerprint``.

        ``description`` (a JSON-able dict) says what the fingerprint stands for,
        for :meth:`info`. One transaction: all rows land, or none.
        """
        rows = np.ascontiguousarray(rows, dtype=np.float32)
        meta = json.dumps(description, sort_keys=True, default=str).encode()
        try:
            store = self._store()
            with store.transact(retry=True):
                store.set(f"meta:{fingerprint}", meta, tag="meta")
                for key, row in zip(keys, rows):
                    body = row.tobytes()
                    check = hashlib.blake2b(body, digest_size=_CHECKSUM).digest()
                    store.set(f"{fingerprint}:{key}", check + body, tag=fingerprint)
            store.cull(retry=True)
        except (sqlite3.Error, OSError) as exc:
            self._unreadable(exc)

    def _unreadable(self, exc):
        warnings.warn(
            f"the embedding cache at {os.fspath(self.path)!r} cannot be used ({exc}); "
            "encoding without it (clear it with `sktransfer cache clear`)",
            RuntimeWarning,
            stacklevel=4,
        )

    # -- housekeeping --------------------------------------------------------------------

    def info(self):
        """One dict per fingerprint: what it stands for, ``entries`` and ``bytes``."""
        store = self._store()
        counts = {}
        for key in store.iterkeys():
            if isinstance(key, str) and not key.startswith(("meta:", "claim:")):
                fingerprint = key.partition(":")[0]
                counts[fingerprint] = counts.get(fingerprint, 0) + 1
        entries = []
        for fingerprint, count in sorted(counts.items()):
            meta = store.get(f"meta:{fingerprint}")
            described = json.loads(meta) if isinstance(meta, bytes) else {}
            row = _CHECKSUM + 4 * int(described.get("n_features", 0))
            entries.append(
                {**described, "fingerprint": fingerprint, "entries": count, "bytes": count * row}
            )
        return entries

    def volume(self):
        """Bytes the store takes on disk."""
        return int(self._store().volume())

    def clear(self, fingerprint=None):
        """Remove every row (or those of one fingerprint); returns how many."""
        store = self._store()
        if fingerprint is None:
            return int(store.clear(retry=True))
        removed = store.evict(fingerprint, retry=True)
        store.delete(f"meta:{fingerprint}", retry=True)
        return int(removed)


def _claim_key(fingerprint, key):
    return f"claim:{fingerprint}:{key}"


def resolve_cache(cache):
    """An encoder's ``cache`` parameter as an :class:`EmbeddingCache`, or None (off)."""
    if cache is None or cache is False:
        return None
    if cache is True:
        return EmbeddingCache()
    if isinstance(cache, EmbeddingCache):
        return cache
    return EmbeddingCache(cache)


class _RawBytesDisk(diskcache.Disk):
    """diskcache's storage with pickling refused: keys are str, values bytes.

    A store written by something else (or tampered with) may hold pickled keys
    or values; unpickling them could run code, so they read as missing.
    """

    def put(self, key):
        if not isinstance(key, str):
            raise TypeError("embedding cache keys are str")
        return super().put(key)

    def get(self, key, raw):
        return key if raw else None

    def store(self, value, read, key=diskcache.core.UNKNOWN):
        if not isinstance(value, bytes):
            raise TypeError("embedding cache values are bytes")
        return super().store(value, read, key=key)

    def fetch(self, mode, filename, value, read):
        if read or mode not in (diskcache.core.MODE_RAW, diskcache.core.MODE_BINARY):
            return None
        return super().fetch(mode, filename, value, read)
