"""The report's uncertainty: bootstrap intervals, the paired test against the baseline, both
confusion matrices, and hints that leave out what the run already tried."""

import json
import warnings

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from scipy import stats
from sklearn import metrics
from sklearn.base import BaseEstimator
from sklearn.pipeline import Pipeline

from sktransfer.spec._notes import compare, tried_settings
from sktransfer.spec._report import (
    baseline_summary,
    evaluate,
    markdown,
    write_confusion_png,
)
from sktransfer.spec._uncertainty import (
    _classification_scores,
    _regression_scores,
    bootstrap_intervals,
    paired_test,
)

TOPICS = ["entertainment", "business", "politics", "technology", "sport",
          "international affairs", "science", "health", "education", "environment"]  # fmt: skip


class Fixed:
    """A fitted model that predicts what it was given, whatever X."""

    def __init__(self, predicted):
        self.predicted = np.asarray(predicted)

    def predict(self, X):
        return self.predicted


def noisy(y, right, classes, seed):
    """``y`` with about ``1 - right`` of it replaced by random classes."""
    rng = np.random.default_rng(seed)
    return np.where(rng.random(len(y)) < right, y, rng.choice(classes, len(y)))


def topics(n, seed=0, classes=TOPICS):
    return np.random.default_rng(seed).choice(classes, n)


def a_report(y, predicted, baseline_predicted=None, *, tried=None, name="pixels"):
    """A classification report as the experiment runner builds one, from predictions."""
    scores = evaluate(Fixed(predicted), None, y, classification=True)
    predicted = scores.pop("predicted")
    report = {
        "name": "news topics",
        "task": "classification",
        "data": {"source": "csv", "n_train": 100, "n_test": len(y), "classes": None},
        "pipeline": "FineTuneClassifier",
        "search": None,
        **scores,
        "baseline": None,
        "timings": {"fit_s": 1.0, "predict_s": 0.1},
    }
    if baseline_predicted is not None:
        measured = evaluate(Fixed(baseline_predicted), None, y, classification=True)
        report["baseline"] = baseline_summary(name, measured, y, predicted, classification=True)
    if tried is not None:
        report["tried"] = tried
    report["note"] = compare(report)
    return report


def one_wrong():
    """50 test samples: the model gets one wrong, the baseline none (0.98 against 1.00)."""
    y = np.array(["cat", "dog"] * 25)
    predicted = y.copy()
    predicted[0] = "dog"
    return y, predicted


# Intervals


@pytest.mark.parametrize("n", [50, 400])
def test_each_interval_holds_its_estimate(n):
    y = topics(n)
    predicted = noisy(y, 0.8, TOPICS, seed=1)
    intervals = bootstrap_intervals(y, predicted, classification=True)
    estimates = {
        "accuracy": metrics.accuracy_score(y, predicted),
        "macro_f1": metrics.f1_score(y, predicted, average="macro"),
        "balanced_accuracy": metrics.balanced_accuracy_score(y, predicted),
    }
    assert intervals.keys() == estimates.keys()
    for name, (low, high) in intervals.items():
        assert 0 <= low <= estimates[name] <= high <= 1, name


def test_intervals_narrow_with_more_test_samples():
    def width(n):
        y = topics(n, seed=n)
        low, high = bootstrap_intervals(y, noisy(y, 0.8, TOPICS, seed=2), classification=True)[
            "accuracy"
        ]
        return high - low

    assert width(2000) < width(200) / 2 < width(50) / 3  # about 1 / sqrt(n)


def test_intervals_are_the_same_on_every_run_and_fast():
    import time

    y = topics(5000)
    predicted = noisy(y, 0.7, TOPICS, seed=3)
    started = time.perf_counter()
    first = bootstrap_intervals(y, predicted, classification=True)
    assert time.perf_counter() - started < 2.0  # 1000 resamples of 5000 samples
    assert bootstrap_intervals(y, predicted, classification=True) == first
    assert bootstrap_intervals(y, predicted, classification=True, seed=1) != first


