"""sktransfer backbones from timm: every model with pre-trained weights.

sktransfer finds this package through its ``sktransfer.backbones`` entry point;
importing it by hand is never needed.
"""

from ._timm import (
    TimmBackboneSpec,
    build_trunk,
    create_model,
    describe,
    make_spec,
    preprocessing_of,
    specs,
    trunk_of,
)

__version__ = "0.1.0"

__all__ = [
    "TimmBackboneSpec",
    "build_trunk",
    "create_model",
    "describe",
    "make_spec",
    "preprocessing_of",
    "specs",
    "trunk_of",
]
