"""Frozen-prefix caching: what the frozen part of the backbone outputs, computed once per fit.

With ``freeze="backbone"`` or ``"last:K"`` and no augmentation, the part of the
body before the groups that train sees the same images and the same weights in
every epoch, in eval mode: its outputs are computed once, before the first
epoch, and only the rest of the network runs in each epoch. With a ``cache``,
the outputs are also kept on disk per sample, for the next fit, fold or search
candidate that starts from the same weights.
"""

from __future__ import annotations

import math

import torch
from torch.utils.data import DataLoader, Dataset, Subset

from .. import images
from .._checks import text_key
from ..cache import resolve_cache, source_name, weights_digest
from ._inputs import augmentation

# Stored outputs past this many bytes are not kept: the frozen part then runs in each epoch.
MEMORY_LIMIT = 2 * 2**30


class FrozenOutputs(Dataset):
    """The frozen part's outputs and the targets: what the rest of the network trains on."""

    def __init__(self, outputs, y):
        self.outputs = outputs
        self.y = y

    def __len__(self):
        return len(self.outputs)

    def __getitem__(self, index):
        return {"frozen": self.outputs[index]}, self.y[index]


def frozen_outputs(net, samples):
    """``samples`` as the outputs of the frozen part of ``net``'s body, or None.

    None, and the whole network runs in each epoch, where a part of the body
    that trains in some epoch comes first (``"none"``, ``"progressive"``,
    ``"lora"``), where training images are augmented, where the body cannot be
    cut before its trainable groups, or where the outputs would take more than
    :data:`MEMORY_LIMIT` bytes.
    """
    module, freeze = net.module_, net._freeze
    augmented = net.modality_ == "image" and augmentation(net.augment) is not None
    if freeze.kind not in ("backbone", "last") or augmented:
        return None
    if not module.cut(freeze.trainable(len(module.groups), 0)):
        return None
    shape = _output_shape(net)
    size = math.prod(shape)
    if 4 * size * len(samples) > MEMORY_LIMIT:
        module.cut_at = None
        return None
    # AdaBN set the frozen part's statistics from these samples: no one else's outputs.
    cache = None if net.adapt == "adabn" else resolve_cache(net.cache)
    if cache is None:
        outputs = _compute(net, samples)
    else:
        outputs = cache.rows(
            _description(net, shape),
            _sample_keys(net, samples),
            lambda todo: _compute(net, Subset(samples, todo)),
        )
    outputs = torch.from_numpy(outputs).view(len(samples), *shape)
    return FrozenOutputs(outputs, samples.y)


def _compute(net, samples):
    """The frozen part's outputs for ``samples``, flattened, as float32; in eval mode."""
    module = net.module_
    module.eval()
    rows = []
    device = torch.device(net.device)
    params = net.get_params_for("iterator_valid")
    if net.modality_ == "image":  # inference: the encoder's batch size, not training's
        params["batch_size"] = images.auto_batch_size(device)
    params.setdefault("batch_size", net.batch_size)
    enabled = net.precision == "bfloat16"
    # Forked: the loader draws a seed, and training must draw the same numbers either way.
    rng = torch.random.fork_rng(devices=[])
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=enabled)
    with rng, torch.no_grad(), autocast:
        for x, _ in DataLoader(samples, **params):
            x = net.model_inputs(x)
            out = module.frozen_output(**x) if isinstance(x, dict) else module.frozen_output(x)
            rows.append(out.float().flatten(1).cpu())
    return torch.cat(rows).numpy()


def _output_shape(net):
    """The shape of the frozen part's output for one sample."""
    module = net.module_
    if not module.is_image:
        return (module.body.get_embedding_dimension(),)
    size = net.preprocessing_.input_size
    first = next(module.parameters())
    with torch.no_grad():
        module.eval()
        out = module.frozen_output(torch.zeros(1, 3, size, size, device=first.device))
    return tuple(out.shape[1:])


def _sample_keys(net, samples):
    if net.modality_ == "image":
        return [images.image_key(item) for item in samples.samples.items]
    return [text_key(text) for text in samples.samples]


def _description(net, shape):
    """Everything that changes the frozen part's outputs: what the cache's fingerprint digests."""
    from .. import __version__

    return {
        "encoder": f"{net.estimator} frozen part",
        "sktransfer": __version__,
        "n_features": math.prod(shape),
        "backbone": source_name(net.backbone),
        "cut": str(net.module_.cut_at),
        "layer": repr(net.layer),
        "shape": list(shape),
        "preprocessing": repr(net.preprocessing_),
        "max_seq_length": net.max_seq_length,
        "long_texts": net.long_texts,
        "precision": net.precision,
        "model_digest": weights_digest(net.module_.body),
    }
