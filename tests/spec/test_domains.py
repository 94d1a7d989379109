"""Specs across domains: unlabelled target samples to fit on, labelled ones to score on."""

import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from sktransfer.cli import main
from sktransfer.spec import SpecError, load_spec, run
from sktransfer.spec._data import Data
from sktransfer.spec._domains import fit_arguments
from sktransfer.spec._notes import target_note

FINE_TUNE = {"backbone": "small_cnn", "weights": None, "max_epochs": 2, "validation": None,
             "random_state": 0}  # fmt: skip


def images(root, per_class, *, inverted=False, flat=False, seed=0):
    """Two classes of small PNGs (dark or bright); inverted for the target domain; in one
    folder without class names when ``flat``. Returns the paths."""
    rng = np.random.default_rng(seed)
    paths = []
    for label, level in (("dark", 40), ("bright", 170)):
        folder = root if flat else root / label
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            pixels = np.clip(rng.normal(level, 25, (16, 16, 3)), 0, 255).astype(np.uint8)
            path = folder / f"{label}{i}.png"
            Image.fromarray(255 - pixels if inverted else pixels).save(path)
            paths.append(path)
    return paths


@pytest.fixture
def domains(tmp_path):
    images(tmp_path / "train", 8)
    images(tmp_path / "test", 4, seed=1)
    images(tmp_path / "target_unlabelled", 8, inverted=True, flat=True, seed=2)
    images(tmp_path / "target_test", 4, inverted=True, seed=3)
    return tmp_path


def spec_fields(**fine_tune):
    return {
        "data": {"images": "train", "test": "test", "unlabelled": "target_unlabelled"},
        "pipeline": [{"FineTuneClassifier": {**FINE_TUNE, **fine_tune}}],
        "evaluate": {"target": "target_test"},
    }


def test_unlabelled_samples_reach_the_fine_tuner_as_targets_and_the_target_is_scored(domains):
    report = run(load_spec(spec_fields(adapt="coral"), base_dir=domains), output_dir=domains / "o")
    assert report["data"]["n_train"] == 16 and report["data"]["n_unlabelled"] == 16
    target = report["target"]
    assert target["source"] == "target_test" and target["n"] == 8 and target["adapt"] == "coral"
    assert set(target["intervals"]) == set(target["metrics"])
    without = target["without_adaptation"]
    assert without["name"] == "adapt='none'" and without["paired_test"]["n"] == 8
    assert "adapt='coral'" in report["note"]
    saved = json.loads((domains / "o" / "report.json").read_text())
    assert saved["target"]["metrics"] == target["metrics"]
    assert (
        "Target domain: 8 labelled samples from target_test."
        in (domains / "o" / "report.md").read_text()
    )


def test_a_search_over_adapt_validates_on_labelled_samples_only(domains):
    fields = spec_fields()
    fields["search"] = {"params": {"finetuneclassifier__adapt": ["none", "adabn"]}, "cv": 2}
    spec = load_spec(fields, base_dir=domains)
    report = run(spec)
    assert report["search"]["candidates"] == 2
    assert report["tried"]["finetuneclassifier__adapt"] == ["none", "adabn"]
    # The folds: every unlabelled sample in training, none in validation.
    search = spec.estimator.__class__(**spec.estimator.get_params(deep=False))
    data = Data(
        list("abcdefgh"), np.array(["x", "y"] * 4), [], np.array([]), "test",
        X_unlabelled=list("uvw"),
    )  # fmt: skip
    X, y, params = fit_arguments(search, data)
    assert len(X) == 11 and list(y[8:]) == [None] * 3
    # As a step's fit parameter, or routed where metadata routing is on.
    (name, domain), *_ = params.items()
    assert name.endswith("sample_domain") and domain.tolist() == [1] * 8 + [-1] * 3
    for train, test in search.cv:
        assert set(range(8, 11)) <= set(train) and test.max() < 8


