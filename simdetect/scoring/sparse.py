"""Scores from a query's nearest works only, for indexes too large to compare with every work.

The exact path compares a suspect with every indexed work (a dense queries x N matrix).
At a platform's millions of works that is neither fast nor needed: an artist whose
works are not among the suspect's nearest few hundred cannot rank near the top. Here a
query's candidates come from the approximate index, are re-scored with exact cosines
from the vectors on disk, and each candidate artist gets

- similarity: the mean of its k most similar candidate works (as in the exact path);
- relative: the mean of its k best CSLS-corrected candidates 2·s(q,x) − r(q) − r(x),
  with r(q) the mean of the query's h most similar candidates and r(x) each work's own
  radius, computed on first use with the same search and then cached. Only the k + 2
  most similar works of each candidate artist get a radius: the CSLS correction moves
  scores by a few hundredths, so the best-k by corrected score lie among them.

Artists with no work among the candidates get NaN and are left out of the ranking.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from simdetect.scoring.aggregate import ArtistTable

if TYPE_CHECKING:
    from simdetect.scoring.calibration import Calibratable

APPROX_NEIGHBOURS = 256
RADIUS_EXTRA = 2


class RadiusCache:
    """Each indexed work's CSLS radius (mean cosine to its h nearest other works), lazily."""

    def __init__(self, snapshot: Calibratable, hubness_k: int, radius: np.ndarray | None = None):
        self.snapshot = snapshot
        self.h = hubness_k
        n = snapshot.count
        self.radius = (
            radius.astype(np.float64, copy=True)
            if radius is not None and len(radius) == n
            else np.full(n, np.nan, dtype=np.float64)
        )

    def get(self, ids: np.ndarray) -> np.ndarray:
        ids = np.asarray(ids, dtype=np.int64)
        missing = np.unique(ids[np.isnan(self.radius[ids])])
        if len(missing):
            vecs = np.ascontiguousarray(self.snapshot.vectors()[missing], dtype=np.float32)
            sims, labels = self.snapshot.search(vecs, self.h + 1)
            for row, work in enumerate(missing):
                keep = (labels[row] >= 0) & (labels[row] != work)
                top = sims[row][keep][: self.h].astype(np.float64)
                self.radius[work] = float(top.mean()) if len(top) else 0.0
        return self.radius[ids]


@dataclass
class SparseScores:
    """Per query: per-artist similarity and relative (NaN where not a candidate) and the
    exact-scored candidates, most similar first."""

    similarity: np.ndarray  # (m, A)
    relative: np.ndarray  # (m, A)
    labels: list[np.ndarray]
    sims: list[np.ndarray]


def candidates(
    snapshot: Calibratable, queries: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray]:
    sims, labels = snapshot.search(queries, n)
    return sims.astype(np.float64), labels


def score_candidates(
    sims: np.ndarray,
    labels: np.ndarray,
    table: ArtistTable,
    radii: RadiusCache,
    k: int,
    hubness_k: int,
) -> tuple[np.ndarray, np.ndarray]:
    """One query's candidates (exact cosines, valid labels) -> (A,) similarity and relative."""
    n_art = table.n_artists
    similarity = np.full(n_art, np.nan)
    relative = np.full(n_art, np.nan)
    if len(labels) == 0:
        return similarity, relative
    order = np.argsort(-sims, kind="stable")
    sims, labels = sims[order], labels[order]
    r_q = float(sims[:hubness_k].mean())
    codes = table.codes[labels]
    for a in np.unique(codes):
        mine = np.flatnonzero(codes == a)[: k + RADIUS_EXTRA]
        s = sims[mine]
        similarity[a] = float(s[:k].mean())
        corrected = 2.0 * s - r_q - radii.get(labels[mine])
        relative[a] = float(np.sort(corrected)[::-1][:k].mean())
    return similarity, relative


def sparse_scores(
    snapshot: Calibratable,
    table: ArtistTable,
    queries: np.ndarray,
    radii: RadiusCache,
    k: int,
    hubness_k: int,
    n_neighbours: int = APPROX_NEIGHBOURS,
) -> SparseScores:
    sims, labels = candidates(snapshot, queries, n_neighbours)
    m = len(queries)
    out = SparseScores(
        np.full((m, table.n_artists), np.nan), np.full((m, table.n_artists), np.nan), [], []
    )
    for i in range(m):
        ok = labels[i] >= 0
        out.labels.append(labels[i][ok])
        out.sims.append(sims[i][ok])
        out.similarity[i], out.relative[i] = score_candidates(
            sims[i][ok], labels[i][ok], table, radii, k, hubness_k
        )
    return out


CALIBRATION_SAMPLE = 2000
CALIBRATION_SEED = 0
MAX_OWN_EXTRA = 4096


@dataclass
class SampledDistributions:
    radius: np.ndarray  # (N,), NaN where never needed
    impostor: list[np.ndarray]
    genuine: list[np.ndarray]
    sample: int


def sampled_distributions(
    snapshot: Calibratable,
    table: ArtistTable,
    k: int,
    hubness_k: int,
    sample: int = CALIBRATION_SAMPLE,
    seed: int = CALIBRATION_SEED,
) -> SampledDistributions:
    """Impostor and genuine distributions from a seeded sample of works, not all N.

    As in the exact calibration, a sampled work is an impostor for every other artist
    with its own artist left out of the index, and genuine for its own artist with
    itself left out. An artist with no work among an impostor's candidates scores
    below all of them: it is given that work's lowest candidate-artist score, which
    can only make p-values larger (conservative). `n_impostors` is then the number of
    sampled works by other artists.
    """
    n = snapshot.count
    rng = np.random.default_rng(seed)
    ids = np.sort(rng.choice(n, size=min(n, sample), replace=False))
    radii = RadiusCache(snapshot, hubness_k)
    impostor: list[list[float]] = [[] for _ in table.names]
    genuine: list[list[float]] = [[] for _ in table.names]
    vectors = snapshot.vectors()
    for start in range(0, len(ids), 256):
        batch = ids[start : start + 256]
        own = table.codes[batch]
        extra = int(min(MAX_OWN_EXTRA, table.counts[own].max()))
        sims, labels = candidates(
            snapshot,
            np.ascontiguousarray(vectors[batch], dtype=np.float32),
            APPROX_NEIGHBOURS + extra,
        )
        for row, work in enumerate(batch):
            a = int(own[row])
            ok = (labels[row] >= 0) & (labels[row] != work)
            lab, s = labels[row][ok], sims[row][ok]
            _, rel = score_candidates(
                s[:APPROX_NEIGHBOURS], lab[:APPROX_NEIGHBOURS], table, radii, k, hubness_k
            )
            if np.isfinite(rel[a]):
                genuine[a].append(float(rel[a]))
            other = table.codes[lab] != a
            _, rel_out = score_candidates(
                s[other][:APPROX_NEIGHBOURS],
                lab[other][:APPROX_NEIGHBOURS],
                table,
                radii,
                k,
                hubness_k,
            )
            rel_out[a] = np.nan
            if not np.isfinite(rel_out).any():
                continue
            floor = float(np.nanmin(rel_out))
            for b in range(table.n_artists):
                if b != a:
                    impostor[b].append(float(rel_out[b]) if np.isfinite(rel_out[b]) else floor)
    return SampledDistributions(
        radius=radii.radius,
        impostor=[np.sort(np.asarray(x, dtype=np.float64)) for x in impostor],
        genuine=[np.sort(np.asarray(x, dtype=np.float64)) for x in genuine],
        sample=len(ids),
    )
