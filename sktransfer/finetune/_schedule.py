"""Learning-rate schedules of the fine-tuners, step by step: warm-up, then cosine decay."""

from __future__ import annotations

import math

from skorch.callbacks import Callback, LRScheduler

from ._training import monitored_loss

SCHEDULES = ("plateau", "cosine", "warmup_cosine")
# The share of the training steps that "warmup_cosine" spends warming up.
WARMUP = 0.1


class WarmupCosine(Callback):
    """Each parameter group's learning rate, set before every training step.

    The rate rises linearly from ``1/W`` of its value to all of it over the
    first ``W = warmup * T`` of the ``T`` steps of a fit (``max_epochs``
    epochs), then decays to zero along a half cosine, as Hugging Face's
    ``get_cosine_schedule_with_warmup`` does. The values it scales are the
    groups' rates when the fit begins (the head's ``lr`` and the body's
    ``backbone_lr``), so a warm start schedules its own fit anew. Epochs
    without a training step (the probe's, see ``head_init``) do not count.

    Parameters
    ----------
    warmup : float, default=0.1
        Share of the steps spent warming up; 0 is a plain cosine decay.
    """

    def __init__(self, warmup=WARMUP):
        self.warmup = warmup

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        self.base_lrs_ = [group["lr"] for group in net.optimizer_.param_groups]
        self.step_, self.total_ = 0, None

    def on_epoch_begin(self, net, dataset_train=None, **kwargs):
        if self.total_ is None and dataset_train is not None:
            batch_size = net.get_params_for("iterator_train").get("batch_size", net.batch_size)
            self.total_ = net.max_epochs * math.ceil(len(dataset_train) / batch_size)

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        if not training:
            return
        factor = self.factor(self.step_, self.total_ or 1)
        for group, base in zip(net.optimizer_.param_groups, self.base_lrs_):
            group["lr"] = base * factor
        self.step_ += 1

    def factor(self, step, total):
        """The share of its full rate that step ``step`` (from 0) of ``total`` trains at.

        Examples
        --------
        >>> schedule = WarmupCosine(warmup=0.1)
        >>> [round(schedule.factor(s, 100), 3) for s in (0, 9, 10, 99)]
        [0.1, 1.0, 1.0, 0.0]
        """
        warm = int(self.warmup * total)
        if step < warm:
            return (step + 1) / warm
        progress = (step - warm) / max(1, total - warm - 1)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def schedule_callbacks(schedule, validation):
    """The skorch callbacks of ``schedule`` (one of :data:`SCHEDULES`, or None)."""
    if schedule == "plateau":
        monitor = monitored_loss(validation)
        return [("lr_scheduler", LRScheduler(policy="ReduceLROnPlateau", monitor=monitor))]
    if schedule in ("cosine", "warmup_cosine"):
        warmup = WARMUP if schedule == "warmup_cosine" else 0.0
        return [("lr_scheduler", WarmupCosine(warmup=warmup))]
    return []
