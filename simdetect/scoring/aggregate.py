"""Per-artist aggregation of nearest-neighbour similarities.

A query's similarities to every indexed work become one number per artist: the mean
of that artist's k most similar works (k = min(K, that artist's usable works)).
Averaging a few neighbours instead of taking the single best makes the score less
sensitive to one lucky match and closer to "how much does this look like the body of
work", which is what style imitation means. BENCHMARKS.md records k = 3 winning over
1, 5 and 10.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simdetect.defaults import DEFAULT_K


@dataclass(frozen=True)
class ArtistTable:
    """Which artist each indexed vector belongs to, as integer codes for fast grouping."""

    names: list[str]
    codes: np.ndarray  # int32, one per indexed vector
    counts: np.ndarray  # works per artist
    background: np.ndarray  # bool per artist: background-only, never reported as a match
    members: list[np.ndarray]  # row positions of each artist's works

    @classmethod
    def build(cls, artists: list[str], roles: list[str]) -> ArtistTable:
        names = sorted(set(artists))
        lookup = {name: i for i, name in enumerate(names)}
        codes = np.fromiter((lookup[a] for a in artists), dtype=np.int32, count=len(artists))
        counts = np.bincount(codes, minlength=len(names)).astype(np.int64)
        bg = np.zeros(len(names), dtype=bool)
        roles_by_artist: dict[str, set[str]] = {}
        for a, r in zip(artists, roles, strict=True):
            roles_by_artist.setdefault(a, set()).add(r)
        for name, roles_of in roles_by_artist.items():
            bg[lookup[name]] = roles_of == {"background"}
        members = [np.flatnonzero(codes == i) for i in range(len(names))]
        return cls(names=names, codes=codes, counts=counts, background=bg, members=members)

    @property
    def n_artists(self) -> int:
        return len(self.names)


def per_artist_topk(sims: np.ndarray, table: ArtistTable, k: int = DEFAULT_K) -> np.ndarray:
    """(m, N) similarities to every indexed work → (m, A) top-k means per artist.

    Entries set to -inf are excluded (leave-one-out); an artist with no usable work
    gets NaN. Works on whole rows, so it needs the similarity to every indexed work.
    """
    m = sims.shape[0]
    out = np.full((m, table.n_artists), np.nan, dtype=np.float64)
    for a, cols in enumerate(table.members):
        if len(cols) == 0:
            continue
        sub = sims[:, cols]
        kk = min(k, len(cols))
        # Excluded entries are -inf, so they enter the top kk only when fewer than kk
        # usable works exist, and then the mean below is over exactly the usable ones.
        top = np.partition(sub, len(cols) - kk, axis=1)[:, -kk:] if kk < len(cols) else sub
        finite = np.isfinite(top)
        n = finite.sum(axis=1)
        total = np.where(finite, top, 0.0).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[:, a] = np.where(n > 0, total / np.maximum(n, 1), np.nan)
    return out
