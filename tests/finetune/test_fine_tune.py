"""FineTuneClassifier / FineTuneRegressor: freezing, learning rates, inputs, skorch, persistence.

Behaviour tests use a tiny CNN with BatchNorm (its "pre-trained" running statistics
are set by hand); the integration tests use the packaged EfficientNet-Lite0 on
Fashion-MNIST and the packaged MiniLM on real sentences.
"""

import pickle
from collections import OrderedDict

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from torch import nn

from sktransfer import (
    FineTuneClassifier,
    FineTuneRegressor,
    ImageLoadError,
    UnknownBackboneError,
)
from sktransfer.backbones import BackboneSpec, ImagePreprocessing, SequentialBackbone


def build_tiny(weights="default"):
    """Three conv + BatchNorm groups with fixed weights and non-trivial running statistics."""
    generator = torch.Generator().manual_seed(0)

    def block(n_in, n_out):
        return nn.Sequential(nn.Conv2d(n_in, n_out, 3, stride=2), nn.BatchNorm2d(n_out), nn.ReLU())

    model = SequentialBackbone(
        OrderedDict(stem=block(3, 8), stage1=block(8, 16), stage2=block(16, 32))
    )
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.3)
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.copy_(torch.rand(module.num_features, generator=generator))
                module.running_var.copy_(1 + torch.rand(module.num_features, generator=generator))
    return model


TINY = BackboneSpec(
    name="tiny",
    modality="image",
    build=build_tiny,
    preprocessing=ImagePreprocessing(input_size=32, resize_size=None),
)
GROUPS = ["stem", "stage1", "stage2"]

# The training these tests were written for: a random head, constant rates.
FIXED = dict(
    freeze="backbone",
    head_init="random",
    batchnorm="train",
    lr=1e-3,
    backbone_lr="0.1x",
    schedule=None,
)


def tiny(**params):
    defaults = dict(max_epochs=2, batch_size=8, validation=None, device="cpu", random_state=0)
    defaults.update(FIXED)  # the mechanics under test, not the recipe
    return FineTuneClassifier(TINY, **{**defaults, **params})


def _trainable(model):
    return {n for n, p in model.module_.named_parameters() if p.requires_grad}


def _running_stats(module):
    return {n: b.clone() for n, b in module.named_buffers() if "running" in n or "num_batches" in n}


# -- freeze ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("freeze", "groups"),
    [
        ("backbone", []),
        ("none", GROUPS),
        ("last:1", ["stage2"]),
        (2, ["stage1", "stage2"]),
        ("last:3", GROUPS),
    ],
)
def test_freeze_decides_which_parameters_train(images, freeze, groups):
    model = tiny(freeze=freeze).fit(*images)
    trainable = _trainable(model)
    assert {n for n in trainable if n.startswith("head.")} == {"head.0.weight", "head.0.bias"}
    assert {n.split(".")[2] for n in trainable if n.startswith("body.")} == set(groups)
    assert model.history_[:, "trainable_groups"] == [groups, groups]
    assert model.layer_groups_ == GROUPS


def test_frozen_batchnorm_keeps_its_pretrained_statistics(images):
    pretrained = _running_stats(build_tiny())
    model = tiny(freeze="last:1", max_epochs=3).fit(*images)
    after = _running_stats(model.module_.body.backbone)
    for name, value in pretrained.items():
        if name.startswith(("stem", "stage1")):  # frozen: bit-identical
            assert torch.equal(after[name], value), name
    # The group that trains updates its statistics, as BatchNorm in training should.
    assert not torch.equal(after["stage2.1.running_mean"], pretrained["stage2.1.running_mean"])
    frozen_weights = dict(build_tiny().named_parameters())
    for name, value in model.module_.body.backbone.named_parameters():
        if not name.startswith("stage2"):
            assert torch.equal(value, frozen_weights[name]), name


def test_progressive_unfreezes_one_group_every_e_epochs(images):
    model = tiny(freeze="progressive:2", max_epochs=7).fit(*images)
    assert model.history_[:, "trainable_groups"] == [
        [], [], ["stage2"], ["stage2"], ["stage1", "stage2"], ["stage1", "stage2"], GROUPS,
    ]  # fmt: skip
    # The stem trained only in the last epoch; its frozen BatchNorm kept its statistics
    # until then, and the head trained throughout.
    assert _trainable(model) >= {"body.backbone.stem.0.weight", "head.0.weight"}


