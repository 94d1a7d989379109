"""Exceptions raised by sktransfer, each one a subclass of a built-in users already catch."""


class UnknownBackboneError(KeyError):
    """No registered backbone has the requested name; the message lists the closest ones."""

    def __str__(self):  # KeyError would wrap the message in quotes
        return str(self.args[0]) if self.args else ""


class AmbiguousBackboneError(UnknownBackboneError):
    """Two sources register the same short name; the message lists the qualified names."""


class WeightsNotFoundError(FileNotFoundError):
    """Pre-trained weights are neither on disk nor downloadable; the message says where to put them."""


class ImageLoadError(ValueError):
    """An image could not be read or decoded; the message names the file and its index."""


class MissingDependencyError(ImportError):
    """An optional dependency is missing; the message names the extra to install."""
