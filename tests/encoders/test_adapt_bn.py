"""``ImageEncoder(adapt_bn=True)``: AdaBN, each domain normalised by its own statistics."""

import pickle
from collections import OrderedDict

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from torch import nn

from sktransfer import ImageEncoder
from sktransfer.backbones import SequentialBackbone
from sktransfer.encoders._adapt_bn import _even_batch_size

N_SOURCE, N_TARGET = 6, 10


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """A resnet18 with fixed random weights and running statistics: encoders that load this
    file share one model, as encoders of pre-trained weights do."""
    from torchvision.models import resnet18

    torch.manual_seed(0)
    model = resnet18()
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    path = tmp_path_factory.mktemp("weights") / "resnet18.pt"
    torch.save(model.state_dict(), path)
    return path


@pytest.fixture(scope="module")
def domains():
    """(X, sample_domain, source, target): source images and shifted (inverted) target
    ones, interleaved in X so that rows are put back in their order."""
    rng = np.random.default_rng(0)
    source = rng.integers(0, 160, (N_SOURCE, 32, 32, 3), dtype=np.uint8)
    target = 255 - rng.integers(0, 160, (N_TARGET, 32, 32, 3), dtype=np.uint8)
    order = rng.permutation(N_SOURCE + N_TARGET)
    X = np.concatenate([source, target])[order]
    domain = np.r_[np.ones(N_SOURCE, int), np.full(N_TARGET, -2)][order]
    return X, domain, source, target


def encoder(weights, **params):
    defaults = dict(weights=weights, image_size=32, batch_size=4, device="cpu")
    return ImageEncoder("resnet18", **{**defaults, **params})


def _is_statistic(name):
    return name.endswith(("running_mean", "running_var", "num_batches_tracked"))


def test_adapt_bn_changes_only_batchnorm_statistics_and_only_when_asked(weights, domains):
    target = domains[3]
    plain = encoder(weights).fit(target)
    before = plain.transform(target)
    assert plain.n_adapted_ == 0 and plain.source_model_ is plain.model_
    adapted = encoder(weights, adapt_bn=True).fit(target)
    assert adapted.n_adapted_ == 20  # every BatchNorm layer of a resnet18
    # The loaded model, shared with the plain encoder, serves the source domain.
    assert adapted.source_model_ is plain.model_ and adapted.model_ is not plain.model_
    pretrained, new = plain.model_.state_dict(), adapted.model_.state_dict()
    assert pretrained.keys() == new.keys()
    for name, value in pretrained.items():
        if name.endswith(("running_mean", "running_var")):
            assert not torch.allclose(new[name], value), name
        elif not _is_statistic(name):
            assert torch.equal(new[name], value), name
    assert not np.allclose(adapted.transform(target), before, atol=1e-3)
    # The shared model is unchanged: a new plain encoder computes what the first did.
    np.testing.assert_array_equal(plain.transform(target), before)
    np.testing.assert_array_equal(encoder(weights).fit().transform(target), before)


def test_the_statistics_are_the_target_images(weights, domains):
    """The first BatchNorm's mean is its input's over every target image (10 images in
    batches of 4, 4 and 2: each weighted by its size), preprocessed as transform does."""
    target = domains[3]
    plain = encoder(weights).fit()
    inputs = []
    hook = plain.model_.backbone.stem[1].register_forward_pre_hook(
        lambda module, args: inputs.append(args[0].clone())
    )
    try:
        plain.transform(target)
    finally:
        hook.remove()
    expected = torch.cat(inputs).mean(dim=(0, 2, 3))
    adapted = encoder(weights, adapt_bn=True).fit(target)
    first = adapted.model_.backbone.stem[1]
    assert isinstance(first, nn.BatchNorm2d)
    torch.testing.assert_close(first.running_mean, expected, rtol=1e-4, atol=1e-4)


def test_a_lone_last_image_gets_no_batch_of_its_own(weights, domains):
    # resnet18's last maps are 1 x 1 at 32 px: a batch of one image has no statistics there.
    adapted = encoder(weights, adapt_bn=True, batch_size=8).fit(domains[3][:9])
    assert adapted.n_adapted_ == 20
    assert [_even_batch_size(n, 8) for n in (1, 8, 9, 10, 17)] == [1, 8, 5, 5, 6]
    assert _even_batch_size(3, 2) == 3 and _even_batch_size(64, 64) == 64


