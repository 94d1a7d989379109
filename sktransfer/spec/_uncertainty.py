"""How sure a report can be of its numbers: bootstrap intervals, and a paired test against
the baseline on the same test samples.

A test set of 50 images measures accuracy in steps of 0.02: 0.98 against 1.00 is one
image. The intervals resample the test samples (percentile bootstrap, a fixed seed so that
a report is the same on every run); the paired test asks whether the model and the
baseline differ on the samples themselves: McNemar's exact test for classifiers, the
Wilcoxon signed-rank test on absolute errors for regressors.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
RESAMPLES = 1000
SEED = 0
ALPHA = 0.05
_BATCH = 250  # resamples at a time: 250 x n indices stay small for a test set of thousands


def bootstrap_intervals(
    y_true, y_pred, *, classification, confidence=CONFIDENCE, n_resamples=RESAMPLES, seed=SEED
):
    """Percentile bootstrap intervals of each metric, the test samples resampled.

    Parameters
    ----------
    y_true, y_pred : array-like
        The test targets and the predictions for them.
    classification : bool
        Accuracy, macro F1 and balanced accuracy for a classifier; R², MAE and RMSE
        for a regressor (the metrics :func:`~sktransfer.spec._report.evaluate` reports).
    confidence : float, default=0.95
        The interval's coverage.
    n_resamples : int, default=1000
        How many resamples of the test samples.
    seed : int, default=0
        The resampling's seed: the same data give the same intervals.

    Returns
    -------
    dict
        Metric name to ``[low, high]``; None for each metric under two test samples,
        where resampling says nothing.
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    names = _CLASSIFICATION if classification else _REGRESSION
    n = len(y_true)
    if n < 2:
        return dict.fromkeys(names)
    if classification:
        _, codes = np.unique(np.concatenate([y_true, y_pred]).astype(str), return_inverse=True)
        y_true, y_pred = codes[:n], codes[n:]
        statistic = _classification_scores
    else:
        y_true = y_true.reshape(n, -1).astype(float)
        y_pred = y_pred.reshape(n, -1).astype(float)
        statistic = _regression_scores
    rng = np.random.default_rng(seed)
    scores = []
    for start in range(0, n_resamples, _BATCH):
        rows = rng.integers(0, n, size=(min(_BATCH, n_resamples - start), n))
        scores.append(statistic(y_true[rows], y_pred[rows]))
    scores = np.concatenate(scores)  # (n_resamples, n_metrics)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(scores, [tail, 100 - tail], axis=0)
    return {name: [float(lo), float(hi)] for name, lo, hi in zip(names, low, high)}


_CLASSIFICATION = ("accuracy", "macro_f1", "balanced_accuracy")
_REGRESSION = ("r2", "mae", "rmse")


def _classification_scores(y_true, y_pred):
    """Accuracy, macro F1 and balanced accuracy of each row of label codes, as
    scikit-learn computes them on that resample (macro over the classes it holds)."""
    rows, n = y_true.shape
    k = int(max(y_true.max(), y_pred.max())) + 1
    offset = np.arange(rows)[:, None] * k
    correct = y_true == y_pred

    def count(codes, weights=None):
        return np.bincount((codes + offset).ravel(), weights, minlength=rows * k).reshape(rows, k)

    support, predicted = count(y_true), count(y_pred)
    hits = count(y_true, correct.ravel().astype(float))
    present = (support + predicted) > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(present, 2 * hits / (support + predicted), 0.0)
        recall = np.where(support > 0, hits / support, 0.0)
    macro_f1 = f1.sum(axis=1) / present.sum(axis=1)
    balanced = recall.sum(axis=1) / (support > 0).sum(axis=1)
    return np.column_stack([correct.mean(axis=1), macro_f1, balanced])


def _regression_scores(y_true, y_pred):
    """R², MAE and RMSE of each resample (rows, samples, outputs), averaged over outputs as
    scikit-learn's defaults do."""
    error = y_pred - y_true
    mae = np.abs(error).mean(axis=1).mean(axis=1)
    rmse = np.sqrt((error**2).mean(axis=1)).mean(axis=1)
    residual = (error**2).sum(axis=1)
    total = ((y_true - y_true.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
    # A constant target: scikit-learn scores 1 for a perfect fit, 0 otherwise.
    with np.errstate(invalid="ignore", divide="ignore"):
        r2 = np.where(total > 0, 1 - residual / total, np.where(residual == 0, 1.0, 0.0))
    return np.column_stack([r2.mean(axis=1), mae, rmse])


def paired_test(y_true, predicted, baseline_predicted, *, classification, alpha=ALPHA):
    """Whether the model and the baseline differ on the same test samples.

    Parameters
    ----------
    y_true : array-like
        The test targets.
    predicted, baseline_predicted : array-like
        The model's and the baseline's predictions for them.
    classification : bool
        McNemar's exact test on the samples one gets right and the other wrong (a
        two-sided binomial test of the discordant counts); otherwise the Wilcoxon
        signed-rank test on the two absolute errors of each sample.
    alpha : float, default=0.05
        The level the reading in words uses.

    Returns
    -------
    dict
        ``test``, ``n``, ``p_value``, ``significant`` (p below ``alpha``), ``alpha``,
        ``reading`` (the result in words), and the counts: ``model_only`` and
        ``baseline_only``, the samples only the model (the baseline) gets right, or
        for a regressor has the smaller absolute error on.
    """
    y_true = np.asarray(y_true)
    predicted, baseline_predicted = np.asarray(predicted), np.asarray(baseline_predicted)
    n = len(y_true)
    if classification:
        right, baseline_right = predicted == y_true, baseline_predicted == y_true
        model_only = int(np.sum(right & ~baseline_right))
        baseline_only = int(np.sum(baseline_right & ~right))
        discordant = model_only + baseline_only
        p_value = 1.0 if discordant == 0 else stats.binomtest(model_only, discordant, 0.5).pvalue
        test, unit = "McNemar exact", "right"
    else:
        error = np.abs(predicted.reshape(n, -1) - y_true.reshape(n, -1)).mean(axis=1)
        baseline_error = np.abs(baseline_predicted.reshape(n, -1) - y_true.reshape(n, -1))
        difference = error - baseline_error.mean(axis=1)
        model_only = int(np.sum(difference < 0))
        baseline_only = int(np.sum(difference > 0))
        # Samples both predict equally well say nothing about which is better: dropped
        # here (as zero_method="wilcox" would), so that all-equal errors give p = 1.
        differs = difference[difference != 0]
        p_value = 1.0 if len(differs) == 0 else stats.wilcoxon(differs).pvalue
        test, unit = "Wilcoxon signed-rank on absolute errors", "closer"
    p_value = float(min(1.0, p_value))
    return {
        "test": test,
        "n": n,
        "model_only": model_only,
        "baseline_only": baseline_only,
        "p_value": p_value,
        "alpha": alpha,
        "significant": bool(p_value < alpha),
        "reading": _reading(p_value, alpha, n, model_only, baseline_only, unit),
    }


def _reading(p_value, alpha, n, model_only, baseline_only, unit):
    differ = model_only + baseline_only
    verdict = "significant" if p_value < alpha else "not significant"
    differs = "differs" if differ == 1 else "differ"
    if unit == "right":
        detail = f"only the model is right on {model_only}, only the baseline on {baseline_only}"
    else:
        detail = f"the model is closer on {model_only}, the baseline on {baseline_only}"
    return (
        f"the difference is {verdict} at {alpha:g} (p = {p_value:.3g}): "
        f"{differ} of {n} test samples {differs}; {detail}"
    )
