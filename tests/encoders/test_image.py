import os
import pickle

import numpy as np
import pytest
import torch
from PIL import Image
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sktransfer import ImageEncoder, ImageLoadError, UnknownBackboneError, backbones
from sktransfer import images as images_module
from sktransfer.backbones import BackboneSpec, ImageFeatures, SequentialBackbone

# A small CNN with BatchNorm: fast on two cores, and it shows eval-mode mistakes. Its
# "auto" features are the input of the classifier's last layer: pooled map (576),
# then the pre-logits Linear + Hardswish (1024).
SMALL = "mobilenet_v3_small"
MAP_DIM, AUTO_DIM = 576, 1024


@pytest.fixture(scope="module")
def small_state(tmp_path_factory):
    """Fixed random weights, so that every encoder in a test computes the same function."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("weights") / "small.pt"
    encoder = ImageEncoder(SMALL, weights=None).fit()
    # Non-trivial running statistics: a model left in training mode would ignore them.
    for module in encoder.model_.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    from torchvision.models import mobilenet_v3_small

    full = mobilenet_v3_small()
    missing, unexpected = full.load_state_dict(
        _torchvision_state(encoder.model_.backbone), strict=False
    )
    assert not unexpected and sorted(missing) == ["classifier.3.bias", "classifier.3.weight"]
    torch.save(full.state_dict(), path)
    return path


def _torchvision_state(backbone):
    """Map the backbone's layer groups back onto torchvision's ``features.N`` and classifier.

    The groups of a SequentialBackbone are its attributes, in ``group_names`` order:
    torchvision's ``features`` one by one. Its "pre_logits" are (pooling, flatten,
    ``classifier[0]``, Hardswish, Dropout).
    """
    state = {}
    for index, name in enumerate(backbone.group_names):
        for key, value in getattr(backbone, name).state_dict().items():
            state[f"features.{index}.{key}"] = value
    for key, value in backbone.pre_logits[2].state_dict().items():
        state[f"classifier.0.{key}"] = value
    return state


def test_small_state_is_loaded_whole(small_state):
    """Every tensor of the fixture's file reaches the backbone, running statistics included."""
    saved = torch.load(small_state, weights_only=True)
    backbone = encoder(small_state).fit().model_.backbone
    mapped = _torchvision_state(backbone)
    assert set(saved) - set(mapped) == {"classifier.3.weight", "classifier.3.bias"}
    for key, value in mapped.items():
        assert torch.equal(value, saved[key]), key
    assert not torch.equal(backbone.stem[1].running_var, torch.ones(16))


def encoder(weights, **params):
    return ImageEncoder(SMALL, weights=weights, **params)


def test_output_is_float32_n_by_d(small_state, rgb_images):
    enc = encoder(small_state).fit()
    features = enc.transform(rgb_images)
    assert features.dtype == np.float32 and features.shape == (6, AUTO_DIM)
    assert np.isfinite(features).all() and features.std() > 0
    assert isinstance(enc.model_, ImageFeatures) and enc.n_features_out_ == AUTO_DIM
    assert isinstance(enc.model_.backbone, SequentialBackbone)


def test_paths_pil_and_arrays_give_identical_features(small_state, rgb_images, image_files):
    enc = encoder(small_state).fit()
    from_arrays = enc.transform(rgb_images)
    np.testing.assert_array_equal(enc.transform(image_files), from_arrays)
    np.testing.assert_array_equal(enc.transform([Image.open(p) for p in image_files]), from_arrays)
    np.testing.assert_array_equal(enc.transform(list(rgb_images)), from_arrays)
    as_float = enc.transform(rgb_images.astype(np.float32) / 255.0)
    np.testing.assert_allclose(as_float, from_arrays, atol=0.05 * np.abs(from_arrays).max())


