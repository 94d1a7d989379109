"""The embedding cache: each distinct sample through a frozen backbone once, nothing stale."""

import multiprocessing
import pickle
import time
import warnings

import diskcache
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import RidgeClassifier
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from sktransfer import ImageEncoder, SentenceEncoder, WordVectorEncoder
from sktransfer.cache import EmbeddingCache, default_directory, digest
from sktransfer.cache import fingerprint as fingerprint_of
from sktransfer.datasets import load_fashion_mnist, stratified_sample


@pytest.fixture
def encoded(monkeypatch):
    """Records every sample the encoders really encode (its content key), in order."""
    keys = []
    for cls in (ImageEncoder, SentenceEncoder, WordVectorEncoder):
        original = cls._encode

        def counting(self, samples, positions, original=original):
            keys.extend(self._sample_keys(samples))
            return original(self, samples, positions)

        monkeypatch.setattr(cls, "_encode", counting)
    return keys


@pytest.fixture(scope="module")
def fashion():
    images, labels = load_fashion_mnist("test")
    index = stratified_sample(labels, 5, seed=0)  # 50 real images, 5 per class
    return images[index], labels[index]


@pytest.mark.slow
def test_grid_search_encodes_each_distinct_sample_once(tmp_path, fashion, encoded):
    images, labels = fashion
    # On the CPU: a GPU's features depend on the batches they were computed in
    # (cuDNN picks kernels by batch size; TF32), and the folds batch differently.
    pipe = make_pipeline(ImageEncoder(cache=tmp_path, device="cpu"), RidgeClassifier())
    grid = {"ridgeclassifier__alpha": [0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0]}
    search = GridSearchCV(pipe, grid, cv=5).fit(images, labels)
    assert len(search.cv_results_["params"]) == 8
    assert len(encoded) == len(images)  # 5 folds x 8 candidates + the refit: one pass each
    assert sorted(encoded) == sorted(ImageEncoder()._sample_keys(images))
    # The same features as without a cache.
    plain = ImageEncoder(device="cpu").fit().transform(images[:5])
    np.testing.assert_array_equal(search.best_estimator_[0].transform(images[:5]), plain)


@pytest.mark.slow
def test_folds_and_candidates_share_one_loaded_model(tmp_path, fashion, monkeypatch):
    images, labels = fashion
    loads = []
    original = ImageEncoder._load
    monkeypatch.setattr(ImageEncoder, "_load", lambda self: loads.append(1) or original(self))
    pipe = make_pipeline(ImageEncoder(cache=tmp_path), RidgeClassifier())
    grid = {"ridgeclassifier__alpha": [0.1, 1.0]}
    search = GridSearchCV(pipe, grid, cv=3).fit(images, labels)
    assert len(loads) == 1  # 3 folds x 2 candidates + the refit
    assert search.best_estimator_[0].model_ is clone(pipe)[0].fit().model_
    ImageEncoder(pooling="max").fit()
    ImageEncoder(weights=None).fit()  # a random initialisation is never shared
    ImageEncoder(weights=None).fit()
    assert len(loads) == 4


def test_a_rewritten_weights_file_is_loaded_anew(tmp_path):
    import os

    import torch
    from torchvision.models import resnet18

    path = tmp_path / "w.pt"
    torch.manual_seed(0)
    torch.save(resnet18().state_dict(), path)
    first = ImageEncoder("resnet18", weights=path).fit().model_
    assert ImageEncoder("resnet18", weights=path).fit().model_ is first
    torch.manual_seed(1)
    torch.save(resnet18().state_dict(), path)
    os.utime(path, ns=(1, 1))  # a different time, whatever the clock's resolution
    assert ImageEncoder("resnet18", weights=path).fit().model_ is not first


