"""In-memory copy index: which indexed work, if any, is this image a copy of?

Three signals, all calibrated on the indexed works:

- ``phash``: Hamming distance of DCT hashes (query and its mirror image against each
  work); near-certain for re-encoded, resized or recoloured copies and free to compute;
- ``embedding``: best cosine similarity between whitened regional vectors; builds the
  short list and ranks, but does not decide: on one painter's works its null has a long
  tail (same-subject compositions), and with whitening fitted on the index itself its
  leave-one-out null is biased low for small indexes (as a deciding signal it made 13
  of 40 unedited Titian works false matches with 20-work halves);
- ``geometry``: fraction of local cells that match under one similarity transform
  (:mod:`simdetect.copies.geometry`), checked on the short list only; catches crops,
  rotations and collages, whose regional similarity overlaps same-painter non-copies.

A candidate is a copy when ``phash`` or ``geometry`` passes its threshold; each
threshold is the (1 − fpr/2) quantile of that signal's leave-one-out null (Bonferroni),
fitted robustly (:mod:`simdetect.copies.thresholds`). Candidates are ranked by the
strongest signal measured in null units (Gumbel z), so signals on different scales
compare fairly.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Collection, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from simdetect.copies.geometry import GeometryConfig, Placement, placement
from simdetect.copies.regions import RegionSet
from simdetect.copies.thresholds import GumbelFit, fit_gumbel
from simdetect.io.atomic import atomic_path, atomic_write_text

__all__ = ["CopyIndex", "CopyMatch", "Located", "MatcherConfig", "Whitening"]

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
_SIGNALS = ("phash", "embedding", "geometry")
_DECIDING = ("phash", "geometry")
# Floors on the fitted null's scale: a small index can have a near-zero spread. For
# geometry the floor is a few cells of a 14×13 map (random matches align ~5-10 cells).
_MIN_SCALE = {"phash": 1.0, "embedding": 0.01, "geometry": 0.02}
_MAX_PHASH_THRESHOLD = 10  # beyond this, 64-bit hashes of unrelated images start to meet
_LOCAL_SAMPLE = 60_000  # local vectors used to fit the local whitening


@dataclass(frozen=True)
class MatcherConfig:
    """Search knobs saved with the index (they change its scores)."""

    shortlist: int = 5
    whitening_shrinkage: float = 0.1
    max_calibration: int = 2000
    geometry: GeometryConfig = field(default_factory=GeometryConfig)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MatcherConfig:
        geo = GeometryConfig(**data.get("geometry", {}))
        rest = {k: v for k, v in data.items() if k != "geometry"}
        return cls(geometry=geo, **rest)


@dataclass(frozen=True)
class Whitening:
    """PCA whitening with shrinkage, fitted on indexed works only (never on queries)."""

    mean: np.ndarray
    projection: np.ndarray

    @classmethod
    def fit(cls, x: np.ndarray, shrinkage: float) -> Whitening:
        x = x.astype(np.float64)
        mean = x.mean(axis=0)
        cov = np.cov((x - mean).T) if len(x) > 1 else np.eye(x.shape[1])
        values, vectors = np.linalg.eigh(np.atleast_2d(cov))
        values = np.clip(values, 0.0, None)
        # Shrinking towards the mean eigenvalue keeps noise directions of a small
        # index from being blown up.
        scale = 1.0 / np.sqrt(values + shrinkage * max(float(values.mean()), 1e-12))
        return cls(mean.astype(np.float32), (vectors * scale).astype(np.float32))

    def apply(self, x: np.ndarray) -> np.ndarray:
        y = (x.astype(np.float32) - self.mean) @ self.projection
        y /= np.linalg.norm(y, axis=1, keepdims=True) + 1e-12
        return y.astype(np.float32, copy=False)


@dataclass
class CopyMatch:
    """One candidate source, with every signal so a report can show why."""

    source_id: int
    embedding_similarity: float
    phash_distance: int | None
    geometry: float
    score: float
    is_copy: bool
    decided_by: str  # "phash", "geometry", "phash+geometry" or "none"


@dataclass(frozen=True)
class Located:
    """Where a query sits on one indexed work: the evidence behind a geometry score.

    Positions are normalised by each image's long side (as the describer places its
    cells); ``mirrored`` says the query's mirror-image hash was the closer one.
    """

    geometry: float
    placement: Placement
    query_points: np.ndarray
    source_points: np.ndarray
    phash_distance: int
    mirrored: bool


@dataclass(frozen=True)
class _Query:
    regions: np.ndarray  # whitened
    local: list[tuple[np.ndarray, np.ndarray]]  # per scale: whitened vectors, positions
    phashes: list[str]


def _starts(owners: np.ndarray, n: int) -> np.ndarray:
    return np.searchsorted(owners, np.arange(n + 1))


class CopyIndex:
    """Region vectors of indexed works in a FAISS inner-product index, plus hashes."""

    def __init__(
        self,
        regions: np.ndarray,
        region_owners: np.ndarray,
        local: np.ndarray,
        local_positions: np.ndarray,
        local_scales: np.ndarray,
        local_owners: np.ndarray,
        phashes: list[str],
        region_whitening: Whitening,
        local_whitening: Whitening,
        config: MatcherConfig,
        target_fpr: float,
        fits: dict[str, GumbelFit] | None = None,
    ) -> None:
        self.n_works = len(phashes)
        for name, owners in (("region", region_owners), ("local", local_owners)):
            if len(owners) and (np.any(np.diff(owners) < 0) or owners[-1] >= self.n_works):
                raise ValueError(f"{name} owners must be sorted ids below {self.n_works}")
        self.regions = regions.astype(np.float32)
        self.region_owners = region_owners.astype(np.int64)
        self.local = local.astype(np.float16)
        self.local_positions = local_positions.astype(np.float32)
        self.local_scales = local_scales.astype(np.int8)
        self.local_owners = local_owners.astype(np.int64)
        self.phashes = list(phashes)
        self.region_whitening = region_whitening
        self.local_whitening = local_whitening
        self.config = config
        self.target_fpr = target_fpr
        self.n_scales = int(self.local_scales.max()) + 1 if len(self.local_scales) else 1
        self._region_starts = _starts(self.region_owners, self.n_works)
        self._local_starts = _starts(self.local_owners, self.n_works)
        self._whitened = region_whitening.apply(self.regions)
        self._faiss = faiss.IndexFlatIP(self._whitened.shape[1])
        self._faiss.add(self._whitened)
        self._local_w = local_whitening.apply(self.local).astype(np.float16)
        self._phash_ints = np.array([int(h, 16) for h in self.phashes], dtype=np.uint64)
        self.fits: dict[str, GumbelFit] = fits if fits is not None else self._calibrate()

    # ------------------------------------------------------------------ thresholds
    @property
    def signal_fpr(self) -> float:
        return self.target_fpr / len(_DECIDING)

    @property
    def threshold(self) -> float:
        """Geometric-match fraction at or above which a candidate is a copy."""
        return self.fits["geometry"].quantile(1.0 - self.signal_fpr)

    @property
    def embedding_threshold(self) -> float:
        """Regional similarity as unusual as the copy threshold (reported, not deciding)."""
        return self.fits["embedding"].quantile(1.0 - self.signal_fpr)

    @property
    def phash_threshold(self) -> int:
        """Largest Hamming distance that counts as a copy (the null is fitted on −distance)."""
        limit = -self.fits["phash"].quantile(1.0 - self.signal_fpr)
        return int(min(_MAX_PHASH_THRESHOLD, max(-1, math.ceil(limit) - 1)))

    # ------------------------------------------------------------------ building
    @classmethod
    def build(
        cls,
        region_sets: Sequence[RegionSet],
        phashes: Sequence[str],
        target_fpr: float = 0.01,
        config: MatcherConfig | None = None,
    ) -> CopyIndex:
        """Index the works and calibrate the thresholds on them (leave-one-out)."""
        if len(region_sets) != len(phashes):
            raise ValueError(f"{len(region_sets)} region sets but {len(phashes)} hashes")
        if len(region_sets) < 2:
            raise ValueError("a copy index needs at least two works to calibrate a threshold")
        if not 0.0 < target_fpr < 1.0:
            raise ValueError(f"target_fpr must be in (0, 1), got {target_fpr}")
        config = config or MatcherConfig()
        regions = np.concatenate([s.regions for s in region_sets])
        local = np.concatenate([s.local for s in region_sets])
        region_owners = np.concatenate(
            [np.full(len(s.regions), i, np.int64) for i, s in enumerate(region_sets)]
        )
        local_owners = np.concatenate(
            [np.full(len(s.local), i, np.int64) for i, s in enumerate(region_sets)]
        )
        rng = np.random.default_rng(0)
        sample = (
            local
            if len(local) <= _LOCAL_SAMPLE
            else local[np.sort(rng.choice(len(local), _LOCAL_SAMPLE, replace=False))]
        )
        return cls(
            regions=regions,
            region_owners=region_owners,
            local=local,
            local_positions=np.concatenate([s.positions for s in region_sets]),
            local_scales=np.concatenate([s.scale_ids for s in region_sets]),
            local_owners=local_owners,
            phashes=list(phashes),
            region_whitening=Whitening.fit(regions, config.whitening_shrinkage),
            local_whitening=Whitening.fit(sample.astype(np.float32), config.whitening_shrinkage),
            config=config,
            target_fpr=target_fpr,
        )

    def _calibrate(self) -> dict[str, GumbelFit]:
        """Each work queried against all the others: the null a non-copy sees."""
        ids = np.arange(self.n_works)
        if self.n_works > self.config.max_calibration:
            ids = np.sort(
                np.random.default_rng(0).choice(
                    self.n_works, self.config.max_calibration, replace=False
                )
            )
        nulls: dict[str, list[float]] = {s: [] for s in _SIGNALS}
        for i in ids:
            query = self._stored_query(int(i))
            dists = self._phash_distances(query.phashes)
            dists[i] = 64
            nulls["phash"].append(-float(dists.min()))
            sims = self._owner_similarities(query.regions, exclude={int(i)})
            nulls["embedding"].append(max(sims.values()))
            shortlist = sorted(sims, key=sims.__getitem__, reverse=True)[: self.config.shortlist]
            nulls["geometry"].append(max(self._geometry(query, c) for c in shortlist))
        fits = {s: fit_gumbel(np.array(nulls[s]), min_scale=_MIN_SCALE[s]) for s in _SIGNALS}
        log.info("copy index calibrated on %d works: %s", len(ids), fits)
        return fits

    # ------------------------------------------------------------------ scoring
    def _stored_query(self, owner: int) -> _Query:
        """An indexed work as a query (for leave-one-out calibration)."""
        r0, r1 = self._region_starts[owner], self._region_starts[owner + 1]
        l0, l1 = self._local_starts[owner], self._local_starts[owner + 1]
        return _Query(
            regions=self._whitened[r0:r1],
            local=self._split_local(
                self._local_w[l0:l1], self.local_positions[l0:l1], self.local_scales[l0:l1]
            ),
            phashes=[self.phashes[owner]],
        )

    def _split_local(
        self, vectors: np.ndarray, positions: np.ndarray, scales: np.ndarray
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        return [
            (vectors[scales == k].astype(np.float32), positions[scales == k])
            for k in range(self.n_scales)
        ]

    def phash_distances(self, query_phashes: Sequence[str]) -> np.ndarray:
        """Each work's Hamming distance to the nearest of the query's hashes."""
        return self._phash_distances(query_phashes)

    def _phash_distances(self, query_phashes: Sequence[str]) -> np.ndarray:
        best = np.full(self.n_works, 64, dtype=np.int64)
        for h in query_phashes:
            x = np.bitwise_xor(self._phash_ints, np.uint64(int(h, 16)))
            bits = np.unpackbits(x.view(np.uint8).reshape(-1, 8), axis=1).sum(axis=1)
            best = np.minimum(best, bits.astype(np.int64))
        return best

    def _owner_similarities(
        self, regions: np.ndarray, exclude: Collection[int]
    ) -> dict[int, float]:
        """Best region-pair similarity per work, for the works FAISS returns."""
        per_work = max(1, int(np.diff(self._region_starts).max()))
        k = min(self._faiss.ntotal, per_work * (self.config.shortlist + len(exclude) + 1) * 4)
        sims, rows = self._faiss.search(np.ascontiguousarray(regions, dtype=np.float32), k)
        best: dict[int, float] = {}
        for s, r in zip(sims.ravel(), rows.ravel(), strict=True):
            if r < 0:
                continue
            owner = int(self.region_owners[r])
            if owner in exclude:
                continue
            if s > best.get(owner, -2.0):
                best[owner] = float(s)
        if not best:  # every returned row was excluded: fall back to an exact pass
            for owner in range(self.n_works):
                if owner not in exclude:
                    best[owner] = self._similarity(regions, owner)
        return best

    def _similarity(self, regions: np.ndarray, owner: int) -> float:
        r0, r1 = self._region_starts[owner], self._region_starts[owner + 1]
        return float((regions @ self._whitened[r0:r1].T).max())

    def _geometry(self, query: _Query, owner: int) -> float:
        return self._placed(query, owner)[0]

    def _placed(self, query: _Query, owner: int) -> tuple[float, Placement, np.ndarray, np.ndarray]:
        """The best-placed scale pair between a query and one work: its geometry score
        (the fraction of :func:`~simdetect.copies.geometry.inlier_fraction`), the
        transform and the inlier positions on both images."""
        l0, l1 = self._local_starts[owner], self._local_starts[owner + 1]
        target = self._split_local(
            self._local_w[l0:l1], self.local_positions[l0:l1], self.local_scales[l0:l1]
        )
        best: tuple[float, Placement, np.ndarray, np.ndarray] | None = None
        for a in range(len(query.local)):
            for b in range(len(target)):
                if a and b:  # two reduced views add little over the full-scale pairs
                    continue
                qa, qp = query.local[a]
                ta, tp = target[b]
                found = placement(qa, qp, ta, tp, self.config.geometry)
                if best is None or found[0] > best[0]:
                    best = found
        assert best is not None
        return best

    def locate(self, query_regions: RegionSet, query_phashes: Sequence[str], owner: int) -> Located:
        """The best-placed scale pair between a query and one work, with its inliers."""
        query = self._prepare(query_regions, query_phashes)
        best = self._placed(query, owner)
        dists = [bin(int(self._phash_ints[owner]) ^ int(h, 16)).count("1") for h in query.phashes]
        nearest = int(np.argmin(dists))
        return Located(
            geometry=best[0],
            placement=best[1],
            query_points=best[2],
            source_points=best[3],
            phash_distance=int(dists[nearest]),
            mirrored=nearest > 0,
        )

    def p_values(self, phash_distance: int, geometry: float) -> dict[str, float]:
        """Tail probability of each deciding signal under its fitted leave-one-out null."""
        return {
            "phash": self.fits["phash"].tail(-float(phash_distance)),
            "geometry": self.fits["geometry"].tail(geometry),
        }

    def _prepare(self, query: RegionSet, phashes: Sequence[str]) -> _Query:
        return _Query(
            regions=self.region_whitening.apply(query.regions),
            local=self._split_local(
                self.local_whitening.apply(query.local), query.positions, query.scale_ids
            ),
            phashes=list(phashes),
        )

    def search(
        self,
        query_regions: RegionSet,
        query_phashes: Sequence[str],
        top_k: int = 5,
        exclude: Collection[int] = (),
        extra: Collection[int] = (),
    ) -> list[CopyMatch]:
        """Best candidate sources, strongest first.

        ``query_phashes`` should hold the hash of the query and of its mirror image.
        ``exclude`` drops works from consideration (e.g. a collage's known other tiles).
        ``extra`` adds candidates found by other means (a caller's nearest works by
        another descriptor), checked exactly like the short list.
        """
        query = self._prepare(query_regions, query_phashes)
        exclude = set(exclude)
        dists = self._phash_distances(query.phashes)
        sims = self._owner_similarities(query.regions, exclude)
        shortlist = sorted(sims, key=sims.__getitem__, reverse=True)[: self.config.shortlist]
        hash_hits = [int(i) for i in np.flatnonzero(dists <= self.phash_threshold)]
        more = [int(i) for i in (*hash_hits, *extra) if int(i) not in exclude]
        candidates = list(dict.fromkeys(shortlist + more))
        z_needed = GumbelFit.z_at(self.signal_fpr)
        matches = []
        for c in candidates:
            sim = sims[c] if c in sims else self._similarity(query.regions, c)
            geo = self._geometry(query, c)
            fired = []
            if dists[c] <= self.phash_threshold:
                fired.append("phash")
            if geo >= self.threshold:
                fired.append("geometry")
            score = max(
                self.fits["phash"].z(-float(dists[c])),
                self.fits["embedding"].z(sim),
                self.fits["geometry"].z(geo),
            )
            matches.append(
                CopyMatch(
                    source_id=c,
                    embedding_similarity=sim,
                    phash_distance=int(dists[c]),
                    geometry=geo,
                    score=score / z_needed,
                    is_copy=bool(fired),
                    decided_by="+".join(fired) or "none",
                )
            )
        matches.sort(key=lambda m: (not m.is_copy, -m.score))
        return matches[:top_k]

    # ------------------------------------------------------------------ persistence
    _ARRAYS = (
        "regions",
        "region_owners",
        "local",
        "local_positions",
        "local_scales",
        "local_owners",
    )

    def save(self, directory: Path) -> None:
        """Arrays as .npy and everything else as JSON, each file replaced atomically."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        arrays = {name: getattr(self, name) for name in self._ARRAYS}
        arrays.update(
            {
                "region_whitening_mean": self.region_whitening.mean,
                "region_whitening_projection": self.region_whitening.projection,
                "local_whitening_mean": self.local_whitening.mean,
                "local_whitening_projection": self.local_whitening.projection,
            }
        )
        for name, array in arrays.items():
            with atomic_path(directory / f"{name}.npy") as tmp:
                np.save(tmp, array, allow_pickle=False)
        meta = {
            "format_version": FORMAT_VERSION,
            "target_fpr": self.target_fpr,
            "config": self.config.to_dict(),
            "fits": {k: asdict(v) for k, v in self.fits.items()},
            "thresholds": {
                "geometry": self.threshold,
                "phash": self.phash_threshold,
                "embedding_reported": self.embedding_threshold,
            },
            "phashes": self.phashes,
        }
        # Written last: a directory without it is an unfinished save.
        atomic_write_text(directory / "copy-index.json", json.dumps(meta, indent=1) + "\n")

    @classmethod
    def load(cls, directory: Path) -> CopyIndex:
        directory = Path(directory)
        meta = json.loads((directory / "copy-index.json").read_text(encoding="utf-8"))
        if meta.get("format_version") != FORMAT_VERSION:
            raise ValueError(
                f"{directory}: unsupported copy index format {meta.get('format_version')!r}"
            )

        def arr(name: str) -> np.ndarray:
            return np.load(directory / f"{name}.npy", allow_pickle=False)

        return cls(
            **{name: arr(name) for name in cls._ARRAYS},
            phashes=list(meta["phashes"]),
            region_whitening=Whitening(
                arr("region_whitening_mean"), arr("region_whitening_projection")
            ),
            local_whitening=Whitening(
                arr("local_whitening_mean"), arr("local_whitening_projection")
            ),
            config=MatcherConfig.from_dict(meta["config"]),
            target_fpr=float(meta["target_fpr"]),
            fits={k: GumbelFit(**v) for k, v in meta["fits"].items()},
        )
