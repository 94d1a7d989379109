"""An invalid spec fails before any work, naming the field, the value and what was expected;
a spec is data, never code."""

import sys
import textwrap

import pytest
from PIL import Image

from sktransfer.spec import SpecError, build, load_spec

TEXTS = {"dataset": "bbc_news", "per_class": 4}


def spec(**changes):
    return {"data": TEXTS, "pipeline": ["TfidfVectorizer", "LogisticRegression"], **changes}


def folder(root, counts):
    for label, n in counts.items():
        (root / label).mkdir(parents=True)
        for i in range(n):
            Image.new("RGB", (8, 8), (i * 20, 0, 0)).save(root / label / f"{i}.png")
    return root


def error(value, **kwargs):
    with pytest.raises(SpecError) as caught:
        load_spec(value, **kwargs)
    return caught.value


def test_a_valid_spec_builds_its_pipeline_and_search():
    estimator = build(spec(search={"params": {"logisticregression__C": [0.1, 1.0]}, "cv": 2}))
    assert type(estimator).__name__ == "GridSearchCV"
    assert estimator.cv == 2
    assert [name for name, _ in estimator.estimator.steps] == [
        "tfidfvectorizer",
        "logisticregression",
    ]


def test_unknown_estimator_lists_close_names():
    caught = error(spec(pipeline=["TfidfVectorizer", "LogisticRegresion"]))
    assert caught.field == "pipeline[1]"
    assert "unknown estimator 'LogisticRegresion'" in str(caught)
    assert "Did you mean: LogisticRegression" in str(caught)


def test_unknown_parameter_lists_close_names():
    caught = error(spec(pipeline=["TfidfVectorizer", {"LogisticRegression": {"max_iters": 10}}]))
    assert caught.field == "pipeline[1].LogisticRegression.max_iters"
    assert "no parameter 'max_iters'" in str(caught) and "max_iter" in str(caught)


@pytest.mark.parametrize(
    "step, words",
    [
        ({"LogisticRegression": {"C": "high"}}, ["C", "'high'"]),
        ({"LogisticRegression": {"C": -1.0}}, ["C", "-1.0"]),
        ({"SentenceEncoder": {"batch_size": "big"}}, ["batch_size", "'big'"]),
        ({"ImageEncoder": {"pooling": "mean"}}, ["pooling", "'mean'"]),
        ({"FineTuneClassifier": {"freeze": "last:two"}}, ["last:two"]),
    ],
)
def test_wrong_type_or_value_names_the_parameter(step, words):
    caught = error(spec(pipeline=[step]))
    assert caught.field == f"pipeline[0].{next(iter(step))}"
    for word in words:
        assert word in str(caught)


def test_unknown_field_and_wrong_section_type():
    caught = error(spec(serach={}))
    assert caught.field == "serach" and "Did you mean: search" in str(caught)
    caught = error(spec(data={"dataset": "bbc_news", "per_class": "four"}))
    assert caught.field == "data.per_class" and "expected an integer" in str(caught)
    caught = error(spec(data={"dataset": "fashion_mnst"}))
    assert caught.field == "data.dataset" and "fashion_mnist" in str(caught)
    assert error(spec(data={})).field == "data"


def test_search_errors_name_the_parameter_and_the_value():
    caught = error(spec(search={"params": {"logisticregression__c": [1.0]}}))
    assert "logisticregression__C" in str(caught)
    caught = error(spec(search={"params": {"logisticregression__C": [1.0, "x"]}}))
    assert caught.field.startswith("search.params.logisticregression__C[1]")
    caught = error(spec(search={"params": {"logisticregression__C": [1.0]}, "scoring": "acc"}))
    assert caught.field == "search.scoring" and "accuracy" in str(caught)
    caught = error(spec(search={"method": "random", "params": {
        "logisticregression__C": {"loguniform": [0, 1]}}}))  # fmt: skip
    assert "0 < low < high" in str(caught)


def test_missing_data_path(tmp_path):
    caught = error(spec(data={"images": "nowhere"}), base_dir=tmp_path)
    assert caught.field == "data.images" and "nowhere" in str(caught)
    # checked when the data is read, still before any model runs
    from sktransfer.spec import run

    with pytest.raises(SpecError, match="does not exist") as caught:
        run(load_spec(spec(data={"csv": "missing.csv", "label": "y"}), base_dir=tmp_path))
    assert caught.value.field == "data.csv"


