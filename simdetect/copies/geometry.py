"""Geometric verification: do matching cells of two images agree on one placement?

Two works by the same painter share textures, so many of their cells have a similar
nearest neighbour; what they do not share is a *layout*. A copy (cropped, scaled, a
little rotated, pasted into a collage) keeps its cells in the source's arrangement up
to one similarity transform, so the fraction of matches consistent with the best such
transform separates copies from look-alikes. RANSAC over two-point hypotheses is
enough at this size (a few hundred cells) and needs nothing beyond numpy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["GeometryConfig", "Placement", "inlier_fraction", "mutual_matches", "placement"]


@dataclass(frozen=True)
class GeometryConfig:
    """Matching and RANSAC knobs; part of the index's saved configuration."""

    ratio: float = 0.9  # cosine-distance ratio test against the second-best match
    tolerance: float = 0.03  # inlier radius as a fraction of the long side
    hypotheses: int = 256
    min_scale: float = 0.2
    max_scale: float = 5.0
    max_rotation_degrees: float = 30.0
    seed: int = 0


def mutual_matches(a: np.ndarray, b: np.ndarray, ratio: float) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs that are each other's nearest neighbour and pass the ratio test."""
    if len(a) == 0 or len(b) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    sims = a @ b.T
    ab = sims.argmax(axis=1)
    ba = sims.argmax(axis=0)
    rows = np.flatnonzero(ba[ab] == np.arange(len(a)))
    cols = ab[rows]
    if sims.shape[1] > 1 and len(rows):
        # Second-best similarity, only for the mutual pairs (a full sort is the cost).
        kept = sims[rows]
        best = kept[np.arange(len(rows)), cols]
        kept[np.arange(len(rows)), cols] = -np.inf
        passes = (1.0 - best) < ratio * (1.0 - kept.max(axis=1))
        rows, cols = rows[passes], cols[passes]
    return rows, cols


@dataclass(frozen=True)
class Placement:
    """The best similarity transform found, in normalised positions (query → target).

    ``m`` is scale·e^{iθ} as a complex number and ``t`` the translation, so a query
    point z maps to m·z + t; ``inliers`` indexes the matched pairs that agree with it.
    """

    inliers: int
    m: complex
    t: complex
    inlier_pairs: np.ndarray


_NO_PLACEMENT = Placement(0, 1 + 0j, 0j, np.zeros(0, dtype=np.int64))


def _best_placement(p: np.ndarray, q: np.ndarray, cfg: GeometryConfig) -> Placement:
    n = len(p)
    if n < 3:
        return _NO_PLACEMENT  # two points always fit a similarity transform: no evidence
    rng = np.random.default_rng(cfg.seed)
    i = rng.integers(0, n, cfg.hypotheses)
    j = rng.integers(0, n, cfg.hypotheses)
    pc = p[:, 0] + 1j * p[:, 1]
    qc = q[:, 0] + 1j * q[:, 1]
    dp, dq = pc[j] - pc[i], qc[j] - qc[i]
    ok = (i != j) & (np.abs(dp) > 1e-6)
    i, dp, dq = i[ok], dp[ok], dq[ok]
    # A complex ratio is scale·e^{iθ}: one division gives each hypothesis's transform.
    m = dq / dp
    scale, angle = np.abs(m), np.abs(np.angle(m))
    plausible = (
        (scale > cfg.min_scale)
        & (scale < cfg.max_scale)
        & (angle < np.radians(cfg.max_rotation_degrees))
    )
    i, m = i[plausible], m[plausible]
    if len(i) == 0:
        return _NO_PLACEMENT
    t = qc[i] - m * pc[i]
    err = np.abs(m[:, None] * pc[None, :] + t[:, None] - qc[None, :])
    # The tolerance is in the query's units: mapped onto a magnified target it grows.
    radius = cfg.tolerance * np.maximum(1.0, np.abs(m))[:, None]
    hits = err < radius
    counts = hits.sum(axis=1)
    best = int(counts.argmax())
    return Placement(
        inliers=int(counts[best]),
        m=complex(m[best]),
        t=complex(t[best]),
        inlier_pairs=np.flatnonzero(hits[best]),
    )


def _best_inliers(p: np.ndarray, q: np.ndarray, cfg: GeometryConfig) -> int:
    return _best_placement(p, q, cfg).inliers


def placement(
    a: np.ndarray,
    a_pos: np.ndarray,
    b: np.ndarray,
    b_pos: np.ndarray,
    cfg: GeometryConfig,
) -> tuple[float, Placement, np.ndarray, np.ndarray]:
    """:func:`inlier_fraction` with its evidence: the transform and the inlier positions.

    Returns (fraction, placement, query positions, target positions) of the inliers, so
    a report can outline the matched region on both images.
    """
    if min(len(a), len(b)) == 0:
        empty = np.zeros((0, 2), dtype=np.float32)
        return 0.0, _NO_PLACEMENT, empty, empty
    ia, ib = mutual_matches(a, b, cfg.ratio)
    found = _best_placement(a_pos[ia], b_pos[ib], cfg)
    pairs = found.inlier_pairs
    return (
        found.inliers / min(len(a), len(b)),
        found,
        a_pos[ia][pairs],
        b_pos[ib][pairs],
    )


def inlier_fraction(
    a: np.ndarray,
    a_pos: np.ndarray,
    b: np.ndarray,
    b_pos: np.ndarray,
    cfg: GeometryConfig,
) -> float:
    """Share of the smaller image's cells that match under one similarity transform.

    Normalising by the smaller side makes a quarter-area crop, which can only ever
    match a quarter of its source's cells, as strong as a full copy.
    """
    if min(len(a), len(b)) == 0:
        return 0.0
    ia, ib = mutual_matches(a, b, cfg.ratio)
    return _best_inliers(a_pos[ia], b_pos[ib], cfg) / min(len(a), len(b))
