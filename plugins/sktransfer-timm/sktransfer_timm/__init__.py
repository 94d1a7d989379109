"""Lists every timm model with pre-trained weights as an sktransfer backbone.

sktransfer already builds any timm pretrained tag by name
(``ImageEncoder("convnext_tiny.fb_in22k")``); this plugin adds them all to
``sktransfer.backbones.list()`` and ``sktransfer backbones``, under the
namespace ``timm``. sktransfer finds it through its ``sktransfer.backbones``
entry point; importing it by hand is never needed.
"""

import os

from sktransfer.backbones import timm_specs

__version__ = "0.2.0"


def specs():
    """One spec per timm pretrained tag (about 1,800), made from configs alone.

    The environment variable ``SKTRANSFER_TIMM_FILTER`` (comma-separated
    wildcard patterns, e.g. ``"convnext_*,vit_small_*"``) narrows the list.
    """
    patterns = [p.strip() for p in os.environ.get("SKTRANSFER_TIMM_FILTER", "").split(",")]
    return timm_specs([p for p in patterns if p] or "")
