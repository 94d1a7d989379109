"""sktransfer on a Dask cluster: searches, bulk encoding, the shared cache and faults.

One ``LocalCluster`` of 2 worker processes serves the module. The encoders that
count or die are defined here and travel to the workers by value (cloudpickle),
so the workers need nothing of the tests installed.
"""

import collections
import json
import os
import pickle
import signal
import sys

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image
from sklearn.linear_model import RidgeClassifier
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from sktransfer import ImageEncoder, PixelEncoder, WorkerError, backbones
from sktransfer.cli import main
from sktransfer.spec import SpecError, load_rank_spec, load_spec, rank, run

distributed = pytest.importorskip("distributed")
cloudpickle = pytest.importorskip("cloudpickle")
dask_bag = pytest.importorskip("dask.bag")
dask_dataframe = pytest.importorskip("dask.dataframe")

from sktransfer import cluster  # noqa: E402 (after the skips)

cloudpickle.register_pickle_by_value(sys.modules[__name__])
pytestmark = pytest.mark.slow
SIZE = 64  # Lite0 at 64 px: real pre-trained features, fast on 2 cores
# Workers run torch on one thread, this process on several: sums in another order.
TOLERANCE = {"rtol": 1e-4, "atol": 1e-4}
# With a GPU the workers encode on it too (device="auto"), in other batches than this
# process: cuDNN's kernels (TF32 by default) differ by batch size, up to ~2e-2.
AUTO_TOLERANCE = {"rtol": 2e-2, "atol": 2e-2} if torch.cuda.is_available() else TOLERANCE


class CountingEncoder(ImageEncoder):
    """An ImageEncoder that appends the key of every sample it encodes to ``log``."""

    log = None

    def _encode(self, samples, positions):
        with open(self.log, "a") as log:
            log.writelines(f"{key}\n" for key in self._sample_keys(samples))
        return super()._encode(samples, positions)


