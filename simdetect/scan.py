"""Score suspect images against an index: nearest works, and artists ranked by relative score."""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from simdetect.backbones.base import Backbone
from simdetect.embed import embed_files
from simdetect.index.store import IndexSnapshot
from simdetect.io.hashing import phash_distance
from simdetect.io.images import LoadLimits
from simdetect.scoring import ArtistTable, per_artist_topk
from simdetect.scoring.calibration import (
    DEFAULT_TARGET_FPR,
    Calibration,
    ScoringParams,
    load_or_compute,
)
from simdetect.scoring.hubness import csls, neighbourhood_radius

log = logging.getLogger(__name__)

SCHEMA_VERSION = 2
EXACT_SEARCH_LIMIT = 250_000
APPROX_NEIGHBOURS = 4096


@dataclass
class ArtistScore:
    """One artist's scores for one suspect; README documents every field."""

    artist: str
    score: float | None
    similarity: float
    relative: float | None
    percentile: float | None
    p_value: float | None
    n_impostors: int
    genuine_percentile: float | None
    n_genuine: int
    decision: bool | None
    threshold: float | None
    target_fpr: float
    fpr_at_threshold: float | None
    n_works: int
    reason: str | None = None


@dataclass
class Match:
    path: str
    artist: str
    similarity: float
    sha256: str
    phash_distance: int | None


@dataclass
class ScanResult:
    """One suspect's result; `to_json` is the stable JSONL schema (see README)."""

    suspect: str
    sha256: str | None
    ranking: list[ArtistScore] = field(default_factory=list)
    matches: list[Match] = field(default_factory=list)
    width: int | None = None
    height: int | None = None
    format: str | None = None
    size_bytes: int | None = None
    phash: str | None = None
    error: str | None = None
    note: str | None = None

    def to_json(self, context: dict[str, Any]) -> dict[str, Any]:
        row: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "suspect": self.suspect,
            "sha256": self.sha256,
            "ranking": [_clean(asdict(r)) for r in self.ranking],
            "matches": [_clean(asdict(m)) for m in self.matches],
            "width": self.width,
            "height": self.height,
            "format": self.format,
            "size_bytes": self.size_bytes,
            "phash": self.phash,
            "error": self.error,
            "note": self.note,
        }
        row.update(context)
        return row


def _clean(d: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, float):
            v = None if math.isnan(v) else round(v, 6)
        out[k] = v
    return out


def _num(x: float) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


@dataclass(frozen=True)
class ScanParams:
    top_k: int = 5
    target_fpr: float = DEFAULT_TARGET_FPR
    scoring: ScoringParams = field(default_factory=ScoringParams)


