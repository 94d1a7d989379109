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
from sktransfer.backbones import BackboneSpec

# A small CNN with BatchNorm: fast on two cores, and it shows eval-mode mistakes.
SMALL = "mobilenet_v3_small"


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
    full.features.load_state_dict(
        {k.split(".", 1)[1]: v for k, v in _named_features(encoder.model_).items()}
    )
    torch.save(full.state_dict(), path)
    return path


def _named_features(trunk):
    """Map our trunk's group names back onto torchvision's features.N indices."""
    state = {}
    for index, (_, group) in enumerate(trunk.named_children()):
        for key, value in group.state_dict().items():
            state[f"features.{index}.{key}"] = value
    return state


def encoder(weights, **params):
    return ImageEncoder(SMALL, weights=weights, **params)


def test_output_is_float32_n_by_d(small_state, rgb_images):
    features = encoder(small_state).fit_transform(rgb_images)
    assert features.dtype == np.float32 and features.shape == (6, 576)
    assert np.isfinite(features).all() and features.std() > 0


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
    np.testing.assert_array_equal(enc.transform(grey), enc.transform(np.repeat(grey[..., None], 3, -1)))
    opaque = np.concatenate([rgb_images, np.full(rgb_images.shape[:3] + (1,), 255, np.uint8)], -1)
    np.testing.assert_array_equal(enc.transform(opaque), enc.transform(rgb_images))
    mixed = [Image.fromarray(rgb_images[0]), rgb_images[1].astype(np.float64) / 255.0]
    assert enc.transform(mixed).shape == (2, 576)


def test_eval_mode_batch_size_invariance_and_determinism(small_state, rgb_images):
    enc = encoder(small_state, batch_size=1).fit()
    stats = [m.running_mean.clone() for m in enc.model_.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    one_by_one = enc.transform(rgb_images)
    all_at_once = enc.set_params(batch_size=6).transform(rgb_images)
    np.testing.assert_allclose(one_by_one, all_at_once, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(enc.transform(rgb_images), all_at_once)
    assert not enc.model_.training
    after = [m.running_mean for m in enc.model_.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert all(torch.equal(a, b) for a, b in zip(stats, after))
    assert not any(p.requires_grad for p in enc.model_.parameters())


def test_pooling_variants(small_state, rgb_images):
    shapes = {
        pooling: encoder(small_state, pooling=pooling).fit_transform(rgb_images[:2]).shape
        for pooling in ("auto", "avg", "max", "flatten")
    }
    assert shapes == {"auto": (2, 576), "avg": (2, 576), "max": (2, 576), "flatten": (2, 576 * 49)}
    enc = encoder(small_state, pooling="max").fit()
    avg = encoder(small_state, pooling="avg").fit()
    assert (enc.transform(rgb_images) >= avg.transform(rgb_images) - 1e-6).all()
    with pytest.raises(ValueError, match="pooling='cls' needs a transformer"):
        encoder(small_state, pooling="cls").fit()
    with pytest.raises(ValueError, match="pooling must be one of"):
        encoder(small_state, pooling="mean").fit()


def test_vision_transformer_uses_the_class_token(rgb_images):
    torch.manual_seed(0)
    vit = ImageEncoder("vit_b_32", weights=None).fit()
    assert vit.pooling_ == "cls" and vit.n_features_out_ == 768
    tokens = vit.model_(torch.zeros(1, 3, 224, 224))
    assert tokens.shape == (1, 50, 768)
    cls = vit.transform(rgb_images[:2])
    avg = clone(vit).set_params(pooling="avg")
    avg.model_, avg.preprocessing_, avg.n_features_out_, avg.pooling_ = vit.model_, vit.preprocessing_, 768, "avg"
    assert not np.allclose(cls, avg.transform(rgb_images[:2]))


def test_intermediate_layers(small_state, rgb_images):
    group = encoder(small_state, layer="block3").fit()
    nested = encoder(small_state, layer="block3.block").fit()
    assert group.n_features_out_ == 24 and nested.n_features_out_ == 24
    # block3 adds a residual connection around block3.block, so the outputs differ.
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        expected = group.model_.block3.block(group.model_[:3](x))
        torch.testing.assert_close(nested.model_(x), expected)
        assert not torch.allclose(group.model_(x), expected)
    assert nested.transform(rgb_images).shape == (6, 24)
    with pytest.raises(ValueError, match="no layer 'layer9'.*'stem', 'block1'"):
        encoder(small_state, layer="layer9").fit()


def test_sklearn_pipeline_cross_validation_and_search(small_state, rgb_images):
    X = np.concatenate([rgb_images, 255 - rgb_images])
    y = np.array([0] * 6 + [1] * 6)
    pipe = make_pipeline(encoder(small_state, batch_size=4), LogisticRegression(max_iter=500))
    assert cross_val_score(pipe, X, y, cv=2).shape == (2,)
    for n_jobs in (1, 2):
        search = GridSearchCV(
            pipe, {"imageencoder__pooling": ["avg", "max"]}, cv=2, n_jobs=n_jobs, error_score="raise"
        )
        search.fit(X, y)
        assert search.best_params_["imageencoder__pooling"] in ("avg", "max")
        assert search.predict(X).shape == (12,)


def test_column_transformer_and_pandas_output(small_state, image_files):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"path": image_files, "size": np.arange(6.0)}, index=list("abcdef"))
    columns = ColumnTransformer([("img", encoder(small_state), "path"), ("num", StandardScaler(), ["size"])])
    assert columns.fit_transform(frame).shape == (6, 577)
    columns = ColumnTransformer([("img", encoder(small_state), ["path"])])
    assert columns.fit_transform(frame).shape == (6, 576)

    enc = encoder(small_state).set_output(transform="pandas").fit()
    out = enc.transform(frame["path"])
    assert list(out.index) == list("abcdef")
    assert list(out.columns[:2]) == ["imageencoder0", "imageencoder1"]
    assert list(enc.get_feature_names_out()) == list(out.columns)


def test_clone_and_pickle_without_weights_twice(small_state, rgb_images):
    enc = encoder(small_state).fit()
    assert clone(enc).get_params() == enc.get_params()
    assert not hasattr(clone(enc), "model_")
    blob = pickle.dumps(enc)
    restored = pickle.loads(blob)
    np.testing.assert_array_equal(restored.transform(rgb_images), enc.transform(rgb_images))
    weight_bytes = sum(t.numel() * t.element_size() for t in enc.model_.state_dict().values())
    assert weight_bytes < len(blob) < 1.2 * weight_bytes
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
        with pytest.raises(ValueError, match="reads text, not images"):
            ImageEncoder("tests-text-only").fit(rgb_images)
    finally:
        backbones.unregister("tests/tests-text-only")


def test_bad_batch_size_and_precision():
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        ImageEncoder("resnet18", weights=None, batch_size=0).fit()
    with pytest.raises(ValueError, match="precision must be one of"):
        ImageEncoder("resnet18", weights=None, precision="int8").fit()


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
    np.testing.assert_array_equal(
        enc.transform(image_files), encoder(small_state).fit().transform(image_files)
    )
    with pytest.raises(ImageLoadError, match=r"could not read image 3 '.*broken.jpg'"):
        enc.transform(image_files[:3] + [str(corrupt)])


def test_verbose_shows_a_progress_bar(small_state, rgb_images, capsys):
    encoder(small_state, verbose=True).fit().transform(rgb_images)
    assert "img" in capsys.readouterr().err
    encoder(small_state).fit().transform(rgb_images)
    assert capsys.readouterr().err == ""
