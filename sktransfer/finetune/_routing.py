"""skorch's ``prefix__name`` parameters on a scikit-learn estimator that owns a skorch net.

scikit-learn reads an estimator's parameters from its ``__init__`` signature;
skorch routes ``optimizer__weight_decay`` and the like to the parts of its
net. An estimator with this mixin takes both: the extra ones arrive through
``**kwargs``, are kept as attributes, reported by ``get_params`` (so clones and
searches carry them) and checked in ``fit``, never in ``set_params``.
"""

from __future__ import annotations

from .._utils import close_names, did_you_mean

# skorch's parameters that a fine-tuner routes to its net, as ``prefix__name``.
ROUTED_PREFIXES = ("optimizer", "criterion", "iterator_train", "iterator_valid", "callbacks")
# Parameters renamed, by their old name; they work, with a FutureWarning, until 0.3.0.
RENAMED = {"head": "hidden"}


def _extra(estimator):
    """The parameters outside the signature: skorch's routed ones, old names, typos.

    They are kept as they come, as attributes, and checked in ``fit``.
    """
    names = set(estimator._get_param_names())
    return {
        k: v
        for k, v in vars(estimator).items()
        if k not in names and not k.startswith("_") and not k.endswith("_")
    }


class RoutedParams:
    """``get_params`` / ``set_params`` that keep the parameters outside the signature."""

    def get_params(self, deep=True):
        """Get the parameters, skorch's routed ones (``prefix__name``) included.

        Parameters
        ----------
        deep : bool, default=True
            Accepted for scikit-learn's signature; no parameter is an estimator.

        Returns
        -------
        dict
            Parameter names mapped to their values.
        """
        return {**super().get_params(deep=deep), **_extra(self)}

    def set_params(self, **params):
        """Set parameters; skorch's routed ones (``prefix__name``) too. Values are checked in fit.

        Parameters
        ----------
        **params : dict
            Parameter names and values.

        Returns
        -------
        self : object
            The estimator.
        """
        names = set(self._get_param_names())
        vars(self).update({k: v for k, v in params.items() if k not in names})
        known = {k: v for k, v in params.items() if k in names}
        return super().set_params(**known) if known else self

    def _routed_params(self):
        """The ``prefix__name`` parameters for the net; an unknown name raises ValueError."""
        routed = {k: v for k, v in _extra(self).items() if k not in RENAMED}
        for key in routed:
            prefix, _, rest = key.partition("__")
            if prefix in ROUTED_PREFIXES and rest:
                continue
            if rest:
                close = [f"{p}__{rest}" for p in close_names(prefix, ROUTED_PREFIXES)]
            else:
                close = close_names(key, self._get_param_names())
            raise ValueError(
                f"{type(self).__name__} has no parameter {key!r}.{did_you_mean(close)} The "
                f"parameters it passes to skorch start with "
                f"{', '.join(p + '__' for p in ROUTED_PREFIXES)}"
            )
        return routed
