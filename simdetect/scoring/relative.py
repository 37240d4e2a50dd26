"""Alternative ways to make a per-artist score relative to the other artists.

The shipped `relative` score is the CSLS-corrected top-k mean (see `hubness`), chosen
by measurement: under a null of works whose artist is not indexed it gave the highest
true-positive rate at 1% false positives (BENCHMARKS.md). These margins are kept for
`simdetect eval`, which reports the comparison.
"""

from __future__ import annotations

import numpy as np


def margin_over_best_other(per_artist: np.ndarray) -> np.ndarray:
    """(m, A) → (m, A): each artist's value minus the best of the other artists (NaN-aware)."""
    vals = np.where(np.isnan(per_artist), -np.inf, per_artist)
    m, a = vals.shape
    if a < 2:
        return np.full((m, a), np.nan)
    order = np.argsort(-vals, axis=1)
    best = vals[np.arange(m), order[:, 0]]
    second = vals[np.arange(m), order[:, 1]]
    best_other = np.where(np.arange(a)[None, :] == order[:, :1], second[:, None], best[:, None])
    with np.errstate(invalid="ignore"):
        out = vals - best_other
    out[~np.isfinite(out)] = np.nan
    return out


def margin_over_mean(per_artist: np.ndarray) -> np.ndarray:
    """c_A − mean of the other artists' values (NaN-aware)."""
    valid = ~np.isnan(per_artist)
    n = valid.sum(axis=1, keepdims=True)
    total = np.nansum(per_artist, axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = per_artist - (total - np.where(valid, per_artist, 0.0)) / (n - 1)
    out[~valid | (n < 2).repeat(per_artist.shape[1], axis=1)] = np.nan
    return out
