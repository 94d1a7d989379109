"""Fine-tuners pickled by earlier releases, loaded with the behaviour they were fitted with."""

from __future__ import annotations


class LoadsOldModels:
    """Unpickling for :class:`~sktransfer.finetune._fine_tuner.FineTuner`: parameters added
    since a model was saved take the values that keep its old behaviour, and sktransfer
    0.1.0's fine-tuners, which were skorch nets themselves, become a fine-tuner owning
    that net."""

    def __setstate__(self, state):
        old = (
            ("long_texts", "truncate"), ("head_init", "random"), ("batchnorm", "train"),
            ("layer", None), ("adapt", "none"), ("adapt_weight", 1.0),
        )  # fmt: skip
        for name, value in old:
            state.setdefault(name, value)
        if "net_" in state or "module_" not in state and "initialized_" not in state:
            super().__setstate__(state)
            return
        # sktransfer 0.1.0's fine-tuners were skorch nets: this state is the net's.
        net = self._net_class.__new__(self._net_class)
        net.__setstate__(state)
        net.hidden = state.get("head", ())
        names = self._get_param_names()
        params = {k: state[k] for k in names if k in state}
        params["hidden"] = net.hidden
        vars(self).update(params)
        if state.get("initialized_"):
            self._fitted(net)
