"""Running a spec: fit, evaluate against the baseline, write the outputs, predict later."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from sktransfer.cli import main
from sktransfer.cli._predict import load_model, predictions, read_inputs
from sktransfer.spec import SpecError, load_spec, run


def regression_table(path, n=60):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 2))
    frame = pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "noise": rng.normal(size=n)})
    frame["target"] = 3 * frame["a"] - 2 * frame["b"] + 0.01 * rng.normal(size=n)
    frame.to_csv(path, index=False)
    return frame


def test_a_regression_on_a_csv_reports_regression_metrics(tmp_path):
    regression_table(tmp_path / "table.csv")
    spec = load_spec(
        {
            "name": "linear",
            "data": {"csv": "table.csv", "label": "target", "features": ["a", "b"]},
            "pipeline": ["StandardScaler", "Ridge"],
            "evaluate": {"baseline": ["DummyRegressor"]},
        },
        base_dir=tmp_path,
    )
    report = run(spec, output_dir=tmp_path / "out")
    assert report["task"] == "regression"
    assert report["data"] == {"source": "csv table.csv", "n_train": 45,
                              "n_test": 15, "n_unlabelled": 0, "classes": None}  # fmt: skip
    assert report["metrics"]["r2"] > 0.99 and report["metrics"]["mae"] < 0.1
    assert report["baseline"]["name"] == "DummyRegressor"
    assert report["baseline"]["metrics"]["r2"] < 0.1
    assert report["transfer_beats_baseline"] and report["note"] is None
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "model.skops",
        "report.json",
        "report.md",
    ]  # no confusion matrix for a regressor, no search table without a search
    saved = load_model(tmp_path / "out" / "model.skops")
    assert saved["input"] == {"kind": "table", "features": ["a", "b"], "image_columns": []}
    X, names = read_inputs([str(tmp_path / "table.csv")], saved["input"])
    assert list(X.columns) == ["a", "b"] and names[0] == f"{tmp_path / 'table.csv'}:0"


def test_a_baseline_that_wins_gets_the_note(tmp_path):
    regression_table(tmp_path / "table.csv")
    report = run(
        load_spec(
            {
                "data": {"csv": "table.csv", "label": "target", "features": ["a", "b"]},
                "pipeline": ["DummyRegressor"],
                "evaluate": {"baseline": ["Ridge"]},
            },
            base_dir=tmp_path,
        )
    )
    assert report["baseline"]["metrics"]["r2"] > 0.99 > report["metrics"]["r2"]
    assert not report["transfer_beats_baseline"]
    assert report["note"].startswith("Transfer did not beat the baseline here: r2 ")
    assert "negative transfer" in report["note"]


@pytest.mark.slow
def test_text_run_and_predict_from_a_csv_in_a_new_process(tmp_path, capsys):
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "name: bbc tfidf\n"
        "data: {dataset: bbc_news, per_class: 6, test_per_class: 6}\n"
        "pipeline: [TfidfVectorizer, {LogisticRegression: {C: 10.0}}]\n"
        "search: {params: {logisticregression__C: [1.0, 10.0]}, cv: 2, scoring: accuracy}\n"
        "evaluate: {baseline: tfidf}\n"
        "output: {dir: out}\n"
    )
    assert main(["run", str(spec), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "bbc tfidf: TfidfVectorizer + LogisticRegression" in printed
    assert "accuracy" in printed and "baseline (tfidf)" in printed
    out = tmp_path / "out"
    report = json.loads((out / "report.json").read_text())
    assert report["search"]["best_params"]["logisticregression__C"] in (1.0, 10.0)
    table = pd.read_csv(out / "search_results.csv")
    assert len(table) == 2 and table["rank_test_score"].is_monotonic_increasing
    assert "## Confusion matrix" in (out / "report.md").read_text()
    assert (out / "confusion_matrix.png").read_bytes()[:4] == b"\x89PNG"

    texts = ["The striker scored twice in the cup final.", "Shares fell as profits slumped."]
    pd.DataFrame({"text": texts}).to_csv(tmp_path / "new.csv", index=False)
    done = subprocess.run(
        [sys.executable, "-m", "sktransfer.cli", "predict", str(out / "model.skops"),
         str(tmp_path / "new.csv"), "--out", str(tmp_path / "predictions.csv")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    predicted = pd.read_csv(tmp_path / "predictions.csv")
    saved = load_model(out / "model.skops")
    here = predictions(saved, *read_inputs([str(tmp_path / "new.csv")], saved["input"]))
    assert predicted["prediction"].tolist() == here["prediction"].tolist()
    probabilities = predicted[[c for c in predicted.columns if c.startswith("proba_")]]
    assert probabilities.shape[1] == 5
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-6)


def test_exit_codes_and_one_line_errors(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("data: {dataset: bbc_news}\npipeline: [LogisticRegresion]\n")
    assert main(["run", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Did you mean: LogisticRegression" in err
    assert err.startswith("sktransfer run: error: pipeline[0]:")
    assert main(["predict", str(tmp_path / "none.joblib"), "x.png"]) == 1
    assert "model file" in capsys.readouterr().err
    (tmp_path / "not-a-model.skops").write_bytes(b"")
    assert main(["predict", str(tmp_path / "not-a-model.skops"), "x.png"]) == 1
    with pytest.raises(SpecError):
        main(["run", str(bad), "--debug"])
    with pytest.raises(SystemExit) as usage:
        main(["run"])
    assert usage.value.code == 2


def test_every_command_has_help(capsys):
    for command in (["run"], ["predict"], ["demo"], ["backbones"], ["cache", "info"]):
        with pytest.raises(SystemExit) as shown:
            main([*command, "--help"])
        assert shown.value.code == 0
        assert "usage: sktransfer" in capsys.readouterr().out
