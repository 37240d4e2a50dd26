"""Hubness correction (CSLS): some works sit close to everything and win every query.

CSLS (Conneau et al. 2018; used for style retrieval by the 2026 follow-up to CSD)
replaces a cosine s(q, x) by 2·s(q, x) − r(q) − r(x), where r(·) is the mean similarity
to its h nearest indexed works. A work that is near everything (a hub) and a suspect
that is near everything (for instance the smooth rendering texture of generated
images) both lose their unearned advantage. BENCHMARKS.md records h = 15.
"""

from __future__ import annotations

import numpy as np

from simdetect.defaults import DEFAULT_HUBNESS_K


def neighbourhood_radius(sims: np.ndarray, h: int = DEFAULT_HUBNESS_K) -> np.ndarray:
    """Mean of each row's h largest finite similarities (rows: queries, columns: works)."""
    filled = np.where(np.isfinite(sims), sims, -np.inf)
    n_cols = filled.shape[1]
    hh = max(1, min(h, n_cols))
    top = np.partition(filled, n_cols - hh, axis=1)[:, -hh:]
    finite = np.isfinite(top)
    with np.errstate(invalid="ignore"):
        return np.where(finite, top, 0.0).sum(axis=1) / np.maximum(finite.sum(axis=1), 1)


def csls(sims: np.ndarray, query_radius: np.ndarray, work_radius: np.ndarray) -> np.ndarray:
    """2·s − r(q) − r(x), keeping excluded (-inf) entries excluded."""
    return 2.0 * sims - query_radius[:, None] - work_radius[None, :]
