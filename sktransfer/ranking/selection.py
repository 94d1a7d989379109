"""Choosing a backbone by its score: a ranking table, and a transformer that picks the best.

A candidate is a registered backbone's name (read by the encoder of its
modality), or any scikit-learn transformer: an encoder with its own settings
(``ImageEncoder("efficientnet_lite0", layer="blocks.4")``), ``PixelEncoder``,
``TfidfVectorizer``, a pipeline. :func:`layers_of` expands one backbone into its
layer groups. Each candidate encodes the samples once, through the embedding
cache when ``cache`` is given, so the chosen one's features are read back, not
computed again, when the selector transforms the same samples.
"""

from __future__ import annotations

import time

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted

from .scorers import SCORERS


def layers_of(backbone, *, image_size=None, cache=None, concatenations=True):
    """Image encoders reading each layer group of ``backbone``, for a ranking.

    Parameters
    ----------
    backbone : str
        A registered image backbone.
    image_size : int, optional
        The encoders' input size (``ImageEncoder``'s ``image_size``).
    cache : str, path-like or True, optional
        Their embedding cache.
    concatenations : bool, default=True
        Also the concatenations of the last two and the last three groups
        before the head (lower blocks carry what the last one lost; the
        demo's three-block probe is one of them).

    Returns
    -------
    list of ImageEncoder
        One per layer group after the stem, in the network's order (the last,
        the head, as the encoder's default output: ``layer=None``), then the
        concatenations.

    Examples
    --------
    >>> [encoder.layer for encoder in layers_of("efficientnet_lite0")][-3:]
    [None, ['blocks.4', 'blocks.5'], ['blocks.3', 'blocks.4', 'blocks.5']]
    """
    from .. import backbones
    from ..encoders import ImageEncoder

    spec = backbones.get(backbone)
    if spec.modality != "image":
        raise ValueError(f"layers_of reads image backbones; {backbone!r} reads {spec.modality}")
    groups = list(spec.layer_groups)[1:]  # the stem's features are edges and colours
    body = [g for g in groups if g not in ("head", "pre_logits")]
    # The last group is what the encoder gives by default (timm's head is not one
    # module to hook, but its output is the encoder's own): layer=None reads it.
    layers = [*body, None]
    if concatenations and len(body) >= 3:
        layers += [body[-2:], body[-3:]]
    settings = {"image_size": image_size, "cache": cache}
    return [ImageEncoder(backbone, layer=layer, **settings) for layer in layers]


def candidate_name(candidate):
    """How a table names a candidate: the backbone name, with its layer where it has one.

    Parameters
    ----------
    candidate : str or transformer
        A backbone name or a scikit-learn transformer.

    Returns
    -------
    str
        The name, the layer in brackets, a pooling other than the default in
        parentheses; the class name for a transformer without a backbone.

    Examples
    --------
    >>> from sklearn.feature_extraction.text import TfidfVectorizer
    >>> from sktransfer import ImageEncoder
    >>> candidate_name(ImageEncoder("efficientnet_lite0", layer=["blocks.4", "blocks.5"]))
    'efficientnet_lite0[blocks.4+blocks.5]'
    >>> candidate_name(TfidfVectorizer())
    'TfidfVectorizer'
    """
    if isinstance(candidate, str):
        return candidate
    params = candidate.get_params(deep=False)
    name = params.get("backbone") or params.get("model") or params.get("vectors")
    if not isinstance(name, str):
        return type(candidate).__name__
    layer = params.get("layer")
    if layer:
        name += f"[{'+'.join([layer] if isinstance(layer, str) else layer)}]"
    if params.get("pooling") not in (None, "auto", "mean"):
        name += f" ({params['pooling']})"
    if params.get("long_texts") == "windows":
        name += " (whole texts)"
    return name


def _encoder(candidate, cache):
    """An unfitted transformer for a candidate, sharing the ranking's cache."""
    if isinstance(candidate, str):
        from .. import backbones
        from ..encoders import ENCODERS

        return ENCODERS[backbones.get(candidate).modality](candidate, cache=cache)
    if not hasattr(candidate, "fit") or not hasattr(candidate, "transform"):
        raise TypeError(
            f"a candidate is a backbone name or a scikit-learn transformer, got {candidate!r}"
        )
    encoder = clone(candidate)
    if cache is not None and encoder.get_params(deep=False).get("cache", False) is None:
        encoder.set_params(cache=cache)
    return encoder


def _dense(features):
    """Scorers read dense arrays; TF-IDF's sparse matrix becomes one."""
    return np.asarray(features.toarray() if hasattr(features, "toarray") else features)


def _source_outputs(encoder, name, scorer, X, y):
    """A candidate's features and its source classifier's logits, from one encoding."""
    if not hasattr(encoder, "source_outputs"):
        raise ValueError(
            f"candidate {name!r} has no source classifier, which {scorer!r} reads: rank "
            "image backbones that keep theirs (ImageEncoder.source_outputs), or score "
            "features ('logme', 'hscore', 'probe')"
        )
    return encoder.fit(X, y).source_outputs(X)


