"""Linear probing, then fine-tuning (LP-FT): the new head starts as a probe on the frozen features.

Kumar et al., "Fine-Tuning can Distort Pretrained Features and Underperform
Out-of-Distribution" (ICLR 2022): a randomly initialised head trained together
with the body sends large, random gradients into the pre-trained features
before the head has learnt anything. Fitting the linear head first, as a
linear probe on the features the body gives before any training, and only
then fine-tuning everything, keeps what the probe gets for free.

The probe is scikit-learn's ``LogisticRegression`` (classifiers; its ``C``
among :data:`PROBE_CS` by stratified cross-validation on the log-loss) or
``RidgeCV`` (regressors; ``alpha`` among :data:`PROBE_ALPHAS`, leave-one-out),
fitted on the features as the head reads them, unscaled: its penalty then
bounds the head's own weights, so the logits do not swing wildly as soon as
fine-tuning moves the features (a probe on standardised features, folded into
the head, multiplies each weight by one over its feature's spread, tens of times
over for a sentence encoder's unit-length embeddings).
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from . import _adapt as adaptation

# The probe's regularisation, searched on the training samples only.
PROBE_CS = np.logspace(-3, 1, 5)
PROBE_ALPHAS = np.logspace(-2, 3, 6)


def probe(classifier):
    """The scikit-learn probe a fine-tuner fits on the body's features.

    Parameters
    ----------
    classifier : bool

    Returns
    -------
    function of (features, y) to a fitted linear model
        ``y`` holds class indices (classifier) or targets of shape (n, k). A
        classifier's ``C`` is chosen by ``GridSearchCV`` among
        :data:`PROBE_CS` on the log-loss, with stratified folds (as many as
        the rarest class allows, at most 5; with one sample of a class there
        is nothing to cross-validate, and ``C=1``); a regressor's ``alpha``
        by ``RidgeCV``.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression, RidgeCV
    from sklearn.model_selection import GridSearchCV, StratifiedKFold

    def fit(features, y):
        if not classifier:
            return RidgeCV(alphas=PROBE_ALPHAS).fit(features, y)
        with warnings.catch_warnings():
            # A starting point that fine-tuning goes on from, not a final model: an
            # unconverged probe at some C costs nothing, and warning about it would be noise.
            warnings.simplefilter("ignore", ConvergenceWarning)
            return fit_logistic(features, y)

    def fit_logistic(features, y):
        # A loose tolerance: the probe is a starting point, and unscaled features converge slowly.
        model = LogisticRegression(C=1.0, max_iter=200, tol=1e-3)
        folds = min(5, int(np.bincount(y).min()))
        if folds < 2:
            return model.fit(features, y)
        cv = StratifiedKFold(folds, shuffle=True, random_state=0)
        search = GridSearchCV(model, {"C": PROBE_CS}, cv=cv, scoring="neg_log_loss")
        return search.fit(features, y).best_estimator_

    return fit


def head_weights(model, n_outputs):
    """The fitted probe as the head's linear layer: ``(weight, bias)``, float32.

    A binary logistic regression gives one logit; the head gives two, ``0`` and
    that one, whose softmax is the same probability.
    """
    weight = np.atleast_2d(model.coef_).astype(np.float64)
    bias = np.atleast_1d(model.intercept_).astype(np.float64)
    if weight.shape[0] == 1 and n_outputs == 2:
        weight = np.vstack([np.zeros_like(weight), weight])
        bias = np.concatenate([[0.0], bias])
    return weight.astype(np.float32), bias.astype(np.float32)


def features(net, dataset):
    """The body's features of ``dataset`` (eval mode, no gradient) and its targets.

    What the head reads: the probe is fitted on them, and a fitted fine-tuner's
    ``transform`` returns them.
    """
    module = net.module_
    was_training = module.training
    module.eval()
    rows, targets = [], []
    with torch.no_grad():
        for x, y in net.get_iterator(dataset, training=False):
            x = net.model_inputs(x)
            out = module.features(**x) if isinstance(x, dict) else module.features(x)
            rows.append(out.float().cpu())
            targets.append(torch.as_tensor(np.asarray(y)))
    module.train(was_training)
    return torch.cat(rows).numpy(), torch.cat(targets).numpy()


def init_head(net, dataset):
    """Fit the probe on ``dataset`` and make it the net's head; returns the fitted probe."""
    X, y = features(net, dataset)
    labelled = adaptation.known(torch.from_numpy(y), net._classifier).numpy()
    X, y = X[labelled], y[labelled]  # with adapt, the unlabelled samples are left out
    n_outputs = len(net.classes_) if net._classifier else net.n_outputs_
    fitted = probe(net._classifier)(X, y)
    weight, bias = head_weights(fitted, n_outputs)
    layer = net.module_.head[-1]
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(weight))
        layer.bias.copy_(torch.from_numpy(bias))
    return fitted