def test_grey_and_rgba_arrays(small_state, rgb_images):
    enc = encoder(small_state).fit()
    grey = rgb_images[..., 0]
    np.testing.assert_array_equal(
        enc.transform(grey), enc.transform(np.repeat(grey[..., None], 3, -1))
    )
    opaque = np.concatenate([rgb_images, np.full(rgb_images.shape[:3] + (1,), 255, np.uint8)], -1)
    np.testing.assert_array_equal(enc.transform(opaque), enc.transform(rgb_images))
    mixed = [Image.fromarray(rgb_images[0]), rgb_images[1].astype(np.float64) / 255.0]
    assert enc.transform(mixed).shape == (2, AUTO_DIM)


def _batch_norms(model):
    return [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]


def test_eval_mode_batch_size_invariance_and_determinism(small_state, rgb_images):
    enc = encoder(small_state, batch_size=1).fit()
    stats = [m.running_mean.cpu().clone() for m in _batch_norms(enc.model_)]
    one_by_one = enc.transform(rgb_images)
    all_at_once = enc.set_params(batch_size=6).transform(rgb_images)
    # Other batchings may take other kernels (on a GPU, differences up to ~2e-5).
    np.testing.assert_allclose(one_by_one, all_at_once, rtol=1e-4, atol=1e-5)
    # The same batches again give the same numbers.
    np.testing.assert_array_equal(enc.transform(rgb_images), all_at_once)
    assert not enc.model_.training and not enc.model_.backbone.training
    after = [m.running_mean.cpu() for m in _batch_norms(enc.model_)]  # on the GPU with CUDA
    assert len(after) == len(stats) > 0
    assert all(torch.equal(a, b) for a, b in zip(stats, after))
    assert not any(p.requires_grad for p in enc.model_.parameters())


def test_pooling_variants(small_state, rgb_images):
    encoders = {
        pooling: encoder(small_state, pooling=pooling).fit()
        for pooling in ("auto", "avg", "max", "flatten")
    }
    shapes = {pooling: enc.transform(rgb_images[:2]).shape for pooling, enc in encoders.items()}
    assert shapes == {
        "auto": (2, AUTO_DIM),
        "avg": (2, MAP_DIM),
        "max": (2, MAP_DIM),
        "flatten": (2, MAP_DIM * 49),
    }
    assert {p: e.pooling_ for p, e in encoders.items()} == {
        "auto": "pre_logits",
        "avg": "avg",
        "max": "max",
        "flatten": "flatten",
    }
    # max >= avg everywhere; flatten holds the map whose average is avg's.
    avg, maximum = encoders["avg"].transform(rgb_images), encoders["max"].transform(rgb_images)
    assert (maximum >= avg - 1e-6).all()
    flat = encoders["flatten"].transform(rgb_images).reshape(6, MAP_DIM, 49)
    np.testing.assert_allclose(flat.mean(axis=2), avg, rtol=1e-4, atol=1e-5)
    # "auto" is the classifier's pre-logits layer applied to the average.
    head = encoders["auto"].model_.backbone.pre_logits[2:]  # where transform left it (GPU)
    with torch.no_grad():
        hidden = head(torch.from_numpy(avg).to(next(head.parameters()).device)).cpu()
    np.testing.assert_allclose(encoders["auto"].transform(rgb_images), hidden, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="pooling='cls' needs a transformer"):
        encoder(small_state, pooling="cls").fit()
    with pytest.raises(
        ValueError,
        match="pooling must be 'auto' or 'avg' or 'max' or 'flatten' or 'cls', got 'mean'",
    ):
        encoder(small_state, pooling="mean").fit()


def test_vision_transformer_uses_the_class_token(rgb_images):
    torch.manual_seed(0)
    vit = ImageEncoder("vit_b_32", weights=None).fit()
    # torchvision's vit_b_32 classifier reads the class token (no pre-logits layer).
    assert vit.pooling_ == "pre_logits" and vit.n_features_out_ == 768
    backbone = vit.model_.backbone
    assert backbone.num_prefix_tokens == 1 and backbone.has_class_token
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        tokens = backbone.forward_features(x)
        auto = vit.model_(x)
        cls = ImageFeatures(backbone, "cls")(x)
        avg = ImageFeatures(backbone, "avg")(x)
    assert tokens.shape == (2, 50, 768)
    torch.testing.assert_close(auto, tokens[:, 0])
    torch.testing.assert_close(cls, tokens[:, 0])
    torch.testing.assert_close(avg, tokens[:, 1:].mean(dim=1))  # the patch tokens only
    assert not torch.allclose(avg, cls)
    features = vit.transform(rgb_images[:2])
    assert features.shape == (2, 768) and np.isfinite(features).all()


