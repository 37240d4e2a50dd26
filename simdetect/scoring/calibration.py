"""Calibration: where a score falls among scores known to be impostors, and among genuine works.

A similarity alone cannot answer "how unusual is this?". For each artist A we score
every work in the index against A exactly as a suspect would be scored:

- the **impostor distribution** of A: every other artist's works (background included)
  scored against A *with their own artist left out of the index*. That models the
  suspect a platform sees most: an image in a style nobody in the index owns. Leaving
  only the work itself out would model impostors whose true author is indexed, which
  always score far below zero (their own artist wins the margin) and would let an
  unrelated image, close to nobody, pass as a match;
- the **genuine distribution** of A: A's own works scored against the rest of A
  (leave-one-out).

A suspect's relative score for A then gets a percentile and a p-value in A's impostor
distribution (with the +1 correction, so p is never 0 and P(p <= alpha) <= alpha for a
suspect exchangeable with the impostors), a percentile among A's genuine works, and a
decision at a target false-positive rate whose threshold is an order statistic of the
impostor scores.

Statistics depend on every vector in the index, so they are keyed by the index
snapshot digest and recomputed whenever the index changes: never silently stale. This
module only computes them (and turns them into bytes and back); keeping them beside the
index is `simdetect.index.sidecar`'s job, and choosing the stored or a fresh copy is the
scan runner's (`simdetect.scan.calibrate`).
"""

from __future__ import annotations

import io
import json
import logging
import math
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol

import numpy as np

from simdetect.defaults import DEFAULT_TARGET_FPR  # noqa: F401 (re-exported)
from simdetect.scoring.aggregate import DEFAULT_K, ArtistTable, per_artist_topk
from simdetect.scoring.hubness import DEFAULT_HUBNESS_K, csls, neighbourhood_radius

log = logging.getLogger(__name__)

CALIBRATION_VERSION = 1
ROW_CHUNK = 1024


def utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Calibratable(Protocol):
    """What calibration reads from an index: its vectors, its search, its identity."""

    @property
    def count(self) -> int: ...

    @property
    def approximate(self) -> bool: ...

    def vectors(self) -> np.ndarray: ...

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]: ...

    def snapshot_digest(self) -> str: ...


@dataclass(frozen=True)
class ScoringParams:
    """The knobs of scoring; part of every output so a result can be reproduced."""

    k: int = DEFAULT_K
    hubness_k: int = DEFAULT_HUBNESS_K

    def describe(self) -> str:
        return (
            f"similarity = mean cosine of the {self.k} most similar works of the artist; "
            f"relative = the same over CSLS-corrected similarities 2cos(q,x) - r(q) - r(x), "
            f"r = mean cosine to the {self.hubness_k} nearest indexed works"
        )


@dataclass
class Verdict:
    """Calibrated reading of one relative score for one artist."""

    percentile: float | None
    p_value: float | None
    n_impostors: int
    genuine_percentile: float | None
    n_genuine: int
    decision: bool | None
    threshold: float | None
    target_fpr: float
    fpr_at_threshold: float | None
    reason: str | None = None


