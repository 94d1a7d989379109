"""HeadClassifier and HeadRegressor: a small trainable network on features, on skorch."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data
from skorch import NeuralNetClassifier, NeuralNetRegressor

from .._checks import (
    BOOLEAN,
    NONE,
    Device,
    InstanceOf,
    Interval,
    Options,
    check_targets,
    validate_params,
)
from .._utils import resolve_device
from ._head import make_head
from ._persist import PersistsHeadNet
from ._training import (
    TRAINING_CONSTRAINTS,
    check_hidden,
    class_weights,
    early_stopping,
    seeded,
    validation_split,
)

_TRAINING = """
    Parameters
    ----------
    hidden : tuple of int, default=()
        Sizes of the hidden layers, each ``Linear, activation, Dropout``;
        () is a linear model of the features.
    dropout : float, default=0.0
        Dropout probability before the output layer (and after each hidden
        layer); 0 adds no dropout.
    activation : {"relu", "gelu", "silu", "tanh"} or nn.Module class, default="relu"
        Activation of the hidden layers.
    lr : float, default=1e-3
        Learning rate of the AdamW optimizer.
    weight_decay : float, default=0.0
        AdamW's decoupled weight decay.
    max_epochs : int, default=100
        Passes over the training samples (fewer when ``patience`` stops early).
    batch_size : int, default=32
        Samples per training step (reshuffled every epoch) and per prediction
        batch.
    validation : float, optional
        Fraction of the samples held out to measure ``valid_loss`` each epoch
        (stratified, for the classifier); None trains on every sample.
    patience : int, optional
        Stop when the validation loss (the training loss without
        ``validation``) has not improved for this many epochs, and restore the
        best epoch's weights.