def test_lora_trains_only_the_adapters_and_the_head(images):
    pytest.importorskip("peft")
    pretrained = dict(build_tiny().named_parameters())
    stats = _running_stats(build_tiny())
    model = tiny(freeze="lora:2", max_epochs=3).fit(*images)
    trainable = _trainable(model)
    assert trainable and all("lora_" in n or n.startswith("head.") for n in trainable)
    assert any("lora_B" in n for n in trainable)
    body = dict(model.module_.body.backbone.named_parameters())
    for name, value in body.items():
        if "lora_" in name:
            continue
        assert torch.equal(value, pretrained[name.replace("base_layer.", "")]), name
    assert any(not torch.all(v == 0) for n, v in body.items() if "lora_B" in n)  # B trained
    after = _running_stats(model.module_.body.backbone)
    assert all(torch.equal(after[n], v) for n, v in stats.items())
    assert model.history_[:, "trainable_groups"] == [[], [], []]


@pytest.mark.parametrize(
    ("freeze", "message"),
    [
        ("bogus", r'freeze must be one of "none", "backbone", "last:K" or an int K'),
        ("last", r'needs a count, e.g. "last:2"'),
        ("lora:0", "at least 1"),
        (-1, "freeze must be one of"),
    ],
)
def test_a_wrong_freeze_is_refused_before_training(images, freeze, message):
    model = tiny(freeze=freeze)
    with pytest.raises(ValueError, match=message):
        model.fit(*images)
    assert not hasattr(model, "net_")


def test_more_groups_than_the_backbone_has_names_the_number(images):
    with pytest.raises(ValueError, match=r"last 4 layer groups, but the backbone has 3: \['stem'"):
        tiny(freeze="last:4").fit(*images)


# -- learning rates, schedules, skorch -------------------------------------------------


def test_backbone_learning_rate_absolute_or_a_ratio_of_lr(images):
    model = tiny(freeze="none", lr=0.01, backbone_lr="0.05x", max_epochs=1).fit(*images)
    head, body = model.net_.optimizer_.param_groups
    assert head["lr"] == pytest.approx(0.01) and body["lr"] == pytest.approx(5e-4)
    model = tiny(freeze="none", lr=0.01, backbone_lr=1e-5, max_epochs=1).fit(*images)
    assert model.net_.optimizer_.param_groups[1]["lr"] == pytest.approx(1e-5)
    with pytest.raises(ValueError, match="ratio of lr"):
        tiny(backbone_lr="0.1").fit(*images)


def test_skorch_routing_callbacks_and_partial_fit(images):
    model = tiny(optimizer__weight_decay=0.123, max_epochs=2, schedule="cosine").fit(*images)
    assert all(g["weight_decay"] == 0.123 for g in model.net_.optimizer_.param_groups)
    assert model.net_.optimizer_.param_groups[0]["lr"] < 1e-3  # annealed
    assert model.net_.get_params()["callbacks__lr_scheduler__warmup"] == 0.0
    model.partial_fit(*images)
    assert len(model.history_) == 4
    grid = clone(model).set_params(callbacks__print_log__floatfmt=".2f")
    assert grid.optimizer__weight_decay == 0.123


def test_epoch_tables_only_when_verbose_and_without_colour_codes_in_a_pipe(images, capsys):
    tiny(verbose=0).fit(*images)
    assert capsys.readouterr().out == ""
    tiny(verbose=1).fit(*images)
    printed = capsys.readouterr().out  # captured: not a terminal
    assert "train_loss" in printed and len(printed.splitlines()) == 4  # header, rule, 2 epochs
    assert "\x1b[" not in printed


def test_warm_start_unfreezes_more_groups_at_a_smaller_rate(images):
    model = tiny(freeze="backbone", max_epochs=2).fit(*images)
    head_before = model.module_.head[0].weight.detach().clone()
    model.set_params(freeze="last:2", backbone_lr="0.01x", warm_start=True)
    model.fit(*images)
    assert model.history_[:, "trainable_groups"] == [[], [], ["stage1", "stage2"]] + [
        ["stage1", "stage2"]
    ]
    assert model.net_.optimizer_.param_groups[1]["lr"] == pytest.approx(1e-5)
    assert not torch.equal(model.module_.head[0].weight, head_before)


