"""Turn nearest-neighbour similarities into per-artist scores that say what they are relative to."""

from simdetect.scoring.aggregate import DEFAULT_K, ArtistTable, topk_mean_by_artist
from simdetect.scoring.relative import margin_over_others

__all__ = ["DEFAULT_K", "ArtistTable", "margin_over_others", "topk_mean_by_artist"]