def test_the_resampled_scores_are_scikit_learns():
    y = topics(120, classes=TOPICS[:4])
    predicted = noisy(y, 0.6, TOPICS[:4] + ["science"], seed=4)  # a class only predicted
    _, codes = np.unique(np.concatenate([y, predicted]), return_inverse=True)
    rows = np.random.default_rng(5).integers(0, 120, (6, 120))
    ours = _classification_scores(codes[:120][rows], codes[120:][rows])
    for row, scores in zip(rows, ours):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a class predicted, never true: sklearn warns
            expected = [
                metrics.accuracy_score(y[row], predicted[row]),
                metrics.f1_score(y[row], predicted[row], average="macro", zero_division=0),
                metrics.balanced_accuracy_score(y[row], predicted[row]),
            ]
        np.testing.assert_allclose(scores, expected)

    target = np.random.default_rng(6).normal(size=(80, 2))
    guess = target + np.random.default_rng(7).normal(scale=0.5, size=(80, 2))
    rows = rows[:, :80] % 80
    for row, scores in zip(rows, _regression_scores(target[rows], guess[rows])):
        expected = [
            metrics.r2_score(target[row], guess[row]),
            metrics.mean_absolute_error(target[row], guess[row]),
            metrics.root_mean_squared_error(target[row], guess[row]),
        ]
        np.testing.assert_allclose(scores, expected)


def test_regression_intervals():
    rng = np.random.default_rng(8)
    y = rng.normal(size=200)
    predicted = y + rng.normal(scale=0.3, size=200)
    intervals = bootstrap_intervals(y, predicted, classification=False)
    assert list(intervals) == ["r2", "mae", "rmse"]
    assert intervals["r2"][0] <= metrics.r2_score(y, predicted) <= intervals["r2"][1]
    assert 0 < intervals["mae"][0] <= metrics.mean_absolute_error(y, predicted)
    assert intervals["rmse"][1] < 0.4


def test_one_test_sample_has_no_interval():
    assert bootstrap_intervals(["a"], ["a"], classification=True) == {
        "accuracy": None,
        "macro_f1": None,
        "balanced_accuracy": None,
    }


# The paired test


def test_identical_predictions_do_not_differ():
    y = topics(60)
    predicted = noisy(y, 0.7, TOPICS, seed=9)
    test = paired_test(y, predicted, predicted.copy(), classification=True)
    assert test["model_only"] == test["baseline_only"] == 0
    assert test["p_value"] == 1.0 and not test["significant"]
    assert "0 of 60 test samples differ" in test["reading"]


def test_one_sample_of_fifty_is_within_noise():
    y, predicted = one_wrong()
    test = paired_test(y, predicted, y, classification=True)
    assert (test["model_only"], test["baseline_only"], test["n"]) == (0, 1, 50)
    assert test["p_value"] == 1.0
    assert test["reading"].startswith("the difference is not significant at 0.05")
    assert "1 of 50 test samples differs" in test["reading"]


def test_mcnemar_is_the_exact_binomial_test_of_the_discordant_samples():
    y = np.zeros(40, dtype=int)
    predicted, baseline = y.copy(), y.copy()
    predicted[:1] = 1  # wrong where the baseline is right: 1 sample
    baseline[10:20] = 1  # and the other way round: 10 samples
    test = paired_test(y, predicted, baseline, classification=True)
    assert (test["model_only"], test["baseline_only"]) == (10, 1)
    assert test["p_value"] == pytest.approx(2 * (1 + 11) / 2**11)  # two-sided, 11 discordant
    assert test["p_value"] == pytest.approx(stats.binomtest(10, 11, 0.5).pvalue)
    assert test["significant"] and test["test"] == "McNemar exact"
    assert "only the model is right on 10, only the baseline on 1" in test["reading"]