def test_validation_and_early_stopping_restore_the_best_epoch(images):
    model = tiny(validation=0.25, patience=2, max_epochs=30, lr=0.5, freeze="none")
    model.fit(*images)
    losses = model.history_[:, "valid_loss"]
    assert len(losses) < 30 and "valid_acc" in model.history_[-1]
    best = int(np.argmin(losses))
    assert len(losses) == best + 3  # stopped after 2 epochs without improvement
    # The restored weights are the best epoch's: the validation loss is its value again.
    X, y = images
    samples, _ = model._samples(X, y, reset=False)
    _, valid = model.net_.get_split_datasets(samples, samples.y)
    logits = model.net_.forward(valid)
    loss = nn.functional.cross_entropy(logits, torch.from_numpy(samples.y[valid.indices]))
    assert loss.item() == pytest.approx(losses[best], rel=1e-4)


def test_augmentation_runs_on_training_batches_only(images, monkeypatch):
    calls = []

    def count(image):
        calls.append(image.shape)
        return image

    model = tiny(augment=count, validation=0.25).fit(*images)
    assert len(calls) == 2 * 18  # 2 epochs of the 18 training images, one call each
    seen = len(calls)
    model.predict(images[0])
    model.predict_proba(images[0])
    assert len(calls) == seen
    assert calls[0] == (3, 32, 32)

    # What the network is given, batch by batch: each image, and whether it trains on it.
    given = []
    network = type(model.module_)
    forward = network.forward

    def spy(self, x=None, **kwargs):
        given.extend((self.training, image.cpu().numpy().tobytes()) for image in x)
        return forward(self, x, **kwargs)

    monkeypatch.setattr(network, "forward", spy)

    def seen_by_network(augment):
        """The images the network trains on and is validated on in a fit, then predicts."""
        given.clear()
        # freeze="none": nothing is computed ahead, every batch goes through the network.
        model = tiny(augment=augment, validation=0.25, max_epochs=1, freeze="none")
        model.fit(*images)
        train = [image for training, image in given if training]
        valid = [image for training, image in given if not training]
        given.clear()
        first = model.predict_proba(images[0])
        predicted = [image for _, image in given]
        np.testing.assert_array_equal(model.predict_proba(images[0]), first)  # deterministic
        return train, valid, predicted

    plain_train, plain_valid, plain_predicted = seen_by_network("none")
    assert (len(plain_train), len(plain_valid), len(plain_predicted)) == (18, 6, 24)
    assert sorted(plain_train + plain_valid) == sorted(plain_predicted)  # each image once
    for preset in ("light", "strong"):
        train, valid, predicted = seen_by_network(preset)
        assert len(train) == 18
        # Training images are moved, flipped or recoloured: (nearly) none is an original.
        unchanged = [image for image in train if image in plain_train]
        assert len(unchanged) <= 2, (preset, len(unchanged))
        # Validation and prediction images are the originals, as without augmentation.
        assert sorted(valid) == sorted(plain_valid), preset
        assert predicted == plain_predicted, preset


# -- labels, targets, inputs -----------------------------------------------------------


def test_string_labels_probabilities_score_and_balanced_weights(images):
    X, y = images
    y = np.where(np.arange(len(y)) < 18, y, "dark")  # 15 dark, 9 light
    model = tiny(class_weight="balanced", max_epochs=5).fit(X, y)
    assert list(model.classes_) == ["dark", "light"]
    assert set(model.predict(X)) <= {"dark", "light"}
    proba = model.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    assert 0 <= model.score(X, y) <= 1
    weights = model.net_.criterion_.weight.numpy()
    np.testing.assert_allclose(weights, [24 / (2 * 15), 24 / (2 * 9)], rtol=1e-6)