def test_what_changes_the_output_is_a_miss_and_nothing_else(tmp_path, rgb_images, encoded):
    def run(**params):
        before = len(encoded)
        params = {"weights": None, "cache": tmp_path, **params}
        ImageEncoder("resnet18", **params).fit().transform(rgb_images)
        return len(encoded) - before

    # weights=None is a fresh random draw per fit: its digest differs, never stale.
    assert run() == 6 and run() == 6
    kept = ImageEncoder("resnet18", weights=None, cache=tmp_path, batch_size=2).fit()
    first = kept.transform(rgb_images)
    assert len(encoded) == 6 * 2 + 6
    for params in ({"batch_size": 3}, {"device": "cpu"}, {"verbose": False}, {"num_workers": 0}):
        again = clone(kept).set_params(**params)
        again.model_ = kept.model_  # the same weights: only the parameter differs
        again.preprocessing_, again.n_features_out_ = kept.preprocessing_, kept.n_features_out_
        again.pooling_ = kept.pooling_
        np.testing.assert_array_equal(again.transform(rgb_images), first)
    assert len(encoded) == 18  # all hits
    avg = ImageEncoder("resnet18", weights=None, cache=tmp_path, pooling="max")
    avg.model_ = kept.model_
    avg.preprocessing_, avg.n_features_out_ = kept.preprocessing_, kept.n_features_out_
    avg.transform(rgb_images)
    assert len(encoded) == 24  # another pooling: a miss


def test_changed_weights_are_a_miss(tmp_path, rgb_images, encoded):
    import torch
    from torchvision.models import resnet18

    paths = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        paths.append(tmp_path / f"w{seed}.pt")
        torch.save(resnet18().state_dict(), paths[-1])
    cache = EmbeddingCache(tmp_path / "cache")
    a = ImageEncoder("resnet18", weights=paths[0], cache=cache).fit().transform(rgb_images[:2])
    b = ImageEncoder("resnet18", weights=paths[1], cache=cache).fit().transform(rgb_images[:2])
    assert len(encoded) == 4 and not np.allclose(a, b)
    # The same weights under another file name: the content is what counts.
    paths[1].write_bytes(paths[0].read_bytes())
    c = ImageEncoder("resnet18", weights=paths[1], cache=cache).fit().transform(rgb_images[:2])
    np.testing.assert_array_equal(a, c)
    assert len(encoded) == 6  # the path is part of the fingerprint too: a miss, never stale


def test_duplicates_are_encoded_once_without_a_cache(rgb_images, image_files, encoded):
    enc = ImageEncoder("resnet18", weights=None).fit()
    batch = np.concatenate([rgb_images, rgb_images[::-1]])
    out = enc.transform(batch)
    assert len(encoded) == 6
    np.testing.assert_array_equal(out[:6], out[6:][::-1])
    files = [image_files[0], image_files[1], image_files[0]]
    out = enc.transform(files)
    assert len(encoded) == 8
    np.testing.assert_array_equal(out[0], out[2])
    texts = ["a cat", "a dog", "a cat", "a cat"]
    features = SentenceEncoder().fit().transform(texts)
    assert len(encoded) == 10
    np.testing.assert_array_equal(features[0], features[3])


def test_a_missing_file_is_named_by_its_position_in_x(rgb_images, image_files, tmp_path):
    from sktransfer import ImageLoadError

    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    enc = ImageEncoder("resnet18", weights=None).fit()
    with pytest.raises(ImageLoadError, match=r"image 3 .*broken\.png"):
        enc.transform([image_files[0], image_files[1], image_files[0], str(broken)])


def test_text_encoders_use_the_cache_across_clones(tmp_path, encoded):
    texts = ["the cat sat", "on the mat", "a dog barked", "the cat sat"]
    sentence = SentenceEncoder(cache=tmp_path).fit()
    first = sentence.transform(texts)
    second = clone(sentence).fit().transform(texts[::-1])
    np.testing.assert_array_equal(first, second[::-1])
    words = WordVectorEncoder(cache=tmp_path).fit()
    first = words.transform(texts)
    np.testing.assert_array_equal(clone(words).fit().transform(texts), first)
    assert len(encoded) == 3 + 3  # the distinct texts, once per encoder
    names = sorted(entry["encoder"] for entry in EmbeddingCache(tmp_path).info())
    assert names == ["SentenceEncoder", "WordVectorEncoder"]


