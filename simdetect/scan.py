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
from simdetect.scoring import DEFAULT_K, ArtistTable, margin_over_others, topk_mean_by_artist

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
EXACT_SEARCH_LIMIT = 250_000


@dataclass
class ArtistScore:
    artist: str
    score: float | None
    similarity: float
    n_works: int


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
    return {
        k: (
            None
            if isinstance(v, float) and math.isnan(v)
            else (round(v, 6) if isinstance(v, float) else v)
        )
        for k, v in d.items()
    }


@dataclass(frozen=True)
class ScanParams:
    top_k: int = 5
    artist_k: int = DEFAULT_K


class Scanner:
    """Holds the per-index lookups so scoring many suspects costs one search each."""

    def __init__(self, snapshot: IndexSnapshot, params: ScanParams | None = None) -> None:
        self.snapshot = snapshot
        self.params = params or ScanParams()
        meta = snapshot.metadata
        self.table = ArtistTable.build(meta["artist"].tolist(), meta["role"].tolist())
        self._paths = meta["path"].tolist()
        self._artists = meta["artist"].tolist()
        self._shas = meta["sha256"].tolist()
        self._phashes = meta["phash"].tolist()
        self._is_bg = (meta["role"] == "background").to_numpy()

    def context(self) -> dict[str, Any]:
        """Fields added to every output row so a row can be traced to its method and index."""
        m = self.snapshot.manifest
        return {
            "backbone": m.fingerprint.name,
            "fingerprint": m.fingerprint.digest(),
            "index_generation": m.generation,
            "index_snapshot": self.snapshot.snapshot_digest(),
            "score_method": (
                f"top{self.params.artist_k}-mean similarity minus mean of other artists"
            ),
        }

    def score_vectors(
        self, vectors: np.ndarray, phashes: list[str] | None = None
    ) -> list[tuple[list[ArtistScore], list[Match]]]:
        snap = self.snapshot
        if snap.count == 0:
            return [([], []) for _ in range(len(vectors))]
        k = snap.count if snap.count <= EXACT_SEARCH_LIMIT else max(4096, self.params.top_k)
        sims, labels = snap.search(vectors, k)
        hashes: list[str | None] = list(phashes) if phashes is not None else [None] * len(vectors)
        return [
            self._score_one(row_sims, row_labels, h)
            for row_sims, row_labels, h in zip(sims, labels, hashes, strict=True)
        ]

    def _score_one(
        self, sims: np.ndarray, labels: np.ndarray, query_phash: str | None
    ) -> tuple[list[ArtistScore], list[Match]]:
        per_artist = topk_mean_by_artist(sims, labels, self.table, self.params.artist_k)
        relative = margin_over_others(per_artist)
        ranking = []
        for i, name in enumerate(self.table.names):
            if self.table.background[i] or np.isnan(per_artist[i]):
                continue
            rel = relative[i]
            ranking.append(
                ArtistScore(
                    artist=name,
                    score=None if np.isnan(rel) else float(rel),
                    similarity=float(per_artist[i]),
                    n_works=int(self.table.counts[i]),
                )
            )
        ranking.sort(
            key=lambda r: (-(r.score if r.score is not None else -math.inf), -r.similarity)
        )
        matches: list[Match] = []
        for s, lab in zip(sims, labels, strict=True):
            if lab < 0 or self._is_bg[lab]:
                continue
            matches.append(
                Match(
                    path=self._paths[lab],
                    artist=self._artists[lab],
                    similarity=float(s),
                    sha256=self._shas[lab],
                    phash_distance=(
                        phash_distance(query_phash, self._phashes[lab]) if query_phash else None
                    ),
                )
            )
            if len(matches) >= self.params.top_k:
                break
        return ranking, matches

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
        single = len(self.table.names) - int(self.table.background.sum()) <= 1 and not bool(
            self.table.background.any()
        )
        note = (
            "only one artist and no background in the index: scores cannot be relative "
            "to other artists (uncalibrated)"
            if single
            else None
        )
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
            scored = (
                self.score_vectors(batch.vectors, [r.phash for r in batch.records])
                if batch.records
                else []
            )
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