def test_empty_folder_and_a_class_folder_without_images(tmp_path):
    from sktransfer.spec import run

    (tmp_path / "empty").mkdir()
    with pytest.raises(SpecError, match="no class sub-folders") as caught:
        run(spec(data={"images": str(tmp_path / "empty")}))
    assert caught.value.field == "data.images"
    folder(tmp_path / "photos", {"cat": 3, "dog": 0})
    with pytest.raises(SpecError, match="'.*dog' holds no images"):
        run(spec(data={"images": str(tmp_path / "photos")}))


def test_a_csv_missing_a_column_or_an_image(tmp_path):
    from sktransfer.spec import run

    (tmp_path / "table.csv").write_text("photo,label\na.png,cat\n")
    with pytest.raises(SpecError, match="no column 'kind'"):
        run(load_spec(spec(data={"csv": "table.csv", "label": "kind"}), base_dir=tmp_path))
    with pytest.raises(SpecError, match=r"row 0, column 'photo': .*a.png' does not exist"):
        run(load_spec(spec(data={"csv": "table.csv", "label": "label",
                                 "image_columns": ["photo"]}), base_dir=tmp_path))  # fmt: skip


@pytest.mark.parametrize(
    "name", ["os.system", "subprocess.Popen", "builtins.eval", "sktransfer_spec_marker.Thing"]
)
def test_import_paths_are_refused_without_importing_them(name, tmp_path, monkeypatch):
    # A module that would leave a marker file if anything imported it.
    marker = tmp_path / "imported"
    (tmp_path / "sktransfer_spec_marker.py").write_text(
        f"open({str(marker)!r}, 'w').close()\nclass Thing: pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    before = set(sys.modules)
    for where in (
        spec(pipeline=[name]),
        spec(pipeline=[{name: {"x": 1}}]),
        spec(pipeline=[{"LogisticRegression": {"solver": name}}]),
        spec(evaluate={"baseline": [name]}),
        spec(search={"params": {"logisticregression": [name]}}),
    ):
        with pytest.raises(SpecError):
            load_spec(where)
    assert not marker.exists()
    assert "sktransfer_spec_marker" not in set(sys.modules) - before


def test_a_spec_cannot_trust_a_pickle():
    caught = error(spec(pipeline=[{"WordVectorEncoder": {"trust_pickle": True}}]))
    assert caught.field == "pipeline[0].WordVectorEncoder.trust_pickle"
    assert "never makes the library run code" in str(caught)
    caught = error(spec(search={"params": {"logisticregression": [
        {"WordVectorEncoder": {"trust_pickle": True}}]}}))  # fmt: skip
    assert "trust_pickle" in caught.field
    caught = error(spec(pipeline=["WordVectorEncoder", "LogisticRegression"], search={
        "params": {"wordvectorencoder__trust_pickle": [True]}}))  # fmt: skip
    assert caught.field == "search.params.wordvectorencoder__trust_pickle"


@pytest.mark.parametrize(
    "tag",
    [
        "!!python/object/apply:os.system ['touch {marker}']",
        "!!python/object/new:subprocess.Popen [['touch', '{marker}']]",
        "!!python/name:builtins.eval",
        "!!python/module:sktransfer_spec_marker",
    ],
)
def test_yaml_tags_that_construct_objects_are_refused(tag, tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "spec.yaml"
    path.write_text(
        textwrap.dedent(f"""\
        data: {{dataset: bbc_news, per_class: 4}}
        pipeline:
          - LogisticRegression:
              C: {tag.format(marker=marker)}
        """)
    )
    caught = error(path)
    assert "would construct a Python object" in str(caught) and "line 4" in str(caught)
    assert not marker.exists()


def test_invalid_yaml_and_a_missing_spec_file(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text("data: [unclosed\n")
    assert "is not valid YAML" in str(error(path))
    assert "does not exist" in str(error(tmp_path / "none.yaml"))


def test_the_scratch_baseline_is_the_same_pipeline_trained_from_random_weights():
    from sktransfer.spec._baselines import build_baseline

    fine_tune = [{"FineTuneClassifier": {"freeze": "last:1", "max_epochs": 2}}]
    loaded = load_spec(spec(pipeline=fine_tune, evaluate={"baseline": "scratch"}))
    name, baseline = build_baseline(loaded.baseline, loaded.fields, None, data=None)
    model = baseline.steps[0][1]
    assert name == "scratch"
    assert (model.weights, model.freeze, model.backbone_lr, model.max_epochs) == (
        None, "none", "1x", 2)  # fmt: skip
    caught = error(spec(evaluate={"baseline": "scratch"}))
    assert caught.field == "evaluate.baseline" and "pre-trained backbone" in str(caught)
    caught = error(spec(evaluate={"baseline": "pixel"}))
    assert "Did you mean: pixels" in str(caught)
