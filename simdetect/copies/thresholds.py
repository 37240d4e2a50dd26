"""Copy thresholds derived from the index itself, robust to copies already inside it.

The null distribution is each indexed work's best score against the *other* indexed
works (leave-one-out): exactly what an unrelated query would get. A plain empirical
(1 − fpr) quantile of it fails on real portfolios, because they contain genuine
near-copies of each other (two photographs of one painting, a detail and the whole,
autograph versions): on Titian about one work in eight has one, so the top percent of
the null is made of true copies and the empirical quantile lands among them.

A best-of-many score is extreme-value (Gumbel) distributed, so the threshold is the
(1 − fpr) quantile of a Gumbel fitted to the *bulk* of the null by median and
inter-quartile range, which a minority of contaminating copies barely moves.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["GumbelFit", "fit_gumbel"]

# For a Gumbel(μ, β): median = μ − β·ln ln 2, IQR = β·(ln(−ln ¼) − ln(−ln ¾)).
_MEDIAN_OFFSET = -math.log(math.log(2.0))
_IQR_FACTOR = math.log(-math.log(0.25)) - math.log(-math.log(0.75))


@dataclass(frozen=True)
class GumbelFit:
    """Location and scale of the null; ``z`` puts any score on the null's scale."""

    loc: float
    scale: float
    n: int

    def quantile(self, q: float) -> float:
        return self.loc - self.scale * math.log(-math.log(q))

    def z(self, value: float) -> float:
        return (value - self.loc) / self.scale

    @staticmethod
    def z_at(fpr: float) -> float:
        """The z a score must reach for the fitted null to exceed it with probability fpr."""
        return -math.log(-math.log(1.0 - fpr))


def fit_gumbel(null: np.ndarray, min_scale: float) -> GumbelFit:
    """Robust fit; ``min_scale`` keeps a tiny or tied null from giving a zero-width fit."""
    values = np.asarray(null, dtype=np.float64)
    if values.size == 0:
        raise ValueError("cannot calibrate a threshold from an empty null distribution")
    q25, med, q75 = np.quantile(values, [0.25, 0.5, 0.75])
    scale = max(float(q75 - q25) / _IQR_FACTOR, min_scale)
    loc = float(med) - scale * _MEDIAN_OFFSET
    return GumbelFit(loc=loc, scale=scale, n=int(values.size))
