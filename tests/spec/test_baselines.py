"""Every built-in baseline on every data form a spec accepts, or refused naming the field."""

import json

import numpy as np
import pandas as pd
import pytest

from sktransfer.cli import main
from sktransfer.datasets import fashion_mnist_available
from sktransfer.spec import SpecError, load_spec, run

needs_fashion = pytest.mark.skipif(
    not fashion_mnist_available(), reason="needs dataset-fashion-mnist"
)
IMAGES = [{"ImageEncoder": {"image_size": 32}}, {"LogisticRegression": {"max_iter": 500}}]
TEXTS = ["TfidfVectorizer", "LogisticRegression"]


def texts_csv(path, n=48):
    """Short reviews: one text column, a label, and a number that says nothing."""
    words = {"pos": ["good", "great", "lovely", "fine"], "neg": ["bad", "awful", "dull", "poor"]}
    rng = np.random.default_rng(0)
    labels = ["pos", "neg"] * (n // 2)
    texts = [" ".join(rng.choice(words[label], 4)) + " film" for label in labels]
    pd.DataFrame({"review": texts, "stars": rng.integers(1, 6, n), "label": labels}).to_csv(
        path, index=False
    )


@pytest.mark.parametrize(
    "features", [{"features": ["review"]}, {"features": "review"}, {}], ids=["list", "str", "none"]
)
def test_the_tfidf_baseline_on_a_one_column_csv_of_texts(tmp_path, features):
    texts_csv(tmp_path / "reviews.csv")
    if not features:  # every other column is a feature: keep the text alone
        pd.read_csv(tmp_path / "reviews.csv").drop(columns="stars").to_csv(
            tmp_path / "reviews.csv", index=False
        )
    data = {"csv": "reviews.csv", "label": "label", **features}
    spec = {"data": data, "pipeline": TEXTS, "evaluate": {"baseline": "tfidf"}}
    report = run(load_spec(spec, base_dir=tmp_path), output_dir=tmp_path / "out")
    assert report["errors"] == []
    assert report["baseline"]["name"] == "tfidf"
    assert report["baseline"]["metrics"]["accuracy"] == 1.0  # the words say the label
    assert (tmp_path / "out" / "report.md").is_file()


def test_pixels_on_texts_is_refused_before_anything_is_fitted(tmp_path):
    texts_csv(tmp_path / "reviews.csv")
    data = {"csv": "reviews.csv", "label": "label", "features": ["review"]}
    spec = load_spec(
        {"data": data, "pipeline": TEXTS, "evaluate": {"baseline": "pixels"}}, base_dir=tmp_path
    )
    with pytest.raises(SpecError) as caught:
        run(spec, output_dir=tmp_path / "out")
    assert caught.value.field == "evaluate.baseline"
    assert "'pixels' reads images, and the data holds texts: use 'tfidf'" in str(caught.value)
    assert not (tmp_path / "out").exists()


def test_a_table_of_numbers_has_no_built_in_baseline(tmp_path):
    texts_csv(tmp_path / "reviews.csv")
    data = {"csv": "reviews.csv", "label": "label", "features": ["stars"]}
    for name in ("pixels", "tfidf"):
        spec = {"data": data, "pipeline": ["LogisticRegression"], "evaluate": {"baseline": name}}
        with pytest.raises(SpecError, match="columns \\(stars\\) have none: give a pipeline"):
            run(load_spec(spec, base_dir=tmp_path))


@pytest.mark.parametrize(
    ("source", "baseline", "reads"),
    [
        ({"dataset": "bbc_news"}, "pixels", "texts: use 'tfidf'"),
        ({"dataset": "fashion_mnist"}, "tfidf", "image arrays: use 'pixels'"),
        ({"images": "."}, "tfidf", "images: use 'pixels'"),
        ({"csv": "t.csv", "label": "y", "features": ["p"], "image_columns": ["p"]}, "tfidf",
         "images: use 'pixels'"),
    ],
)  # fmt: skip
def test_a_baseline_for_other_data_is_refused_when_the_spec_is_read(
    tmp_path, source, baseline, reads
):
    (tmp_path / "t.csv").write_text("p,y\n")
    spec = {"data": source, "pipeline": IMAGES, "evaluate": {"baseline": baseline}}
    with pytest.raises(SpecError) as caught:
        load_spec(spec, base_dir=tmp_path)
    assert caught.value.field == "evaluate.baseline" and reads in str(caught.value)


@pytest.fixture(scope="module")
def example_data(tmp_path_factory, make_example_data):
    """examples/data, small: 3 training and 2 test images per class, a 30-row table."""
    root = tmp_path_factory.mktemp("examples")
    make_example_data(root, 3, 2)
    return root


@needs_fashion
@pytest.mark.parametrize("baseline", ["pixels", "scratch"])
@pytest.mark.parametrize(
    "data",
    [
        {"images": "fashion/train", "test": "fashion/test"},
        {"csv": "products.csv", "label": "category", "features": ["photo"],
         "image_columns": ["photo"], "test_size": 0.5},
        {"dataset": "fashion_mnist", "per_class": 3, "test_per_class": 2},
    ],
    ids=["folder", "csv-image-column", "dataset"],
)  # fmt: skip
def test_image_baselines_run_on_every_form_of_images(example_data, data, baseline):
    spec = {"data": data, "pipeline": IMAGES, "evaluate": {"baseline": baseline}}
    report = run(load_spec(spec, base_dir=example_data))
    assert report["errors"] == []
    assert report["baseline"]["name"] == baseline
    assert 0 <= report["baseline"]["metrics"]["accuracy"] <= 1


@needs_fashion
@pytest.mark.parametrize("baseline", ["pixels", "tfidf", "scratch"])
def test_every_baseline_runs_on_a_table_of_several_columns(example_data, baseline):
    data = {"csv": "products.csv", "label": "category", "features": ["photo", "description",
            "price"], "image_columns": ["photo"], "test_size": 0.5}  # fmt: skip
    pipeline = [
        {"ColumnTransformer": {"transformers": [
            {"columns": "photo", "steps": [{"ImageEncoder": {"image_size": 32}}]},
            {"columns": "description", "steps": ["TfidfVectorizer"]},
            {"columns": ["price"], "steps": ["StandardScaler"]},
        ]}},
        {"LogisticRegression": {"max_iter": 500}},
    ]  # fmt: skip
    spec = {"data": data, "pipeline": pipeline, "evaluate": {"baseline": baseline}}
    report = run(load_spec(spec, base_dir=example_data))
    assert report["errors"] == []
    accuracy = report["baseline"]["metrics"]["accuracy"]
    if baseline != "scratch":  # random image features drown the words on 10 samples
        assert accuracy > 0.3  # the descriptions name the class


def test_tfidf_runs_on_the_packaged_texts(tmp_path):
    data = {"dataset": "bbc_news", "per_class": 3, "test_per_class": 4}
    spec = {"data": data, "pipeline": TEXTS, "evaluate": {"baseline": "tfidf"}}
    report = run(load_spec(spec, base_dir=tmp_path))
    assert report["baseline"]["name"] == "tfidf" and report["errors"] == []


def test_a_failure_after_the_fit_keeps_the_model_and_the_report(tmp_path, capsys):
    texts_csv(tmp_path / "reviews.csv")
    # liblinear has no elastic net: a fit-time error, not one a spec check sees.
    failing = [{"LogisticRegression": {"solver": "liblinear", "penalty": "elasticnet",
                                       "l1_ratio": 0.5}}]  # fmt: skip
    (tmp_path / "spec.yaml").write_text(
        json.dumps(
            {
                "data": {"csv": "reviews.csv", "label": "label", "features": "review"},
                "pipeline": TEXTS,
                "evaluate": {"baseline": ["TfidfVectorizer", *failing]},
                "output": {"dir": "out"},
            }
        )
    )
    assert main(["run", str(tmp_path / "spec.yaml"), "--quiet"]) == 1
    printed = capsys.readouterr()
    assert "error in the baseline TfidfVectorizer + LogisticRegression: ValueError" in printed.err
    assert "accuracy" in printed.out  # the model's metrics, the baseline's column "failed"
    out = tmp_path / "out"
    report = json.loads((out / "report.json").read_text())
    assert report["metrics"]["accuracy"] == 1.0
    assert report["errors"][0]["stage"] == "the baseline TfidfVectorizer + LogisticRegression"
    assert "elasticnet" in report["errors"][0]["error"]
    assert (out / "model.skops").is_file() and "ValueError" in (out / "report.md").read_text()
