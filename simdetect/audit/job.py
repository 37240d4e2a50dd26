"""The batch audit: stream a source through embedding and scoring into chunked Parquet.

Inputs are cut into chunks of `chunk_rows` consecutive source entries. Each chunk is
embedded by one call of the (injectable) embedding engine, scored, written as one
chunk file, and only then counted in the checkpoint. A chunk's rows therefore depend
only on its inputs, the index and the settings — never on where an earlier run was
killed — which is what makes a resumed output identical to an uninterrupted one.
Memory is one chunk of rows plus the engine's decode window, whatever the source size.
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

from simdetect.audit import checkpoint as ckpt
from simdetect.audit.batch_reference import (
    DEFAULT_BATCH_REFERENCE_SIZE,
    batch_reference_for,
    minimum_batch,
)
from simdetect.audit.checkpoint import AuditStateError, Checkpoint
from simdetect.audit.sources import AuditInput, count_inputs, describe_source, iter_source
from simdetect.audit.summary import AuditSummary, SummaryFiles, write_summary
from simdetect.audit.writer import assemble, read_metadata, rows_to_table, write_chunk
from simdetect.backbones.base import Backbone
from simdetect.defaults import DEFAULT_FAMILY_FPR
from simdetect.embed import EmbeddedBatch, embed_files
from simdetect.errors import UserError
from simdetect.index.build import backbone_for_index
from simdetect.index.lock import IndexLock, IndexLocked
from simdetect.index.references import is_batch
from simdetect.index.store import IndexSnapshot, open_index
from simdetect.io.image_record import ImageRecord
from simdetect.io.images import DEFAULT_MAX_PIXELS, LoadLimits
from simdetect.io.names import text_name
from simdetect.outputs import copy_columns
from simdetect.scan import ArtistScore, Match, Scanner, ScanParams, open_scanner
from simdetect.scan.copies import file_loader
from simdetect.scoring.calibration import DEFAULT_TARGET_FPR
from simdetect.scoring.contrastive import FamilyVerdict

__all__ = ["AuditOptions", "AuditOutcome", "EmbedFn", "run_audit"]

log = logging.getLogger(__name__)

# embed(paths, backbone, *, batch_size, workers, limits, on_progress) -> Iterator[EmbeddedBatch],
# with embed_files' contract: batches cover the paths once each, in input order.
EmbedFn = Callable[..., Iterator[EmbeddedBatch]]
ProgressFn = Callable[[int], None]

DECIMALS = 6  # as in scan rows: stable across platforms' last-bit float differences


@dataclass(frozen=True)
class AuditOptions:
    """Settings of one audit; all but `workers` must match for a resume."""

    top_artists: int = 5
    target_fpr: float = DEFAULT_TARGET_FPR
    batch_size: int = 32
    workers: int = 2
    chunk_rows: int = 4096
    max_pixels: int = DEFAULT_MAX_PIXELS
    copies: bool = True  # the copy verdict per row (copy_* columns)
    reference: str | None = None  # a stored generator reference set, or "batch"
    family_fpr: float = DEFAULT_FAMILY_FPR
    batch_reference_size: int = DEFAULT_BATCH_REFERENCE_SIZE  # first inputs, for "batch"

    def check(self) -> None:
        if self.top_artists < 1:
            raise UserError("{} must be at least 1", "top_artists")
        if not 0 < self.target_fpr < 1:
            raise UserError("{} must be between 0 and 1 (for example 0.01)", "target_fpr")
        if not 0 < self.family_fpr < 1:
            raise UserError("{} must be between 0 and 1 (for example 0.05)", "family_fpr")
        if is_batch(self.reference):
            least = minimum_batch(self.target_fpr, self.family_fpr)
            if self.batch_reference_size < least:
                raise UserError(
                    f"a batch reference needs a sample of at least {least} images at these "
                    f"rates; {{}} is {self.batch_reference_size}",
                    "batch_reference_size",
                )
        if self.batch_size < 1 or self.workers < 1 or self.chunk_rows < 1:
            raise UserError(
                "{}, {} and {} must be at least 1", "batch_size", "workers", "chunk_rows"
            )


@dataclass
class AuditOutcome:
    out: Path
    rows: int
    errors: int
    flagged: int
    resumed_from: int
    already_complete: bool
    seconds: float
    summary: AuditSummary | None
    files: SummaryFiles | None
    stream_seconds: float = 0.0  # time in the chunk loop alone: the steady-state rate


def _round(x: float | None) -> float | None:
    if x is None or not math.isfinite(x):
        return None
    return round(float(x), DECIMALS)


def _entry(score: ArtistScore) -> dict[str, Any]:
    return {
        "artist": score.artist,
        "score": _round(score.score),
        "similarity": _round(score.similarity),
        "relative": _round(score.relative),
        "percentile": _round(score.percentile),
        "p_value": _round(score.p_value),
        "n_impostors": score.n_impostors,
        "genuine_percentile": _round(score.genuine_percentile),
        "n_genuine": score.n_genuine,
        "decision": score.decision,
        "threshold": _round(score.threshold),
        "target_fpr": score.target_fpr,
        "fpr_at_threshold": _round(score.fpr_at_threshold),
        "n_works": score.n_works,
        "reason": score.reason,
        "contrastive": _round(score.contrastive),
        "null": score.null,
    }


@dataclass(frozen=True)
class _RowMaker:
    top_artists: int
    context: dict[str, Any]

    def error(self, item: AuditInput, reason: str) -> dict[str, Any]:
        return {
            "seq": item.seq,
            "path": text_name(item.path),
            "error": reason,
            "flagged": False,
            "flagged_artists": [],
            "undecided_artists": [],
            "ranking": [],
            **self.context,
        }

    def scored(
        self,
        item: AuditInput,
        rec: ImageRecord,
        ranking: list[ArtistScore],
        matches: list[Match],
        family: FamilyVerdict | None = None,
        copy: dict[str, Any] | None = None,
        copy_check: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        # The platform's question is answered by the family-wise flag: per-artist
        # decisions summed over every artist would flag far more than the promised rate.
        if family is not None and family.flagged is not None:
            flagged = [family.flagged_artist] if family.flagged and family.flagged_artist else []
        else:
            flagged = [r.artist for r in ranking if r.decision]
        top = ranking[: self.top_artists]
        best = matches[0] if matches else None
        return {
            "seq": item.seq,
            "path": text_name(item.path),
            "sha256": rec.sha256,
            "error": None,
            "flagged": bool(flagged),
            "flagged_artists": flagged,
            "undecided_artists": [r.artist for r in ranking if r.decision is None],
            **copy_columns(copy, copy_check),
            "top_artist": top[0].artist if top else None,
            "top_score": _round(top[0].score) if top else None,
            "top_p_value": _round(top[0].p_value) if top else None,
            "ranking": [_entry(r) for r in top],
            "best_match_path": best.path if best else None,
            "best_match_artist": best.artist if best else None,
            "best_match_similarity": _round(best.similarity) if best else None,
            "width": rec.width,
            "height": rec.height,
            "format": rec.format,
            "size_bytes": rec.size_bytes,
            "phash": rec.phash,
            **self.context,
        }


def audit_chunk(
    items: Sequence[AuditInput],
    scanner: Scanner,
    backbone: Backbone,
    embed: EmbedFn,
    options: AuditOptions,
    rows_for: _RowMaker,
    on_progress: ProgressFn | None = None,
) -> list[dict[str, Any]]:
    """Rows for one chunk, in input order, merging the engine's records and skips back."""
    rows: list[dict[str, Any]] = []
    pending: deque[AuditInput] = deque(items)

    def source_errors() -> None:
        while pending and pending[0].error is not None:
            item = pending.popleft()
            rows.append(rows_for.error(item, item.error or "unreadable entry"))
            if on_progress is not None:
                on_progress(1)

    paths = [it.path for it in items if it.error is None]
    # Scoring stays on this thread: a scoring thread was measured slower, because the
    # model's per-layer Python then waits for the GIL.
    batches = (
        embed(
            paths,
            backbone,
            batch_size=options.batch_size,
            workers=options.workers,
            limits=LoadLimits(max_pixels=options.max_pixels),
            on_progress=on_progress,
        )
        if paths
        else iter(())
    )
    for batch in batches:
        if batch.known:
            raise RuntimeError("embedding engine reported 'known' files; none were asked for")
        scored = (
            scanner.score_vectors(batch.vectors, [r.phash for r in batch.records])
            if batch.records
            else []
        )
        ri = si = 0
        for _ in range(len(batch.records) + len(batch.skipped)):
            source_errors()
            if not pending:
                raise RuntimeError("embedding engine returned more results than inputs")
            item = pending.popleft()
            named = (item.path, text_name(item.path))
            if ri < len(batch.records) and batch.records[ri].path in named:
                ranking, matches, family = scored[ri]
                rec = batch.records[ri]
                copy, check = scanner.copy_verdict(
                    rec,
                    batch.vectors[ri],
                    file_loader(rec, LoadLimits(max_pixels=options.max_pixels)),
                )
                rows.append(rows_for.scored(item, rec, ranking, matches, family, copy, check))
                ri += 1
            elif si < len(batch.skipped) and batch.skipped[si].path in named:
                rows.append(rows_for.error(item, batch.skipped[si].reason))
                si += 1
            else:
                raise RuntimeError(
                    f"embedding engine returned results out of input order at {item.path}"
                )
    source_errors()
    if pending:
        raise RuntimeError(
            f"embedding engine returned no result for {len(pending)} inputs "
            f"(first: {pending[0].path})"
        )
    return rows


