"""The new head put on a backbone's features: hidden layers, dropout, activation."""

from __future__ import annotations

from torch import nn

ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "silu": nn.SiLU, "tanh": nn.Tanh}


def make_head(n_in, n_out, *, hidden=(), dropout=0.0, activation="relu"):
    """A multi-layer perceptron from ``n_in`` features to ``n_out`` outputs.

    Each hidden layer is ``Linear, activation, Dropout``; with no hidden layer
    the dropout acts on the features themselves. So dropout always comes right
    before the output layer, as in timm's ``drop_rate`` and the Keras recipe
    ``Dense(64, relu), Dropout, Dense(n)``.

    Parameters
    ----------
    n_in : int
        Features in.
    n_out : int
        Outputs: the number of classes (logits) or of regression targets.
    hidden : tuple of int, default=()
        Sizes of the hidden layers; () is a linear head.
    dropout : float, default=0.0
        Dropout probability (0 adds no dropout layer).
    activation : {"relu", "gelu", "silu", "tanh"} or nn.Module class, default="relu"
        Non-linearity after each hidden layer.

    Returns
    -------
    torch.nn.Sequential

    Examples
    --------
    >>> make_head(1280, 10, hidden=(64,), dropout=0.2)
    Sequential(
      (0): Linear(in_features=1280, out_features=64, bias=True)
      (1): ReLU()
      (2): Dropout(p=0.2, inplace=False)
      (3): Linear(in_features=64, out_features=10, bias=True)
    )
    """
    make_activation = ACTIVATIONS[activation] if isinstance(activation, str) else activation
    layers = []
    for size in hidden:
        layers += [nn.Linear(n_in, size), make_activation()]
        layers += [nn.Dropout(dropout)] if dropout else []
        n_in = size
    if dropout and not hidden:
        layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(n_in, n_out))
    return nn.Sequential(*layers)
