"""Declarative transfer experiments: a YAML spec (or a dict) describes data, pipeline,
search, evaluation and outputs; :func:`run` does the rest.

A spec names estimators from an allow-list (sktransfer's and scikit-learn's
public ones) and is read with ``yaml.safe_load``: it holds data, never code.
"""

from ..exceptions import SpecError
from ._experiment import MODEL_FORMAT, Spec, build, load_spec, run
from ._rank import load_rank_spec, rank
from ._rank_outputs import ranking_table

__all__ = [
    "MODEL_FORMAT",
    "Spec",
    "SpecError",
    "build",
    "load_rank_spec",
    "load_spec",
    "rank",
    "ranking_table",
    "run",
]
