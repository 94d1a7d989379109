"""Frozen-prefix caching: the frozen part of the backbone runs once per fit, to the same model.

"Without caching" is an identity augmentation: any augmentation makes every
epoch run the whole network, and this one changes no pixel.
"""

from collections import OrderedDict

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from test_fine_tune import FIXED  # the mechanics under test, not the recipe
from torch import nn

from sktransfer import FineTuneClassifier
from sktransfer.backbones import BackboneSpec, ImagePreprocessing, SequentialBackbone
from sktransfer.cache import EmbeddingCache

STEM_IMAGES = []  # the batches seen by the stem of every model built here


def build_chain(weights="default"):
    """Three groups; the stem has dropout, which a frozen stem must not apply."""
    torch.manual_seed(0)
    stem = nn.Sequential(
        nn.Conv2d(3, 8, 3, stride=2), nn.BatchNorm2d(8), nn.ReLU(), nn.Dropout(0.5)
    )
    model = SequentialBackbone(
        OrderedDict(
            stem=stem,
            stage1=nn.Sequential(nn.Conv2d(8, 16, 3, stride=2), nn.BatchNorm2d(16), nn.ReLU()),
            stage2=nn.Sequential(nn.Conv2d(16, 32, 3), nn.BatchNorm2d(32), nn.ReLU()),
        )
    )
    stem.register_forward_hook(lambda module, inputs, output: STEM_IMAGES.append(inputs[0]))
    return model


CHAIN = BackboneSpec(
    name="chain",
    modality="image",
    build=build_chain,
    preprocessing=ImagePreprocessing(input_size=32, resize_size=None),
)
EPOCHS = 3
UNCACHED = {"augment": lambda image: image}


def chain(**params):
    defaults = dict(max_epochs=EPOCHS, batch_size=8, validation=0.25, device="cpu", random_state=0)
    defaults.update(FIXED)  # the mechanics under test, not the recipe
    return FineTuneClassifier(CHAIN, **{**defaults, **params})


def stem_images(model, *args):
    """How many images the stem saw while ``model`` was fitted, blank ones left out.

    (Each fit sends a blank image through the body to size the head, and one
    more through the frozen part to size its stored outputs.)
    """
    STEM_IMAGES.clear()
    model.fit(*args)
    return sum(int((batch.flatten(2).std(dim=2).amax(dim=1) > 0).sum()) for batch in STEM_IMAGES)


@pytest.mark.parametrize("freeze", ["backbone", "last:1", "last:2"])
def test_the_frozen_part_runs_once_per_fit_and_trains_the_same_model(images, freeze):
    X, y = images
    cached, uncached = chain(freeze=freeze), chain(freeze=freeze, **UNCACHED)
    # Once per image...
    assert stem_images(cached, X, y) == len(X)
    # ... against once per image and epoch, validation included.
    assert stem_images(uncached, X, y) == EPOCHS * len(X)
    for key in ("train_loss", "valid_loss", "valid_acc"):
        np.testing.assert_allclose(cached.history_[:, key], uncached.history_[:, key], rtol=1e-5)
    np.testing.assert_allclose(cached.predict_proba(X), uncached.predict_proba(X), atol=1e-6)
    assert cached.history_[:, "trainable_groups"] == uncached.history_[:, "trainable_groups"]


@pytest.mark.parametrize(
    "params",
    [{"freeze": "none"}, {"freeze": "progressive"}, {"freeze": "last:3"}, {"augment": "light"}],
)
def test_no_caching_where_the_frozen_part_changes_or_the_images_do(images, params):
    assert stem_images(chain(**params), *images) == EPOCHS * len(images[0])


def test_frozen_layers_run_in_eval_mode_while_the_rest_trains(images):
    model = chain(freeze="last:1").fit(*images)
    model.module_.train()
    backbone = model.module_.body.backbone
    assert not backbone.stem.training and not backbone.stem[3].training  # its dropout too
    assert backbone.stage2.training and model.module_.head.training


