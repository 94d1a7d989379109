import subprocess
import sys

import pytest

from sktransfer import AmbiguousBackboneError, UnknownBackboneError, WordVectorEncoder, backbones
from sktransfer.backbones import BackboneSpec, Registry


def _spec(name, modality="image"):
    return BackboneSpec(name=name, modality=modality, build=lambda weights: None)


@pytest.fixture
def registry():
    """A registry with one tiny built-in family and no plugins."""
    reg = Registry(group="sktransfer.tests.no-such-group", builtin_families={})
    reg.register(_spec("alpha"), namespace="fam")
    reg.register(_spec("beta_net"), namespace="fam")
    reg.register(_spec("gamma", modality="text"), namespace="fam")
    return reg


def test_every_torchvision_classifier_is_registered():
    import torchvision
    from torchvision.models import list_models

    names = backbones.list(modality="image")
    assert set(list_models(module=torchvision.models)) <= set(names)


def test_lookup_ignores_case_and_dash_vs_underscore():
    assert backbones.get("ResNet50") is backbones.get("resnet50")
    assert backbones.get("ViT-B-16") is backbones.get("vit_b_16")
    assert backbones.get("torchvision/resnet50") is backbones.get("resnet50")


def test_spec_carries_everything_a_backbone_declares():
    spec = backbones.get("inception_v3")
    assert spec.modality == "image"
    assert spec.family == "torchvision"
    assert spec.preprocessing.input_size == 299 and spec.preprocessing.resize_size == 342
    assert spec.feature_dim == 2048
    assert spec.layer_groups == ("stem", "mixed5", "mixed6", "mixed7")
    assert spec.weights.filename.endswith(".pth") and spec.weights.url.startswith("https://")
    assert "inception_v3" in spec.description
    assert callable(spec.build)


def test_unknown_name_lists_close_names():
    with pytest.raises(UnknownBackboneError, match="resnet50") as info:
        backbones.get("resnet5O")
    assert "Did you mean" in str(info.value)
    with pytest.raises(UnknownBackboneError, match="efficientnet_b[0-7]"):
        backbones.get("efficientnet")


def test_list_filters_by_modality(registry):
    assert registry.list() == ["alpha", "beta_net", "gamma"]
    assert registry.list(modality="text") == ["gamma"]
    with pytest.raises(ValueError, match="modality"):
        registry.list(modality="audio")


def test_register_refuses_silent_override(registry):
    with pytest.raises(ValueError, match="already registered"):
        registry.register(_spec("alpha"), namespace="fam")
    replacement = registry.register(_spec("alpha"), namespace="fam", overwrite=True)
    assert registry.get("alpha") is replacement
    assert registry.list().count("alpha") == 1


def test_two_sources_sharing_a_name_need_qualified_names(registry):
    other = registry.register(_spec("alpha"), namespace="other")
    with pytest.raises(AmbiguousBackboneError, match="fam/alpha.*other/alpha"):
        registry.get("alpha")
    assert registry.get("other/alpha") is other
    assert "alpha" in registry  # ambiguous, but present
    assert {"fam/alpha", "other/alpha"} <= set(registry.list())


def test_unregister(registry):
    registry.unregister("beta_net")
    assert "beta_net" not in registry


def test_spec_validates_modality_and_build():
    with pytest.raises(ValueError, match="modality"):
        BackboneSpec(name="x", modality="audio", build=lambda w: None)
    with pytest.raises(TypeError, match="callable"):
        BackboneSpec(name="x", modality="image", build=None)


def test_broken_builtin_family_only_warns():
    reg = Registry(
        group="sktransfer.tests.no-such-group",
        builtin_families={"broken": "sktransfer.no_such_module:specs"},
    )
    with pytest.warns(RuntimeWarning, match="'broken'.*failed to load"):
        assert reg.list() == []


# -- resolve: the one way from anything a user passes to a spec ------------------------------


def test_resolve_takes_registered_names_and_specs(registry):
    assert registry.resolve("alpha", modality="image") is registry.get("fam/alpha")
    spec = _spec("loose")
    assert registry.resolve(spec, modality="image") is spec


def test_resolve_refuses_another_modality():
    # The registry knows modalities, not estimators: the encoders name the one to use.
    with pytest.raises(ValueError, match="reads text, not image$"):
        backbones.resolve("all-MiniLM-L6-v2", modality="image")
    with pytest.raises(ValueError, match="reads image, not text or words$"):
        backbones.resolve("resnet18", modality=("text", "words"))
    with pytest.raises(ValueError, match="reads image, not words; use ImageEncoder"):
        WordVectorEncoder("resnet18").fit()


def test_resolve_tries_the_modalities_in_turn():
    assert backbones.resolve("resnet18", modality=("image", "text")).modality == "image"
    assert backbones.resolve("all-MiniLM-L6-v2", modality=("image", "text")).modality == "text"
    # An unknown bare name is not looked up on a hub: the first modality's close names.
    with pytest.raises(UnknownBackboneError, match="Did you mean: resnet18"):
        backbones.resolve("resnet1B", modality=("image", "text"))


def test_resolve_unknown_image_names_list_close_ones_of_that_modality():
    with pytest.raises(UnknownBackboneError, match="Did you mean: .*resnet50"):
        backbones.resolve("resnet5O", modality="image")
    with pytest.raises(
        TypeError, match="a backbone must be a name, a path or a loaded image model"
    ):
        backbones.resolve(42, modality="image")


def test_resolve_builds_ad_hoc_specs_in_the_family_modules(tmp_path):
    import torch
    from torch import nn

    from sktransfer.backbones import SequentialBackbone

    model = SequentialBackbone({"stem": nn.Conv2d(3, 4, 3)})
    spec = backbones.resolve(model, modality="image")
    assert spec.build("default") is model and spec.preprocessing.input_size == 224
    timm_spec = backbones.resolve("resnet18.a1_in1k", modality="image")  # timm, not registered
    assert timm_spec.family == "timm"
    assert timm_spec.build(None).eval()(torch.zeros(1, 3, 64, 64)).shape == (1, 512)
    text = backbones.resolve("BAAI/bge-small-en-v1.5", modality="text")
    assert text.weights.url.endswith("/BAAI/bge-small-en-v1.5")
    words = tmp_path / "tiny.txt"
    words.write_text("cat 1.0 0.0\ndog 0.0 1.0\n")
    assert backbones.resolve(words, modality="words").build("default").vector_size == 2


def test_resolve_is_what_every_encoder_calls(monkeypatch):
    from sktransfer import ImageEncoder, SentenceEncoder, WordVectorEncoder

    asked = []

    def refuse(backbone, *, modality):
        asked.append((backbone, modality))
        raise LookupError("stop here")

    monkeypatch.setattr(backbones, "resolve", refuse)
    for encoder in (ImageEncoder("x"), SentenceEncoder("y"), WordVectorEncoder("z")):
        with pytest.raises(LookupError):
            encoder.fit()
    assert asked == [("x", "image"), ("y", "text"), ("z", "words")]


def test_importing_sktransfer_does_not_import_torch():
    code = "import sys, sktransfer\nassert 'torch' not in sys.modules, 'torch imported'\n"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_slash_in_a_name_is_refused(registry):
    with pytest.raises(ValueError, match="may not contain '/'"):
        registry.register(_spec("a/b"))
    with pytest.raises(ValueError, match="may not contain '/'"):
        registry.register(_spec("ok"), namespace="x/y")


def test_an_unknown_interpolation_is_refused_when_declared():
    with pytest.raises(ValueError, match="interpolation must be one of .*'bicubic'"):
        backbones.ImagePreprocessing(interpolation="cubic")
