"""FineTuneClassifier and FineTuneRegressor: a pre-trained backbone with a new head, on skorch."""

from __future__ import annotations

import torch
from sklearn.base import ClassifierMixin, RegressorMixin

from .._checks import NONE, InstanceOf, Options
from ._fine_tuner import FineTuner
from ._net import TransferNetClassifier, TransferNetRegressor

_PARAMETERS = """
    Parameters
    ----------
    backbone : str or loaded model, default="efficientnet_lite0"
        An image backbone (any name of ``sktransfer.backbones.list("image")``,
        a timm name, a loaded ``ImageBackbone``) or a text one (a
        sentence-transformers name of ``sktransfer.backbones.list("text")``,
        a model folder, a full Hugging Face name ``"org/name"``). Its modality
        decides what ``X`` is: images as for :class:`~sktransfer.ImageEncoder`
        (paths, PIL images, arrays, a Series), or texts, fine-tuned end to end
        and pooled as the model pools.
    weights : "default", None or path, default="default"
        The backbone's pre-trained weights (see :mod:`sktransfer.weights`);
        None starts from a random initialisation (a from-scratch baseline).
    image_size : int, optional
        Train and predict on ``image_size x image_size`` images instead of
        the backbone's own input size: each image is resized in proportion
        (its shorter side to ``round(image_size * resize_size / input_size)``)
        and centre-cropped to that size. None keeps the backbone's
        preprocessing. Smaller is faster (half the size, a quarter of the
        pixels) and can suit small images; CNNs take any size, most vision
        transformers only their own. A warm start may change it (progressive
        resizing). Images only: a text backbone with an ``image_size`` raises
        ValueError in ``fit``.
    layer : str or list of str, optional
        Images only: what the head reads, as for
        :class:`~sktransfer.ImageEncoder`: the pooled output of a layer group
        or module, or of several, concatenated (lower layers can transfer
        better to images unlike the pre-training ones). The body runs up to
        the last one; groups after it get no gradient. With "last:K" the
        frozen part is then not computed once (only with "backbone").
    max_seq_length : int, optional
        Texts only: the tokens of each text the model reads, the rest cut off
        (None keeps the model's own limit, 256 for all-MiniLM-L6-v2). Shorter
        trains faster, in proportion.
    long_texts : {"truncate", "windows"}, default="truncate"
        Texts only: "windows" reads a text longer than ``max_seq_length``
        tokens whole, as consecutive windows sharing an eighth of their tokens,
        whose embeddings are averaged (weighted by their tokens) before the
        head, in training and prediction alike (see
        :class:`~sktransfer.SentenceEncoder`); the cost grows with the length.
        "truncate" reads the beginning only.
    freeze : str or int, default="auto"
        Which backbone layers train, by layer group (``layer_groups_``, input
        to output): "auto" (the recipe's, see below); "none" (all);
        "backbone" (only the new head); "last:K" or K (the last K groups);
        "progressive" or "progressive:E" (the head alone for E epochs,
        default 1, then one more group every E epochs, from the top);
        "lora" or "lora:R" (rank-R LoRA adapters, default 8, on
        the backbone's linear and dense convolution layers, through PEFT;
        everything else frozen). Frozen layers run in eval mode (no dropout),
        and BatchNorm layers whose own parameters are frozen too: their
        running statistics never change. Which groups trained in each
        epoch is in ``history_[:, "trainable_groups"]``.
    head_init : {"auto", "probe", "random"}, default="auto"
        How the new head starts. "probe" (LP-FT: linear probing, then
        fine-tuning) first fits it as a linear probe on the features the body
        gives before any training, on the training samples only (scikit-learn's
        ``LogisticRegression`` on the unscaled features, C among 0.001 to 10 by
        cross-validation on the log-loss; ``RidgeCV`` for a regressor), then
        fine-tunes from there. The probe gets an epoch of its own in
        ``history_`` (the first, ``"probe": True``), in which nothing trains:
        with ``patience`` the best epoch may be the probe itself, so the model
        returned is never worse than the probe on the validation loss. Needs a
        linear head (``hidden=()``). "random" starts from a random head. "auto"
        is "probe" for a linear head on pre-trained weights, else "random".
    batchnorm : {"auto", "eval", "train"}, default="auto"
        What the backbone's BatchNorm layers do while they train. "auto" is
        "eval" with pre-trained weights and "train" from scratch
        (``weights=None``). "eval"
        keeps normalising with their pre-trained running statistics and trains
        only their scale and shift, as Keras advises for fine-tuning: with
        few samples, or images unlike the pre-training ones, the statistics of
        a batch differ from the running ones, and the features a probe was
        fitted on would shift at the first step. "train" normalises with each
        batch's statistics and updates the running ones (sktransfer 0.1's
        behaviour). Frozen BatchNorm layers never change either way.
    adapt : {"none", "adabn", "coral", "dann", "entropy"}, default="none"
        Domain adaptation with unlabelled samples given to ``fit`` beside the
        labelled ones: ``y = -1`` (or None; NaN for a regressor), or a
        negative ``sample_domain`` (skada's convention). They never reach the
        supervised loss. "adabn" re-estimates every BatchNorm layer's
        statistics on the labelled samples before training and on the
        unlabelled ones after (each domain normalised by its own); "coral" adds the distance between
        the covariances of the labelled and unlabelled samples' features (what
        the head reads) to each batch's loss; "dann" adds a domain classifier
        behind a gradient reversal layer; "entropy" adds the mean entropy of
        the unlabelled samples' predictions (classifiers only). With "none",
        -1 is a label like any other, and samples of a negative
        ``sample_domain`` are left out (skada's source-only baseline). Works
        with every ``freeze``.
    adapt_weight : float, default=1.0
        The weight of the loss "coral", "dann" and "entropy" add.
    hidden : tuple of int, default=()
        Hidden layer sizes of the new head (each ``Linear, activation,
        Dropout``); () is a linear head. Its old name ``head`` works, with a
        FutureWarning, until 0.3.0.
    dropout : float, default=0.0
        Dropout before the head's output layer (and after each hidden layer).
    activation : {"relu", "gelu", "silu", "tanh"} or nn.Module class, default="relu"
        Activation of the hidden layers.
    lr : float or "auto", default="auto"
        Learning rate of the head (and of LoRA adapters, which are new too).
    backbone_lr : float or str, default="auto"
        Learning rate of the backbone layers that train: a number, or a ratio
        of ``lr`` written "<ratio>x" ("0.01x"). Transfer learning works best
        with a backbone rate 10 to 100 times smaller than the head's.
    optimizer : torch optimizer class, default=torch.optim.AdamW
        Its other arguments as ``optimizer__weight_decay=...``.
    max_epochs : int or "auto", default="auto"
        Training epochs per ``fit`` (the probe's epoch not counted).
    batch_size : int or "auto", default="auto"
        Samples per training step.
    validation : float or None, default=0.1
        Fraction of the samples held out to measure ``valid_loss`` (and,
        for a classifier, ``valid_acc``) each epoch; stratified for a
        classifier. None trains on every sample.
    patience : int, optional
        Stop when the validation loss (the training loss without validation)
        has not improved for this many epochs, and restore the best epoch's
        weights.
    schedule : {"auto", "warmup_cosine", "cosine", "plateau"} or None, default="auto"
        The learning rates over a fit: "warmup_cosine" rises linearly over the
        first tenth of the training steps, then decays to zero along a half
        cosine, step by step; "cosine" decays from the first step; "plateau"
        divides them by ten when the validation loss (the training loss
        without validation) stops improving (skorch's ``LRScheduler``); None
        keeps them constant.

        **"auto"**: ``freeze``, ``head_init``, ``lr``, ``backbone_lr``,
        ``max_epochs``, ``batch_size`` and ``schedule`` left at "auto" take the
        recipe of the backbone's modality (README, "Fine-tuning recipes";
        ``recipe_`` says what was used). Images (CNNs): "last:2", "probe",
        1e-3, 1e-4, 10 epochs, batch 32, "warmup_cosine". Texts
        (transformers): "last:2", "probe", 1e-3, 5e-5, 4 epochs, batch 16,
        "warmup_cosine".
    augment : {"none", "light", "strong"} or callable, default="none"
        Image augmentation, applied to training batches only, never when
        predicting or validating: "light" flips and moves the images a little,
        "strong" moves them more and jitters their colours (torchvision's
        ``transforms.v2``); or any transform of one ``(3, H, W)`` image.
    device : str, default="auto"
        "auto" picks CUDA when present (else MPS, else the CPU); or any torch
        device. On CUDA, batches are pinned and copied asynchronously.
    precision : {"float32", "bfloat16"}, default="float32"
        "bfloat16" runs the forward passes under autocast: faster on GPUs and
        on CPUs with bfloat16 instructions, much slower on other CPUs.
    cache : bool, path or EmbeddingCache, default=None
        Where ``freeze`` leaves the first part of the backbone frozen for the
        whole fit ("backbone", "last:K") and nothing is augmented, that part
        runs once per fit, in eval mode, and each epoch trains the rest on its
        stored outputs: with "backbone", an epoch costs about what fitting the
        head on encoded features costs. A cache (a directory, ``True`` for the
        user cache directory, or an :class:`~sktransfer.cache.EmbeddingCache`)
        also keeps those outputs on disk per sample, for the next fit, fold or
        search candidate that starts from the same weights.
    random_state : int, RandomState or None, default=None
        Seeds the head's initialisation, the shuffling, dropout, augmentation
        and the validation split: the same value gives the same model on the
        CPU. The caller's torch random state is left unchanged.
    callbacks : list of skorch callbacks, optional
        Added to the defaults (a callback or a ``(name, callback)`` pair);
        set their parameters as ``callbacks__name__param``.
    warm_start : bool, default=False
        Continue from the fitted model on the next ``fit`` (e.g. with another
        ``freeze`` and ``backbone_lr``) instead of starting anew.
    verbose : int, default=0
        1 prints skorch's table of losses per epoch.
"""

