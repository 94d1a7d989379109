"""Before anything is fitted: every input checked, the plan told; then progress a user can read."""

import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from sktransfer.cli import main
from sktransfer.finetune._net import print_epoch
from sktransfer.spec import SpecError, build, load_spec, run
from sktransfer.spec._progress import SearchProgress


def image_folder(root, per_class=6, bad=()):
    """Small class folders of real PNGs, and the named bad files among them."""
    rng = np.random.default_rng(0)
    for label in ("cat", "dog"):
        (root / label).mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)
            Image.fromarray(pixels + (60 if label == "dog" else 0)).save(root / label / f"{i}.png")
    for name, content in bad:
        (root / name).write_bytes(content)


def test_every_bad_image_is_reported_at_once_as_written_before_any_fit(tmp_path):
    image_folder(tmp_path / "photos", bad=[("cat/notes.png", b"shopping list"),
                                           ("dog/empty.png", b"")])  # fmt: skip
    spec = load_spec(
        {
            "data": {"images": "photos"},
            "pipeline": ["PixelEncoder", "LogisticRegression"],
            "search": {"params": {"logisticregression__C": [0.1, 1.0]}, "cv": 2},
            "output": {"dir": "out"},
        },
        base_dir=tmp_path,
    )
    with pytest.raises(SpecError) as caught:
        run(spec)
    message = str(caught.value)
    assert message.startswith("data: 2 bad samples, nothing was fitted:")
    assert "'photos/cat/notes.png' is not a readable image" in message
    assert "'photos/dog/empty.png' is empty (0 bytes)" in message
    assert str(tmp_path) not in message  # as the spec wrote them, not resolved
    assert not (tmp_path / "out").exists()


def test_bad_texts_are_listed_by_row_and_column(tmp_path):
    table = pd.DataFrame({"text": ["fine", None, "good", np.nan] * 6, "y": ["a", "b"] * 12})
    table.to_csv(tmp_path / "t.csv", index=False)
    data = {"csv": "t.csv", "label": "y", "features": "text", "test_size": 0.5}
    spec = load_spec({"data": data, "pipeline": ["TfidfVectorizer", "LogisticRegression"]},
                     base_dir=tmp_path)  # fmt: skip
    with pytest.raises(SpecError) as caught:
        run(spec)
    message = str(caught.value)
    assert message.startswith("data: 12 bad samples")  # every one of them, training and test
    assert "training text 1 is missing (nan)" in message or "test text 1 is missing" in message


def test_too_few_samples_of_a_class_for_the_folds_is_told_before_the_search(tmp_path):
    image_folder(tmp_path / "photos", per_class=3)
    spec = load_spec(
        {
            "data": {"images": "photos", "test_size": 0.34},
            "pipeline": ["PixelEncoder", "LogisticRegression"],
            "search": {"params": {"logisticregression__C": [0.1, 1.0]}, "cv": 3},
        },
        base_dir=tmp_path,
    )
    with pytest.raises(SpecError, match=r"search.cv: 3 folds need 3 training samples of each"):
        run(spec)


def test_a_search_stops_at_the_first_fit_that_fails(tmp_path):
    image_folder(tmp_path / "photos")
    spec = load_spec(
        {
            "data": {"images": "photos"},
            "pipeline": ["PixelEncoder", "LogisticRegression"],
            # liblinear has no elastic net: the second candidate fails when it is fitted
            "search": {
                "params": {
                    "logisticregression__solver": ["lbfgs", "liblinear"],
                    "logisticregression__l1_ratio": [0.5],
                },
                "cv": 2,
            },
        },  # fmt: skip
        base_dir=tmp_path,
    )
    assert build(spec).error_score == "raise"
    with pytest.raises(ValueError, match="Solver lbfgs supports only"):
        run(spec)  # not a search with a NaN-scored candidate


def test_a_wrong_data_path_is_reported_as_written_with_close_names(tmp_path):
    image_folder(tmp_path / "photos")
    with pytest.raises(SpecError) as caught:
        load_spec({"data": {"images": "photo"}, "pipeline": ["LogisticRegression"]},
                  base_dir=tmp_path)  # fmt: skip
    assert str(caught.value) == (
        f"data.images: 'photo' does not exist (from '{tmp_path}'). Did you mean: photos?"
    )