class Scanner:
    """Holds the per-index lookups and calibration so each suspect costs one search."""

    def __init__(
        self,
        snapshot: IndexSnapshot,
        params: ScanParams | None = None,
        calibration: Calibration | None = None,
    ) -> None:
        self.snapshot = snapshot
        self.params = params or ScanParams()
        if not 0 < self.params.target_fpr < 1:
            raise ValueError(
                f"target false-positive rate must be in (0, 1), got {self.params.target_fpr}"
            )
        meta = snapshot.metadata
        self.table = ArtistTable.build(meta["artist"].tolist(), meta["role"].tolist())
        self.calibration = calibration or load_or_compute(snapshot, self.table, self.params.scoring)
        self._paths = meta["path"].tolist()
        self._artists = meta["artist"].tolist()
        self._shas = meta["sha256"].tolist()
        self._phashes = meta["phash"].tolist()
        self._is_bg = (meta["role"] == "background").to_numpy()
        self._radii: Any = None  # approximate indexes: work radii computed on first use

    def context(self) -> dict[str, Any]:
        """Fields added to every output row so a row can be traced to its method and index."""
        m = self.snapshot.manifest
        cal = self.calibration
        background = [
            n for n, bg in zip(self.table.names, self.table.background, strict=True) if bg
        ]
        return {
            "backbone": m.fingerprint.name,
            "fingerprint": m.fingerprint.digest(),
            "index_generation": m.generation,
            "index_snapshot": self.snapshot.snapshot_digest(),
            "score_method": self.params.scoring.describe(),
            "calibration": {
                "state": "calibrated" if cal.calibrated else "uncalibrated",
                "reason": cal.reason,
                "relative_to": {
                    "artists": [n for n in self.table.names if n not in background],
                    "background": background,
                },
                "impostors": (
                    "every other indexed artist's works (background included), each scored "
                    "with its own artist left out of the index"
                ),
                "genuine": "the artist's own works, each scored with itself left out",
                "computed_at": cal.computed_at,
                "target_fpr": self.params.target_fpr,
            },
        }

    def _full_similarities(self, vectors: np.ndarray) -> np.ndarray:
        snap = self.snapshot
        if snap.count <= EXACT_SEARCH_LIMIT:
            return vectors.astype(np.float64) @ snap.vectors().T.astype(np.float64)
        sims, labels = snap.search(vectors, APPROX_NEIGHBOURS)
        full = np.full((len(vectors), snap.count), -np.inf)
        for row, (s, lab) in enumerate(zip(sims, labels, strict=True)):
            ok = lab >= 0
            full[row, lab[ok]] = s[ok]
        return full

    def score_vectors(
        self, vectors: np.ndarray, phashes: list[str] | None = None
    ) -> list[tuple[list[ArtistScore], list[Match]]]:
        if self.snapshot.count == 0 or len(vectors) == 0:
            return [([], []) for _ in range(len(vectors))]
        if self.snapshot.approximate:
            return self._score_sparse(vectors, phashes)
        p = self.params.scoring
        sims = self._full_similarities(vectors)
        similarity = per_artist_topk(sims, self.table, p.k)
        corrected = csls(
            sims, neighbourhood_radius(sims, p.hubness_k), self.calibration.work_radius
        )
        relative = per_artist_topk(corrected, self.table, p.k)
        hashes: list[str | None] = list(phashes) if phashes is not None else [None] * len(vectors)
        return [
            (self._ranking(similarity[i], relative[i]), self._matches(sims[i], hashes[i]))
            for i in range(len(vectors))
        ]

    def _score_sparse(
        self, vectors: np.ndarray, phashes: list[str] | None
    ) -> list[tuple[list[ArtistScore], list[Match]]]:
        """Large indexes: artists scored from the nearest works only (see scoring.sparse)."""
        from simdetect.scoring.sparse import RadiusCache, sparse_scores

        p = self.params.scoring
        if self._radii is None:
            self._radii = RadiusCache(self.snapshot, p.hubness_k, self.calibration.work_radius)
        sc = sparse_scores(self.snapshot, self.table, vectors, self._radii, p.k, p.hubness_k)
        hashes: list[str | None] = list(phashes) if phashes is not None else [None] * len(vectors)
        out = []
        for i in range(len(vectors)):
            matches = self._matches_from(sc.labels[i], sc.sims[i], hashes[i])
            out.append((self._ranking(sc.similarity[i], sc.relative[i]), matches))
        return out

    def _matches_from(
        self, labels: np.ndarray, sims: np.ndarray, query_phash: str | None
    ) -> list[Match]:
        keep = [j for j in range(len(labels)) if not self._is_bg[labels[j]]]
        keep.sort(key=lambda j: -sims[j])
        return [
            Match(
                path=self._paths[i],
                artist=self._artists[i],
                similarity=float(sims[j]),
                sha256=self._shas[i],
                phash_distance=(
                    phash_distance(query_phash, self._phashes[i]) if query_phash else None
                ),
            )
            for j in keep[: self.params.top_k]
            for i in [int(labels[j])]
        ]

    def _ranking(self, similarity: np.ndarray, relative: np.ndarray) -> list[ArtistScore]:
        ranking = []
        for a, name in enumerate(self.table.names):
            if self.table.background[a] or np.isnan(similarity[a]):
                continue
            # With nothing else indexed, "relative" would only compare the artist with
            # itself; better no number than one that claims more than it is.
            rel = _num(relative[a]) if self.calibration.calibrated else None
            v = self.calibration.verdict(a, rel, self.params.target_fpr)
            ranking.append(
                ArtistScore(
                    artist=name,
                    score=rel,
                    similarity=float(similarity[a]),
                    relative=rel,
                    percentile=v.percentile,
                    p_value=v.p_value,
                    n_impostors=v.n_impostors,
                    genuine_percentile=v.genuine_percentile,
                    n_genuine=v.n_genuine,
                    decision=v.decision,
                    threshold=v.threshold,
                    target_fpr=v.target_fpr,
                    fpr_at_threshold=v.fpr_at_threshold,
                    n_works=int(self.table.counts[a]),
                    reason=v.reason,
                )
            )
        ranking.sort(
            key=lambda r: (-(r.relative if r.relative is not None else -math.inf), -r.similarity)
        )
        return ranking

    def _matches(self, sims: np.ndarray, query_phash: str | None) -> list[Match]:
        usable = np.where(self._is_bg | ~np.isfinite(sims), -np.inf, sims)
        k = min(self.params.top_k, int(np.isfinite(usable).sum()))
        if k <= 0:
            return []
        top = np.argpartition(-usable, k - 1)[:k]
        top = top[np.argsort(-usable[top], kind="stable")]
        return [
            Match(
                path=self._paths[i],
                artist=self._artists[i],
                similarity=float(sims[i]),
                sha256=self._shas[i],
                phash_distance=(
                    phash_distance(query_phash, self._phashes[i]) if query_phash else None
                ),
            )
            for i in top
        ]

    def scan_files(
        self,
        paths: Iterable[str | os.PathLike[str]],
        backbone: Backbone,
        *,
        batch_size: int = 16,
        workers: int = 2,
        limits: LoadLimits | None = None,
        on_progress: Callable[[int], None] | None = None,
    ) -> Iterator[ScanResult]:
        self.snapshot.require_fingerprint(backbone.fingerprint)
        note = self.calibration.reason
        for batch in embed_files(
            paths,
            backbone,
            batch_size=batch_size,
            workers=workers,
            limits=limits,
            on_progress=on_progress,
        ):
            for skip in batch.skipped:
                yield ScanResult(suspect=skip.path, sha256=None, error=skip.reason)
            scored = self.score_vectors(batch.vectors, [r.phash for r in batch.records])
            for rec, (ranking, matches) in zip(batch.records, scored, strict=True):
                yield ScanResult(
                    suspect=rec.path,
                    sha256=rec.sha256,
                    ranking=ranking,
                    matches=matches,
                    width=rec.width,
                    height=rec.height,
                    format=rec.format,
                    size_bytes=rec.size_bytes,
                    phash=rec.phash,
                    note=note,
                )