_KWARGS = """    **kwargs
        The skorch parameters of the net's parts, as ``prefix__name``: the
        ``optimizer__``, ``criterion__``, ``iterator_train__``,
        ``iterator_valid__`` and ``callbacks__`` ones, e.g.
        ``iterator_train__num_workers=2`` (decoding images in worker
        processes) or ``optimizer__weight_decay=0.05``. Any other name is
        refused in ``fit``.
"""

_ATTRIBUTES = """
    net_ : skorch.NeuralNet
        The trained skorch net; skorch's methods (``save_params``...) are its.
    module_ : TransferModel
        The backbone (``module_.body``) and the head (``module_.head``).
    layer_groups_ : list of str
        The backbone's layer groups, input to output.
    recipe_ : dict
        The values the recipe's parameters took in the last fit ("auto" resolved).
    probe_ : Pipeline or None
        The linear probe the head started from (``head_init="probe"``), on the
        body's features: ``StandardScaler`` then the linear model.
    history_ : skorch.History
        Losses, scores and ``trainable_groups`` per epoch.
    modality_ : {"image", "text"}
        What the estimator reads.
    preprocessing_ : ImagePreprocessing or None
        Resize, crop and normalisation of the images (at ``image_size`` when
        it is set); None for text.
"""


class FineTuneClassifier(ClassifierMixin, FineTuner):
    __doc__ = f"""Fine-tune a pre-trained image or text backbone with a new classification head.

    A scikit-learn classifier that trains a skorch net (``net_``): callbacks,
    ``history_``, ``warm_start``, ``partial_fit`` and ``prefix__param``
    routing work as in skorch. Labels may be of any type; ``predict`` returns
    them.
{_PARAMETERS}    class_weight : "balanced", dict or None, default=None
        Weights of the classes in the loss: "balanced" weighs each inversely
        to its frequency (as in scikit-learn), a dict maps labels to weights.
{_KWARGS}
    Attributes
    ----------
    classes_ : ndarray
        The labels, sorted.
{_ATTRIBUTES}
    Examples
    --------
    >>> import numpy as np
    >>> from sktransfer import FineTuneClassifier
    >>> rng = np.random.default_rng(0)
    >>> images = rng.integers(0, 256, (12, 32, 32, 3), dtype=np.uint8)
    >>> labels = np.array(["cat", "dog"] * 6)
    >>> model = FineTuneClassifier("resnet18", weights=None, freeze="last:1", max_epochs=2,
    ...                            validation=None, device="cpu", random_state=0)
    >>> model.fit(images, labels).predict(images[:3]).shape
    (3,)
    >>> model.classes_.tolist(), model.history_[-1, "trainable_groups"]
    (['cat', 'dog'], ['layer4'])
    """

    _classifier = True
    _net_class = TransferNetClassifier
    _parameter_constraints = {
        **FineTuner._parameter_constraints,
        "class_weight": [NONE, Options("balanced"), InstanceOf(dict, "a dict")],
    }

    def __init__(
        self,
        backbone="efficientnet_lite0",
        *,
        weights="default",
        image_size=None,
        layer=None,
        max_seq_length=None,
        long_texts="truncate",
        freeze="auto",
        head_init="auto",
        batchnorm="auto",
        adapt="none",
        adapt_weight=1.0,
        hidden=(),
        dropout=0.0,
        activation="relu",
        lr="auto",
        backbone_lr="auto",
        optimizer=torch.optim.AdamW,
        max_epochs="auto",
        batch_size="auto",
        validation=0.1,
        patience=None,
        schedule="auto",
        augment="none",
        device="auto",
        precision="float32",
        cache=None,
        random_state=None,
        callbacks=None,
        warm_start=False,
        verbose=0,
        class_weight=None,
        **kwargs,
    ):
        super().__init__(
            backbone, weights=weights, image_size=image_size, layer=layer,
            max_seq_length=max_seq_length,
            long_texts=long_texts, freeze=freeze, head_init=head_init, batchnorm=batchnorm,
            adapt=adapt, adapt_weight=adapt_weight, hidden=hidden,
            dropout=dropout, activation=activation, lr=lr, backbone_lr=backbone_lr,
            optimizer=optimizer, max_epochs=max_epochs,
            batch_size=batch_size, validation=validation, patience=patience, schedule=schedule,
            augment=augment, device=device, precision=precision, cache=cache,
            random_state=random_state, callbacks=callbacks, warm_start=warm_start,
            verbose=verbose, **kwargs,
        )  # fmt: skip
        self.class_weight = class_weight

    def _check_params(self):
        return {**super()._check_params(), "class_weight": self.class_weight}

    def predict(self, X):
        """Predict the label of each sample.

        Parameters
        ----------
        X : images or texts
            As for ``fit``.

        Returns
        -------
        ndarray of shape (n_samples,)
            Labels from ``classes_``.
        """
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


