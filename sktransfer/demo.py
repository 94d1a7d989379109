"""Deprecated: ``sktransfer demo`` lives in :mod:`sktransfer.cli` since 0.2.0.

Importing this module warns; it goes in 0.3.0. Run ``sktransfer demo``, or
``sktransfer.cli.main(["demo"])`` from Python.
"""

import warnings

from .cli._demo import CONTENDERS, main, negative_transfer, table  # noqa: F401

warnings.warn(
    "sktransfer.demo is deprecated since sktransfer 0.2.0 and goes in 0.3.0; use "
    "sktransfer.cli.main(['demo']) (the 'sktransfer demo' command)",
    FutureWarning,
    stacklevel=2,
)
