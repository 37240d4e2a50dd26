"""The space a scan ranks an index's works in when it lists a suspect's nearest works.

Why not the plain cosine: the protocol that asks "which works are most like this one?"
(CSD's, `evaluation.retrieval`) is answered best in a space learned from the index's own
labelled works, and worst in the raw descriptor, whose variance is mostly what every
painting varies in. Measured on best-artworks-128 (BENCHMARKS.md, "Descriptor v2"):

- the regularised within-artist whitening the imitation score uses
  (`scoring.discriminant`, shrinkage 0.5), L2-normalised;
- beside it, its top `lda_dim` between-artist directions (LDA) as a second unit block of
  weight `lda_weight`, so the cosine is the whitened one plus `lda_weight` times the
  LDA one (up to a constant);
- hubness-corrected (CSLS): each work's score less half its mean cosine to its
  `hubness_k` nearest works, so a work close to everything is not everyone's neighbour.

The LDA block ranks works better but judges artists worse (measured: it costs the
artist's decision 2-3 points), so it lives here, for the nearest works only. The
`similarity` a scan reports for a work stays the plain cosine; this space only orders.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import asdict, dataclass

import numpy as np

from simdetect.scoring.discriminant import (
    Discriminant,
    DiscriminantParams,
    fit_discriminant,
    with_between_directions,
)
from simdetect.scoring.hubness import neighbourhood_radius

RANKING_VERSION = 1
ROW_CHUNK = 1024


@dataclass(frozen=True)
class RankingParams:
    """Knobs of the ranking space; part of its digest, recorded in every scan row."""

    shrinkage: float = 0.5
    lda_dim: int = 48
    lda_weight: float = 0.5
    hubness_k: int = 15

    def __post_init__(self) -> None:
        if not 0.0 < self.shrinkage <= 1.0:
            raise ValueError(f"shrinkage must be in (0, 1], got {self.shrinkage}")
        if self.lda_dim < 1 or self.hubness_k < 1:
            raise ValueError("lda_dim and hubness_k must be at least 1")
        if self.lda_weight < 0:
            raise ValueError(f"lda_weight must be non-negative, got {self.lda_weight}")

    def describe(self) -> str:
        return (
            "nearest works ordered by cosine in a space learned from the index's works "
            f"(within-artist whitening, shrinkage {self.shrinkage:g}, beside its top "
            f"{self.lda_dim} between-artist directions weighted {self.lda_weight:g}), less "
            f"half each work's mean cosine to its {self.hubness_k} nearest works (hubness "
            "correction); the similarity shown is the plain cosine"
        )


@dataclass
class RankingSpace:
    """A fitted ranking space and the index's works in it."""

    params: RankingParams
    whitening: Discriminant
    lda: Discriminant
    radius: np.ndarray  # (N,) each work's mean cosine to its hubness_k nearest other works
    # (N, d') float32: the works projected (kept in memory, not stored; single precision
    # halves what a large index holds, and only orders works)
    works: np.ndarray
    snapshot_digest: str = ""
    version: int = RANKING_VERSION

    @property
    def fitted(self) -> bool:
        return self.whitening.fitted

    def project(self, vectors: np.ndarray) -> np.ndarray:
        """The whitened block and the weighted LDA block, together L2-normalised."""
        a = self.whitening.transform(vectors)
        b = self.lda.transform(vectors)
        z = np.hstack([a, np.sqrt(self.params.lda_weight) * b])
        return z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)

    def scores(self, vectors: np.ndarray) -> np.ndarray:
        """(m, N) what orders the works for each suspect (higher first)."""
        q = self.project(vectors).astype(np.float32)
        return (q @ self.works.T).astype(np.float64) - 0.5 * self.radius[None, :]

    def digest(self) -> str:
        h = hashlib.sha256(repr(sorted(asdict(self.params).items())).encode())
        h.update(self.whitening.digest().encode())
        h.update(self.lda.digest().encode())
        h.update(np.ascontiguousarray(self.radius, dtype=np.float64).tobytes())
        return h.hexdigest()

    def to_bytes(self) -> bytes:
        meta = {
            "version": self.version,
            "snapshot_digest": self.snapshot_digest,
            "params": asdict(self.params),
            "whitening": _meta(self.whitening),
            "lda": _meta(self.lda),
        }
        buf = io.BytesIO()
        np.savez(
            buf,
            meta=np.frombuffer(json.dumps(meta).encode("utf-8"), np.uint8),
            whitening_mean=self.whitening.mean,
            whitening_projection=self.whitening.projection,
            lda_mean=self.lda.mean,
            lda_projection=self.lda.projection,
            radius=self.radius,
        )
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, blob: bytes, vectors: np.ndarray) -> RankingSpace:
        """Read back; `vectors` are the index's works (projected again, not stored)."""
        with np.load(io.BytesIO(blob), allow_pickle=False) as data:
            meta = json.loads(bytes(data["meta"]).decode("utf-8"))
            whitening = _discriminant(meta["whitening"], data, "whitening")
            lda = _discriminant(meta["lda"], data, "lda")
            space = cls(
                params=RankingParams(**meta["params"]),
                whitening=whitening,
                lda=lda,
                radius=data["radius"].astype(np.float64),
                works=np.zeros((0, 0)),
                snapshot_digest=str(meta["snapshot_digest"]),
                version=int(meta["version"]),
            )
        if len(space.radius) != len(vectors):
            raise ValueError(
                f"ranking state holds {len(space.radius)} works, the index {len(vectors)}"
            )
        space.works = space.project(vectors).astype(np.float32)
        return space


def _meta(d: Discriminant) -> dict[str, object]:
    return {"params": asdict(d.params), "n_works": d.n_works, "n_artists": d.n_artists}


def _discriminant(meta: dict[str, object], data: np.lib.npyio.NpzFile, key: str) -> Discriminant:
    params = meta["params"]
    assert isinstance(params, dict)
    return Discriminant(
        params=DiscriminantParams(**params),
        mean=data[f"{key}_mean"].astype(np.float64),
        projection=data[f"{key}_projection"].astype(np.float64),
        n_works=int(str(meta["n_works"])),
        n_artists=int(str(meta["n_artists"])),
    )


def fit_ranking(
    vectors: np.ndarray,
    codes: np.ndarray,
    params: RankingParams | None = None,
    snapshot_digest: str = "",
) -> RankingSpace:
    """Fit on labelled works (one integer artist label per row) and place them in it."""
    params = params or RankingParams()
    x = np.asarray(vectors, dtype=np.float64)
    _, counts = np.unique(np.asarray(codes), return_counts=True)
    # A artists span at most A - 1 between-artist directions; more would be noise.
    spanned = max(1, int((counts >= 2).sum()) - 1)
    whitening = fit_discriminant(x, codes, DiscriminantParams(shrinkage=params.shrinkage))
    lda = with_between_directions(whitening, x, codes, min(params.lda_dim, spanned))
    space = RankingSpace(
        params, whitening, lda, np.zeros(len(x)), np.zeros((0, 0)), snapshot_digest
    )
    works = space.project(x) if len(x) else np.zeros((0, 0))
    radius = np.zeros(len(x))
    for start in range(0, len(x), ROW_CHUNK):
        rows = np.arange(start, min(len(x), start + ROW_CHUNK))
        sims = works[rows] @ works.T
        sims[np.arange(len(rows)), rows] = -np.inf
        radius[rows] = neighbourhood_radius(sims, params.hubness_k)
    space.works, space.radius = works.astype(np.float32), radius
    return space