def test_learned_word_statistics_are_part_of_the_fingerprint(tmp_path, encoded):
    texts = ["the cat sat", "on the mat", "a dog barked"]
    WordVectorEncoder(pooling="tfidf", cache=tmp_path).fit(texts).transform(texts)
    WordVectorEncoder(pooling="tfidf", cache=tmp_path).fit(texts[:2]).transform(texts)
    assert len(encoded) == 6  # other idf weights: a miss


def test_a_truncated_store_is_a_miss_not_an_error(tmp_path, rgb_images, encoded):
    enc = ImageEncoder("resnet18", weights=None, cache=tmp_path).fit()
    expected = enc.transform(rgb_images)
    database = tmp_path / "cache.db"
    database.write_bytes(database.read_bytes()[:1000])
    restored = pickle.loads(pickle.dumps(enc))  # a fresh connection to the damaged file
    with pytest.warns(RuntimeWarning, match="cannot be used"):
        np.testing.assert_array_equal(restored.transform(rgb_images), expected)
    assert len(encoded) == 12


def test_a_damaged_row_is_a_miss(tmp_path, rgb_images, encoded):
    enc = ImageEncoder("resnet18", weights=None, cache=tmp_path).fit()
    expected = enc.transform(rgb_images[:2])
    fingerprint = fingerprint_of(enc._cache_description())
    key = enc._sample_keys(rgb_images[:1])[0]
    store = diskcache.Cache(str(tmp_path))
    value = store.get(f"{fingerprint}:{key}")
    store.set(f"{fingerprint}:{key}", value[:-4] + b"\0\0\0\0")  # a flipped row
    other = enc._sample_keys(rgb_images[1:2])[0]
    store.set(f"{fingerprint}:{other}", value[:100])  # a short row
    np.testing.assert_array_equal(enc.transform(rgb_images[:2]), expected)
    assert len(encoded) == 4


class _Payload:
    def __reduce__(self):
        return (exec, ("import builtins; builtins.SKTRANSFER_PWNED = True",))


def test_pickled_entries_are_never_unpickled(tmp_path, rgb_images):
    import builtins

    enc = ImageEncoder("resnet18", weights=None, cache=tmp_path).fit()
    enc.transform(rgb_images[:1])
    fingerprint = fingerprint_of(enc._cache_description())
    key = enc._sample_keys(rgb_images[:1])[0]
    diskcache.Cache(str(tmp_path)).set(f"{fingerprint}:{key}", _Payload())  # mode pickle
    enc.transform(rgb_images[:1])
    EmbeddingCache(tmp_path).info()
    assert not hasattr(builtins, "SKTRANSFER_PWNED")


def _write_rows(directory, start, n, rounds):
    cache = EmbeddingCache(directory)
    for _ in range(rounds):
        keys = [digest(str(i).encode()) for i in range(start, start + n)]
        rows = np.arange(start, start + n, dtype=np.float32)[:, None].repeat(8, axis=1)
        cache.store("f" * 32, keys, rows, {"encoder": "test", "n_features": 8})


def _crash_mid_write(directory):
    import os

    cache = EmbeddingCache(directory)
    store = cache._store()
    with store.transact():
        store.set("f" * 32 + ":" + "a" * 32, b"\0" * 48, tag="f" * 32)
        os._exit(1)  # the process dies inside the transaction