def _regression(y, regression):
    if regression == "auto":
        return type_of_target(y) in ("continuous", "continuous-multioutput")
    return bool(regression)


def _score_all(X, y, candidates, scorer, cache, regression, n_jobs):
    """Each candidate fitted, encoding X once, and scored, in joblib's parallel tasks.

    Returns the fitted encoders, the table's rows, and the best candidate's features
    of X as it gave them (the first of equal scores, as ``np.argmax`` picks).
    """
    from joblib import Parallel, delayed

    if scorer not in SCORERS:
        raise ValueError(f"unknown scorer {scorer!r}; expected one of {sorted(SCORERS)}")
    regression = _regression(y, regression)
    if regression and not SCORERS[scorer].regression:
        raise ValueError(f"{scorer!r} scores class labels only; use 'logme' or 'probe'")
    if not candidates:
        raise ValueError("give at least one candidate")
    names = [candidate_name(c) for c in candidates]
    seen = [names[: i + 1].count(n) for i, n in enumerate(names)]
    names = [n if k == 1 else f"{n} #{k}" for n, k in zip(names, seen)]
    tasks = (
        delayed(_score_one)(_encoder(c, cache), name, X, y, scorer, regression)
        for c, name in zip(candidates, names)
    )
    encoders, rows, best, best_score = [], [], None, -np.inf
    # A generator: each candidate's features are dropped as soon as a better one comes.
    for encoder, row, output in Parallel(n_jobs=n_jobs, return_as="generator")(tasks):
        if best is None or row["score"] > best_score:  # kept: the winner is not encoded twice
            best, best_score = output, row["score"]
        encoders.append(encoder)
        rows.append(row)
    return encoders, rows, best


def _score_one(encoder, name, X, y, scorer, regression):
    """One candidate: fitted, its features (and source outputs) of X, its score."""
    chosen = SCORERS[scorer]
    started = time.perf_counter()
    if chosen.reads == "features":
        output = encoder.fit_transform(X, y)
        inputs = features = _dense(output)
    else:
        output, inputs = _source_outputs(encoder, name, scorer, X, y)
        features = _dense(output)
    encoded = time.perf_counter()
    score = chosen(inputs, y, **({"regression": True} if regression else {}))
    row = {
        "candidate": name,
        "score": float(score),
        "feature_dim": features.shape[1],
        "encode_s": encoded - started,
        "score_s": time.perf_counter() - encoded,
    }
    return encoder, row, output


def _table(rows):
    import pandas as pd

    table = pd.DataFrame(rows)
    table["rank"] = table["score"].rank(ascending=False, method="min").astype(int)
    columns = ["candidate", "score", "rank", "feature_dim", "encode_s", "score_s"]
    return table[columns].sort_values("rank", kind="stable").reset_index(drop=True)


def rank_backbones(X, y, candidates, *, scorer="logme", cache=None, regression="auto", n_jobs=None):
    """Score every candidate's features on ``(X, y)``, best first; nothing is trained.

    Parameters
    ----------
    X : samples
        What the candidates read: image paths or arrays, texts.
    y : array-like of shape (n_samples,)
        Class labels, or real targets.
    candidates : list
        Backbone names, scikit-learn transformers, :func:`layers_of`'s encoders.
    scorer : {"logme", "hscore", "probe", "leep", "nce"}, default="logme"
        A scorer of :data:`~sktransfer.ranking.SCORERS`; higher is better.
        "leep" and "nce" read the source classifier's logits
        (:meth:`~sktransfer.ImageEncoder.source_outputs`), so every candidate
        must be an image backbone that keeps its classifier.
    cache : str, path-like or True, optional
        The embedding cache of the candidates that take one (and have none of
        their own): the winner's features are then not computed twice.
    regression : "auto" or bool, default="auto"
        Whether ``y`` holds real targets; "auto" tells from ``y``.
    n_jobs : int, optional
        Candidates scored at once, each a joblib task (None: one at a time,
        unless a ``joblib.parallel_backend`` says otherwise). Under
        ``joblib.parallel_backend("dask")`` (:mod:`sktransfer.cluster`) each
        candidate is a task on the cluster. On one machine, leave it: every
        encoder already runs torch on all the cores.

    Returns
    -------
    pandas.DataFrame
        One row per candidate, best first: ``candidate``, ``score``, ``rank``
        (1 is the best; ties share one), ``feature_dim``, ``encode_s`` and
        ``score_s`` (seconds).

    Examples
    --------
    >>> from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
    >>> texts = ["a good film", "a great film", "a bad film", "an awful film"] * 5
    >>> labels = ["pos", "pos", "neg", "neg"] * 5
    >>> table = rank_backbones(texts, labels, [TfidfVectorizer(), CountVectorizer()])
    >>> list(table.columns)
    ['candidate', 'score', 'rank', 'feature_dim', 'encode_s', 'score_s']
    """
    _, rows, _ = _score_all(X, y, list(candidates), scorer, cache, regression, n_jobs)
    return _table(rows)


