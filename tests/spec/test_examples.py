"""Every example spec in examples/specs runs, on small data from examples/make_example_data.py."""

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from sktransfer.cli._predict import load_model, predictions, read_inputs
from sktransfer.data import load_image_folder
from sktransfer.datasets import fashion_mnist_available
from sktransfer.spec import load_spec, run

EXAMPLES = Path(__file__).parents[2] / "examples"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not fashion_mnist_available(), reason="needs dataset-fashion-mnist"),
]


@pytest.fixture(scope="module")
def example_data(tmp_path_factory, make_example_data):
    """examples/data, small: 4 training and 3 test images per class, a 30-row table."""
    root = tmp_path_factory.mktemp("examples")
    make_example_data(root / "data", 4, 3)
    (root / "specs").mkdir()
    return root


def small(name, root, **data):
    """The example spec, its data section made smaller, its paths kept relative."""
    fields = yaml.safe_load((EXAMPLES / "specs" / name).read_text())
    fields["data"].update(data)
    shutil.copy(EXAMPLES / "specs" / name, root / "specs" / name)
    return load_spec(fields, base_dir=root / "specs")


def test_the_spec_files_are_all_tested():
    tested = {"images_freeze_search.yaml", "text_few_shot.yaml", "multimodal.yaml"}
    tested.add("domain_adaptation.yaml")
    assert {p.name for p in (EXAMPLES / "specs").glob("*.yaml")} == tested


def test_images_freeze_search(example_data):
    report = run(small("images_freeze_search.yaml", example_data), output_dir=example_data / "o1")
    assert report["search"]["candidates"] == 4
    assert report["data"]["n_train"] == 40 and report["data"]["n_test"] == 30
    assert report["baseline"]["name"] == "pixels"
    assert report["metrics"]["accuracy"] > 0.2  # 10 classes, 4 images each: above chance
    assert {p.name for p in (example_data / "o1").iterdir()} == {
        "model.skops",
        "report.json",
        "report.md",
        "confusion_matrix.png",
        "search_results.csv",
    }
    # A new process reloads the model and predicts the test folder as this one does.
    test_folder = example_data / "data" / "fashion" / "test"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "sktransfer.cli",
            "predict",
            str(example_data / "o1" / "model.skops"),
            str(test_folder),
            "--out",
            str(example_data / "predictions.csv"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    predicted = pd.read_csv(example_data / "predictions.csv")
    paths, labels = load_image_folder(test_folder)
    assert predicted["input"].tolist() == sorted(paths)
    saved = load_model(example_data / "o1" / "model.skops")
    here = saved["estimator"].predict(sorted(paths))
    assert predicted["prediction"].tolist() == here.tolist()
    truth = dict(zip(paths, labels))
    accuracy = np.mean([truth[p] == label for p, label in zip(predicted["input"], here)])
    assert accuracy == pytest.approx(report["metrics"]["accuracy"])  # fmt: skip


def test_text_few_shot(example_data):
    report = run(small("text_few_shot.yaml", example_data, per_class=4, test_per_class=8))
    assert report["data"]["n_train"] == 20 and report["data"]["n_test"] == 40
    assert report["metrics"]["accuracy"] > 0.6  # five topics; MiniLM knows them
    assert report["baseline"]["name"] == "tfidf"


def test_multimodal(example_data):
    out = example_data / "o3"
    report = run(small("multimodal.yaml", example_data, test_size=0.4), output_dir=out)
    assert report["data"]["n_train"] == 18 and report["data"]["n_test"] == 12
    assert report["pipeline"] == "ColumnTransformer + StandardScaler + LogisticRegression"
    assert report["baseline"]["name"] == "ColumnTransformer + LogisticRegression"
    # the saved model reads the same CSV again, image paths relative to it
    saved = load_model(out / "model.skops")
    assert saved["input"]["image_columns"] == ["photo"]
    X, names = read_inputs([str(example_data / "data" / "products.csv")], saved["input"])
    assert list(X.columns) == ["photo", "description", "price"] and len(names) == 30
    table = predictions(saved, X, names)
    assert set(table["prediction"]) <= set(saved["estimator"].classes_)


def test_domain_adaptation(example_data):
    report = run(small("domain_adaptation.yaml", example_data), output_dir=example_data / "o4")
    assert report["data"]["n_unlabelled"] == 40
    target = report["target"]
    assert target["n"] == 30 and target["adapt"] == "dann"
    assert set(target["metrics"]) == {"accuracy", "macro_f1", "balanced_accuracy"}
    assert target["without_adaptation"]["paired_test"]["n"] == 30
    # The note says what the target samples say of adaptation, one way or the other.
    assert "Adaptation" in report["note"] and "adapt='dann'" in report["note"]
    text = (example_data / "o4" / "report.md").read_text()
    assert "Target domain: 30 labelled samples" in text and "adapt='none'" in text