def test_two_processes_writing_one_cache_lose_and_corrupt_nothing(tmp_path):
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_write_rows, args=(tmp_path, s, 300, 5)) for s in (0, 150)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
        assert worker.exitcode == 0
    keys = [digest(str(i).encode()) for i in range(450)]
    found = EmbeddingCache(tmp_path).lookup("f" * 32, keys, n_features=8)
    assert sorted(found) == list(range(450))
    assert all(np.all(row == i) for i, row in found.items())
    # A writer killed half-way through its transaction leaves nothing behind.
    crash = context.Process(target=_crash_mid_write, args=(tmp_path,))
    crash.start()
    crash.join(timeout=120)
    assert crash.exitcode == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert EmbeddingCache(tmp_path).lookup("f" * 32, ["a" * 32], n_features=8) == {}
        assert len(EmbeddingCache(tmp_path).lookup("f" * 32, keys, n_features=8)) == 450


def _encode_overlapping(directory, start, stop, log):
    """Rows start..stop through ``EmbeddingCache.rows``, logging what this process did.

    Lines of ``log``, each tagged "start-stop": "claim TAG WANTED GOT" for each claim,
    "computed TAG ROW" for each row computed here and "found TAG ROW" for each row read
    from the store. Rows are computed only once some claim has come up short (another
    process held rows it needed), so the processes overlap whatever their start-up times.
    """
    tag = f"{start}-{stop}"
    keys = [digest(str(i).encode()) for i in range(start, stop)]
    row_of = {key: start + i for i, key in enumerate(keys)}

    def write(lines):
        with open(log, "a") as out:  # one short append each: lines do not interleave
            out.write("".join(lines))

    claim, lookup = EmbeddingCache._claim, EmbeddingCache.lookup

    def logged_claim(self, fingerprint, wanted):
        got = claim(self, fingerprint, wanted)
        write([f"claim {tag} {len(wanted)} {len(got)}\n"])
        return got

    def logged_lookup(self, fingerprint, wanted, n_features):
        found = lookup(self, fingerprint, wanted, n_features)
        write([f"found {tag} {row_of[wanted[i]]}\n" for i in found])
        return found

    EmbeddingCache._claim, EmbeddingCache.lookup = logged_claim, logged_lookup  # in this process

    def compute(indices):
        write([f"computed {tag} {start + i}\n" for i in indices])
        for _ in range(1200):  # a minute at most: the test fails rather than hangs
            with open(log) as lines:
                claims = [line.split() for line in lines if line.startswith("claim ")]
            if any(len(c) == 4 and int(c[3]) < int(c[2]) for c in claims):
                break
            time.sleep(0.05)
        return np.asarray([[start + i] * 8 for i in indices], dtype=np.float32)

    rows = EmbeddingCache(directory).rows({"n_features": 8}, keys, compute)
    assert np.array_equal(rows, np.repeat(np.arange(start, stop, dtype=np.float32)[:, None], 8, 1))