def test_search_mistakes_name_public_parameters_and_every_bad_value(tmp_path):
    fine_tune = [{"FineTuneClassifier": {"backbone": "small_cnn", "weights": None}}]
    data = {"dataset": "bbc_news"}
    with pytest.raises(SpecError) as caught:
        load_spec({"data": data, "pipeline": fine_tune,
                   "search": {"params": {"finetuneclassifier__frieze": ["none"]}}})  # fmt: skip
    assert "finetuneclassifier__freeze" in str(caught.value)
    assert "___" not in str(caught.value)  # not skorch's private routing names
    with pytest.raises(SpecError) as caught:
        load_spec({"data": data, "pipeline": fine_tune, "search": {"params": {
            "finetuneclassifier__freeze": ["none", "lst:1", "backbone", "first"]}}})  # fmt: skip
    message = str(caught.value)
    assert message.startswith("search.params.finetuneclassifier__freeze: [1]")
    assert "[3]" in message and "'lst:1'" in message and "'first'" in message


def test_a_dry_run_checks_and_counts_but_fits_nothing(tmp_path, capsys):
    image_folder(tmp_path / "photos")
    (tmp_path / "spec.yaml").write_text(json.dumps({
        "data": {"images": "photos"},
        "pipeline": [{"ImageEncoder": {"image_size": 32}}, "LogisticRegression"],
        "search": {"params": {"logisticregression__C": [0.1, 1.0, 10.0]}, "cv": 2},
        "evaluate": {"baseline": "pixels"},
        "output": {"dir": "out"},
    }))  # fmt: skip
    assert main(["run", str(tmp_path / "spec.yaml"), "--dry-run"]) == 0
    printed = capsys.readouterr()
    assert printed.out == ""  # the plan is progress: standard error
    assert "7 fits of the pipeline (6 in the search, 1 refit), 1 of pixels" in printed.err
    assert "samples/s here" in printed.err  # the estimate comes from a measured pass
    assert not (tmp_path / "out").exists()
    plan = run(load_spec(tmp_path / "spec.yaml"), dry_run=True)
    assert plan["fits"] == 7 and plan["estimate_s"] > 0 and plan["baseline"] == "pixels"


def test_progress_is_one_plain_line_per_fit_on_stderr_and_results_on_stdout(tmp_path, capsys):
    image_folder(tmp_path / "photos")
    (tmp_path / "spec.yaml").write_text(json.dumps({
        "data": {"images": "photos"},
        "pipeline": ["PixelEncoder", "LogisticRegression"],
        "search": {"params": {"logisticregression__C": [0.1, 1.0]}, "cv": 2},
    }))  # fmt: skip
    assert main(["run", str(tmp_path / "spec.yaml")]) == 0
    printed = capsys.readouterr()
    assert printed.out.startswith("experiment: PixelEncoder + LogisticRegression\nmetric")
    fits = [line for line in printed.err.splitlines() if line.startswith("fit ")]
    assert len(fits) == 5
    assert fits[0].startswith("fit 1/5 (") and "candidate 1/2 (C=0.1), fold 1/2;" in fits[0]
    assert "about" in fits[0] and "left" in fits[0]
    assert fits[-1].startswith("fit 5/5 (") and "refit of the best candidate" in fits[-1]
    assert "\x1b[" not in printed.err + printed.out


def test_the_search_progress_counts_a_randomized_search_too():
    from io import StringIO

    from scipy.stats import loguniform
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import RandomizedSearchCV

    stream = StringIO()
    search = RandomizedSearchCV(LogisticRegression(), {"C": loguniform(0.01, 1)}, n_iter=3,
                                cv=2, random_state=0)  # fmt: skip
    search.set_callbacks(SearchProgress(stream=stream)).fit([[0], [1], [2], [3]], [0, 1, 0, 1])
    lines = stream.getvalue().splitlines()
    assert [line.split(" (")[0] for line in lines] == [f"fit {i}/7" for i in range(1, 8)]
    shown = [float(line.split("(C=")[1].split(")")[0]) for line in lines[:6:2]]
    np.testing.assert_allclose(shown, search.cv_results_["param_C"].astype(float), rtol=1e-6)


def test_epoch_tables_lose_their_colours_outside_a_terminal(capsys):
    print_epoch(
        "  epoch    train_loss\n-------  ------------\n      1        \x1b[36m0.5000\x1b[0m"
    )
    assert capsys.readouterr().out.endswith("      1        0.5000\n")


def test_a_dry_run_counts_a_selectors_candidates_as_networks(tmp_path):
    image_folder(tmp_path / "photos")
    selector = {
        "BackboneSelector": {
            "candidates": [
                {"ImageEncoder": {"image_size": 32}},
                {"ImageEncoder": {"image_size": 32, "layer": "blocks.2"}},
            ]
        }
    }
    spec = load_spec(
        {"data": {"images": "photos"}, "pipeline": [selector, "LogisticRegression"]},
        base_dir=tmp_path,
    )
    lines = []
    plan = run(spec, dry_run=True, log=lines.append)  # fmt: skip
    assert plan["estimate_s"] > 0
    assert "efficientnet_lite0 (and 1 more) encodes" in lines[-1]
