"""Input checks, before any model runs: parameters, images, texts, targets, columns.

Every check raises an error that names what is wrong by the user's words: the
parameter, the index of the sample, the file.
"""

from ._columns import single_column
from ._images import check_images, describe, file_problem
from ._params import (
    BOOLEAN,
    CACHE,
    CALLABLE,
    NONE,
    PATH,
    Device,
    InstanceOf,
    Interval,
    Options,
    validate_params,
)
from ._targets import check_targets, encode_labels
from ._texts import check_texts, text_key

__all__ = [
    "BOOLEAN",
    "CACHE",
    "CALLABLE",
    "NONE",
    "PATH",
    "Device",
    "InstanceOf",
    "Interval",
    "Options",
    "check_images",
    "check_targets",
    "check_texts",
    "describe",
    "encode_labels",
    "file_problem",
    "single_column",
    "text_key",
    "validate_params",
]
