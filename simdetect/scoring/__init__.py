"""Turn nearest-neighbour similarities into per-artist scores that say what they are relative to."""

from simdetect.scoring.aggregate import DEFAULT_K, ArtistTable, per_artist_topk
from simdetect.scoring.hubness import DEFAULT_HUBNESS_K, csls, neighbourhood_radius
from simdetect.scoring.relative import margin_over_best_other, margin_over_mean

__all__ = [
    "DEFAULT_HUBNESS_K",
    "DEFAULT_K",
    "ArtistTable",
    "csls",
    "margin_over_best_other",
    "margin_over_mean",
    "neighbourhood_radius",
    "per_artist_topk",
]