def test_intermediate_layers(small_state, rgb_images):
    group = encoder(small_state, layer="block3").fit()
    nested = encoder(small_state, layer="block3.block").fit()
    assert group.n_features_out_ == 24 and nested.n_features_out_ == 24
    assert group.pooling_ == nested.pooling_ == "avg"  # "auto" with a layer
    backbone = group.model_.backbone
    # block3 adds a residual connection around block3.block, so the outputs differ.
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        before = backbone.block2(backbone.block1(backbone.stem(x)))
        expected = nested.model_.backbone.block3.block(before).mean(dim=(2, 3))
        torch.testing.assert_close(nested.model_(x), expected)
        torch.testing.assert_close(group.model_(x), backbone.block3(before).mean(dim=(2, 3)))
        assert not torch.allclose(group.model_(x), expected)
    assert nested.transform(rgb_images).shape == (6, 24)
    with pytest.raises(ValueError, match="no layer 'layer9'.*'stem', 'block1'"):
        encoder(small_state, layer="layer9").fit()


def test_the_forward_pass_stops_at_the_layer(small_state, rgb_images):
    enc = encoder(small_state, layer="block3").fit()
    ran = []
    for name in ("block3", "block4", "head"):
        getattr(enc.model_.backbone, name).register_forward_hook(
            lambda module, inputs, output, name=name: ran.append(name)
        )
    assert enc.transform(rgb_images[:2]).shape == (2, 24)
    assert ran == ["block3"]  # once per batch; nothing after it runs


def test_a_pre_logits_layer_is_a_layer_too(small_state, rgb_images):
    assert backbones.get(SMALL).layer_groups[-1] == "pre_logits"
    auto = encoder(small_state).fit()
    cut = encoder(small_state, layer="pre_logits").fit()
    assert cut.n_features_out_ == AUTO_DIM
    np.testing.assert_allclose(cut.transform(rgb_images), auto.transform(rgb_images), atol=1e-6)


def _two_classes(rgb_images):
    return np.concatenate([rgb_images, 255 - rgb_images]), np.array([0] * 6 + [1] * 6)


def test_sklearn_pipeline_cross_validation_and_search(small_state, rgb_images):
    X, y = _two_classes(rgb_images)
    pipe = make_pipeline(encoder(small_state, batch_size=4), LogisticRegression(max_iter=500))
    assert cross_val_score(pipe, X, y, cv=2).shape == (2,)
    search = GridSearchCV(
        pipe, {"imageencoder__pooling": ["avg", "max"]}, cv=2, error_score="raise"
    )
    search.fit(X, y)
    assert search.best_params_["imageencoder__pooling"] in ("avg", "max")
    assert search.predict(X).shape == (12,)


@pytest.mark.slow
def test_search_in_parallel_worker_processes(small_state, rgb_images):
    # Each of the two worker processes imports torch and loads the weights itself.
    X, y = _two_classes(rgb_images)
    pipe = make_pipeline(encoder(small_state, batch_size=4), LogisticRegression(max_iter=500))
    grid = {"imageencoder__pooling": ["avg", "max"]}
    parallel = GridSearchCV(pipe, grid, cv=2, n_jobs=2, error_score="raise").fit(X, y)
    serial = GridSearchCV(pipe, grid, cv=2, n_jobs=1, error_score="raise").fit(X, y)
    assert parallel.best_params_ == serial.best_params_
    np.testing.assert_allclose(
        parallel.cv_results_["mean_test_score"], serial.cv_results_["mean_test_score"]
    )
    np.testing.assert_array_equal(parallel.predict(X), serial.predict(X))


