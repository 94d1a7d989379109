"""Exceptions raised by sktransfer, each one a subclass of a built-in users already catch."""


class UnknownBackboneError(KeyError):
    """No registered backbone has the requested name; the message lists the closest ones.

    A :class:`KeyError`, raised by ``sktransfer.backbones.get`` and
    ``sktransfer.backbones.resolve`` (so by every encoder's ``fit``) when a
    name is neither registered nor anything else the modality accepts.
    Unlike a plain KeyError, its message is not wrapped in quotes.
    """

    def __str__(self):  # KeyError would wrap the message in quotes
        return str(self.args[0]) if self.args else ""


class AmbiguousBackboneError(UnknownBackboneError):
    """Two sources register the same short name; the message lists the qualified names.

    Raised for the short name only: each backbone stays reachable by its
    qualified name ``namespace/name``. A subclass of
    :class:`UnknownBackboneError`, hence of :class:`KeyError`.
    """


class WeightsNotFoundError(FileNotFoundError):
    """Pre-trained weights are neither on disk nor downloadable; the message says where to put them.

    A :class:`FileNotFoundError`, raised by :func:`sktransfer.weights.fetch`
    and :func:`sktransfer.weights.resolve` (so by a backbone's ``build`` and an
    encoder's ``fit``) at once, without retries: the message names the
    missing file, where it comes from, and the path to save it as.
    """


class ImageLoadError(ValueError):
    """An image could not be read or decoded; the message names the file and its index.

    A :class:`ValueError`, raised while reading the input of
    :class:`~sktransfer.ImageEncoder` for a missing file or one that is not a
    readable image.
    """


class MissingDependencyError(ImportError):
    """An optional dependency is missing; the message names the extra to install.

    An :class:`ImportError`, raised when a backbone needs a library that is
    not installed (sentence-transformers, gensim, pyarrow); the message gives
    the ``pip install sktransfer[...]`` that adds it.
    """


class SpecError(ValueError):
    """An experiment spec is invalid; the message names the field, the value and what it expects.

    A :class:`ValueError`, raised by :func:`sktransfer.spec.load_spec` and
    :func:`sktransfer.spec.build` before any data is read or model built.

    Parameters
    ----------
    field : str
        The dotted path of the offending field (``"pipeline[1].LogisticRegression.C"``),
        kept as the ``field`` attribute; empty for the file as a whole.
    message : str
        What is wrong, what was given and what was expected.
    """

    def __init__(self, field, message):
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field


class UntrustedPickleError(ValueError):
    """A file is a pickle, and loading it was not allowed; the message says how to allow it.

    A :class:`ValueError`, raised by :class:`~sktransfer.WordVectorEncoder`
    (so by its ``fit``) before anything is unpickled, when word vectors are a
    pickle (a file saved by gensim's ``save()``, or a gensim-data model that
    only its own loader reads). Unpickling runs whatever code the file names,
    so it needs ``trust_pickle=True``: pass it only for files whose source you
    trust. Word2vec text or binary, GloVe text and FastText ``.bin`` files need
    no trust.
    """


class WorkerError(RuntimeError):
    """A Dask worker lacks what a job needs; the message names the worker and what to install.

    A :class:`RuntimeError`, raised by :func:`sktransfer.cluster.check_workers`
    (so by :func:`~sktransfer.cluster.fit` and :func:`~sktransfer.cluster.encode`)
    before any work is sent: one line per worker and backbone that failed,
    with the error the worker gave.
    """


class WeightsMismatchError(ValueError):
    """A saved model's weights differ from those it was saved with; the message names the backbone.

    A :class:`ValueError`, raised while a model file is loaded
    (:func:`sktransfer.load`, ``skops.io.load``, ``joblib.load``): a model
    file keeps the digest of every network's weights, and the weights it
    rebuilds (the named backbone's, from this machine, and the weights the
    file holds) must match it. A different weights file, another version of
    a backbone's package, or a file edited by hand: never a silent
    different model.
    """


class ModelFileError(ValueError):
    """A model file this version cannot read, or would have to trust more to read.

    A :class:`ValueError`, raised by :func:`sktransfer.load`: a file of an
    unknown format or of a newer format version (the message names both
    versions), or one whose types go beyond sktransfer's and scikit-learn's
    (the message lists them and how to trust them, after reading the file).
    """