def test_processes_needing_the_same_rows_compute_each_once(tmp_path):
    context = multiprocessing.get_context("spawn")
    log = tmp_path / "rows.log"
    ranges = [(0, 60), (30, 90), (0, 90)]  # overlapping, as the folds of a search
    workers = [
        context.Process(target=_encode_overlapping, args=(tmp_path / "cache", a, b, log))
        for a, b in ranges
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
        assert worker.exitcode == 0  # and so each got its rows, right (asserted there)
    lines = [line.split() for line in log.read_text().splitlines()]
    claims = [line for line in lines if line[0] == "claim"]
    assert any(int(got) < int(wanted) for _, _, wanted, got in claims)  # they did overlap

    def rows(kind, tag=None):
        return sorted(int(line[2]) for line in lines if line[0] == kind and tag in (None, line[1]))

    # Each row computed once, by whichever process claimed it, and read by the others.
    assert rows("computed") == list(range(90))
    assert len(rows("found")) == sum(b - a for a, b in ranges) - 90
    for a, b in ranges:
        tag = f"{a}-{b}"
        assert sorted(rows("computed", tag) + rows("found", tag)) == list(range(a, b)), tag


def test_a_claim_whose_holder_died_is_taken_over(tmp_path, monkeypatch):
    import types

    import sktransfer.cache

    # The store's clock (claims expire by it) only moves when the cache pauses between
    # looks: the pauses are counted, and the test never waits for real.
    now, pauses = [1e9], []

    def pause(seconds):
        pauses.append(seconds)
        assert len(pauses) < 50, "still waiting for expired claims"
        now[0] += seconds

    clock = types.SimpleNamespace(time=lambda: now[0], sleep=time.sleep)  # sqlite retries: real
    monkeypatch.setattr(diskcache.core, "time", clock)
    monkeypatch.setattr(sktransfer.cache, "time", types.SimpleNamespace(sleep=pause))
    monkeypatch.setattr(sktransfer.cache, "CLAIM_SECONDS", 0.5)
    cache = EmbeddingCache(tmp_path)
    keys = [digest(str(i).encode()) for i in range(4)]
    key = fingerprint_of({"n_features": 2})
    assert cache._claim(key, keys[:2]) == [0, 1]  # then "dies": never renewed, never released
    assert cache._claim(key, keys) == [2, 3]  # held: another process waits for them
    computed = []

    def compute(indices):
        computed.append(list(indices))
        return np.full((len(indices), 2), 7, dtype=np.float32)

    rows = EmbeddingCache(tmp_path).rows({"n_features": 2}, keys, compute)
    # Nothing computed while the claims held; all four at once when they expired, after
    # pauses that double: 0.05 + 0.1 + 0.2 < 0.5 <= 0.05 + 0.1 + 0.2 + 0.4 seconds.
    assert pauses == [0.05, 0.1, 0.2, 0.4]
    assert computed == [[0, 1, 2, 3]]
    np.testing.assert_array_equal(rows, np.full((4, 2), 7))
    assert [e["entries"] for e in cache.info()] == [4]  # claims are not rows


def test_size_limit_evicts_the_least_recently_used(tmp_path):
    cache = EmbeddingCache(tmp_path, size_limit=400_000)
    keys = [digest(str(i).encode()) for i in range(2000)]
    for start in range(0, 2000, 100):  # 2,000 rows of 2 KB
        rows = np.full((100, 512), start, dtype=np.float32)
        cache.store("f" * 32, keys[start : start + 100], rows, {"n_features": 512})
    assert cache.volume() <= 400_000 * 1.5
    found = cache.lookup("f" * 32, keys, n_features=512)
    assert 0 < len(found) < 2000
    assert max(found) == 1999  # the newest rows stay
    assert cache.info()[0]["entries"] == len(found)


def test_clear_and_info(tmp_path):
    cache = EmbeddingCache(tmp_path)
    cache.store("a" * 32, ["1" * 32, "2" * 32], np.zeros((2, 4)), {"encoder": "A", "n_features": 4})
    cache.store("b" * 32, ["1" * 32], np.zeros((1, 4)), {"encoder": "B", "n_features": 4})
    info = {entry["encoder"]: entry for entry in cache.info()}
    assert info["A"]["entries"] == 2 and info["B"]["entries"] == 1
    assert info["A"]["bytes"] == 2 * (16 + 16)
    assert cache.clear("a" * 32) == 2
    assert [entry["encoder"] for entry in cache.info()] == ["B"]
    cache.clear()
    assert cache.info() == []


def test_the_cache_parameter(tmp_path, rgb_images):
    enc = ImageEncoder("resnet18", weights=None, cache=True)
    assert clone(enc).cache is True
    enc.fit().transform(rgb_images[:1])
    assert default_directory().is_dir()  # under $SKTRANSFER_HOME (a test folder)
    assert len(EmbeddingCache().info()) == 1
    cache = EmbeddingCache(tmp_path)
    cache.lookup("f" * 32, ["a" * 32], n_features=1)  # opens a connection
    copied = pickle.loads(pickle.dumps(cache))
    assert copied.path == cache.path and "_open" not in vars(copied)
    assert clone(ImageEncoder(cache=cache)).cache.path == cache.path
    with pytest.raises(TypeError, match="cache"):
        ImageEncoder("resnet18", weights=None, cache=3.5).fit()
