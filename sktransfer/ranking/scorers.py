"""Transferability scorers: how well a backbone suits a task, before training anything.

A scorer is a function of ``(features, y)`` (the backbone's features of the target
samples: :func:`logme`, :func:`h_score`, :func:`probe_score`) or of
``(source_outputs, y)`` (its source classifier's outputs on them: :func:`nce`,
:func:`leep`). Every one returns a float for which **higher is better**, and none
changes its inputs. :func:`probe_score`, a cross-validated linear probe, is the
ground truth the others estimate without training; :data:`SCORERS` says what each
reads, so a caller computes only the inputs its scorers need.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.special import softmax
from sklearn.covariance import ledoit_wolf_shrinkage
from sklearn.linear_model import LogisticRegression, RidgeCV
from sklearn.model_selection import KFold, StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import check_array, check_consistent_length, column_or_1d
from sklearn.utils.multiclass import type_of_target

# The LogME authors' fixed-point constants, kept so that scores compare with
# published ones: the guard of both denominators, the most iterations, and the
# relative change of alpha / beta that stops them.
_LOGME_EPSILON = 1e-5
_LOGME_MAX_ITER = 11
_LOGME_TOL = 1e-3
_OUTPUTS = ("logits", "probabilities")


def _features(features):
    return check_array(features, dtype=np.float64, input_name="features", ensure_min_samples=2)


def _classes(y, n_samples, name, regression_hint=False):
    """``y`` as class indices in ``range(n_classes)``, and ``n_classes``."""
    y = column_or_1d(check_array(y, ensure_2d=False, dtype=None, input_name="y"), warn=True)
    check_consistent_length(np.empty(n_samples), y)
    if type_of_target(y, input_name="y").startswith("continuous"):
        hint = "; pass regression=True for a regression target" if regression_hint else ""
        raise ValueError(f"{name} needs class labels, y is continuous{hint}")
    classes, codes = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise ValueError(f"{name} needs two classes or more in y, got only {classes.tolist()[0]!r}")
    return codes, len(classes)


def _targets(y, n_samples):
    """Regression targets as a float (n_samples, n_targets) array."""
    y = check_array(y, dtype=np.float64, ensure_2d=False, input_name="y")
    check_consistent_length(np.empty(n_samples), y)
    return y.reshape(n_samples, -1)


def _spectrum(matrix, targets):
    """The non-zero ``s**2`` of ``matrix``'s thin SVD ``U s V.T``, and ``U.T @ targets``.

    From the eigendecomposition of the smaller Gram matrix: O(n d min(n, d)), and
    no (n, d) factor held besides ``matrix``.
    """
    n, d = matrix.shape
    sigma, vectors = np.linalg.eigh(matrix.T @ matrix if n > d else matrix @ matrix.T)
    # eigh's error on a Gram matrix is of the order of eps times its largest eigenvalue.
    keep = sigma > max(sigma[-1], 0.0) * max(n, d) * np.finfo(np.float64).eps
    sigma, vectors = sigma[keep], vectors[:, keep]
    if n > d:  # U = matrix V / s
        return sigma, (vectors.T @ (matrix.T @ targets)) / np.sqrt(sigma)[:, None]
    return sigma, vectors.T @ targets


def logme(features, y, *, regression=False):
    """LogME: the log maximum evidence of a linear model of ``y`` on ``features``.

    Per target (an indicator column per class, or each column of a regression
    ``y``), Bayesian linear regression with prior precision ``alpha`` on the
    weights and noise precision ``beta``, both set by the authors' fixed-point
    iteration to maximise the evidence ``log p(y | features)``; the score is its
    mean over targets divided by the number of samples. One thin SVD serves every
    target. The features are used as given (no centring, no intercept), as in
    the paper. Zero singular values (``n < d``, rank-deficient features) still
    count in the posterior's log-determinant: the authors' code drops them when
    ``n < d`` (thuml/LogME issue #23) and agrees with this function once fixed.

    Parameters
    ----------
    features : array-like of shape (n_samples, n_features)
        A backbone's features of the target samples.
    y : array-like of shape (n_samples,) or (n_samples, n_targets)
        Class labels, or real targets when ``regression`` is true.
    regression : bool, default=False
        Whether ``y`` holds real targets rather than class labels.

    Returns
    -------
    float
        Higher is better; a log-likelihood per sample, so comparable across
        backbones on the same ``y``, not across tasks.

    References
    ----------
    K. You, Y. Liu, J. Wang, M. Long. "LogME: Practical Assessment of
    Pre-trained Models for Transfer Learning", ICML 2021.
    K. You, Y. Liu, Z. Zhang, J. Wang, M. I. Jordan, M. Long. "Ranking and
    Tuning Pre-trained Models: A New Paradigm for Exploiting Model Hubs",
    JMLR 23, 2022 (the fixed-point iteration).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1, 2], 50)
    >>> informative = rng.normal(size=(150, 8)) + 3 * np.eye(3, 8)[y]
    >>> noise = rng.normal(size=(150, 8))
    >>> bool(logme(informative, y) > logme(noise, y))
    True
    >>> target = informative @ rng.normal(size=8) + rng.normal(size=150)
    >>> [round(logme(f, target, regression=True), 3) for f in (informative, noise)]
    [-1.474, -2.955]
    """
    F = _features(features)
    n = F.shape[0]
    if regression:
        Y = _targets(y, n)
    else:
        codes, n_classes = _classes(y, n, "logme", regression_hint=True)
        Y = (codes[:, None] == np.arange(n_classes)).astype(np.float64)
    sigma, projection = _spectrum(F, Y)
    x2 = projection**2
    if sigma.size == 0:
        raise ValueError("logme needs features that are not all zero")
    sigma = sigma[:, None]
    # Squared norm of each target outside the features' span (constant in alpha, beta).
    outside = np.einsum("ij,ij->j", Y, Y) - x2.sum(axis=0)
    alpha, beta = np.ones(Y.shape[1]), np.ones(Y.shape[1])
    m2, res2 = np.zeros_like(alpha), np.zeros_like(alpha)
    active = np.ones(Y.shape[1], dtype=bool)
    for _ in range(_LOGME_MAX_ITER):
        t = alpha / beta
        shrink = t / (sigma + t)  # per singular direction, the share the prior takes
        gamma = (1.0 - shrink).sum(axis=0)  # effective number of parameters
        new_m2 = (sigma * x2 / (sigma + t) ** 2).sum(axis=0)  # |m|^2, the posterior mean
        new_res2 = (x2 * shrink**2).sum(axis=0) + outside  # |y - F m|^2
        new_alpha = gamma / (new_m2 + _LOGME_EPSILON)
        new_beta = (n - gamma) / (new_res2 + _LOGME_EPSILON)
        # Targets that have converged keep their values, as they would alone.
        m2, res2 = np.where(active, new_m2, m2), np.where(active, new_res2, res2)
        alpha, beta = np.where(active, new_alpha, alpha), np.where(active, new_beta, beta)
        active &= np.abs(new_alpha / new_beta - t) / t > _LOGME_TOL
        if not active.any():
            break
    k = sigma.shape[0]
    evidence = (
        k / 2.0 * np.log(alpha)  # d/2 log(alpha) less the d - k zero directions of log|A|
        + n / 2.0 * np.log(beta)
        - 0.5 * np.log(alpha + beta * sigma).sum(axis=0)
        - beta / 2.0 * res2
        - alpha / 2.0 * m2
        - n / 2.0 * np.log(2 * np.pi)
    )
    return float(np.mean(evidence / n))


def h_score(features, y, *, shrinkage="auto"):
    """The H-score: how much of the features' variance the class means explain.

    ``tr(cov(f)^-1 cov(E[f | y]))``. When ``n <= d`` the sample covariance is
    singular and the plain score is ``n_classes - 1`` whatever the features; the
    regularised score replaces ``cov(f)`` by the shrunk ``(1 - a) cov(f) + a mu I``
    (``mu`` the mean variance) and scales ``cov(E[f | y])`` by the same ``1 - a``.
    Both covariances divide by ``n``, so ``shrinkage=0.0`` is the plain score.
    Features already close to isotropic get a Ledoit-Wolf ``a`` near 1, and a
    score near 0, whatever the labels.

    Parameters
    ----------
    features : array-like of shape (n_samples, n_features)
        A backbone's features of the target samples.
    y : array-like of shape (n_samples,)
        Class labels.
    shrinkage : "auto", float in [0, 1] or None, default="auto"
        ``"auto"``: the Ledoit-Wolf shrinkage (scikit-learn's
        ``ledoit_wolf_shrinkage``); a float: that shrinkage; None: the plain
        H-score, with the pseudo-inverse of the sample covariance.

    Returns
    -------
    float
        Higher is better; between 0 and ``n_classes - 1``.

    References
    ----------
    Y. Bao, Y. Li, S.-L. Huang, L. Zhang, L. Zheng, A. Zamir, L. Guibas. "An
    Information-Theoretic Approach to Transferability in Task Transfer
    Learning", ICIP 2019.
    S. Ibrahim, N. Ponomareva, R. Mazumder. "Newer is not always better:
    Rethinking transferability metrics, their peculiarities, stability and
    performance", ECML PKDD 2022 (the regularised score).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1, 2], 10)
    >>> informative = rng.normal(size=(30, 100)) + np.eye(3, 100)[y] * 3
    >>> noise = rng.normal(size=(30, 100))
    >>> [round(h_score(f, y, shrinkage=None), 6) for f in (informative, noise)]
    [2.0, 2.0]
    >>> bool(h_score(informative, y) > h_score(noise, y))
    True
    """
    X = _features(features)
    n, d = X.shape
    codes, n_classes = _classes(y, n, "h_score")
    X = X - X.mean(axis=0)
    if shrinkage is None:
        alpha = 0.0
    elif isinstance(shrinkage, str) and shrinkage == "auto":
        alpha = float(ledoit_wolf_shrinkage(X, assume_centered=True))
    elif isinstance(shrinkage, numbers.Real) and 0.0 <= shrinkage <= 1.0:
        alpha = float(shrinkage)
    else:
        raise ValueError(f"shrinkage must be 'auto', a float in [0, 1] or None, got {shrinkage!r}")
    # Row c of the class means, weighted by sqrt(n_c / n), is A.T @ X: their
    # covariance is (A.T X).T (A.T X), and they lie in the span of X's rows.
    counts = np.bincount(codes, minlength=n_classes)
    A = (codes[:, None] == np.arange(n_classes)) / np.sqrt(n * counts)
    sigma, projection = _spectrum(X, A)
    mean_variance = np.einsum("ij,ij->", X, X) / (n * d)
    variance = (1.0 - alpha) * sigma / n + alpha * mean_variance
    between = sigma * (projection**2).sum(axis=1)  # cov(E[f|y]) along each direction
    return float((1.0 - alpha) * np.sum(between / variance))


def _source_probabilities(source_outputs, y, outputs, name):
    if outputs not in _OUTPUTS:
        raise ValueError(f"outputs must be one of {_OUTPUTS}, got {outputs!r}")
    scores = check_array(
        source_outputs, dtype=np.float64, input_name="source_outputs", ensure_min_features=2
    )
    codes, n_classes = _classes(y, scores.shape[0], name)
    if outputs == "logits":
        return softmax(scores, axis=1), codes, n_classes
    sums = scores.sum(axis=1)
    if scores.min() < 0 or np.abs(sums - 1.0).max() > 1e-3:
        raise ValueError(
            "source_outputs read as probabilities must be non-negative with rows that sum "
            f"to 1 (rows sum to between {sums.min():.4g} and {sums.max():.4g}); pass "
            "outputs='logits' for scores before the softmax"
        )
    return scores / sums[:, None], codes, n_classes


def nce(source_outputs, y, *, outputs="logits"):
    """NCE: the negative conditional entropy of the target labels given the source's.

    ``-H(Y | Z)``, with ``Z`` the source classifier's predicted class (the argmax
    of its outputs) and the joint distribution of ``(Y, Z)`` counted over the
    samples. It is 0 when each source class predicts a single target class.

    Parameters
    ----------
    source_outputs : array-like of shape (n_samples, n_source_classes)
        The source classifier's outputs on the target samples.
    y : array-like of shape (n_samples,)
        Target class labels.
    outputs : {"logits", "probabilities"}, default="logits"
        How ``source_outputs`` are read: scores before the softmax, or
        probabilities (non-negative, rows summing to 1, checked). Only their
        argmax counts, the same for both.

    Returns
    -------
    float
        Higher is better; between ``-log(n_classes)`` and 0.

    References
    ----------
    A. T. Tran, C. V. Nguyen, T. Hassner. "Transferability and Hardness of
    Supervised Classification Tasks", ICCV 2019.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.array([0, 0, 1, 1])
    >>> nce(np.array([[2.0, 0, 0], [2, 0, 0], [0, 2, 0], [0, 0, 2]]), y)
    0.0
    >>> round(nce(np.array([[2.0, 0], [0, 2], [2, 0], [0, 2]]), y), 4)  # log(1/2)
    -0.6931
    """
    probabilities, codes, n_classes = _source_probabilities(source_outputs, y, outputs, "nce")
    n, n_source = probabilities.shape
    z = probabilities.argmax(axis=1)
    joint = np.bincount(codes * n_source + z, minlength=n_classes * n_source) / n
    joint = joint.reshape(n_classes, n_source)
    p_z = np.broadcast_to(joint.sum(axis=0), joint.shape)
    seen = joint > 0  # 0 log 0 = 0
    return float(np.sum(joint[seen] * np.log(joint[seen] / p_z[seen])))


def leep(source_outputs, y, *, outputs="logits"):
    """LEEP: the log expected empirical prediction of the source classifier.

    With ``theta_i`` the source's probabilities over its classes ``z``,
    ``P(y | z)`` comes from the joint ``P(y, z) = sum_i theta_i(z) [y_i = y] / n``,
    and LEEP is the mean of ``log sum_z P(y_i | z) theta_i(z)``: the
    log-likelihood of the source's classes re-labelled, with no training.

    Parameters
    ----------
    source_outputs : array-like of shape (n_samples, n_source_classes)
        The source classifier's outputs on the target samples.
    y : array-like of shape (n_samples,)
        Target class labels.
    outputs : {"logits", "probabilities"}, default="logits"
        How ``source_outputs`` are read: logits, turned into probabilities by a
        softmax over each row, or probabilities (non-negative, rows summing to
        1, renormalised).

    Returns
    -------
    float
        Higher is better; a mean log-probability, at most 0.

    References
    ----------
    C. V. Nguyen, T. Hassner, M. Seeger, C. Archambeau. "LEEP: A New Measure to
    Evaluate Transferability of Learned Representations", ICML 2020.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.array([0, 0, 1, 1])
    >>> sharp = np.array([[9.0, 0], [9, 0], [0, 9], [0, 9]])
    >>> round(leep(sharp, y), 4), round(leep(sharp, y[::-1]), 4)  # any one-to-one map
    (-0.0002, -0.0002)
    >>> round(leep(np.zeros((4, 2)), y), 4)  # an uninformative source: log(1/2)
    -0.6931
    """
    theta, codes, n_classes = _source_probabilities(source_outputs, y, outputs, "leep")
    n = theta.shape[0]
    onehot = (codes[:, None] == np.arange(n_classes)).astype(np.float64)
    joint = onehot.T @ theta / n
    p_z = joint.sum(axis=0)
    # A source class no sample gives any probability to predicts nothing.
    conditional = np.divide(joint, p_z, out=np.zeros_like(joint), where=p_z > 0)
    expected = np.einsum("ij,ij->i", theta, conditional[codes])
    return float(np.mean(np.log(expected)))


def probe_score(features, y, *, regression=False, cv=5, scoring=None, random_state=0):
    """The cross-validated score of a linear probe on ``features``: the ground truth.

    A ``StandardScaler`` then ``LogisticRegression`` (classification) or
    ``RidgeCV`` (regression), scored by ``cross_val_score`` over shuffled
    (stratified, for classification) folds. What the other scorers estimate
    cheaply, at the cost of ``cv`` fits.

    Parameters
    ----------
    features : array-like of shape (n_samples, n_features)
        A backbone's features of the target samples.
    y : array-like of shape (n_samples,) or (n_samples, n_targets)
        Class labels, or real targets when ``regression`` is true.
    regression : bool, default=False
        Whether ``y`` holds real targets rather than class labels.
    cv : int or cross-validation splitter, default=5
        An int: that many ``StratifiedKFold`` (``KFold`` for regression) folds,
        shuffled with ``random_state``; a splitter is used as it is.
    scoring : str or callable, default=None
        A scikit-learn scorer; None is accuracy for classification and R^2 for
        regression. scikit-learn's scorers are all higher-is-better (losses are
        negated, as ``"neg_log_loss"``).
    random_state : int, default=0
        Shuffles the folds.

    Returns
    -------
    float
        The mean score over the folds; higher is better.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1], 40)
    >>> informative = rng.normal(size=(80, 5)) + 2 * y[:, None]
    >>> probe_score(informative, y)
    0.975
    >>> round(probe_score(rng.normal(size=(80, 5)), y), 2) < 0.8
    True
    """
    X = _features(features)
    if regression:
        y = _targets(y, X.shape[0])
        y = y.ravel() if y.shape[1] == 1 else y
        model = make_pipeline(StandardScaler(), RidgeCV())
        folds = KFold
    else:
        _classes(y, X.shape[0], "probe_score", regression_hint=True)
        y = column_or_1d(y)
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
        folds = StratifiedKFold
    if isinstance(cv, numbers.Integral):
        if not regression:  # few-shot: no more folds than the rarest class has samples
            cv = max(2, min(cv, int(np.unique(y, return_counts=True)[1].min())))
        cv = folds(n_splits=cv, shuffle=True, random_state=random_state)
    return float(np.mean(cross_val_score(model, X, y, cv=cv, scoring=scoring)))


@dataclass(frozen=True)
class Scorer:
    """A transferability scorer and what it reads.

    The entries of :data:`SCORERS`; calling one calls its ``function``.

    Parameters
    ----------
    name : str
        Its key in :data:`SCORERS`.
    function : callable
        ``function(inputs, y, **params) -> float``, higher is better.
    reads : {"features", "source_outputs"}
        What ``inputs`` are: the backbone's features of the samples, or its
        source classifier's outputs on them.
    regression : bool
        Whether it also scores regression targets (``regression=True``).
    costly : bool
        Whether it trains models (the probe), rather than a closed form.

    Examples
    --------
    >>> import numpy as np
    >>> SCORERS["leep"].reads
    'source_outputs'
    >>> sorted(name for name, s in SCORERS.items() if s.reads == "features" and not s.costly)
    ['hscore', 'logme']
    >>> SCORERS["nce"](np.array([[2.0, 0], [0, 2]]), [0, 1])
    0.0
    """

    name: str
    function: Callable[..., float]
    reads: str
    regression: bool = False
    costly: bool = False

    def __call__(self, inputs, y, **params):
        """``function(inputs, y, **params)``.

        Parameters
        ----------
        inputs : array-like of shape (n_samples, n_columns)
            Features or source outputs, as ``reads`` says.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            The targets.
        **params
            Keyword arguments of ``function``.

        Returns
        -------
        float
            Higher is better.
        """
        return self.function(inputs, y, **params)


# Every scorer by name, with what it reads, so that only the inputs the chosen
# scorers need are computed.
SCORERS = {
    "logme": Scorer("logme", logme, "features", regression=True),
    "hscore": Scorer("hscore", h_score, "features"),
    "nce": Scorer("nce", nce, "source_outputs"),
    "leep": Scorer("leep", leep, "source_outputs"),
    "probe": Scorer("probe", probe_score, "features", regression=True, costly=True),
}
