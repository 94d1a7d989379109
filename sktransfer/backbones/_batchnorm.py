"""AdaBN (Li et al., 2016, "Revisiting Batch Normalization For Practical Domain
Adaptation"): a network's BatchNorm statistics re-estimated on another domain's samples.

What :class:`~sktransfer.ImageEncoder` (``adapt_bn=True``) and the fine-tuners
(``adapt="adabn"``) run. It imports torch: import it where torch is loaded anyway.
"""

from __future__ import annotations

import torch
from torch import nn

# timm's BatchNormAct2d and the like subclass these.
BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm)


def batch_norms(module):
    """The BatchNorm layers of ``module`` that keep running statistics."""
    return [m for m in module.modules() if isinstance(m, BATCH_NORMS) and m.track_running_stats]


def adabn(module, batches, forward):
    """Re-estimate every BatchNorm layer's running statistics on ``batches`` (AdaBN).

    Each layer's statistics become the average of its batches' statistics,
    weighted by their sizes: a short last batch counts for its samples only, and
    the means are those of all the samples. No parameter changes. A layer that
    no batch reaches (past the ``layer`` where a forward pass stops) keeps its
    statistics.

    Parameters
    ----------
    module : torch.nn.Module
        Changed in place.
    batches : iterable
        What ``forward`` takes, batch by batch.
    forward : callable
        ``forward(batch)`` runs ``module`` on one batch.

    Returns
    -------
    int
        The number of BatchNorm layers re-estimated.
    """
    norms = batch_norms(module)
    if not norms:
        return 0
    seen = dict.fromkeys(norms, 0)

    def weigh(norm, inputs):
        # momentum n / (samples so far): the first batch replaces the statistics,
        # each later one enters the running average with its own weight.
        n = inputs[0].shape[0]
        seen[norm] += n
        norm.momentum = n / seen[norm]

    was_training = module.training
    momenta = [m.momentum for m in norms]
    hooks = [norm.register_forward_pre_hook(weigh) for norm in norms]
    module.eval()
    for norm in norms:
        norm.train()
    try:
        with torch.no_grad():
            for batch in batches:
                forward(batch)
    finally:
        for hook in hooks:
            hook.remove()
        for norm, momentum in zip(norms, momenta):
            norm.momentum = momentum
        module.train(was_training)
    return sum(1 for norm in norms if seen[norm])
