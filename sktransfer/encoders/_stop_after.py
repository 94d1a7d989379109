"""A trunk cut after any sub-module, for features from intermediate layers."""

from torch import nn


class _StopForward(Exception):
    pass


class StopAfter(nn.Module):
    """Runs ``trunk`` until the module at ``layer`` has produced its output, then stops.

    A layer group can simply be sliced off an ``nn.Sequential``; a module nested
    inside a group cannot, so a forward hook captures its output and ends the
    forward pass early instead of computing the rest of the group.
    """

    def __init__(self, trunk, layer):
        super().__init__()
        self.trunk = trunk
        self.layer = layer

    def forward(self, x):
        captured = []

        def hook(module, inputs, output):
            captured.append(output)
            raise _StopForward

        handle = self.trunk.get_submodule(self.layer).register_forward_hook(hook)
        try:
            self.trunk(x)
        except _StopForward:
            pass
        finally:
            handle.remove()
        return captured[0]
