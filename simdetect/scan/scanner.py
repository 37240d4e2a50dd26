"""Score suspects against an index: nearest works, and artists ranked by relative score.

The one scan implementation. Every caller (the `scan` command, the demo, evidence
reports and their verification, the HTTP service, audits) gets a `Scanner` from
`simdetect.scan.runner.open_scanner` and either hands it files (`scan_files`, embedded
here or by any `embed_files`-like callable, e.g. the Ray engine) or already embedded
images (`score_records`). Reproducibility, for evidence, is a flag of the scanner.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from simdetect.backbones.base import Backbone
from simdetect.defaults import DEFAULT_FAMILY_FPR
from simdetect.embed import EmbeddedBatch, embed_files
from simdetect.errors import UserError
from simdetect.index.references import ReferenceSet
from simdetect.index.store import IndexSnapshot
from simdetect.io.hashing import phash_distance
from simdetect.io.image_record import ImageRecord
from simdetect.io.images import LoadLimits
from simdetect.scan.calibrate import artist_table, load_or_compute
from simdetect.scan.copies import CopyStep, ImageSource, file_loader
from simdetect.scan.imitation import ImitationScoring
from simdetect.scan.ranking import ranking_for
from simdetect.scan.result import (
    SCHEMA_VERSION,
    ArtistScore,
    Match,
    ScanResult,
    _num,
    result_from_record,
)
from simdetect.scoring import per_artist_topk
from simdetect.scoring.calibration import DEFAULT_TARGET_FPR, Calibration, ScoringParams
from simdetect.scoring.contrastive import FamilyVerdict
from simdetect.scoring.hubness import csls, neighbourhood_radius
from simdetect.scoring.imitation import ImitationParams
from simdetect.scoring.ranking import RankingParams, RankingSpace

log = logging.getLogger(__name__)

__all__ = ["SCHEMA_VERSION", "ArtistScore", "Match", "ScanParams", "ScanResult", "Scanner"]

EmbedFn = Callable[..., Iterator[EmbeddedBatch]]

EXACT_SEARCH_LIMIT = 250_000
APPROX_NEIGHBOURS = 4096


@dataclass(frozen=True)
class ScanParams:
    top_k: int = 5
    target_fpr: float = DEFAULT_TARGET_FPR
    scoring: ScoringParams = field(default_factory=ScoringParams)
    copies: bool = True  # also give the copy verdict (simdetect.copies)
    reference: str | None = None  # a generator reference set stored with the index
    family_fpr: float = DEFAULT_FAMILY_FPR
    imitation: ImitationParams = field(default_factory=ImitationParams)
    # The space nearest works are ordered in (None: plain cosine, as before it existed).
    ranking: RankingParams | None = field(default_factory=RankingParams)


PLAIN_RANKING = "nearest works ordered by plain cosine"

Scored = tuple[list[ArtistScore], list[Match], FamilyVerdict | None]


class Scanner:
    """Holds the per-index lookups and calibration so each suspect costs one search."""

    def __init__(
        self,
        snapshot: IndexSnapshot,
        params: ScanParams | None = None,
        calibration: Calibration | None = None,
        *,
        reproducible: bool = False,
    ) -> None:
        self.snapshot = snapshot
        self.params = params or ScanParams()
        self.reproducible = reproducible
        if not 0 < self.params.target_fpr < 1:
            raise UserError(
                f"target false-positive rate must be in (0, 1), got {self.params.target_fpr}"
            )
        if not 0 < self.params.family_fpr < 1:
            raise UserError(
                f"family-wise false-positive rate must be in (0, 1), got {self.params.family_fpr}"
            )
        meta = snapshot.metadata
        self.table = artist_table(snapshot)
        self.calibration = calibration or load_or_compute(snapshot, self.table, self.params.scoring)
        self._paths = meta["path"].tolist()
        self._artists = meta["artist"].tolist()
        self._shas = meta["sha256"].tolist()
        self._phashes = meta["phash"].tolist()
        self._is_bg = (meta["role"] == "background").to_numpy()
        self._radii: Any = None  # approximate indexes: work radii computed on first use
        self.copies = CopyStep(snapshot, self.params.target_fpr) if self.params.copies else None
        # The contrastive score needs every indexed vector (projection, index null); an
        # approximately served index keeps the CSLS ranking and says so in `null`.
        self.imitation: ImitationScoring | None = None
        if self.calibration.calibrated and not snapshot.approximate:
            self.imitation = ImitationScoring.open(
                snapshot,
                self.table,
                self.params.imitation,
                self.params.reference,
                self.params.family_fpr,
                reproducible=reproducible,
            )
        elif self.params.reference:
            self.require_contrastive()
        # Nearest works are ordered in a space learned from the index's works where it has
        # one to learn from (`scoring.ranking`); otherwise by plain cosine.
        self.ranking: RankingSpace | None = None
        wanted = self.params.ranking
        if wanted is not None and self.calibration.calibrated and not snapshot.approximate:
            self.ranking = ranking_for(snapshot, self.table, wanted, reproducible=reproducible)

    def require_contrastive(self) -> ImitationScoring:
        """Refuses what needs contrastive scoring (a generator reference) where there is none."""
        if self.imitation is None:
            raise UserError(
                "a generator reference needs an index with at least two artists (or a "
                "background set) that is searched exactly"
            )
        return self.imitation

    def use_reference(self, reference: ReferenceSet) -> None:
        """Judge from now on against a reference the caller built (an audit's own batch)."""
        self.imitation = self.require_contrastive().with_reference(reference)

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
            "nearest_works": (
                PLAIN_RANKING if self.ranking is None else self.ranking.params.describe()
            ),
            "ranking_state": None if self.ranking is None else self.ranking.digest(),
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
            **(
                self.imitation.context()
                if self.imitation is not None
                else {
                    "reference": None,
                    "null": None,
                    "contrastive_method": None,
                    "imitation_state": None,
                    "family_fpr": self.params.family_fpr,
                    "family_threshold": None,
                }
            ),
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

    def score_vectors(self, vectors: np.ndarray, phashes: list[str] | None = None) -> list[Scored]:
        """(ranking, matches, family verdict) per vector; family is None when not scored."""
        if self.snapshot.count == 0 or len(vectors) == 0:
            return [([], [], None) for _ in range(len(vectors))]
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
        order = sims if self.ranking is None else self.ranking.scores(vectors)
        im = self.imitation
        if im is None:
            return [
                (
                    self._ranking(similarity[i], relative[i]),
                    self._matches(sims[i], hashes[i], order[i]),
                    None,
                )
                for i in range(len(vectors))
            ]
        contrastive, closeness = im.standing(vectors)
        return [
            (
                self._ranking(similarity[i], relative[i], contrastive[i]),
                self._matches(sims[i], hashes[i], order[i]),
                im.family(contrastive[i], None if closeness is None else closeness[i]),
            )
            for i in range(len(vectors))
        ]

    def _score_sparse(self, vectors: np.ndarray, phashes: list[str] | None) -> list[Scored]:
        """Large indexes: artists scored from the nearest works only (see scoring.sparse)."""
        from simdetect.scoring.sparse import RadiusCache, sparse_scores

        p = self.params.scoring
        if self._radii is None:
            self._radii = RadiusCache(self.snapshot, p.hubness_k, self.calibration.work_radius)
        sc = sparse_scores(self.snapshot, self.table, vectors, self._radii, p.k, p.hubness_k)
        hashes: list[str | None] = list(phashes) if phashes is not None else [None] * len(vectors)
        out: list[Scored] = []
        for i in range(len(vectors)):
            matches = self._matches_from(sc.labels[i], sc.sims[i], hashes[i])
            out.append((self._ranking(sc.similarity[i], sc.relative[i]), matches, None))
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

    def _ranking(
        self,
        similarity: np.ndarray,
        relative: np.ndarray,
        contrastive: np.ndarray | None = None,
    ) -> list[ArtistScore]:
        if contrastive is not None and self.imitation is not None:
            return self._contrastive_ranking(similarity, relative, contrastive)
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

    def _contrastive_ranking(
        self, similarity: np.ndarray, relative: np.ndarray, contrastive: np.ndarray
    ) -> list[ArtistScore]:
        """Ranked and decided by the contrastive score against the scan's null."""
        assert self.imitation is not None
        judge = self.imitation.judge
        ranking = []
        for a, name in enumerate(self.table.names):
            if self.table.background[a] or np.isnan(similarity[a]):
                continue
            j = judge.judge(contrastive, a, self.params.target_fpr)
            ranking.append(
                ArtistScore(
                    artist=name,
                    score=j.contrastive,
                    similarity=float(similarity[a]),
                    relative=_num(relative[a]),
                    percentile=j.percentile,
                    p_value=j.p_value,
                    n_impostors=len(judge.null.artists[a].scores),
                    genuine_percentile=j.genuine_percentile,
                    n_genuine=len(judge.genuine[a]) if a < len(judge.genuine) else 0,
                    decision=j.decision,
                    threshold=j.threshold,
                    target_fpr=self.params.target_fpr,
                    fpr_at_threshold=j.fpr_at_threshold,
                    n_works=int(self.table.counts[a]),
                    reason=j.reason,
                    contrastive=j.contrastive,
                    null=judge.null.kind,
                )
            )
        ranking.sort(
            key=lambda r: (-(r.score if r.score is not None else -math.inf), -r.similarity)
        )
        return ranking

    def _matches(self, sims: np.ndarray, query_phash: str | None, order: np.ndarray) -> list[Match]:
        """The top works by `order` (the ranking space's scores, or `sims` themselves),
        each shown with its plain cosine."""
        usable = np.where(self._is_bg | ~np.isfinite(sims), -np.inf, order)
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

    def copy_verdict(
        self, rec: ImageRecord, vector: np.ndarray, image: ImageSource | None = None
    ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """(copy, copy_check) for one embedded image; (None, None) when copies are off.

        ``image`` gives the pixels when the gate opens (an upload's bytes); by default
        the file at ``rec.path`` is read again.
        """
        if self.copies is None:
            return None, None
        return self.copies.check(rec, vector, image or file_loader(rec))

    def score_records(
        self,
        records: Sequence[ImageRecord],
        vectors: np.ndarray,
        note: str | None = None,
        images: Sequence[ImageSource] | None = None,
    ) -> list[ScanResult]:
        """Results for images already embedded (one batch: uploads, audit chunks, files)."""
        scored = self.score_vectors(vectors, [r.phash for r in records])
        note = note if note is not None else self.calibration.reason
        results = []
        for i, (rec, (ranking, matches, family)) in enumerate(zip(records, scored, strict=True)):
            result = result_from_record(rec, ranking, matches, note, family)
            result.copy, result.copy_check = self.copy_verdict(
                rec, vectors[i], images[i] if images is not None else None
            )
            results.append(result)
        return results

    def scan_files(
        self,
        paths: Iterable[str | os.PathLike[str]],
        backbone: Backbone,
        *,
        batch_size: int = 16,
        workers: int = 2,
        limits: LoadLimits | None = None,
        on_progress: Callable[[int], None] | None = None,
        embed: EmbedFn = embed_files,
    ) -> Iterator[ScanResult]:
        """One result per file (unreadable ones as error results), in the order embedded.

        `embed` says where embedding runs (this process, or the Ray engine). A
        reproducible scanner embeds every image alone: batch size changes the
        floating-point path through the model, and a re-check of some of the images must
        reproduce exactly the recorded numbers.
        """
        self.snapshot.require_fingerprint(backbone.fingerprint)
        if self.reproducible:
            batch_size, workers = 1, 1
        note = self.calibration.reason
        for batch in embed(
            paths,
            backbone,
            batch_size=batch_size,
            workers=workers,
            limits=limits,
            on_progress=on_progress,
        ):
            for skip in batch.skipped:
                yield ScanResult(suspect=skip.path, sha256=None, error=skip.reason)
            loaders = [file_loader(r, limits) for r in batch.records]
            yield from self.score_records(batch.records, batch.vectors, note, loaders)