class BackboneSelector(TransformerMixin, BaseEstimator):
    """A transformer that scores every candidate in ``fit``, then encodes as the best one.

    ``make_pipeline(BackboneSelector([...]), LogisticRegression())`` chooses
    the backbone on each training set it is fitted on (each fold of a search),
    without training anything but the final model.

    Parameters
    ----------
    candidates : list
        Backbone names, scikit-learn transformers, :func:`layers_of`'s encoders.
    scorer : {"logme", "hscore", "probe", "leep", "nce"}, default="logme"
        How candidates are scored (:func:`rank_backbones`); higher is better.
    cache : str, path-like or True, optional
        The candidates' embedding cache: with one, a sample each candidate
        has encoded (in any fold, in any fit) is read back, not encoded again.
    regression : "auto" or bool, default="auto"
        Whether ``y`` holds real targets.
    n_jobs : int, optional
        Candidates scored at once (:func:`rank_backbones`): on a Dask cluster,
        one task each.

    Attributes
    ----------
    scores_ : pandas.DataFrame
        :func:`rank_backbones`'s table of this fit.
    selected_ : str
        The chosen candidate's name.
    selected_index_ : int
        Its position in ``candidates``.
    encoder_ : transformer
        The chosen candidate, fitted.
    n_features_out_ : int

    Examples
    --------
    >>> from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> texts = ["a good film", "a great film", "a bad film", "an awful film"] * 5
    >>> labels = ["pos", "pos", "neg", "neg"] * 5
    >>> selector = BackboneSelector([CountVectorizer(), TfidfVectorizer()])
    >>> model = make_pipeline(selector, LogisticRegression()).fit(texts, labels)
    >>> model[0].selected_ in ("CountVectorizer", "TfidfVectorizer")
    True
    """

    def __init__(
        self, candidates=None, *, scorer="logme", cache=None, regression="auto", n_jobs=None
    ):
        self.candidates = candidates
        self.scorer = scorer
        self.cache = cache
        self.regression = regression
        self.n_jobs = n_jobs

    def fit(self, X, y):
        """Encode ``X`` with every candidate, score it against ``y``, keep the best.

        Parameters
        ----------
        X : samples
            What the candidates read.
        y : array-like of shape (n_samples,)
            The targets the candidates are scored on.

        Returns
        -------
        self : BackboneSelector
            The fitted selector.
        """
        self._fit(X, y)
        return self

    def fit_transform(self, X, y=None, **fit_params):
        """Fit, and return the chosen candidate's features of ``X`` (encoded once).

        Parameters
        ----------
        X : samples
            What the candidates read.
        y : array-like of shape (n_samples,)
            The targets the candidates are scored on.
        **fit_params : dict
            Ignored; accepted for scikit-learn's signature.

        Returns
        -------
        ndarray or sparse matrix of shape (n_samples, n_features_out_)
            The chosen candidate's features.
        """
        return self._fit(X, y)

    def _fit(self, X, y):
        if y is None:
            raise ValueError("BackboneSelector scores candidates against y: pass y to fit")
        candidates = list(self.candidates or [])
        encoders, rows, features = _score_all(
            X, y, candidates, self.scorer, self.cache, self.regression, self.n_jobs
        )
        scores = [row["score"] for row in rows]
        self.selected_index_ = int(np.argmax(scores))
        self.encoder_ = encoders[self.selected_index_]
        self.selected_ = rows[self.selected_index_]["candidate"]
        self.scores_ = _table(rows)
        self.n_features_out_ = rows[self.selected_index_]["feature_dim"]
        return features

    def transform(self, X):
        """The chosen candidate's features of ``X``.

        Parameters
        ----------
        X : samples
            What the candidates read.

        Returns
        -------
        ndarray or sparse matrix of shape (n_samples, n_features_out_)
            Its features, read from the cache where it has them.
        """
        check_is_fitted(self, "encoder_")
        return self.encoder_.transform(X)

    def get_feature_names_out(self, input_features=None):
        """The chosen candidate's feature names, where it has them.

        Parameters
        ----------
        input_features : ignored
            Accepted for scikit-learn's signature.

        Returns
        -------
        ndarray of str
            The chosen candidate's own names.
        """
        check_is_fitted(self, "encoder_")
        return self.encoder_.get_feature_names_out()

    def __getstate__(self):
        # The table as plain columns: skops writes no DataFrame, nor would a stranger's
        # file be trusted to build one.
        state = dict(super().__getstate__())
        if hasattr(state.get("scores_"), "to_dict"):
            state["scores_"] = state["scores_"].to_dict(orient="list")
        return state

    def __setstate__(self, state):
        if isinstance(state.get("scores_"), dict):
            import pandas as pd

            state = {**state, "scores_": pd.DataFrame(state["scores_"])}
        super().__setstate__(state)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        return tags