class FineTuneRegressor(RegressorMixin, FineTuner):
    __doc__ = f"""Fine-tune a pre-trained image or text backbone with a new regression head.

    A scikit-learn regressor that trains a skorch net (``net_``) with the mean
    squared error; one or several targets per sample.
{_PARAMETERS}{_KWARGS}
    Attributes
    ----------
    n_outputs_ : int
        Targets per sample.
{_ATTRIBUTES}
    Examples
    --------
    >>> import numpy as np
    >>> from sktransfer import FineTuneRegressor
    >>> rng = np.random.default_rng(0)
    >>> images = rng.integers(0, 256, (8, 32, 32, 3), dtype=np.uint8)
    >>> model = FineTuneRegressor("resnet18", weights=None, max_epochs=1, validation=None,
    ...                           device="cpu", random_state=0)
    >>> model.fit(images, images.mean(axis=(1, 2, 3)) / 255).predict(images[:2]).shape
    (2,)
    """

    _classifier = False
    _net_class = TransferNetRegressor

    def predict(self, X):
        """Predict the targets of each sample.

        Parameters
        ----------
        X : images or texts
            As for ``fit``.

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_outputs_)
            One value per sample for a single target.
        """
        out = self.predict_proba(X)
        return out.ravel() if self.n_outputs_ == 1 else out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
