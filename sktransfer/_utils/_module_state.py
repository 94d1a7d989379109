"""A torch module's weights as plain numpy arrays and a digest, and back.

What a fitted estimator keeps of its networks when it is persisted (skops, pickle,
joblib): no torch object, so that ``skops.io`` can write it and any machine, with or
without a GPU, can read it. A network that its estimator's parameters rebuild (a
named backbone's pre-trained weights) is kept as its digest only, with the arrays
that differ from the rebuilt one (AdaBN's statistics, fine-tuned layers); loading
rebuilds it and checks the digest.
"""

from __future__ import annotations

import copy

import numpy as np

from ..exceptions import WeightsMismatchError

# Tensor dtypes numpy has no type for travel as integers of the same width.
_AS_INTEGERS = {"torch.bfloat16": "int16"}


def module_state(module, reference=None):
    """The weights of ``module`` as ``{"digest", "arrays", "dtypes"}``, no torch object.

    Parameters
    ----------
    module : torch.nn.Module
    reference : torch.nn.Module, optional
        What the estimator's parameters rebuild: only the entries of ``module``'s
        state dict that differ from it are kept. None keeps every entry.

    Returns
    -------
    dict
        ``digest`` (of the whole state dict, :func:`sktransfer.cache.weights_digest`),
        ``arrays`` (name to ndarray) and ``dtypes`` (name to the tensor's dtype).
    """
    import torch

    from ..cache import weights_digest

    ours = module.state_dict()
    theirs = {} if reference is None else reference.state_dict()
    arrays, dtypes = {}, {}
    for name, tensor in ours.items():
        if _same(theirs.get(name), tensor):
            continue
        tensor = tensor.detach().to("cpu").contiguous()
        dtypes[name] = str(tensor.dtype)
        if dtypes[name] in _AS_INTEGERS:
            tensor = tensor.view(getattr(torch, _AS_INTEGERS[dtypes[name]]))
        arrays[name] = tensor.numpy().copy()
    # Digested now, not from the per-object memo: a fine-tuned module changed since.
    return {"digest": weights_digest(module), "arrays": arrays, "dtypes": dtypes}


def _same(reference, tensor):
    import torch

    if reference is None or reference.shape != tensor.shape or reference.dtype != tensor.dtype:
        return False
    return torch.equal(reference.detach().cpu(), tensor.detach().cpu())


def is_module_state(value):
    """Whether ``value`` is what :func:`module_state` returns."""
    return isinstance(value, dict) and set(value) == {"digest", "arrays", "dtypes"}


def restore_module(state, reference, *, network, inplace=False):
    """The module ``state`` describes: ``reference`` with ``state``'s arrays, its digest checked.

    Parameters
    ----------
    state : dict
        From :func:`module_state`.
    reference : torch.nn.Module
        The module the estimator's parameters rebuild; unchanged unless
        ``inplace`` (it may be shared): a copy takes the arrays.
    network : str
        What the messages call the network: "backbone 'resnet18'", "the head".
    inplace : bool, default=False
        Load the arrays into ``reference`` itself: for a module of one's own, which
        a copy would only double in memory (and whose parameters an optimizer may
        already hold).

    Returns
    -------
    torch.nn.Module

    Raises
    ------
    WeightsMismatchError
        The arrays do not fit the module, or the result's digest is not the saved one.
    """
    import torch

    from ..cache import weights_digest

    module = reference
    if state["arrays"]:
        module = reference if inplace else copy.deepcopy(reference)
        expected = module.state_dict()
        unknown = sorted(set(state["arrays"]) - set(expected))
        if unknown:
            raise WeightsMismatchError(
                f"the saved weights of {network} name {unknown[0]!r}, which the "
                "network rebuilt here has not: another version of the backbone, or an edited file"
            )
        tensors = {}
        for name, array in state["arrays"].items():
            tensor = torch.from_numpy(np.array(array))
            if state["dtypes"][name] in _AS_INTEGERS:
                tensor = tensor.view(getattr(torch, state["dtypes"][name].removeprefix("torch.")))
            tensors[name] = tensor.to(expected[name].device)
        module.load_state_dict(tensors, strict=False)
    found = weights_digest(module)
    if found != state["digest"]:
        raise WeightsMismatchError(
            f"the weights of {network} rebuilt here are not those the model was "
            f"saved with (digest {found[:12]} against {state['digest'][:12]}): another weights "
            "file or version of the backbone's package on this machine, or an edited model "
            "file. Install the weights the model was fitted with, or fit it again."
        )
    return module