"""

_RUNTIME = """    device : str, default="auto"
        "auto" picks CUDA when present (else Apple's MPS, else the CPU); or any
        torch device this machine has (``fit`` refuses one it lacks). Loaded
        where its device is missing, a fitted estimator runs on the CPU.
    random_state : int, RandomState or None, default=None
        Seeds the initialisation, the shuffling, dropout and the validation
        split: the same value gives the same model on the CPU. The caller's
        torch random state is left unchanged.
    verbose : bool or int, default=False
        True prints skorch's table of losses per epoch.
"""

_ATTRIBUTES = """    net_ : skorch.NeuralNet
        The trained network: ``net_.module_`` is the torch module and
        ``net_.history_`` holds the losses of each epoch.
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the features seen in ``fit``, when ``X`` is a DataFrame with
        string column names.
"""


class _HeadEstimator(PersistsHeadNet, BaseEstimator):
    """What both heads share: parameters, input checks, the skorch net and its training.

    The estimators own a skorch net (``net_``) rather than subclass one: skorch's
    ``__init__`` sets attributes (``history_``, ``initialized_``), which
    scikit-learn's estimator contract forbids.
    """

    _classifier = True
    _parameter_constraints = {
        **TRAINING_CONSTRAINTS,
        "lr": [Interval(float, 0.0, low_open=True)],
        "weight_decay": [Interval(float, 0.0)],
        "max_epochs": [Interval(int, 1)],
        "batch_size": [Interval(int, 1)],
        "device": [Device()],
        "verbose": [BOOLEAN, Interval(int, 0)],
    }

    def __init__(
        self,
        *,
        hidden=(),
        dropout=0.0,
        activation="relu",
        lr=1e-3,
        weight_decay=0.0,
        max_epochs=100,
        batch_size=32,
        validation=None,
        patience=None,
        device="auto",
        random_state=None,
        verbose=False,
    ):
        self.hidden = hidden
        self.dropout = dropout
        self.activation = activation
        self.lr = lr
        self.weight_decay = weight_decay
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.validation = validation
        self.patience = patience
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def fit(self, X, y):
        """Train a new network on ``X`` and ``y``, from a fresh initialisation.

        Every parameter and the whole input are checked before training: a
        wrong value, NaN or infinite features, missing or too few labels and a
        validation split too small raise at once.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Numeric features, e.g. from an encoder; computed in float32.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Labels of any type, strings included (classifier), or one or
            several numeric targets (regressor).

        Returns
        -------
        self : object
            The fitted estimator.
        """
        validate_params(self)
        hidden = check_hidden(self.hidden)
        # A classifier needs two classes, so two samples: say so in sklearn's words.
        X, y = validate_data(
            self, X, y, dtype=np.float32, multi_output=not self._classifier,
            ensure_min_samples=2 if self._classifier else 1,
        )  # fmt: skip
        targets, classes = check_targets(y, X.shape[0], classifier=self._classifier)
        weights = None
        if self._classifier:
            check_classification_targets(y)  # refuses continuous targets, as sklearn does
            n_outputs, weights = len(classes), self._class_weights(targets, classes)
        else:
            n_outputs = 1 if targets.ndim == 1 else targets.shape[1]
            targets = targets.reshape(len(targets), n_outputs)  # skorch wants 2-D targets
        split = validation_split(
            self.validation, targets, classifier=self._classifier, random_state=self.random_state
        )
        head = {"n_in": X.shape[1], "n_out": n_outputs, "hidden": hidden,
                "dropout": self.dropout, "activation": self.activation}  # fmt: skip
        net = self._net(head, class_weights=weights, split=split)
        # The head is built in skorch's fit, so the seed covers its initialisation too.
        with seeded(self.random_state):
            net.fit(X, targets)
        if self._classifier:
            self.classes_ = classes
        else:
            self.n_outputs_ = n_outputs
        self.net_ = net
        return self

    def _net(self, head, *, class_weights=None, split=None, device=None):
        """The skorch net of a head of ``head`` (:func:`make_head`'s keywords), unfitted.

        ``fit`` builds it, and so does loading a saved estimator (see ``_persist.py``).
        """
        loss = torch.nn.CrossEntropyLoss if self._classifier else torch.nn.MSELoss
        criterion = {"criterion": loss}
        if class_weights is not None:
            criterion["criterion__weight"] = torch.tensor(class_weights)
        net_class = NeuralNetClassifier if self._classifier else NeuralNetRegressor
        return net_class(
            # The function that builds the head, not a built head: skorch pickles the
            # trained module_ so that it loads on any device, but pickles its
            # ``module`` parameter as is, and a head built there would follow
            # module_ onto the GPU and no longer load on a machine without one.
            module=make_head,
            **{f"module__{name}": value for name, value in head.items()},
            **criterion,
            optimizer=torch.optim.AdamW,
            lr=self.lr,
            optimizer__weight_decay=self.weight_decay,
            max_epochs=self.max_epochs,
            batch_size=self.batch_size,
            # skorch's data loader keeps the samples' order unless told otherwise.
            iterator_train__shuffle=True,
            train_split=split,
            callbacks=early_stopping(self.patience, self.validation),
            device=str(resolve_device(self.device)) if device is None else device,
            verbose=int(self.verbose),
        )

    def _check_X(self, X):
        """``X`` checked against what ``fit`` saw (feature count, names), as float32."""
        check_is_fitted(self)
        return validate_data(self, X, reset=False, dtype=np.float32)


class HeadClassifier(ClassifierMixin, _HeadEstimator):
    __doc__ = f"""A small neural network classifier on numeric features (a skorch MLP).

    The network is :func:`make_head`'s: ``hidden`` layers of ``Linear,
    activation, Dropout``, then one ``Linear`` output per class, trained with
    the cross-entropy loss and AdamW. After an encoder, it is the classic
    transfer learning recipe: ``make_pipeline(ImageEncoder(), HeadClassifier(
    hidden=(64,)))`` is global average pooling, ``Dense(64, relu)``,
    ``Dense(n_classes, softmax)`` on a frozen backbone. Labels may be of any
    type; ``predict`` returns them.
{_TRAINING}    class_weight : "balanced", dict or None, default=None
        Weights of the classes in the loss: "balanced" weighs each inversely
        to its frequency (as in scikit-learn), a dict maps labels to weights
        (labels left out weigh 1).
{_RUNTIME}
    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The labels, sorted.
{_ATTRIBUTES}
    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sktransfer import HeadClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> names = load_iris().target_names[y]
    >>> head = HeadClassifier(hidden=(16,), lr=1e-2, max_epochs=20, random_state=0)
    >>> model = make_pipeline(StandardScaler(), head).fit(X, names)
    >>> model.predict(X[:2])
    array(['setosa', 'setosa'], dtype='<U10')
    >>> round(model.score(X, names), 2) > 0.9
    True
    """

    _parameter_constraints = {
        **_HeadEstimator._parameter_constraints,
        "class_weight": [NONE, Options("balanced"), InstanceOf(dict, "a dict")],
    }

    def __init__(
        self,
        *,
        hidden=(),
        dropout=0.0,
        activation="relu",
        lr=1e-3,
        weight_decay=0.0,
        max_epochs=100,
        batch_size=32,
        validation=None,
        patience=None,
        class_weight=None,
        device="auto",
        random_state=None,
        verbose=False,
    ):
        super().__init__(
            hidden=hidden, dropout=dropout, activation=activation, lr=lr,
            weight_decay=weight_decay, max_epochs=max_epochs, batch_size=batch_size,
            validation=validation, patience=patience, device=device,
            random_state=random_state, verbose=verbose,
        )  # fmt: skip
        self.class_weight = class_weight

    def _class_weights(self, targets, classes):
        if isinstance(self.class_weight, dict):
            known = set(classes.tolist())
            unknown = [label for label in self.class_weight if label not in known]
            if unknown:
                raise ValueError(
                    f"class_weight has label {unknown[0]!r}, which is not in y; "
                    f"the classes are {classes.tolist()}"
                )
        return class_weights(self.class_weight, targets, classes)

    def predict_proba(self, X):
        """Probability of each class, the softmax of the network's outputs.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features_in_)
            Numeric features, as in ``fit``.

        Returns
        -------
        ndarray of shape (n_samples, n_classes), dtype float64
            One row per sample, summing to 1, in the order of ``classes_``.
        """
        X = self._check_X(X)
        proba = self.net_.predict_proba(X).astype(np.float64)
        # The softmax ran in float32: normalise again so that rows sum to 1 in float64.
        return proba / proba.sum(axis=1, keepdims=True)

    def predict(self, X):
        """Predict the most probable label of each sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features_in_)
            Numeric features, as in ``fit``.

        Returns
        -------
        ndarray of shape (n_samples,)
            Labels from ``classes_``.
        """
        index = self.predict_proba(X).argmax(axis=1)  # checks that fit was called first
        return self.classes_[index]


class HeadRegressor(RegressorMixin, _HeadEstimator):
    __doc__ = f"""A small neural network regressor on numeric features (a skorch MLP).

    The network is :func:`make_head`'s: ``hidden`` layers of ``Linear,
    activation, Dropout``, then one ``Linear`` output per target, trained with
    the mean squared error and AdamW. One or several targets per sample; the
    targets are best standardised first (e.g. with scikit-learn's
    ``TransformedTargetRegressor``), as for any network.
{_TRAINING}{_RUNTIME}
    Attributes
    ----------
    n_outputs_ : int
        Targets per sample.
{_ATTRIBUTES}
    Examples
    --------
    >>> import numpy as np
    >>> from sktransfer import HeadRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(100, 3))
    >>> y = X @ [1.0, -2.0, 0.5]
    >>> model = HeadRegressor(lr=3e-2, max_epochs=30, random_state=0).fit(X, y)
    >>> model.predict(X[:4]).shape, model.score(X, y) > 0.95
    ((4,), True)
    """

    _classifier = False

    def predict(self, X):
        """Predict the targets of each sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features_in_)
            Numeric features, as in ``fit``.

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_outputs_), dtype float64
            One value per sample when ``n_outputs_`` is 1.
        """
        X = self._check_X(X)
        out = self.net_.predict(X).astype(np.float64)
        return out.ravel() if self.n_outputs_ == 1 else out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
