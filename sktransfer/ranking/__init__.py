"""Ranking backbones and layers by how well they transfer, before training anything."""

from .scorers import SCORERS, Scorer, h_score, leep, logme, nce, probe_score
from .selection import BackboneSelector, candidate_name, layers_of, rank_backbones

__all__ = [
    "SCORERS",
    "BackboneSelector",
    "Scorer",
    "candidate_name",
    "h_score",
    "layers_of",
    "leep",
    "logme",
    "nce",
    "probe_score",
    "rank_backbones",
]