def test_regressor_one_and_two_targets(images):
    X, _ = images
    target = X.mean(axis=(1, 2, 3)) / 255.0
    model = FineTuneRegressor(TINY, max_epochs=2, validation=None, device="cpu", random_state=0)
    assert model.fit(X, target).predict(X).shape == (24,)
    two = np.stack([target, 1 - target], axis=1)
    assert clone(model).fit(X, two).predict(X).shape == (24, 2)
    with pytest.raises(ValueError, match="a regressor needs numeric targets"):
        clone(model).fit(X, np.array(["a"] * 24))


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (["a"] * 24, "a single class, 'a'"),
        (["a", "b"] * 11, "y has 22 targets but X has 24 samples"),
        (["a", None] * 12, r"missing values \(None or NaN\) at index 1"),
        ([1.0, np.nan] * 12, "at index 1"),
    ],
)
def test_bad_labels_fail_before_training(images, labels, message):
    model = tiny()
    with pytest.raises(ValueError, match=message):
        model.fit(images[0], np.array(labels, dtype=object))
    assert not hasattr(model, "net_")


def test_too_few_samples_for_the_validation_split(images):
    X, y = images
    with pytest.raises(ValueError, match=r"validation=0.05 holds out 2 of 24 samples"):
        tiny(validation=0.05).fit(X, np.arange(24) % 3)


def test_a_corrupt_image_is_named(images, image_files, tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    files = [*image_files, str(broken)]
    with pytest.raises(ImageLoadError, match=r"image 6 '.*broken.png'"):
        tiny().fit(files, ["a", "b"] * 3 + ["a"])


def test_paths_and_arrays_give_the_same_model(images, image_files, rgb_images):
    y = ["a", "b"] * 3
    from_files = tiny().fit(image_files, y).predict_proba(image_files)
    from_arrays = tiny().fit(rgb_images, y).predict_proba(rgb_images)
    np.testing.assert_allclose(from_files, from_arrays, rtol=1e-5, atol=1e-6)


# -- reproducibility, persistence ------------------------------------------------------


def test_same_random_state_same_predictions_and_global_rng_untouched(images):
    torch.manual_seed(123)
    expected_next = torch.rand(1)
    torch.manual_seed(123)
    first = tiny(freeze="none", hidden=(16,), dropout=0.2).fit(*images)
    assert torch.equal(torch.rand(1), expected_next)  # fitting drew nothing from it
    first = first.predict_proba(images[0])
    second = tiny(freeze="none", hidden=(16,), dropout=0.2).fit(*images).predict_proba(images[0])
    np.testing.assert_array_equal(first, second)


def test_pickle_and_joblib_round_trips(images, tmp_path):
    model = tiny(freeze="last:1").fit(*images)
    expected = model.predict_proba(images[0])
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.predict_proba(images[0]), expected)
    joblib.dump(model, tmp_path / "model.joblib")
    restored = joblib.load(tmp_path / "model.joblib")
    np.testing.assert_array_equal(restored.predict(images[0]), model.predict(images[0]))
    assert restored.device == "cpu"


# -- integration: real weights, real data, grid searches over freeze strategies --------


@pytest.fixture(scope="module")
def fashion():
    from sktransfer.datasets import fashion_mnist_available, load_fashion_mnist

    if not fashion_mnist_available():
        pytest.skip("Fashion-MNIST is not installed (scripts/install.sh installs it)")
    X, y = load_fashion_mnist("test")
    keep = np.concatenate([np.flatnonzero(y == c)[:3] for c in (0, 1, 7)])
    return X[keep], np.array(["t-shirt", "trouser", "sneaker"])[np.searchsorted([0, 1, 7], y[keep])]


@pytest.mark.slow
def test_grid_search_over_freeze_strategies_on_images(fashion):
    pytest.importorskip("peft")
    X, y = fashion
    lite0 = FineTuneClassifier(
        max_epochs=1, batch_size=6, validation=None, device="cpu", random_state=0
    )
    # Three images per class: each of the 3 folds trains on two of each.
    grid = {
        "freeze": ["backbone", "last:1", "last:2", "progressive", "lora", "none"],
        "backbone_lr": ["0.1x", 1e-5],
    }
    search = GridSearchCV(lite0, grid, cv=3, error_score="raise").fit(X, y)
    assert len(search.cv_results_["params"]) == 12
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    assert search.best_estimator_.layer_groups_[-2:] == ["blocks.5", "head"]
    assert set(search.predict(X[:3])) <= set(y)