def _settings(
    source: Path, index: Path, snapshot: IndexSnapshot, options: AuditOptions
) -> dict[str, Any]:
    settings = {
        "source": describe_source(source),
        "index": str(index.resolve()),
        "index_snapshot": snapshot.snapshot_digest(),
        "fingerprint": snapshot.fingerprint.digest(),
        "top_artists": options.top_artists,
        "target_fpr": options.target_fpr,
        "reference": options.reference,
        "family_fpr": options.family_fpr,
        "batch_size": options.batch_size,
        "chunk_rows": options.chunk_rows,
        "max_pixels": options.max_pixels,
        "copies": options.copies,
    }
    if is_batch(options.reference):
        # Only then: older checkpoints without the key still resume.
        settings["batch_reference_size"] = options.batch_reference_size
    return settings


BATCH_DIGEST_KEY = "batch_reference_digest"


def _refusal(out: Path, parts: Path, what: str) -> AuditStateError:
    return AuditStateError(
        f"{what}; pass --resume to continue it, or --overwrite to start again "
        f"(output {out}, work folder {parts})"
    )


def _plan(out: Path, settings: dict[str, Any], resume: bool, overwrite: bool) -> Checkpoint | None:
    """The checkpoint to continue from; None when the finished output already stands.

    Raises AuditStateError when the files on disk forbid what was asked.
    """
    parts = ckpt.parts_dir(out)
    fresh = Checkpoint(settings=settings)
    if overwrite:
        ckpt.remove_parts(parts)
        return fresh
    cp = ckpt.load(parts) if parts.is_dir() else None
    if not resume:
        if cp is not None or parts.exists():
            raise _refusal(out, parts, f"an interrupted audit into {out} was found")
        if out.exists():
            raise _refusal(out, parts, f"{out} already exists")
        return fresh
    if cp is not None:
        diffs = ckpt.settings_differences(cp.settings, settings)
        if diffs:
            raise AuditStateError(
                f"cannot resume the audit into {out}: settings changed ({'; '.join(diffs)}); "
                "resume with the same ones, or start again with --overwrite"
            )
        ckpt.tidy(parts, cp)
        return cp
    meta = read_metadata(out) if out.exists() else None
    if meta is not None and meta.get("complete"):
        diffs = ckpt.settings_differences(meta.get("settings") or {}, settings)
        if diffs:
            raise AuditStateError(
                f"{out} is a finished audit with other settings ({'; '.join(diffs)}); "
                "use another --out, or --overwrite"
            )
        ckpt.remove_parts(parts)  # rubbish from a kill during the final clean-up
        return None
    if out.exists():
        raise AuditStateError(
            f"{out} exists and is not a finished simdetect audit; nothing to resume "
            "(use another --out, or --overwrite)"
        )
    ckpt.remove_parts(parts)  # killed before the first checkpoint: nothing to keep
    return fresh