class DyingEncoder(ImageEncoder):
    """An ImageEncoder whose worker process is killed once, in its first partition."""

    marker = None

    def _encode(self, samples, positions):
        try:
            distributed.get_worker()
        except ValueError:  # here, not on a worker
            return super()._encode(samples, positions)
        try:  # created atomically: of two workers racing here, only one dies
            os.close(os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return super()._encode(samples, positions)
        os.kill(os.getpid(), signal.SIGKILL)


@pytest.fixture(scope="module")
def client():
    with cluster.connect("local", n_workers=2, dashboard_address=None) as client:
        yield client


@pytest.fixture(scope="module")
def images(fashion_split):
    X, y, X_test, y_test = fashion_split(20, 2)
    return X, y  # 200 real images, 20 per class


@pytest.fixture(scope="module")
def image_paths(images, tmp_path_factory):
    folder = tmp_path_factory.mktemp("images")
    paths = []
    for i, image in enumerate(images[0]):
        paths.append(str(folder / f"{i:03d}.png"))
        Image.fromarray(image).save(paths[-1])
    return paths


def class_folders(paths, folder, n_classes=3):
    """``paths`` linked into ``n_classes`` class folders under ``folder``, in turn."""
    for i, path in enumerate(paths):
        (folder / f"class{i % n_classes}").mkdir(parents=True, exist_ok=True)
        os.link(path, folder / f"class{i % n_classes}" / f"{i}.png")


def a_search(encoder):
    pipe = make_pipeline(encoder, RidgeClassifier())
    return GridSearchCV(pipe, {"ridgeclassifier__alpha": [0.1, 10.0, 1000.0]}, cv=3)


def test_a_search_on_the_cluster_matches_the_local_one(client, images):
    X, y = images[0][::2], images[1][::2]  # 100 images
    here = a_search(ImageEncoder(image_size=SIZE)).fit(X, y)
    there = cluster.fit(a_search(ImageEncoder(image_size=SIZE)), X, y, client=client)
    assert there.best_params_ == here.best_params_
    for key in ("mean_test_score", "split0_test_score", "split2_test_score"):
        np.testing.assert_allclose(there.cv_results_[key], here.cv_results_[key], atol=1e-6)
    # The fitted search is a plain object: it pickles and predicts without the cluster.
    restored = pickle.loads(pickle.dumps(there))
    np.testing.assert_array_equal(restored.predict(X[:20]), here.predict(X[:20]))


def test_each_sample_is_encoded_once_across_the_cluster(client, images, tmp_path):
    X, y = images[0][1::2], images[1][1::2]
    CountingEncoder.log = str(tmp_path / "encoded.log")
    encoder = CountingEncoder(image_size=SIZE, cache=tmp_path / "cache")
    search = cluster.fit(a_search(encoder), X, y, client=client)  # 3 folds x 3 candidates
    assert len(search.cv_results_["params"]) == 3
    with open(CountingEncoder.log) as log:
        counts = collections.Counter(log.read().split())
    assert set(counts) == set(ImageEncoder()._sample_keys(X))  # the refit found every row
    assert max(counts.values()) == 1, counts.most_common(3)


def test_the_workers_keep_the_model_they_loaded(client, images):
    X, y = images[0][:60], images[1][:60]
    cluster.fit(a_search(ImageEncoder(image_size=SIZE)), X, y, client=client)

    def models_loaded():
        from sktransfer.encoders._base import _load_shared

        return _load_shared.cache_info().misses

    before = client.run(models_loaded)
    cluster.fit(a_search(ImageEncoder(image_size=SIZE)), X, y, client=client)
    assert client.run(models_loaded) == before  # nine fits, no load


def test_bulk_encoding_gives_the_local_transform(client, image_paths):
    encoder = ImageEncoder(image_size=SIZE, device="cpu").fit()  # the CPU's exact sums
    features = cluster.encode(encoder, image_paths, client=client, partition_size=25)
    assert features.shape == (200, encoder.n_features_out_) and features.numblocks[0] == 8
    np.testing.assert_allclose(features.compute(), encoder.transform(image_paths), **TOLERANCE)


def test_bulk_encoding_reads_bags_and_dataframe_columns(client, image_paths):
    encoder = ImageEncoder(image_size=SIZE, device="cpu").fit()
    paths = image_paths[:30]
    expected = encoder.transform(paths)
    bag = dask_bag.from_sequence(paths, npartitions=3)
    np.testing.assert_allclose(
        cluster.encode(encoder, bag, client=client).compute(), expected, **TOLERANCE
    )
    table = pd.DataFrame({"path": paths}, index=pd.RangeIndex(100, 130))
    column = dask_dataframe.from_pandas(table, npartitions=2)["path"]
    frame = cluster.encode(encoder, column, client=client).compute()
    assert list(frame.index) == list(range(100, 130))
    assert list(frame.columns) == list(encoder.get_feature_names_out())
    np.testing.assert_allclose(frame.to_numpy(), expected, **TOLERANCE)
    with pytest.raises(TypeError, match=r"inputs\[column\]"):
        cluster.encode(encoder, dask_dataframe.from_pandas(table, npartitions=1), client=client)


def test_a_worker_killed_during_bulk_encoding_loses_nothing(client, image_paths, tmp_path):
    client.wait_for_workers(2, timeout=60)
    DyingEncoder.marker = str(tmp_path / "killed")
    encoder = DyingEncoder(image_size=SIZE, device="cpu").fit()
    features = cluster.encode(encoder, image_paths, client=client, partition_size=20)
    result = features.compute()
    assert os.path.exists(DyingEncoder.marker)  # a worker did die
    np.testing.assert_allclose(result, encoder.transform(image_paths), **TOLERANCE)
    client.wait_for_workers(2, timeout=60)  # its nanny restarted it, for the next tests


def test_a_worker_killed_mid_search_the_search_completes(client, images, tmp_path):
    client.wait_for_workers(2, timeout=60)  # a worker killed by an earlier test is back
    X, y = images[0][:60], images[1][:60]
    DyingEncoder.marker = str(tmp_path / "killed")
    there = cluster.fit(a_search(DyingEncoder(image_size=SIZE)), X, y, client=client)
    assert os.path.exists(DyingEncoder.marker)  # a worker died in its first fit
    here = a_search(ImageEncoder(image_size=SIZE)).fit(X, y)
    assert there.best_params_ == here.best_params_
    np.testing.assert_allclose(
        there.cv_results_["mean_test_score"], here.cv_results_["mean_test_score"], atol=1e-6
    )
    client.wait_for_workers(2, timeout=60)


def test_an_error_on_a_worker_names_the_file_and_the_worker(client, image_paths, tmp_path):
    encoder = ImageEncoder(image_size=SIZE).fit()
    paths = [*image_paths[:5], str(tmp_path / "missing.png")]
    with pytest.raises(Exception, match="missing.png") as caught:
        cluster.encode(encoder, paths, client=client, partition_size=3).compute()
    notes = "\n".join(getattr(caught.value, "__notes__", []))
    if sys.version_info >= (3, 11):
        assert "start at sample 3" in notes and "on Dask worker tcp://" in notes


def test_a_backbone_a_worker_lacks_is_named_with_the_worker(client):
    registered_here = backbones.BackboneSpec(
        name="only_on_the_client", modality="image", build=lambda weights: None
    )
    backbones.register(registered_here)
    try:
        search = a_search(ImageEncoder())
        search.param_grid = {"imageencoder__backbone": ["efficientnet_lite0", "only_on_the_client"]}
        with pytest.raises(WorkerError) as caught:
            cluster.check_workers(client, search)  # the grid's backbones are checked too
    finally:
        backbones.unregister("only_on_the_client")
    message = str(caught.value)
    for address in client.scheduler_info()["workers"]:
        assert f"worker {address}: ImageEncoder(backbone='only_on_the_client')" in message
    assert "UnknownBackboneError" in message and "efficientnet_lite0'" not in message
    assert "the plugins that provide these backbones" in message


def test_missing_weights_and_another_version_are_named(client, tmp_path, monkeypatch):
    missing = tmp_path / "weights.pth"
    with pytest.raises(WorkerError, match=r"WeightsNotFoundError: .*weights\.pth"):
        cluster.check_workers(client, ImageEncoder(weights=missing))
    import sktransfer

    sktransfer_version = sktransfer.__version__
    monkeypatch.setattr(sktransfer, "__version__", "0.0.1")
    version = sktransfer_version  # what the workers run
    with pytest.raises(WorkerError, match=f"runs sktransfer {version}, the client 0.0.1"):
        cluster.check_workers(client)


def test_a_local_cluster_of_one_worker(images):
    def environ():
        return os.environ.get("MALLOC_TRIM_THRESHOLD_"), os.environ.get("OMP_NUM_THREADS")

    X, y = images[0][:30], images[1][:30]
    search = GridSearchCV(
        make_pipeline(PixelEncoder(), RidgeClassifier()),
        {"ridgeclassifier__alpha": [1.0, 10.0]},
        cv=3,
    )
    with cluster.connect("local", n_workers=1, dashboard_address=None) as client:
        # glibc's trimming default (Dask's 65536 halves torch's speed), one thread each
        assert list(client.run(environ).values()) == [(None, "1")]
        with pytest.warns(RuntimeWarning, match="one worker thread: joblib runs the fits"):
            cluster.fit(search, X, y, client=client)
    assert len(search.cv_results_["params"]) == 2


def test_an_unreachable_scheduler_fails_fast():
    with pytest.raises(ConnectionError, match="cannot reach the Dask scheduler"):
        cluster.connect("tcp://127.0.0.1:9", timeout=1)


def test_a_spec_searches_on_the_cluster(client, image_paths, tmp_path):
    class_folders(image_paths[:60], tmp_path / "data")
    spec = {
        "data": {"images": "data", "test_size": 0.25},
        "pipeline": [{"ImageEncoder": {"image_size": SIZE}}, "RidgeClassifier"],
        "search": {
            "params": {"ridgeclassifier__alpha": [0.1, 10.0]},
            "backend": "dask",
            "scheduler": client.scheduler.address,
        },
    }
    report = run(load_spec(spec, base_dir=tmp_path))
    assert report["cluster"] == {"scheduler": client.scheduler.address, "workers": 2}
    local = run(
        load_spec({**spec, "search": {"params": spec["search"]["params"]}}, base_dir=tmp_path)
    )
    assert local["cluster"] is None
    assert report["search"]["best_params"] == local["search"]["best_params"]
    assert report["metrics"] == pytest.approx(local["metrics"])


def test_a_ranking_scores_each_candidate_as_a_task_on_the_cluster(client, image_paths, tmp_path):
    class_folders(image_paths[:30], tmp_path / "data")
    spec = {
        "data": {"images": "data", "test_size": 0.2},
        "candidates": [{"ImageEncoder": {"image_size": SIZE}}, "PixelEncoder",
                       {"ImageEncoder": {"image_size": SIZE, "layer": "blocks.4"}}],
        "rank": {"scheduler": client.scheduler.address},
    }  # fmt: skip
    on_cluster = rank(load_rank_spec(spec, base_dir=tmp_path), output_dir=tmp_path / "out")
    local = rank(load_rank_spec({**spec, "rank": {}}, base_dir=tmp_path))
    assert on_cluster["cluster"] == {"scheduler": client.scheduler.address}
    assert local["cluster"] is None
    scores = {row["candidate"]: row["score"] for row in local["ranking"]}
    assert {row["candidate"]: row["score"] for row in on_cluster["ranking"]} == pytest.approx(
        scores, rel=1e-3
    )
    assert [row["index"] for row in on_cluster["ranking"]] == [
        row["index"] for row in local["ranking"]
    ]
    assert (tmp_path / "out" / "ranking.png").exists()


def test_the_cli_runs_and_encodes_on_a_scheduler(client, image_paths, tmp_path, capsys):
    listing = tmp_path / "paths.csv"
    pd.DataFrame({"path": image_paths[:40]}).to_csv(listing, index=False)
    out = tmp_path / "features"
    address = client.scheduler.address
    argv = ["encode", str(listing), "--backbone", "efficientnet_lite0", "--out", str(out)]
    assert main([*argv, "--scheduler", address, "--partition-size", "16", "--quiet"]) == 0
    parts = sorted(out.glob("part-*.npy"))
    assert [p.name for p in parts] == ["part-00000.npy", "part-00001.npy", "part-00002.npy"]
    expected = ImageEncoder().fit().transform(image_paths[:40])  # the CLI has no --device
    encoded = np.concatenate([np.load(p) for p in parts])
    np.testing.assert_allclose(encoded, expected, **AUTO_TOLERANCE)
    assert json.loads((out / "inputs.json").read_text()) == image_paths[:40]
    assert json.loads((out / "encoder.json").read_text())["n_samples"] == 40

    parquet = tmp_path / "parquet"
    argv = ["encode", str(listing), "--backbone", "efficientnet_lite0", "--out", str(parquet)]
    assert main([*argv, "--scheduler", address, "--format", "parquet", "--quiet"]) == 0
    table = pd.read_parquet(parquet / "part-00000.parquet")
    assert table["input"].tolist() == image_paths[:40]
    np.testing.assert_allclose(table.drop(columns="input").to_numpy(), expected, **AUTO_TOLERANCE)


def test_encode_reads_the_inputs_of_each_modality(tmp_path):
    from sktransfer.cli._encode import make_encoder, read_inputs

    assert repr(make_encoder("all-MiniLM-L6-v2")[0]) == "SentenceEncoder()"
    assert make_encoder("glove-6b-50d", batch_size=8)[0].get_params()["vectors"] == "glove-6b-50d"
    assert make_encoder("some/hub-model", modality="text")[0].model == "some/hub-model"
    with pytest.raises(KeyError, match="Did you mean: resnet50"):
        make_encoder("resnet5O")
    (tmp_path / "texts.txt").write_text("first text\n\nsecond, with a comma\n")
    pd.DataFrame({"id": [1, 2], "body": ["third", "fourth"]}).to_csv(tmp_path / "t.csv")
    inputs = [tmp_path / "texts.txt", tmp_path / "t.csv"]
    texts = read_inputs(inputs, "text", column="body", lines=True)
    assert texts == ["first text", "second, with a comma", "third", "fourth"]
    # As 'sktransfer predict' reads it: a text file is one text unless --lines.
    texts = read_inputs(inputs, "text", column="body")
    assert texts == ["first text\n\nsecond, with a comma\n", "third", "fourth"]
    with pytest.raises(ValueError, match="name one with --column"):
        read_inputs([tmp_path / "t.csv"], "text")
    with pytest.raises(FileNotFoundError, match="nothing.txt"):
        read_inputs([tmp_path / "nothing.txt"], "words")


def test_scheduler_settings_are_checked(tmp_path, capsys):
    spec = {
        "data": {"dataset": "fashion_mnist"},
        "pipeline": ["PixelEncoder", "LogisticRegression"],
        "search": {"params": {"logisticregression__C": [1.0]}, "scheduler": "local"},
    }
    with pytest.raises(SpecError, match="needs 'backend: dask'") as caught:
        load_spec(spec)
    assert caught.value.field == "search.scheduler"
    spec["search"] = {"params": {"logisticregression__C": [1.0]}, "backend": "spark"}
    with pytest.raises(SpecError, match="dask"):
        load_spec(spec)
    del spec["search"]
    with pytest.raises(SpecError, match="runs a search: this spec has none"):
        run(load_spec(spec), scheduler="local")
