"""Scores relative to the other artists in the index.

DESIGN.md records why: on real paintings, raw similarity ranked AI imitations below
other painters' real works, because generated images share a rendering texture
that lowers their similarity to *every* real painting. Subtracting how similar the
suspect is to everyone else removes that shared offset.

    relative(A) = s_A - mean over every other artist B (background included) of s_B

where s_X is the top-k mean similarity of the suspect to artist X's works.
"""

from __future__ import annotations

import numpy as np


def margin_over_others(artist_sims: np.ndarray) -> np.ndarray:
    """relative(A) = s_A - mean_{B != A} s_B; NaN when there is no other artist."""
    valid = ~np.isnan(artist_sims)
    n = int(valid.sum())
    out = np.full_like(artist_sims, np.nan, dtype=np.float64)
    if n < 2:
        return out
    total = float(np.nansum(artist_sims))
    others_mean = (total - artist_sims[valid]) / (n - 1)
    out[valid] = artist_sims[valid] - others_mean
    return out
