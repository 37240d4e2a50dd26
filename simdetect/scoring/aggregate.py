"""Per-artist aggregation of nearest-neighbour similarities.

One query's similarities to every indexed work become one number per artist:
the mean of that artist's k most similar works (k = min(K, works of that artist)).
Averaging a few neighbours instead of taking the single best makes the score less
sensitive to one lucky match and closer to "how much does this look like the body
of work", which is what style imitation means.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DEFAULT_K = 3


@dataclass(frozen=True)
class ArtistTable:
    """Which artist each indexed vector belongs to, as integer codes for fast grouping."""

    names: list[str]
    codes: np.ndarray  # int32, one per indexed vector
    counts: np.ndarray  # works per artist
    background: np.ndarray  # bool per artist: background-only, never reported as a match

    @classmethod
    def build(cls, artists: list[str], roles: list[str]) -> ArtistTable:
        names = sorted(set(artists))
        lookup = {name: i for i, name in enumerate(names)}
        codes = np.fromiter((lookup[a] for a in artists), dtype=np.int32, count=len(artists))
        counts = np.bincount(codes, minlength=len(names)).astype(np.int64)
        bg = np.zeros(len(names), dtype=bool)
        role_by_artist: dict[str, set[str]] = {}
        for a, r in zip(artists, roles, strict=True):
            role_by_artist.setdefault(a, set()).add(r)
        for name, roles_of in role_by_artist.items():
            bg[lookup[name]] = roles_of == {"background"}
        return cls(names=names, codes=codes, counts=counts, background=bg)


def topk_mean_by_artist(
    sims: np.ndarray,
    labels: np.ndarray,
    table: ArtistTable,
    k: int = DEFAULT_K,
    exclude: int | None = None,
) -> np.ndarray:
    """Mean of each artist's top-k similarities for one query.

    `sims`/`labels` are one query's neighbours (any order; label -1 = padding). Artists
    with no neighbour among them get NaN. `exclude` drops one indexed vector (leave-one-out).
    """
    valid = labels >= 0
    if exclude is not None:
        valid &= labels != exclude
    s = sims[valid]
    codes = table.codes[labels[valid]]
    order = np.lexsort((-s, codes))  # by artist, then by similarity descending
    codes_sorted = codes[order]
    s_sorted = s[order]
    n_art = len(table.names)
    starts = np.searchsorted(codes_sorted, np.arange(n_art), side="left")
    ends = np.searchsorted(codes_sorted, np.arange(n_art), side="right")
    take = np.minimum(ends - starts, k)
    csum = np.concatenate([[0.0], np.cumsum(s_sorted, dtype=np.float64)])
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (csum[starts + take] - csum[starts]) / take
    out[take == 0] = np.nan
    return out