def test_the_disk_cache_serves_the_next_fit_and_misses_on_other_weights(images, tmp_path):
    X, y = images
    first = chain(cache=tmp_path)
    stem_images(first, X, y)
    second = clone(first)
    assert stem_images(second, X, y) == 0
    np.testing.assert_allclose(second.predict_proba(X), first.predict_proba(X), atol=1e-6)
    [entry] = EmbeddingCache(tmp_path).info()
    assert entry["entries"] == len(X)
    assert entry["encoder"] == "FineTuneClassifier frozen part"

    # A warm start after training the whole backbone starts from other weights.
    warm = chain(freeze="none", cache=tmp_path).fit(X, y)
    warm.set_params(freeze="backbone", warm_start=True)
    assert stem_images(warm, X, y) == len(X)


def test_a_search_computes_each_images_frozen_outputs_once(images, tmp_path):
    X, y = images
    search = GridSearchCV(chain(cache=tmp_path), {"lr": [1e-3, 1e-2]}, cv=3)
    # Training reads each image's frozen outputs from the disk after its first fit
    # (without the cache: 16 per fold's fit, 24 for the refit); scoring predicts
    # each fit's 8 test images through the whole network.
    fits = 2 * 3
    assert stem_images(search, X, y) == len(X) + fits * 8
    uncached = clone(search).set_params(estimator__cache=None)
    assert stem_images(uncached, X, y) == fits * 16 + len(X) + fits * 8
    scores = [s.cv_results_["mean_test_score"] for s in (search, uncached)]
    np.testing.assert_allclose(*scores)


def test_over_the_memory_limit_the_frozen_part_runs_each_epoch(images, monkeypatch):
    from sktransfer.finetune import _prefix

    monkeypatch.setattr(_prefix, "MEMORY_LIMIT", 1000)
    assert stem_images(chain(), *images) == EPOCHS * len(images[0])


@pytest.mark.slow
@pytest.mark.parametrize("freeze", ["backbone", "last:1"])
def test_efficientnet_lite0_runs_only_its_last_stages(images, freeze):
    X, y = images
    params = dict(weights=None, freeze=freeze, max_epochs=2, batch_size=8, validation=None,
                  device="cpu", random_state=0)  # fmt: skip
    cached = FineTuneClassifier(**params).fit(X, y)
    uncached = FineTuneClassifier(**params, **UNCACHED).fit(X, y)
    np.testing.assert_allclose(cached.history_[:, "train_loss"], uncached.history_[:, "train_loss"],
                               rtol=1e-4)  # fmt: skip
    np.testing.assert_allclose(cached.predict_proba(X), uncached.predict_proba(X), atol=1e-5)


@pytest.mark.slow
def test_a_frozen_sentence_model_encodes_each_text_once(monkeypatch):
    pytest.importorskip("sentence_transformers")
    from torch.nn.modules.module import register_module_forward_hook

    from sktransfer.finetune import _prefix

    texts = [
        "The striker scored twice.",
        "Shares fell sharply.",
        "A late goal won it.",
        "Profits doubled this year.",
        "The coach was sacked.",
        "Markets rallied.",
    ] * 2
    topics = ["sport", "business"] * 6
    params = dict(max_epochs=3, batch_size=4, validation=None, device="cpu", lr=1e-2,
                  freeze="backbone", head_init="probe", schedule=None, random_state=0)  # fmt: skip
    seen = []

    def count(module, inputs, output):
        if type(module).__name__ == "BertEmbeddings":
            seen.append(len(output))

    handle = register_module_forward_hook(count)
    try:
        cached = FineTuneClassifier("all-MiniLM-L6-v2", **params).fit(texts, topics)
        cached_texts = sum(seen)
        seen.clear()
        monkeypatch.setattr(_prefix, "MEMORY_LIMIT", 0)  # the whole network in each epoch
        uncached = FineTuneClassifier("all-MiniLM-L6-v2", **params).fit(texts, topics)
        uncached_texts = sum(seen)
    finally:
        handle.remove()
    # Cached, the probe and every epoch read the one pass; uncached, the probe's
    # features, its epoch and the three others each read every text.
    assert (cached_texts, uncached_texts) == (len(texts), 5 * len(texts))
    np.testing.assert_allclose(cached.predict_proba(texts), uncached.predict_proba(texts),
                               atol=1e-5)  # fmt: skip
