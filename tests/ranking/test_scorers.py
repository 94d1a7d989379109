"""Transferability scorers: known answers on synthetic data, the authors' numbers, inputs kept."""

import numpy as np
import pytest
from scipy.special import softmax
from sklearn.model_selection import KFold

from sktransfer.ranking import SCORERS, Scorer, h_score, leep, logme, nce, probe_score

FEATURE_SCORERS = sorted(name for name, s in SCORERS.items() if s.reads == "features")
OUTPUT_SCORERS = sorted(name for name, s in SCORERS.items() if s.reads == "source_outputs")


def blobs(seed, n, d, n_classes, signal):
    """Gaussian noise plus ``signal`` times a random centre per class."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % n_classes
    centres = rng.standard_normal((n_classes, d))
    return rng.standard_normal((n, d)) + signal * centres[y], y


def regression(seed, n, d, n_targets):
    """Targets linear in the features, plus noise of standard deviation 0.5."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    return X, X @ rng.standard_normal((d, n_targets)) + 0.5 * rng.standard_normal((n, n_targets))


def source_logits(seed, n, n_source, n_classes, signal):
    """Logits of a source classifier whose class c tends to fire on target class c."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % n_classes
    return rng.standard_normal((n, n_source)) + signal * np.eye(n_classes, n_source)[y], y


def rank_deficient():
    X, y = blobs(0, 200, 16, 4, 1.0)
    mixing = np.random.default_rng(3).standard_normal((4, 4))
    return np.hstack([X, X[:, :4] @ mixing]), y  # 20 columns, rank 16


# Expected values computed by reference implementations on the data above (the same
# seeds and shapes), their code run unchanged, numba's @njit replaced by the plain function:
# - LogME: repository thuml/LogME, file LogME.py (commit 3a08950), ``LogME(...).fit(f, y)``
#   (its default fixed-point path). ``blobs(0, 200, 16, 4, 1.0)``;
#   ``regression(1, 150, 10, 2)``; ``rank_deficient()``.
# - LogME with n < d, ``blobs(2, 40, 100, 3, 0.5)``: the same file with the fix of
#   thuml/LogME issue #23 (pull request #24: the zero singular values padded into the
#   log-determinant); the file as released gives 4.750251594985168 there.
# - NCE and LEEP: thuml/LogME, files NCE.py (commit 707a695) and LEEP.py (1dbc4d1), on
#   ``source_logits(4, 300, 10, 3, 2.0)`` (NCE on the argmax, LEEP on the softmax).
# - H-score: thuml/Transfer-Learning-Library, tllib/ranking/hscore.py (commit b0d863f),
#   ``h_score`` and ``regularized_h_score``; the latter divides cov(E[f|y]) by n - 1 but
#   the shrunk cov(f) by n, so it is (n - 1) / n times the regularised score here, which
#   divides both by n (and so equals the plain score at zero shrinkage).
LOGME_CLASSIFICATION = -0.17680693626374494
LOGME_REGRESSION = -0.958610359729249
LOGME_RANK_DEFICIENT = -0.18677155717360694
LOGME_N_BELOW_D = -0.29362642695299385
H_SCORE = 2.3230062380281913
TLLIB_REGULARIZED_H_SCORE = 2.2373921136186814
TLLIB_REGULARIZED_H_SCORE_N_BELOW_D = 1.614058424121267
NCE = -0.4797061057888062
LEEP = -0.7833764517373398


def test_logme_matches_the_authors_implementation():
    assert logme(*blobs(0, 200, 16, 4, 1.0)) == pytest.approx(LOGME_CLASSIFICATION, abs=1e-6)
    X, Y = regression(1, 150, 10, 2)
    assert logme(X, Y, regression=True) == pytest.approx(LOGME_REGRESSION, abs=1e-6)
    assert logme(*rank_deficient()) == pytest.approx(LOGME_RANK_DEFICIENT, abs=1e-6)
    assert logme(*blobs(2, 40, 100, 3, 0.5)) == pytest.approx(LOGME_N_BELOW_D, abs=1e-6)


def test_h_score_matches_the_reference_implementation():
    X, y = blobs(0, 200, 16, 4, 1.0)
    assert h_score(X, y, shrinkage=None) == pytest.approx(H_SCORE, abs=1e-6)
    assert h_score(X, y) == pytest.approx(TLLIB_REGULARIZED_H_SCORE * 199 / 200, abs=1e-6)
    X, y = blobs(2, 40, 100, 3, 0.5)
    expected = TLLIB_REGULARIZED_H_SCORE_N_BELOW_D * 39 / 40
    assert h_score(X, y) == pytest.approx(expected, abs=1e-6)


def test_nce_and_leep_match_the_authors_implementation():
    logits, y = source_logits(4, 300, 10, 3, 2.0)
    assert nce(logits, y) == pytest.approx(NCE, abs=1e-6)
    assert leep(logits, y) == pytest.approx(LEEP, abs=1e-6)
    probabilities = softmax(logits, axis=1)
    assert nce(probabilities, y, outputs="probabilities") == pytest.approx(NCE, abs=1e-6)
    assert leep(probabilities, y, outputs="probabilities") == pytest.approx(LEEP, abs=1e-6)


@pytest.mark.parametrize("name", FEATURE_SCORERS)
def test_informative_features_outrank_noise(name):
    informative, y = blobs(0, 120, 10, 3, 1.0)
    noise, _ = blobs(0, 120, 10, 3, 0.0)
    assert SCORERS[name](informative, y) > SCORERS[name](noise, y)


@pytest.mark.parametrize("name", [n for n in FEATURE_SCORERS if SCORERS[n].regression])
def test_informative_features_outrank_noise_for_regression(name):
    X, Y = regression(1, 150, 10, 2)
    noise = np.random.default_rng(5).standard_normal(X.shape)
    assert SCORERS[name](X, Y, regression=True) > SCORERS[name](noise, Y, regression=True)


def test_logme_rises_with_the_label_relevant_signal():
    scores = [logme(*blobs(0, 150, 12, 3, signal)) for signal in (0.0, 0.25, 0.5, 1.0, 2.0)]
    assert np.all(np.diff(scores) > 0), scores


def test_regression_logme_rises_with_the_label_relevant_signal():
    # The features mix the target's inputs with independent noise, at a constant scale.
    rng = np.random.default_rng(0)
    relevant, irrelevant = rng.standard_normal((2, 200, 10))
    target = relevant @ rng.standard_normal(10) + 0.5 * rng.standard_normal(200)
    scores = [
        logme(np.sqrt(r) * relevant + np.sqrt(1 - r) * irrelevant, target, regression=True)
        for r in (0.0, 0.25, 0.5, 0.75, 1.0)
    ]
    assert np.all(np.diff(scores) > 0), scores


def test_logme_scores_each_regression_target_and_averages():
    X, Y = regression(1, 150, 10, 2)
    each = [logme(X, Y[:, i], regression=True) for i in range(2)]
    assert logme(X, Y, regression=True) == pytest.approx(np.mean(each), abs=1e-12)
    assert logme(X, Y[:, :1], regression=True) == pytest.approx(each[0], abs=1e-12)


@pytest.mark.parametrize("name", OUTPUT_SCORERS)
def test_a_source_whose_classes_map_to_the_target_outranks_a_random_one(name):
    mapped, y = source_logits(4, 300, 10, 3, 3.0)
    unrelated, _ = source_logits(4, 300, 10, 3, 0.0)
    assert SCORERS[name](mapped, y) > SCORERS[name](unrelated, y)


def test_nce_is_zero_when_source_classes_determine_the_target():
    y = np.arange(60) % 3
    two_source_classes_per_target = 2 * y + np.arange(60) // 30  # z in {2y, 2y + 1}
    logits = 5.0 * np.eye(6)[two_source_classes_per_target]
    assert nce(logits, y) == 0.0
    assert nce(logits, (y + 1) % 3) == 0.0  # renaming the target classes changes nothing
    assert nce(np.eye(3)[np.zeros(60, dtype=int)], y) == pytest.approx(-np.log(3))


def test_labels_of_any_type_give_the_same_scores():
    X, y = blobs(0, 120, 10, 3, 1.0)
    logits, y_source = source_logits(4, 300, 10, 3, 2.0)
    names = np.array(["cat", "dog", "fox"])
    for scorer in (logme, h_score):
        assert scorer(X, names[y]) == pytest.approx(scorer(X, y), abs=1e-12)
    for scorer in (nce, leep):
        assert scorer(logits, names[y_source]) == pytest.approx(scorer(logits, y_source))


def test_h_score_shrinkage_separates_features_when_n_is_below_d():
    informative, y = blobs(2, 40, 100, 3, 0.5)
    noise, _ = blobs(2, 40, 100, 3, 0.0)
    # The sample covariance is singular: the plain score is n_classes - 1 for both.
    assert h_score(informative, y, shrinkage=None) == pytest.approx(2.0)
    assert h_score(noise, y, shrinkage=None) == pytest.approx(2.0)
    assert h_score(informative, y) > h_score(noise, y)
    assert h_score(informative, y, shrinkage=0.5) > h_score(noise, y, shrinkage=0.5)


def test_h_score_without_shrinkage_is_the_plain_score():
    X, y = blobs(0, 200, 16, 4, 1.0)
    assert h_score(X, y, shrinkage=0.0) == pytest.approx(h_score(X, y, shrinkage=None))
    assert h_score(X, y, shrinkage=1.0) == 0.0
    assert 0.0 < h_score(X, y) < h_score(X, y, shrinkage=None) < 3.0


def test_probe_score_takes_a_splitter_and_a_scoring():
    X, y = blobs(0, 120, 10, 3, 1.0)
    assert probe_score(X, y) == probe_score(X, y)  # the folds are seeded
    folds = KFold(3, shuffle=True, random_state=1)
    assert -1.0 < probe_score(X, y, cv=folds, scoring="neg_log_loss") < 0.0
    X, Y = regression(1, 150, 10, 2)
    assert probe_score(X, Y[:, 0], regression=True) > 0.9  # R^2


def test_scorers_say_what_they_read():
    assert set(SCORERS) == {"logme", "hscore", "nce", "leep", "probe"}
    assert FEATURE_SCORERS == ["hscore", "logme", "probe"]
    assert OUTPUT_SCORERS == ["leep", "nce"]
    assert [n for n, s in SCORERS.items() if s.costly] == ["probe"]
    assert all(isinstance(s, Scorer) and s.name == n for n, s in SCORERS.items())
    with pytest.raises(AttributeError):
        SCORERS["logme"].reads = "source_outputs"


def _frozen(array):
    array = np.array(array)
    array.flags.writeable = False
    return array


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", sorted(SCORERS))
def test_inputs_are_left_untouched(name, dtype):
    if SCORERS[name].reads == "features":
        inputs, y = blobs(0, 60, 8, 3, 1.0)
    else:
        inputs, y = source_logits(4, 60, 5, 3, 2.0)
    inputs, y = _frozen(inputs.astype(dtype)), _frozen(y)
    before = inputs.copy(), y.copy()
    SCORERS[name](inputs, y)
    assert np.array_equal(inputs, before[0]) and np.array_equal(y, before[1])
    assert inputs.dtype == dtype
    if SCORERS[name].reads == "source_outputs":
        probabilities = _frozen(softmax(inputs, axis=1))
        before = probabilities.copy()
        SCORERS[name](probabilities, y, outputs="probabilities")
        assert np.array_equal(probabilities, before)


def test_regression_targets_are_left_untouched():
    X, Y = regression(1, 60, 8, 2)
    X, Y = _frozen(X), _frozen(Y)
    before = X.copy(), Y.copy()
    logme(X, Y, regression=True)
    probe_score(X, Y, regression=True)
    assert np.array_equal(X, before[0]) and np.array_equal(Y, before[1])


@pytest.mark.parametrize("name", sorted(SCORERS))
def test_errors_name_the_problem(name):
    scorer = SCORERS[name]
    X, y = blobs(0, 60, 8, 3, 1.0)
    with pytest.raises(ValueError, match="Expected 2D array"):
        scorer(X[:, 0], y)
    with pytest.raises(ValueError, match="contains NaN"):
        scorer(np.where(X > 2, np.nan, X), y)
    with pytest.raises(ValueError, match="contains NaN"):
        scorer(X, np.where(y == 1, np.nan, y))
    with pytest.raises(ValueError, match="two classes or more in y, got only 'cat'"):
        scorer(X, np.full(60, "cat"))
    with pytest.raises(ValueError, match=r"inconsistent numbers of samples: \[60, 50\]"):
        scorer(X, y[:50])
    with pytest.raises(ValueError, match="y is continuous"):
        scorer(X, np.linspace(0, 1, 60))


def test_errors_of_each_scorer():
    X, y = blobs(0, 60, 8, 3, 1.0)
    with pytest.raises(ValueError, match="pass regression=True"):
        logme(X, np.linspace(0, 1, 60))
    with pytest.raises(ValueError, match="shrinkage must be 'auto', a float in"):
        h_score(X, y, shrinkage=1.5)
    with pytest.raises(ValueError, match="outputs must be one of"):
        leep(X, y, outputs="softmax")
    with pytest.raises(ValueError, match="pass outputs='logits'"):
        nce(X, y, outputs="probabilities")
    with pytest.raises(ValueError, match="a minimum of 2 is required"):
        leep(X[:, :1], y)
    with pytest.raises(ValueError, match="not all zero"):
        logme(np.zeros((60, 8)), y)


def test_the_probe_takes_no_more_folds_than_the_rarest_class_has_samples():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], 3)  # three per class: five folds could not be stratified
    informative = rng.normal(size=(9, 4)) + 4 * np.eye(3, 4)[y]
    assert probe_score(informative, y, cv=5) > probe_score(rng.normal(size=(9, 4)), y, cv=5)