def test_column_transformer_and_pandas_output(small_state, image_files):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"path": image_files, "size": np.arange(6.0)}, index=list("abcdef"))
    columns = ColumnTransformer(
        [("img", encoder(small_state), "path"), ("num", StandardScaler(), ["size"])]
    )
    assert columns.fit_transform(frame).shape == (6, AUTO_DIM + 1)
    columns = ColumnTransformer([("img", encoder(small_state), ["path"])])
    assert columns.fit_transform(frame).shape == (6, AUTO_DIM)

    enc = encoder(small_state).set_output(transform="pandas").fit()
    out = enc.transform(frame["path"])
    assert list(out.index) == list("abcdef")
    assert list(out.columns[:2]) == ["imageencoder0", "imageencoder1"]
    assert list(enc.get_feature_names_out()) == list(out.columns)


def test_clone_and_pickle_without_the_weights(small_state, rgb_images):
    enc = encoder(small_state).fit()
    assert clone(enc).get_params() == enc.get_params()
    assert not hasattr(clone(enc), "model_")
    blob = pickle.dumps(enc)
    restored = pickle.loads(blob)
    np.testing.assert_array_equal(restored.transform(rgb_images), enc.transform(rgb_images))
    # The weights' digest, not the weights: they are read again from their file.
    weight_bytes = sum(t.numel() * t.element_size() for t in enc.model_.state_dict().values())
    assert len(blob) < 5000 < weight_bytes
    assert len(pickle.dumps(clone(enc))) < 2000  # unfitted: parameters only


def test_not_fitted_and_lazy_loading(rgb_images):
    enc = ImageEncoder("resnet18", weights=None)
    assert not hasattr(enc, "model_")
    with pytest.raises(NotFittedError):
        enc.transform(rgb_images)


def test_unknown_or_wrong_modality_backbone(rgb_images):
    with pytest.raises(UnknownBackboneError, match="resnet18"):
        ImageEncoder("resnet1800").fit(rgb_images)
    spec = BackboneSpec(name="tests-text-only", modality="text", build=lambda weights: None)
    backbones.register(spec, namespace="tests")
    try:
        with pytest.raises(ValueError, match="reads text, not image; use SentenceEncoder"):
            ImageEncoder("tests-text-only").fit(rgb_images)
    finally:
        backbones.unregister("tests/tests-text-only")


def test_auto_batch_size_is_small_on_cpu_large_on_gpu():
    enc = ImageEncoder("resnet18", weights=None)
    assert enc._batch_size(torch.device("cpu")) == 8
    assert enc._batch_size(torch.device("cuda")) == 64
    assert enc.set_params(batch_size=5)._batch_size(torch.device("cuda")) == 5


def test_bfloat16_autocast_is_close_to_float32(small_state, rgb_images):
    exact = encoder(small_state).fit().transform(rgb_images)
    half = encoder(small_state, precision="bfloat16").fit().transform(rgb_images)
    assert half.dtype == np.float32 and not np.array_equal(half, exact)
    cosine = (half * exact).sum(1) / np.linalg.norm(half, axis=1) / np.linalg.norm(exact, axis=1)
    assert cosine.min() > 0.99


def test_corrupt_file_named_from_worker_processes(small_state, image_files, tmp_path):
    corrupt = tmp_path / "broken.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff garbage")
    enc = encoder(small_state, num_workers=2, batch_size=2).fit()
    in_workers = enc.transform(image_files)
    # Decoding in workers changes nothing; the batches differ (2 against "auto").
    np.testing.assert_allclose(
        in_workers, encoder(small_state).fit().transform(image_files), rtol=1e-4, atol=1e-5
    )
    np.testing.assert_array_equal(enc.set_params(num_workers=0).transform(image_files), in_workers)
    with pytest.raises(ImageLoadError, match=r"image 3 '.*broken.jpg' is not a readable image"):
        enc.set_params(num_workers=2).transform(image_files[:3] + [str(corrupt)])


