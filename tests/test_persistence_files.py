"""Model files without pickle: skops' format, sktransfer.save / load, what they refuse.

The pipelines here hold the packaged pre-trained networks (EfficientNet-Lite0,
all-MiniLM-L6-v2, GloVe): a saved file keeps their digests, not their weights,
and loading rebuilds and checks them.
"""

import json
import os
import zipfile

import joblib
import numpy as np
import pytest
import skops.io
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import sktransfer
from sktransfer import (
    BackboneSelector,
    ImageEncoder,
    ModelFileError,
    PixelEncoder,
    SentenceEncoder,
    WeightsMismatchError,
    WordVectorEncoder,
)
from sktransfer.cli._predict import load_model
from sktransfer.spec import MODEL_FORMAT

TEXTS = ["stocks fell sharply", "the match ended level", "shares rallied again",
         "a late goal won it", "markets closed higher", "the striker scored twice"]  # fmt: skip
TOPICS = ["business", "sport"] * 3


def images():
    return np.random.default_rng(0).integers(0, 256, (6, 32, 32, 3), dtype=np.uint8)


def fitted(encoder, X, y):
    return make_pipeline(encoder, StandardScaler(), LogisticRegression()).fit(X, y)


CASES = {
    "image": lambda: (fitted(ImageEncoder(image_size=32), images(), [0, 1, 2] * 2), images()),
    "image, AdaBN": lambda: (
        fitted(ImageEncoder(image_size=32, adapt_bn=True), images(), [0, 1] * 3),
        images(),
    ),
    "pixels": lambda: (fitted(PixelEncoder(), images(), [0, 1] * 3), images()),
    "selector": lambda: (
        fitted(
            BackboneSelector([PixelEncoder(), ImageEncoder(image_size=32)]), images(), [0, 1] * 3
        ),
        images(),
    ),  # fmt: skip
    "sentence": lambda: (fitted(SentenceEncoder(), TEXTS, TOPICS), TEXTS),
    "words": lambda: (fitted(WordVectorEncoder(pooling="tfidf"), TEXTS, TOPICS), TEXTS),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_pipeline_with_each_encoder_saves_and_loads_without_pickle(case, tmp_path):
    if case in ("sentence", "words"):
        pytest.importorskip("sentence_transformers" if case == "sentence" else "gensim")
    model, X = CASES[case]()
    path = tmp_path / "model.skops"
    sktransfer.save(model, path)
    # Only sktransfer's own types need trust: skops trusts scikit-learn's and numpy's.
    untrusted = skops.io.get_untrusted_types(file=path)
    assert untrusted and all(name.startswith("sktransfer.") for name in untrusted), untrusted
    loaded = sktransfer.load(path)
    np.testing.assert_allclose(loaded.predict_proba(X), model.predict_proba(X), atol=1e-6)
    # skops' own calls read it too, the types named.
    payload = skops.io.load(path, trusted=untrusted)
    assert payload["format"] == "sktransfer-model" and payload["version"] == 1
    np.testing.assert_array_equal(payload["model"].predict(X), model.predict(X))


def test_a_packaged_backbone_is_stored_as_its_digest_not_its_weights(tmp_path):
    model, _ = CASES["image"]()
    sktransfer.save(model, tmp_path / "model.skops")
    joblib.dump(model, tmp_path / "model.joblib")
    # Lite0's weights (14 MB pickled) stay in its package; the file keeps their digest.
    assert os.path.getsize(tmp_path / "model.skops") < 100_000
    state = model[0].__getstate__()
    assert state["model_"]["arrays"] == {} and len(state["model_"]["digest"]) == 32


def edit_schema(path, edit):
    """Rewrite a skops file's schema.json with ``edit(schema)``, the arrays kept."""
    with zipfile.ZipFile(path) as source:
        files = {name: source.read(name) for name in source.namelist()}
    schema = json.loads(files["schema.json"])
    edit(schema)
    files["schema.json"] = json.dumps(schema).encode()
    with zipfile.ZipFile(path, "w") as target:
        for name, content in files.items():
            target.writestr(name, content)


def nodes(tree):
    """Every node of a skops schema, depth first."""
    if isinstance(tree, dict):
        yield tree
        for value in tree.values():
            yield from nodes(value)
    elif isinstance(tree, list):
        for value in tree:
            yield from nodes(value)


@pytest.mark.parametrize("target", ["os.system", "builtins.eval"])
def test_a_payload_edited_to_run_code_is_refused_without_running_it(tmp_path, target):
    model, _ = CASES["pixels"]()
    path = tmp_path / "model.skops"
    sktransfer.save(model, path)
    marker = tmp_path / "marker"
    module, name = target.split(".")

    def call_it(schema):
        # The encoder becomes ``target(command)``: skops' node for an object that its
        # type's constructor rebuilds from arguments, here a command writing the marker.
        node = next(n for n in nodes(schema) if n.get("__class__") == "PixelEncoder")
        command = f"open({str(marker)!r}, 'w')" if name == "eval" else f"touch {marker}"
        argument = {"__class__": "str", "__module__": "builtins", "__loader__": "JsonNode",
                    "content": json.dumps(command), "is_json": True}  # fmt: skip
        node.clear()
        node.update({
            "__class__": name, "__module__": module, "__loader__": "ConstructorFromReduceNode",
            "content": {"__class__": "tuple", "__module__": "builtins",
                        "__loader__": "TupleNode", "content": [argument]},
        })  # fmt: skip

    edit_schema(path, call_it)
    assert target in skops.io.get_untrusted_types(file=path)
    with pytest.raises(ModelFileError, match=f"not trusted: {target}"):
        sktransfer.load(path)
    with pytest.raises(Exception, match="[Uu]ntrusted"):
        skops.io.load(path, trusted=["sktransfer.encoders._pixels.PixelEncoder"])
    assert not marker.exists()


def test_a_tampered_weights_digest_is_refused_naming_the_backbone(tmp_path):
    model, X = CASES["image"]()
    path = tmp_path / "model.skops"
    sktransfer.save(model, path)
    digest = model[0].__getstate__()["model_"]["digest"]

    def tamper(schema):
        for node in nodes(schema):
            if node.get("content") == json.dumps(digest):
                node["content"] = json.dumps("0" * 32)

    edit_schema(path, tamper)
    with pytest.raises(WeightsMismatchError, match="backbone 'efficientnet_lite0'"):
        sktransfer.load(path)


def test_a_file_of_a_newer_format_is_refused_naming_both_versions(tmp_path, monkeypatch):
    from sktransfer import persistence

    model, _ = CASES["pixels"]()
    monkeypatch.setattr(persistence, "VERSION", 2)
    sktransfer.save(model, tmp_path / "future.skops")
    monkeypatch.setattr(persistence, "VERSION", 1)
    with pytest.raises(ModelFileError, match="version 2 .*this release reads version 1"):
        sktransfer.load(tmp_path / "future.skops")
    skops.io.dump({"not": "ours"}, tmp_path / "other.skops")
    with pytest.raises(ModelFileError, match="not one sktransfer.save wrote"):
        sktransfer.load(tmp_path / "other.skops")
    (tmp_path / "text.skops").write_text("hello")
    with pytest.raises(ModelFileError, match="is not a model file"):
        sktransfer.load(tmp_path / "text.skops")


def test_other_types_are_loaded_only_when_trusted_by_name(tmp_path):
    import operator

    from sklearn.preprocessing import FunctionTransformer

    model = make_pipeline(PixelEncoder(), FunctionTransformer(operator.neg), LogisticRegression())
    model.fit(images(), [0, 1] * 3)
    sktransfer.save(model, tmp_path / "model.skops")
    with pytest.raises(ModelFileError, match=r"trusted=\['_operator.neg'\]"):
        sktransfer.load(tmp_path / "model.skops")
    loaded = sktransfer.load(tmp_path / "model.skops", trusted=["_operator.neg"])
    np.testing.assert_array_equal(loaded.predict(images()), model.predict(images()))


def test_predict_still_reads_a_joblib_file_it_is_given(tmp_path):
    model, X = CASES["pixels"]()
    saved = {"format": MODEL_FORMAT, "estimator": model, "input": {"kind": "images"},
             "task": "classification", "name": "old"}  # fmt: skip
    joblib.dump(saved, tmp_path / "model.joblib")
    assert load_model(tmp_path / "model.joblib")["name"] == "old"
    sktransfer.save(model, tmp_path / "model.skops", input={"kind": "images"}, name="new")
    loaded = load_model(tmp_path / "model.skops")
    assert loaded["name"] == "new" and loaded["input"] == {"kind": "images"}
    np.testing.assert_array_equal(loaded["estimator"].predict(X), model.predict(X))
    sktransfer.save(model, tmp_path / "bare.skops")
    with pytest.raises(ValueError, match="sktransfer.load"):
        load_model(tmp_path / "bare.skops")
