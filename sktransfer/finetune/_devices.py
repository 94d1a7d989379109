"""How a fine-tuner feeds skorch: batches collated and on the device, "auto" resolved."""

from __future__ import annotations

import contextlib

import torch

from ..encoders._base import resolve_device
from ._inputs import Samples, collate_samples, to_device


class _DeviceBatches:
    """Batches and devices for the fine-tuners (a mixin put before skorch's nets)."""

    def get_params_for(self, prefix):
        params = super().get_params_for(prefix)
        if prefix == "iterator_train":
            params.setdefault("shuffle", True)  # skorch's DataLoader does not shuffle by default
        if prefix in ("iterator_train", "iterator_valid"):
            params.setdefault("collate_fn", collate_samples)
            params.setdefault("pin_memory", torch.device(self.device).type == "cuda")
        return params

    def _model_inputs(self, x):
        """A batch as the module takes it (texts tokenised), on the device."""
        if self.modality_ == "text" and not isinstance(x, dict):
            tokens = self.module_.body.preprocess(list(x))
            x = {k: v for k, v in tokens.items() if isinstance(v, torch.Tensor)}
        return to_device(x, torch.device(self.device))

    def infer(self, x, **fit_params):
        x = self._model_inputs(x)
        device = torch.device(self.device)
        enabled = self.precision == "bfloat16"
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=enabled):
            out = super().infer(x, **fit_params)
        return out.float()

    def forward_iter(self, X, training=False, device="cpu"):
        # Every prediction goes through here: X checked as the backbone reads it.
        samples = Samples.of(X, self.modality_, self.preprocessing_)
        with self._on_device():
            yield from super().forward_iter(samples, training, device)

    @contextlib.contextmanager
    def _on_device(self):
        """Run with ``device`` resolved ("auto" to CUDA or the CPU) where skorch reads it.

        skorch moves tensors to ``self.device``; the parameter itself keeps the
        user's value, so that a clone or a pickle stays "auto".
        """
        wanted = self.device
        self.device = str(resolve_device(wanted))
        try:
            yield
        finally:
            self.device = wanted

    def __setstate__(self, state):
        # A model fitted on a GPU loads where there is none: skorch maps its tensors
        # to the device given, which must be a real one.
        wanted = state["device"]
        state["device"] = str(resolve_device(wanted))
        super().__setstate__(state)
        self.device = wanted