def test_each_domain_is_normalised_by_its_own_statistics(weights, domains):
    X, domain = domains[:2]
    adapted = encoder(weights, adapt_bn=True).fit(X, sample_domain=domain)
    assert adapted.source_model_ is not adapted.model_
    features = adapted.transform(X, sample_domain=domain)
    source, target = X[domain > 0], X[domain < 0]  # in X's order: the same batches
    alone = {
        "source": encoder(weights, adapt_bn=True).fit(source).transform(source),
        "target": encoder(weights, adapt_bn=True).fit(target).transform(target),
    }
    close = dict(rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(features[domain > 0], alone["source"], **close)
    np.testing.assert_allclose(features[domain < 0], alone["target"], **close)
    # Without sample_domain every image is the target's, whose domain the model serves.
    np.testing.assert_allclose(adapted.transform(X)[domain < 0], alone["target"], **close)
    assert not np.allclose(adapted.transform(X)[domain > 0], alone["source"], atol=1e-3)
    fitted = encoder(weights, adapt_bn=True).fit_transform(X, sample_domain=domain)
    np.testing.assert_allclose(fitted, features, **close)
    frame = adapted.set_output(transform="pandas").transform(X, sample_domain=domain)
    np.testing.assert_allclose(frame.to_numpy(), features, **close)


def test_without_adapt_bn_sample_domain_is_ignored(weights, domains):
    X, domain = domains[:2]
    plain = encoder(weights).fit(X, sample_domain=domain[:3])
    np.testing.assert_array_equal(plain.transform(X, sample_domain=domain), plain.transform(X))


def test_a_backbone_without_batchnorm_is_kept_with_a_warning(domains):
    backbone = SequentialBackbone(OrderedDict(stem=nn.Conv2d(3, 8, 3), act=nn.ReLU()))
    plain = ImageEncoder(backbone, image_size=32, device="cpu").fit()
    with pytest.warns(UserWarning, match="no BatchNorm layer"):
        adapted = ImageEncoder(backbone, image_size=32, adapt_bn=True, device="cpu").fit(
            domains[0], sample_domain=domains[1]
        )
    assert adapted.n_adapted_ == 0 and adapted.model_ is adapted.source_model_
    np.testing.assert_array_equal(adapted.transform(domains[0]), plain.transform(domains[0]))


def test_bad_input_is_refused_before_the_model_loads(weights, domains, monkeypatch):
    X, domain = domains[:2]
    adapting = encoder(weights, adapt_bn=True)
    monkeypatch.setattr(ImageEncoder, "_shared_load", lambda self: pytest.fail("loaded"))
    with pytest.raises(ValueError, match="images given to fit"):
        adapting.fit()
    with pytest.raises(ValueError, match=r"sample_domain has shape \(3,\), X has 16 samples"):
        adapting.fit(X, sample_domain=domain[:3])
    with pytest.raises(ValueError, match="marks none"):
        adapting.fit(X, sample_domain=np.abs(domain))
    with pytest.raises(TypeError, match="adapt_bn must be True or False"):
        encoder(weights, adapt_bn="yes").fit(X)
    assert not hasattr(adapting, "model_")
    monkeypatch.undo()
    adapting.fit(X, sample_domain=domain)
    with pytest.raises(ValueError, match="sample_domain has shape"):
        adapting.transform(X, sample_domain=domain[:-1])


def test_the_cache_keeps_adapted_and_pre_trained_features_apart(weights, domains, tmp_path):
    X, domain, _, target = domains
    plain = encoder(weights, cache=tmp_path).fit().transform(target)
    adapted = encoder(weights, cache=tmp_path, adapt_bn=True).fit(X, sample_domain=domain)
    first = adapted.transform(X, sample_domain=domain)
    assert not np.allclose(first[domain < 0], plain, atol=1e-3)  # no stale row
    uncached = encoder(weights, adapt_bn=True).fit(X, sample_domain=domain)
    np.testing.assert_allclose(first, uncached.transform(X, sample_domain=domain), atol=1e-5)

    def fail(self, samples, positions):
        raise AssertionError("encoded again")

    with pytest.MonkeyPatch.context() as patch:  # a second call reads every row back
        patch.setattr(ImageEncoder, "_encode", fail)
        np.testing.assert_array_equal(adapted.transform(X, sample_domain=domain), first)
        np.testing.assert_array_equal(
            encoder(weights, cache=tmp_path).fit().transform(target), plain
        )


def test_pickles_keep_both_models(weights, domains):
    X, domain = domains[:2]
    adapted = encoder(weights, adapt_bn=True).fit(X, sample_domain=domain)
    restored = pickle.loads(pickle.dumps(adapted))
    assert restored.source_model_ is not restored.model_ and restored.n_adapted_ == 20
    np.testing.assert_array_equal(
        restored.transform(X, sample_domain=domain), adapted.transform(X, sample_domain=domain)
    )
    plain = pickle.loads(pickle.dumps(encoder(weights).fit()))
    assert plain.source_model_ is plain.model_  # pickled once


def test_a_pipeline_without_metadata_routing(weights, domains):
    X, domain = domains[:2]
    y = np.where(domain > 0, np.arange(len(X)) % 2, -1)
    pipeline = make_pipeline(encoder(weights, adapt_bn=True), LogisticRegression())
    source = domain > 0
    pipeline.fit(X[source], y[source])  # no sample_domain: its images are the targets
    assert pipeline[0].source_model_ is not pipeline[0].model_
    assert pipeline.predict(X).shape == (len(X),)
    features = make_pipeline(encoder(weights, adapt_bn=True), StandardScaler())
    features.fit(X, imageencoder__sample_domain=domain)
    assert features[0].source_model_ is not features[0].model_


def test_skada_and_scikit_learn_route_sample_domain(skada, weights, domains):
    X, domain = domains[:2]
    target = X[domain < 0]
    y = np.where(domain > 0, np.arange(len(X)) % 2, -1)  # the targets' labels masked
    pipeline = skada.make_da_pipeline(encoder(weights, adapt_bn=True), LogisticRegression())
    pipeline.fit(X, y, sample_domain=domain)
    fitted = pipeline[0].base_estimator_
    assert fitted.n_adapted_ == 20 and fitted.source_model_ is not fitted.model_
    assert set(pipeline.predict(target)) <= {0, 1}
    alone = encoder(weights, adapt_bn=True).fit(target).transform(target)
    np.testing.assert_allclose(fitted.transform(target), alone, rtol=1e-5, atol=1e-5)
    # scikit-learn's own Pipeline routes it too, once routing is on.
    features = make_pipeline(encoder(weights, adapt_bn=True), StandardScaler())
    out = features.fit_transform(X, sample_domain=domain)
    assert features[0].source_model_ is not features[0].model_
    np.testing.assert_allclose(features.transform(X, sample_domain=domain), out, atol=1e-4)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_on_a_gpu_both_models_run_there_and_pickle_to_the_cpu(weights, domains):
    X, domain = domains[:2]
    cpu = encoder(weights, adapt_bn=True).fit(X, sample_domain=domain)
    gpu = encoder(weights, adapt_bn=True, device="cuda").fit(X, sample_domain=domain)
    features = gpu.transform(X, sample_domain=domain)
    expected = cpu.transform(X, sample_domain=domain)
    np.testing.assert_allclose(features, expected, rtol=2e-2, atol=2e-2)
    for model in (gpu.model_, gpu.source_model_):
        assert next(model.parameters()).device.type == "cuda"
    restored = pickle.loads(pickle.dumps(gpu))
    for model in (restored.model_, restored.source_model_):
        assert all(p.device.type == "cpu" for p in model.parameters())
    assert next(gpu.source_model_.parameters()).device.type == "cuda"  # the live one stays
    restored.set_params(device="cpu")
    np.testing.assert_allclose(
        restored.transform(X, sample_domain=domain), features, rtol=2e-2, atol=2e-2
    )