@pytest.mark.slow
@pytest.mark.parametrize("batchnorm", ["train", "eval"])
def test_pretrained_batchnorm_of_lite0_untouched_when_frozen(fashion, batchnorm):
    from sktransfer import ImageEncoder

    X, y = fashion
    pretrained = _running_stats(ImageEncoder(device="cpu").fit().model_.backbone)
    model = FineTuneClassifier(
        freeze="last:1", max_epochs=1, batch_size=6, validation=None, device="cpu",
        batchnorm=batchnorm,
    ).fit(X, y)  # fmt: skip
    after = _running_stats(model.module_.body.backbone)
    changed = {n for n, v in pretrained.items() if not torch.equal(after[n], v)}
    head_group = ("model.blocks.6", "model.conv_head", "model.bn2")  # timm's last group
    if batchnorm == "train":  # the trainable group's statistics follow the batches
        assert changed and all(n.startswith(head_group) for n in changed)
    else:  # every layer keeps its pre-trained statistics; their scales still train
        assert not changed
        trained = dict(model.module_.body.backbone.named_parameters())
        assert trained["model.bn2.weight"].requires_grad


TEXTS = [
    "The striker scored twice in the second half.",
    "The central bank raised interest rates again.",
    "A late penalty decided the cup final.",
    "Shares in the retailer fell after weak sales.",
    "The goalkeeper saved three shots on target.",
    "Inflation rose faster than economists expected.",
    "The coach praised the defence after the win.",
    "The company reported record quarterly profits.",
    "Fans celebrated the championship title in the streets.",
    "Oil prices climbed on fears of lower supply.",
    "The tennis star reached the semi-final.",
    "The merger created the largest bank in the country.",
]
TOPICS = ["sport", "business"] * 6


@pytest.mark.slow
def test_grid_search_over_freeze_strategies_on_text():
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("peft")
    text = FineTuneClassifier(
        "all-MiniLM-L6-v2", max_epochs=2, batch_size=4, validation=None, device="cpu",
        lr=1e-2, random_state=0,
    )  # fmt: skip
    grid = {
        "freeze": ["backbone", "last:1", "last:2", "progressive", "lora", "none"],
        "backbone_lr": ["0.1x"],
    }
    search = GridSearchCV(text, grid, cv=3, error_score="raise").fit(TEXTS, TOPICS)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    assert search.best_estimator_.modality_ == "text"
    assert search.best_estimator_.layer_groups_[-1] == "0.model.encoder.layer.5"
    assert list(search.predict(["The referee ended the match early."])) in (["sport"], ["business"])


@pytest.mark.slow
def test_text_fine_tuning_learns_and_freezes_by_transformer_block():
    pytest.importorskip("sentence_transformers")
    model = FineTuneClassifier(
        "all-MiniLM-L6-v2", freeze="last:1", max_epochs=8, batch_size=4, validation=None,
        device="cpu", lr=1e-2, random_state=0,
    ).fit(TEXTS, TOPICS)  # fmt: skip
    assert model.score(TEXTS, TOPICS) == 1.0
    trainable = {n.split(".")[5] for n, p in model.module_.named_parameters()
                 if p.requires_grad and ".encoder.layer." in n}  # fmt: skip
    assert trainable == {"5"}
    assert model.predict(["The midfielder signed a new contract."])[0] == "sport"


@pytest.mark.slow
def test_max_seq_length_cuts_the_tokens_a_text_model_reads(images):
    pytest.importorskip("sentence_transformers")
    seen = []
    model = FineTuneClassifier(
        "all-MiniLM-L6-v2", freeze="backbone", max_seq_length=6, max_epochs=1,
        validation=None, device="cpu", random_state=0,
    )  # fmt: skip
    model.fit(TEXTS, TOPICS)
    model.module_.body[0].register_forward_pre_hook(
        lambda module, args: seen.append(args[0]["input_ids"].shape[1])
    )
    model.predict([" ".join(["word"] * 50)])
    assert model.module_.body.max_seq_length == 6 and seen == [6]
    with pytest.raises(ValueError, match="max_seq_length is for text backbones"):
        FineTuneClassifier(max_seq_length=6, device="cpu").fit(*images)


def test_an_unknown_backbone_lists_close_names_before_any_work(images):
    model = FineTuneClassifier("resnet5O", device="cpu")
    with pytest.raises(UnknownBackboneError, match="Did you mean: resnet50"):
        model.fit(*images)
    assert not hasattr(model, "net_")