def test_wilcoxon_for_regressors():
    rng = np.random.default_rng(10)
    y = rng.normal(size=30)
    close, far = y + 0.01 * rng.normal(size=30), y + rng.normal(size=30)
    test = paired_test(y, close, far, classification=False)
    assert test["test"] == "Wilcoxon signed-rank on absolute errors"
    assert test["p_value"] == pytest.approx(
        stats.wilcoxon(np.abs(close - y) - np.abs(far - y)).pvalue
    )
    assert test["significant"] and test["model_only"] > test["baseline_only"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        same = paired_test(y, close, close.copy(), classification=False)
        assert same["p_value"] == 1.0 and same["model_only"] == same["baseline_only"] == 0
        few = paired_test(y[:3], y[:3] + [0.1, 0.1, 0.2], y[:3] + [0.2, 0.2, 0.1],
                          classification=False)  # fmt: skip
        assert not few["significant"]


# Markdown, JSON, PNG


def test_markdown_shows_intervals_the_test_and_both_matrices():
    y, predicted = one_wrong()
    report = a_report(y, predicted, y)
    text = markdown(report)
    assert "| accuracy | 0.9800 [0.94, 1.00] | 1.0000 [1.00, 1.00] |" in text
    assert "95% bootstrap intervals over the 50 test samples" in text
    assert (
        "Paired test against the baseline (McNemar exact): the difference is not significant "
        "at 0.05 (p = 1): 1 of 50 test samples differs" in text
    )
    assert "### Model" in text and "### Baseline: pixels" in text
    model, baseline = text.split("### Baseline: pixels")
    assert "| **cat** | 24 | 1 |" in model and "| **cat** | 25 | 0 |" in baseline
    json.dumps(report["baseline"]), json.dumps(report["intervals"])  # JSON's own types


def test_markdown_without_intervals_or_baseline():
    y, predicted = one_wrong()
    report = a_report(y, predicted)
    del report["intervals"]  # a report written before they existed
    text = markdown(report)
    assert "| accuracy | 0.9800 |" in text and "Paired test" not in text
    assert "### Baseline" not in text and "## Confusion matrix" in text


def test_the_png_holds_both_matrices_on_one_scale_nothing_clipped(tmp_path):
    y = topics(300)
    report = a_report(y, noisy(y, 0.8, TOPICS, seed=11), noisy(y, 0.5, TOPICS, seed=12))
    figure = write_confusion_png(report, tmp_path / "both.png")
    model, baseline, colour_bar = figure.axes
    assert model.get_title().startswith("Model\naccuracy 0.")
    assert baseline.get_title().startswith("Baseline: pixels\naccuracy 0.")
    assert model.images[0].get_clim() == baseline.images[0].get_clim()
    assert [t.get_text() for t in baseline.get_xticklabels()] == sorted(TOPICS)
    assert colour_bar.get_ylabel() == "test samples"
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    frame = figure.bbox
    for axes in figure.axes:  # tick labels, axis labels and titles inside the image
        box = axes.get_tightbbox(canvas.get_renderer())
        assert box.x0 >= 0 and box.y0 >= 0 and box.x1 <= frame.x1 and box.y1 <= frame.y1

    alone = dict(report, baseline=None)
    assert len(write_confusion_png(alone, tmp_path / "model.png").axes) == 2
    width = {p: int.from_bytes(p.read_bytes()[16:20], "big") for p in tmp_path.glob("*.png")}
    assert width[tmp_path / "both.png"] > 1.6 * width[tmp_path / "model.png"]
    # Laid out at the dpi it is saved at: a larger one at saving pushed labels off the image.
    assert width[tmp_path / "both.png"] == round(figure.get_figwidth() * figure.dpi)


# Notes and hints


FREEZE = "finetuneclassifier__freeze"


def clearly_worse():
    y = topics(200)
    return y, noisy(y, 0.4, TOPICS, seed=13), noisy(y, 0.9, TOPICS, seed=14)


def test_within_noise_comes_first_not_negative_transfer():
    y, predicted = one_wrong()
    note = a_report(y, predicted, y, tried={FREEZE: ["last:2"]})["note"]
    assert note.startswith(
        "Transfer did not beat the baseline, accuracy 0.980 against 1.000 for pixels, but "
        "within noise on 50 test samples"
    )
    assert "negative transfer" not in note
    assert "If the baseline stays ahead: try freeze='none' or 'progressive'" in note

    better = a_report(y, y, predicted)
    assert better["transfer_beats_baseline"]
    assert better["note"].startswith("Transfer beat the baseline, accuracy 1.000 against 0.980")


def test_a_significant_loss_is_negative_transfer():
    y, predicted, baseline = clearly_worse()
    report = a_report(y, predicted, baseline, tried={FREEZE: ["backbone"]})
    assert report["baseline"]["paired_test"]["significant"]
    assert not report["transfer_beats_baseline"]
    assert report["note"].startswith("Transfer did not beat the baseline here: accuracy 0.")
    assert "negative transfer" in report["note"]


def test_a_significant_win_has_no_note():
    y, predicted, baseline = clearly_worse()
    report = a_report(y, baseline, predicted)
    assert report["transfer_beats_baseline"] and report["note"] is None


@pytest.mark.parametrize(
    ("tried", "suggested", "not_suggested"),
    [
        (["backbone"], "freeze='last:2' or 'none'", None),
        (["backbone", "last:1", "last:2"], "freeze='none' or 'progressive'", "'last:2' or"),
        ([2, "none"], "freeze='progressive' or 'lora'", "'last:2' or"),  # 2 is "last:2"
        (["auto"], "freeze='none' or 'progressive'", "'last:2' or"),  # the recipe's last:2
        (["last:2", "none", "progressive", "lora:4", "backbone"], None, "freeze="),
    ],
)
def test_hints_leave_out_what_was_tried(tried, suggested, not_suggested):
    y, predicted, baseline = clearly_worse()
    settings = {FREEZE: tried, "finetuneclassifier__backbone": ["resnet18"]}
    note = a_report(y, predicted, baseline, tried=settings)["note"]
    if suggested:
        assert suggested in note
    if not_suggested:
        assert not_suggested not in note
    assert note.endswith("a backbone other than 'resnet18', or keep the simpler model.")


def test_no_freeze_hint_for_a_pipeline_without_one():
    y, predicted, baseline = clearly_worse()
    note = a_report(y, predicted, baseline, tried={"logisticregression__C": [1.0, 10.0]})["note"]
    assert note.endswith("learn the task directly. Keep the simpler model.")


def test_without_knowing_what_ran_the_hint_is_the_general_one():
    y, predicted, baseline = clearly_worse()
    note = a_report(y, predicted, baseline)["note"]
    assert "Try fine-tuning more layers (freeze='last:2', 'none'), another backbone" in note


class Tuner(BaseEstimator):
    """Stands for a fine-tuner: a backbone, a freeze strategy, and the recipe it used."""

    def __init__(self, backbone="resnet18", freeze="auto", lr=1e-3):
        self.backbone, self.freeze, self.lr = backbone, freeze, lr


def test_tried_settings_reads_the_search_and_the_fitted_pipeline():
    best = Pipeline([("finetuneclassifier", Tuner())])
    best.steps[0][1].recipe_ = {"freeze": "last:2", "lr": 1e-3}  # "auto" as fitting resolved it

    class Search:
        best_estimator_ = best
        cv_results_ = {
            "params": [
                {FREEZE: f, "finetuneclassifier__lr": lr}
                for f in ("backbone", "last:1")
                for lr in (1e-3, np.float64(3e-3))
            ]
        }

    tried = tried_settings(Search())
    assert tried == {
        FREEZE: ["backbone", "last:1", "last:2"],
        "finetuneclassifier__lr": [1e-3, 3e-3],
        "finetuneclassifier__backbone": ["resnet18"],
    }
    json.dumps(tried)
    assert tried_settings(Pipeline([("scaler", BaseEstimator())])) == {}


def test_a_failed_model_or_baseline_leaves_the_rest_readable():
    y, predicted = one_wrong()
    measured = evaluate(Fixed(y), None, y, classification=True)
    alone = baseline_summary("pixels", measured, y, None, classification=True)
    assert alone["paired_test"] is None and alone["metrics"]["accuracy"] == 1.0
    report = a_report(y, predicted)
    report["baseline"] = {"name": "pixels", "metrics": {}}  # its fit failed
    text = markdown(report)
    assert "| accuracy | 0.9800 [0.94, 1.00] |  |" in text and "Paired test" not in text
