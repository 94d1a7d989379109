"""Fitted models as files that anyone can load: skops' format, no pickle, no code run.

A file written by :func:`save` is a zip of JSON and numpy arrays (``skops.io``, the
format the Hugging Face Hub uses for scikit-learn models). Loading it constructs
only the types it names, after checking them: scikit-learn's and numpy's (skops
trusts those) and sktransfer's own; any other type must be trusted by name. No
torch object is in the file: each network is kept as its weights' digest, with
the weights that its estimator's parameters do not rebuild (a fine-tuned layer,
AdaBN's statistics); a named backbone's pre-trained weights come from this
machine's packages, and their digest is checked (:class:`WeightsMismatchError`).

``skops.io.dump`` and ``skops.io.load`` work on sktransfer's estimators directly;
:func:`save` and :func:`load` add the format's name and version, and the trust
policy above.
"""

from __future__ import annotations

import os

from .exceptions import ModelFileError

FORMAT = "sktransfer-model"
VERSION = 1  # read: files of this version and older
OURS = "sktransfer."  # the module prefix of the types trusted without asking


def save(model, path, **metadata):
    """Write a fitted model (any scikit-learn estimator, pipeline or search) to ``path``.

    Parameters
    ----------
    model : estimator
        Fitted or not; sktransfer's estimators anywhere inside it.
    path : str or path-like
        The file to write, by convention ``*.skops``.
    **metadata
        Plain values (str, numbers, lists, dicts) kept beside the model: what
        ``sktransfer predict`` needs to read new input, for instance.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from sktransfer import PixelEncoder, save, load
    >>> images = np.random.default_rng(0).integers(0, 256, (6, 8, 8), dtype=np.uint8)
    >>> model = make_pipeline(PixelEncoder(), LogisticRegression()).fit(images, [0, 1] * 3)
    >>> path = os.path.join(tempfile.mkdtemp(), "model.skops")
    >>> save(model, path)
    >>> (load(path).predict(images) == model.predict(images)).all()
    np.True_
    """
    import skops.io

    from . import __version__

    payload = {"format": FORMAT, "version": VERSION, "sktransfer": __version__}
    payload.update(metadata)
    payload["model"] = model
    skops.io.dump(payload, os.fspath(path))


def load(path, *, trusted=None):
    """The model a file written by :func:`save` holds.

    Parameters
    ----------
    path : str or path-like
        A file that :func:`save` (or ``sktransfer run``) wrote.
    trusted : list of str, optional
        Types to construct beyond scikit-learn's, numpy's and sktransfer's, by
        their full names (``skops.io.get_untrusted_types(file=path)`` lists them
        all). Name only types whose loading you trust: skops constructs them
        from the file's contents.

    Returns
    -------
    estimator
        The model, fitted as it was saved, its networks rebuilt on this machine's
        device.

    Raises
    ------
    ModelFileError
        Not a model file of this format, a newer format version than this
        release reads, or types that are not trusted.
    WeightsMismatchError
        A network's weights are not those the model was saved with.

    Examples
    --------
    See :func:`save`.
    """
    return read(path, trusted=trusted)["model"]


def read(path, *, trusted=None):
    """The whole payload of a model file: ``format``, ``version``, ``sktransfer``, ``model``
    and the metadata given to :func:`save`. See :func:`load`."""
    import skops.io

    path = os.fspath(path)
    with open(path, "rb") as handle:
        data = handle.read()  # read once, for the types and for the load
    try:
        found = skops.io.get_untrusted_types(data=data)
    except Exception as exc:  # a zip that is not skops', or not a zip at all
        raise ModelFileError(
            f"'{path}' is not a model file ({type(exc).__name__}: {exc})"
        ) from None
    allowed = set(trusted or ())
    untrusted = [t for t in found if not t.startswith(OURS) and t not in allowed]
    if untrusted:
        raise ModelFileError(
            f"'{path}' would construct types that are not trusted: {', '.join(untrusted)}. "
            "If you trust the file's source, name them: sktransfer.load(path, "
            f"trusted={untrusted!r}) or sktransfer predict --trust " + " --trust ".join(untrusted)
        )
    payload = skops.io.loads(data, trusted=[t for t in found if t.startswith(OURS) or t in allowed])
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ModelFileError(
            f"'{path}' is a skops file but not one sktransfer.save wrote: load it with "
            "skops.io.load"
        )
    if payload.get("version", 0) > VERSION:
        raise ModelFileError(
            f"'{path}' is a {FORMAT} file of version {payload['version']} (written by "
            f"sktransfer {payload.get('sktransfer', '?')}); this release reads version "
            f"{VERSION} and older: upgrade sktransfer"
        )
    return payload