def _skip_done(inputs: Iterator[AuditInput], cp: Checkpoint, source: Path) -> None:
    if cp.inputs_done == 0:
        return
    last = None
    for item in islice(inputs, cp.inputs_done):
        last = item
    if last is None or last.seq != cp.inputs_done - 1 or text_name(last.path) != cp.last_path:
        raise AuditStateError(
            f"cannot resume: {source} no longer lists the same inputs (entry "
            f"{cp.inputs_done - 1} was {cp.last_path!r}, now "
            f"{last.path if last and last.seq == cp.inputs_done - 1 else 'missing'!r}); "
            "start again with --overwrite"
        )


def run_audit(
    source: Path,
    index: Path,
    out: Path,
    *,
    options: AuditOptions | None = None,
    resume: bool = False,
    overwrite: bool = False,
    embed: EmbedFn = embed_files,
    backbone: Backbone | None = None,
    on_total: ProgressFn | None = None,
    on_progress: ProgressFn | None = None,
) -> AuditOutcome:
    """Audit every entry of `source` against `index` into `out` (Parquet), resumably."""
    options = options or AuditOptions()
    options.check()
    if out.suffix.lower() != ".parquet":
        raise UserError(f"{out}: audit output must be a .parquet file")
    if resume and overwrite:
        raise UserError("give {} or {}, not both", "resume", "overwrite")
    started = time.perf_counter()
    describe_source(source)  # a missing source fails before anything loads
    snap = open_index(index)
    batch = is_batch(options.reference)
    # The batch reference is attached once it is embedded; everything else (a missing
    # stored reference, an index that cannot be scored contrastively) fails here, before
    # the model loads and before any earlier output is touched.
    scanner = open_scanner(
        snap,
        ScanParams(
            top_k=1,
            target_fpr=options.target_fpr,
            reference=None if batch else options.reference,
            family_fpr=options.family_fpr,
            copies=options.copies,
        ),
    )
    if batch:
        scanner.require_contrastive()
    settings = _settings(source, index, snap, options)
    artists = [
        n for n, bg in zip(scanner.table.names, scanner.table.background, strict=True) if not bg
    ]

    cp = _plan(out, settings, resume, overwrite)
    if cp is None:
        summary, files = write_summary(out, artists)
        return AuditOutcome(
            out,
            summary.rows,
            summary.errors,
            summary.flagged,
            summary.rows,
            True,
            time.perf_counter() - started,
            summary,
            files,
        )
    bb = backbone or backbone_for_index(index, None)  # after the refusals: they are instant
    snap.require_fingerprint(bb.fingerprint)
    parts = ckpt.parts_dir(out)
    parts.mkdir(parents=True, exist_ok=True)
    resumed_from = cp.inputs_done
    try:
        lock = IndexLock(parts)
        lock.acquire()
    except IndexLocked:
        raise AuditStateError(
            f"another audit is writing to {out} (lock {parts / 'LOCK'}); wait for it"
        ) from None
    try:
        if batch:
            reference = batch_reference_for(
                source,
                parts,
                bb,
                embed,
                size=options.batch_reference_size,
                minimum=minimum_batch(options.target_fpr, options.family_fpr),
                expected_digest=cp.extra.get(BATCH_DIGEST_KEY),
                batch_size=options.batch_size,
                workers=options.workers,
                limits=LoadLimits(max_pixels=options.max_pixels),
            )
            cp.extra[BATCH_DIGEST_KEY] = reference.digest()
            scanner.use_reference(reference)
        context = scanner.context()
        metadata = {"settings": settings, "context": context}
        if on_total is not None:
            total = count_inputs(source)
            if total is not None:
                on_total(total)
        if on_progress is not None and cp.inputs_done:
            on_progress(cp.inputs_done)
        rows_for = _RowMaker(
            options.top_artists,
            {"backbone": context["backbone"], "index_snapshot": context["index_snapshot"]},
        )
        stream_start = time.perf_counter()
        if not cp.finished:
            inputs = iter_source(source)
            _skip_done(inputs, cp, source)
            while items := list(islice(inputs, options.chunk_rows)):
                chunk = audit_chunk(items, scanner, bb, embed, options, rows_for, on_progress)
                write_chunk(rows_to_table(chunk), ckpt.chunk_path(parts, cp.chunks))
                cp.chunks += 1
                cp.inputs_done += len(items)
                cp.last_path = text_name(items[-1].path)
                ckpt.save(parts, cp)
                log.info("audit: %d inputs done (%d chunks)", cp.inputs_done, cp.chunks)
            cp.finished = True
            ckpt.save(parts, cp)
        stream_seconds = time.perf_counter() - stream_start
        total_rows = assemble((ckpt.chunk_path(parts, i) for i in range(cp.chunks)), out, metadata)
        summary, files = write_summary(out, artists)
    except BaseException:
        # Failed before anything was checkpointed: nothing to resume, so nothing to
        # keep (a later run would otherwise be refused as "interrupted").
        if not (parts / ckpt.CHECKPOINT_NAME).exists():
            ckpt.remove_parts(parts)
        raise
    finally:
        lock.release()
    ckpt.remove_parts(parts)
    return AuditOutcome(
        out,
        total_rows,
        summary.errors,
        summary.flagged,
        resumed_from,
        False,
        time.perf_counter() - started,
        summary,
        files,
        stream_seconds,
    )