@dataclass
class Calibration:
    snapshot_digest: str
    params: ScoringParams
    artist_names: list[str]
    work_radius: np.ndarray
    impostor: list[np.ndarray]
    genuine: list[np.ndarray]
    computed_at: str = field(default_factory=utc_now)
    seconds: float = 0.0
    version: int = CALIBRATION_VERSION

    @property
    def calibrated(self) -> bool:
        return len(self.artist_names) >= 2

    @property
    def reason(self) -> str | None:
        if self.calibrated:
            return None
        return (
            "uncalibrated: the index holds a single artist and no background, so there is no "
            "other style to compare with; add other artists or a background set "
            "(simdetect index add-tree ROOT --background)"
        )

    def verdict(self, artist: int, score: float | None, target_fpr: float) -> Verdict:
        imp = self.impostor[artist]
        gen = self.genuine[artist]
        n_imp, n_gen = len(imp), len(gen)
        if score is None or not self.calibrated or n_imp == 0:
            return Verdict(
                percentile=None,
                p_value=None,
                n_impostors=n_imp,
                genuine_percentile=None,
                n_genuine=n_gen,
                decision=None,
                threshold=None,
                target_fpr=target_fpr,
                fpr_at_threshold=None,
                reason=self.reason or "no impostor works to compare with",
            )
        below = int(np.searchsorted(imp, score, side="left"))
        at_or_above = n_imp - below
        p_value = (1 + at_or_above) / (1 + n_imp)
        genuine_pct = 100.0 * np.searchsorted(gen, score, side="left") / n_gen if n_gen else None
        m = math.floor(target_fpr * (n_imp + 1) - 1 + 1e-9)
        if m < 0:
            needed = math.ceil(1 / target_fpr) - 1
            return Verdict(
                percentile=100.0 * below / n_imp,
                p_value=p_value,
                n_impostors=n_imp,
                genuine_percentile=genuine_pct,
                n_genuine=n_gen,
                decision=None,
                threshold=None,
                target_fpr=target_fpr,
                fpr_at_threshold=None,
                reason=(
                    f"too few impostor works ({n_imp}) to decide at a {target_fpr:.2%} "
                    f"false-positive rate; at least {needed} are needed"
                ),
            )
        threshold = float(imp[n_imp - 1 - m])
        fpr = float(np.count_nonzero(imp > threshold)) / n_imp
        return Verdict(
            percentile=100.0 * below / n_imp,
            p_value=p_value,
            n_impostors=n_imp,
            genuine_percentile=genuine_pct,
            n_genuine=n_gen,
            decision=bool(score > threshold),
            threshold=threshold,
            target_fpr=target_fpr,
            fpr_at_threshold=fpr,
        )

    def to_bytes(self) -> bytes:
        meta = {
            "version": self.version,
            "snapshot_digest": self.snapshot_digest,
            "params": asdict(self.params),
            "artist_names": self.artist_names,
            "computed_at": self.computed_at,
            "seconds": self.seconds,
        }
        arrays: dict[str, Any] = {
            "meta": np.frombuffer(json.dumps(meta, ensure_ascii=False).encode("utf-8"), np.uint8),
            # float64, as computed: a scan that loads the stored calibration must give
            # exactly the numbers of the scan that computed it (evidence is re-checked).
            "work_radius": self.work_radius.astype(np.float64),
        }
        for i, (imp, gen) in enumerate(zip(self.impostor, self.genuine, strict=True)):
            arrays[f"imp_{i}"] = imp.astype(np.float64)
            arrays[f"gen_{i}"] = gen.astype(np.float64)
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, blob: bytes) -> Calibration:
        """Raises ValueError, KeyError or zipfile.BadZipFile for bytes that are not one."""
        with np.load(io.BytesIO(blob), allow_pickle=False) as data:
            meta = json.loads(bytes(data["meta"]).decode("utf-8"))
            n = len(meta["artist_names"])
            return cls(
                snapshot_digest=meta["snapshot_digest"],
                params=ScoringParams(**meta["params"]),
                artist_names=list(meta["artist_names"]),
                work_radius=data["work_radius"].astype(np.float64),
                impostor=[data[f"imp_{i}"].astype(np.float64) for i in range(n)],
                genuine=[data[f"gen_{i}"].astype(np.float64) for i in range(n)],
                computed_at=meta["computed_at"],
                seconds=float(meta["seconds"]),
                version=int(meta["version"]),
            )


def _similarity_rows(vectors: np.ndarray, rows: np.ndarray) -> np.ndarray:
    sims = vectors[rows] @ vectors.T
    sims = sims.astype(np.float64)
    sims[np.arange(len(rows)), rows] = -np.inf  # leave-one-out
    return sims


def work_radii(vectors: np.ndarray, hubness_k: int) -> np.ndarray:
    """Each indexed work's CSLS radius, computed leave-one-out."""
    n = len(vectors)
    radius = np.zeros(n, dtype=np.float64)
    for start in range(0, n, ROW_CHUNK):
        rows = np.arange(start, min(n, start + ROW_CHUNK))
        radius[rows] = neighbourhood_radius(_similarity_rows(vectors, rows), hubness_k)
    return radius