def test_verbose_shows_a_progress_bar(small_state, rgb_images, capsys):
    encoder(small_state, verbose=True).fit().transform(rgb_images)
    assert "img" in capsys.readouterr().err
    encoder(small_state).fit().transform(rgb_images)
    assert capsys.readouterr().err == ""


# -- the input pipeline ----------------------------------------------------------------


def _prepared(pre, images, *, resize_all):
    batch, sized = images_module.Batcher(pre, resize_all=resize_all)(images)
    return images_module.DevicePreprocessing(pre, torch.device("cpu"))(batch, sized), sized


def test_a_batch_of_one_size_is_resized_whole_on_the_device(small_state, rgb_images):
    pre = encoder(small_state).fit().preprocessing_
    tensors = [torch.from_numpy(a).permute(2, 0, 1) for a in rgb_images]
    one_by_one, sized = _prepared(pre, tensors, resize_all=True)  # the CPU's way
    assert sized
    whole, sized = _prepared(pre, tensors, resize_all=False)  # the GPU's way
    assert not sized and whole.shape == one_by_one.shape == (6, 3, pre.input_size, pre.input_size)
    # The same resize, in float instead of uint8: a rounding apart (1/255 over the std).
    np.testing.assert_allclose(whole, one_by_one, atol=2 / 255 / min(pre.std))
    # Mixed sizes are resized one by one (on the loader's workers), never as a batch.
    _, sized = _prepared(pre, [tensors[0], tensors[1][:, :30]], resize_all=False)
    assert sized


def test_auto_workers_decode_for_a_gpu_not_for_the_cpu(small_state, image_files):
    pre = encoder(small_state).fit().preprocessing_
    positions = range(len(image_files))

    def loader(device):
        return images_module.loader(image_files, positions, pre, device=device, batch_size=2)

    assert loader(torch.device("cpu")).num_workers == 0
    on_gpu = loader(torch.device("cuda"))
    # The cores available, at most one per batch (six images in three batches).
    assert on_gpu.num_workers == min(3, len(os.sched_getaffinity(0)))
    assert on_gpu.pin_memory


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_on_a_gpu_features_match_the_cpu(small_state, image_files, rgb_images):
    cpu = encoder(small_state, device="cpu").fit()
    gpu = encoder(small_state, device="cuda").fit()
    mixed = [*image_files[:3], rgb_images[3][:20]]  # two sizes: resized on the workers
    for X in (rgb_images, image_files, mixed):
        np.testing.assert_allclose(gpu.transform(X), cpu.transform(X), rtol=2e-2, atol=2e-2)


def test_several_layers_are_pooled_and_concatenated_in_order():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (3, 64, 64, 3), dtype=np.uint8)
    one = {
        name: ImageEncoder("efficientnet_lite0", layer=name, device="cpu").fit().transform(images)
        for name in ("blocks.1", "blocks.3", "blocks.5")
    }
    both = ImageEncoder("efficientnet_lite0", layer=["blocks.3", "blocks.1"], device="cpu").fit()
    np.testing.assert_allclose(
        both.transform(images), np.hstack([one["blocks.3"], one["blocks.1"]]), rtol=1e-5, atol=1e-6
    )
    assert both.n_features_out_ == one["blocks.3"].shape[1] + one["blocks.1"].shape[1]
    last = ImageEncoder("efficientnet_lite0", layer=["blocks.1", "blocks.5"], device="cpu").fit()
    np.testing.assert_allclose(
        last.transform(images)[:, one["blocks.1"].shape[1] :], one["blocks.5"], rtol=1e-5, atol=1e-6
    )
    with pytest.raises(ValueError, match="no layer 'blocks.9'"):
        ImageEncoder("efficientnet_lite0", layer=["blocks.1", "blocks.9"], device="cpu").fit()
    with pytest.raises(ValueError, match="at least one layer"):
        ImageEncoder("efficientnet_lite0", layer=[], device="cpu").fit()