def test_the_note_says_plainly_whether_adaptation_helped():
    def report(adapt, score, without=None, significant=True, n_unlabelled=10):
        target = {"adapt": adapt, "metrics": {"accuracy": score}}
        if without is not None:
            test = {"significant": significant, "n": 50, "reading": "p = 0.01"}
            target["without_adaptation"] = {"metrics": {"accuracy": without}, "paired_test": test}
        return {"task": "classification", "data": {"n_unlabelled": n_unlabelled}, "target": target}

    assert target_note(report("dann", 0.8, 0.6)).startswith("Adaptation helped")
    worse = target_note(report("dann", 0.5, 0.6))
    assert worse.startswith("Adaptation did not help on the target samples: accuracy 0.500")
    assert "Keep the simpler model (adapt='none')" in worse
    noise = target_note(report("coral", 0.62, 0.6, significant=False))
    assert noise.startswith("Adaptation did not help beyond noise") and "within noise" in noise
    assert "More labelled target samples would tell them apart" in noise
    assert target_note(report("none", 0.6)).startswith("The unlabelled samples")
    assert target_note(report("none", 0.6, n_unlabelled=0)) is None


def test_unlabelled_texts_and_a_numeric_target_from_csv(tmp_path):
    """CSVs of unlabelled and target samples read the training CSV's columns; a regressor's
    unlabelled targets are NaN."""
    paths = images(tmp_path / "all", 8)
    table = pd.DataFrame({"photo": [p.relative_to(tmp_path).as_posix() for p in paths],
                          "size": np.linspace(0, 1, 16)})  # fmt: skip
    table.to_csv(tmp_path / "train.csv", index=False)
    table[["photo"]].to_csv(tmp_path / "unlabelled.csv", index=False)
    table.iloc[:6].to_csv(tmp_path / "target.csv", index=False)
    fields = {
        "data": {"csv": "train.csv", "label": "size", "features": "photo",
                 "image_columns": "photo", "unlabelled": "unlabelled.csv", "test_size": 0.25},
        "pipeline": [{"FineTuneRegressor": {**FINE_TUNE, "adapt": "coral"}}],
        "evaluate": {"target": "target.csv"},
    }  # fmt: skip
    report = run(load_spec(fields, base_dir=tmp_path))
    assert report["task"] == "regression" and report["data"]["n_unlabelled"] == 16
    assert set(report["target"]["metrics"]) == {"r2", "mae", "rmse"}
    assert report["target"]["without_adaptation"]["paired_test"]["n"] == 6


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"pipeline": ["PixelEncoder", "LogisticRegression"]},
         "data.unlabelled: unlabelled samples are read by a fine-tuner's adapt"),
        ({"pipeline": [{"FineTuneClassifier": FINE_TUNE}]},
         "data.unlabelled: FineTuneClassifier has adapt='none', which leaves unlabelled "
         "samples out"),
        ({"data": {"images": "train"}},
         "data.unlabelled: adapt='dann' aligns the training samples with unlabelled samples"),
        ({"evaluate": {"target": "target_tset"}}, "evaluate.target: 'target_tset' does not exist"),
        ({"evaluate": {"traget": "target_test"}}, "evaluate.traget: unknown field"),
    ],
)  # fmt: skip
def test_mistakes_are_refused_when_the_spec_is_read(domains, change, expected):
    fields = {**spec_fields(adapt="dann"), **change}
    with pytest.raises(SpecError, match="^" + expected.replace("(", r"\(").replace(")", r"\)")):
        load_spec(fields, base_dir=domains)


def test_target_classes_the_training_lacks_are_refused_before_any_fit(domains):
    images(domains / "other", 2, inverted=True)
    (domains / "other" / "dark").rename(domains / "other" / "grey")
    fields = spec_fields(adapt="dann")
    fields["evaluate"]["target"] = "other"
    with pytest.raises(SpecError, match="evaluate.target: holds classes the training samples do"):
        run(load_spec(fields, base_dir=domains))


def test_the_command_line_shows_the_target_beside_the_test_set(domains, capsys):
    (domains / "spec.json").write_text(json.dumps(spec_fields(adapt="adabn")))
    assert main(["run", str(domains / "spec.json"), "--quiet"]) == 0
    out = capsys.readouterr().out
    header = out.splitlines()[1]
    assert "model" in header and "target (adapt='adabn')" in header
    assert "target (adapt='none')" in header
    assert "Adaptation" in out


def test_a_dry_run_counts_the_unlabelled_samples_and_the_fit_without_adaptation(domains):
    lines = []
    spec = load_spec(spec_fields(adapt="dann"), base_dir=domains)
    plan = run(spec, dry_run=True, log=lines.append)
    assert plan["fits"] == 2
    assert "16 training, 16 unlabelled, 8 target and 8 test samples, all readable" in lines[-3]
    assert "1 without adaptation" in lines[-2]