@dataclass
class LooScores:
    """Every work scored against every artist, shape (N, A).

    `similarity` and `relative` leave the work itself out; `relative_artist_out` also
    leaves the work's own artist out (NaN in its own column).
    """

    similarity: np.ndarray
    relative: np.ndarray
    relative_artist_out: np.ndarray


def loo_scores(
    vectors: np.ndarray, table: ArtistTable, radius: np.ndarray, params: ScoringParams
) -> LooScores:
    n, n_art = len(vectors), table.n_artists
    out = LooScores(np.zeros((n, n_art)), np.zeros((n, n_art)), np.zeros((n, n_art)))
    for start in range(0, n, ROW_CHUNK):
        rows = np.arange(start, min(n, start + ROW_CHUNK))
        s = _similarity_rows(vectors, rows)
        out.similarity[rows] = per_artist_topk(s, table, params.k)
        out.relative[rows] = per_artist_topk(csls(s, radius[rows], radius), table, params.k)
        # The same suspect if its own artist had never been indexed.
        own = table.codes[rows][:, None] == table.codes[None, :]
        s_out = np.where(own, -np.inf, s)
        corrected_out = csls(s_out, neighbourhood_radius(s_out, params.hubness_k), radius)
        per_out = per_artist_topk(corrected_out, table, params.k)
        per_out[np.arange(len(rows)), table.codes[rows]] = np.nan
        out.relative_artist_out[rows] = per_out
    return out


def compute_calibration(
    snapshot: Calibratable, table: ArtistTable, params: ScoringParams | None = None
) -> Calibration:
    params = params or ScoringParams()
    if snapshot.approximate:
        return _sampled_calibration(snapshot, table, params)
    start = time.perf_counter()
    vectors = snapshot.vectors().astype(np.float64)
    radius = work_radii(vectors, params.hubness_k) if len(vectors) > 1 else np.zeros(len(vectors))
    impostor: list[np.ndarray] = []
    genuine: list[np.ndarray] = []
    if table.n_artists >= 2:
        scores = loo_scores(vectors, table, radius, params)
        for a in range(table.n_artists):
            own = table.codes == a
            imp = scores.relative_artist_out[~own, a]
            gen = scores.relative[own, a]
            impostor.append(np.sort(imp[np.isfinite(imp)]))
            genuine.append(np.sort(gen[np.isfinite(gen)]))
    else:
        impostor = [np.zeros(0) for _ in table.names]
        genuine = [np.zeros(0) for _ in table.names]
    cal = Calibration(
        snapshot_digest=snapshot.snapshot_digest(),
        params=params,
        artist_names=list(table.names),
        work_radius=radius,
        impostor=impostor,
        genuine=genuine,
        seconds=time.perf_counter() - start,
    )
    log.info(
        "calibrated %d works × %d artists in %.1fs", len(vectors), table.n_artists, cal.seconds
    )
    return cal


def _sampled_calibration(
    snapshot: Calibratable, table: ArtistTable, params: ScoringParams
) -> Calibration:
    """Large indexes served approximately: distributions from a seeded sample of works."""
    from simdetect.scoring.sparse import sampled_distributions

    start = time.perf_counter()
    if table.n_artists >= 2:
        d = sampled_distributions(snapshot, table, params.k, params.hubness_k)
        radius, impostor, genuine = d.radius, d.impostor, d.genuine
    else:
        radius = np.full(snapshot.count, np.nan)
        impostor = [np.zeros(0) for _ in table.names]
        genuine = [np.zeros(0) for _ in table.names]
    cal = Calibration(
        snapshot_digest=snapshot.snapshot_digest(),
        params=params,
        artist_names=list(table.names),
        work_radius=radius,
        impostor=impostor,
        genuine=genuine,
        seconds=time.perf_counter() - start,
    )
    log.info("calibrated %d works from a seeded sample in %.1fs", snapshot.count, cal.seconds)
    return cal
