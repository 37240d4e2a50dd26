"""What the service does, apart from HTTP: decode, batch, embed, score, and make reports.

One index snapshot, one backbone and one scanner are loaded at start and shared by
every request. The model runs on one inference thread (micro-batched scans and
reports take turns on it); decoding runs in a small pool, so the event loop only
moves bytes. Everything a request holds is bounded: at most `queue_size` requests are
admitted at once, the rest are answered 429 immediately.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import secrets
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from simdetect.backbones.base import Backbone
from simdetect.defaults import DEFAULT_FAMILY_FPR, DEFAULT_MAX_BATCH
from simdetect.errors import UserError
from simdetect.index.store import IndexSnapshot, read_current
from simdetect.io.budget import DEFAULT_DECODE_MEMORY_MB, BudgetTimeout, MemoryBudget
from simdetect.io.images import DEFAULT_MAX_PIXELS, LoadLimits, estimate_decode_bytes
from simdetect.report.case import JSON_NAME
from simdetect.report.record import CaseInfo
from simdetect.scan import ScanParams, open_scanner
from simdetect.scan.result import platform_verdict
from simdetect.scoring.calibration import DEFAULT_TARGET_FPR
from simdetect.serve.batching import MicroBatcher, Overloaded, Unavailable
from simdetect.serve.evidence import CaseReport, Upload, scan_uploads, write_case_report
from simdetect.serve.uploads import (
    PreparedUpload,
    UploadStore,
    client_name,
    prepare_upload,
    upload_pixels,
)

log = logging.getLogger(__name__)

REPORT_ID = re.compile(r"R-\d{8}T\d{6}Z-[0-9a-f]{8}")


@dataclass(frozen=True)
class ServeConfig:
    """Service settings; every field is a `simdetect serve` option."""

    index_dir: Path
    evidence_dir: Path = Path("simdetect-out/serve")
    max_request_mb: float = 32.0
    max_pixels: int = DEFAULT_MAX_PIXELS
    max_batch: int = DEFAULT_MAX_BATCH
    batch_wait_ms: float = 5.0
    batching: bool = True
    queue_size: int = 64
    request_timeout_s: float = 60.0
    target_fpr: float = DEFAULT_TARGET_FPR
    top_k: int = 5
    decode_workers: int = 2
    reference: str | None = None  # generator reference set stored with the index
    family_fpr: float = DEFAULT_FAMILY_FPR
    decode_memory_mb: float = DEFAULT_DECODE_MEMORY_MB

    def __post_init__(self) -> None:
        checks = (
            ("max_request_mb", "{} must be positive", self.max_request_mb > 0),
            ("max_pixels", "{} must be positive", self.max_pixels > 0),
            ("max_batch", "{} must be at least 1", self.max_batch >= 1),
            ("batch_wait_ms", "{} must not be negative", self.batch_wait_ms >= 0),
            ("queue_size", "{} must be at least 1", self.queue_size >= 1),
            ("request_timeout_s", "{} must be positive", self.request_timeout_s > 0),
            (
                "target_fpr",
                "{} must be between 0 and 1 (for example 0.01)",
                0 < self.target_fpr < 1,
            ),
            ("top_k", "{} must be at least 1", self.top_k >= 1),
            (
                "family_fpr",
                "{} must be between 0 and 1 (for example 0.05)",
                0 < self.family_fpr < 1,
            ),
            ("decode_workers", "{} must be at least 1", self.decode_workers >= 1),
            ("decode_memory_mb", "{} must be positive", self.decode_memory_mb > 0),
        )
        for setting, message, ok in checks:
            if not ok:
                raise UserError(message, setting)

    @property
    def max_request_bytes(self) -> int:
        return int(self.max_request_mb * 1024 * 1024)

    @property
    def effective_max_batch(self) -> int:
        return self.max_batch if self.batching else 1


class Admission:
    """Counts requests holding server resources; beyond the limit, refuse at once.

    Only touched from the event loop thread, so a plain counter is enough.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.active = 0
        self.refused = 0

    def __enter__(self) -> Admission:
        if self.active >= self.limit:
            self.refused += 1
            raise Overloaded(
                f"server busy: {self.active} requests in progress (queue size {self.limit}); "
                "retry shortly"
            )
        self.active += 1
        return self

    def __exit__(self, *exc: object) -> None:
        self.active -= 1


OUTCOMES = ("scanned", "flagged", "undecided", "not_flagged", "copies")


def scan_outcomes(row: dict[str, Any]) -> list[str]:
    """Which counters one scan row adds to (`platform_verdict`); copies on their own."""
    decisions = [entry["decision"] for entry in row.get("ranking") or []]
    copy = ["copies"] if row.get("copy") else []
    return ["scanned", platform_verdict(row.get("flagged"), decisions), *copy]


def _report_id() -> str:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return f"R-{stamp}-{secrets.token_hex(4)}"


class ServeEngine:
    """The loaded index, model and scanner, and the queue in front of the model."""

    def __init__(self, config: ServeConfig, snapshot: IndexSnapshot, backbone: Backbone) -> None:
        self.config = config
        self.backbone = backbone
        self.params = ScanParams(
            top_k=config.top_k,
            target_fpr=config.target_fpr,
            reference=config.reference,
            family_fpr=config.family_fpr,
        )
        self.use_snapshot(snapshot)
        self.limits = LoadLimits(max_pixels=config.max_pixels)
        self.budget = MemoryBudget(int(config.decode_memory_mb * 1024 * 1024))
        self.uploads = UploadStore(config.evidence_dir / "uploads")
        self.reports_dir = config.evidence_dir / "reports"
        self.inference = ThreadPoolExecutor(max_workers=1, thread_name_prefix="inference")
        # Report rendering (plots, HTML) gets its own thread so it never holds up scans.
        self.render = ThreadPoolExecutor(max_workers=1, thread_name_prefix="render")
        self.decode = ThreadPoolExecutor(
            max_workers=config.decode_workers, thread_name_prefix="decode"
        )
        self.batcher: MicroBatcher[PreparedUpload, dict[str, Any]] = MicroBatcher(
            self._scan_batch,
            self.inference,
            max_batch=config.effective_max_batch,
            wait_seconds=config.batch_wait_ms / 1000.0 if config.batching else 0.0,
            queue_size=config.queue_size,
        )
        self.admission = Admission(config.queue_size)
        self.responses: Counter[int] = Counter()
        # Scans answered, by verdict: undecided is counted next to flagged, never as "no".
        self.outcomes: Counter[str] = Counter()
        self.started_at = time.time()
        self.accepting = False

    def use_snapshot(self, snapshot: IndexSnapshot) -> None:
        """Serve `snapshot` from now on. After start, call it on the inference thread, so
        a scan sees the old index or the new one, never a mixture."""
        snapshot.require_fingerprint(self.backbone.fingerprint)
        scanner = open_scanner(snapshot, self.params, reproducible=True)
        if scanner.copies is not None:
            # Describing the indexed works for copy detection takes a while the first
            # time; done before the index is served, never inside a scan request.
            scanner.copies.warm()
        self.snapshot, self.scanner, self.context = snapshot, scanner, scanner.context()

    # -- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        await self.batcher.start()
        self.accepting = True

    async def stop(self) -> None:
        self.accepting = False
        await self.batcher.stop()
        self.inference.shutdown(wait=True, cancel_futures=True)
        self.render.shutdown(wait=True, cancel_futures=True)
        self.decode.shutdown(wait=False, cancel_futures=True)

    def _require_accepting(self) -> None:
        if not self.accepting:
            raise Unavailable("the server is not ready (starting or shutting down)")

    # -- scan -------------------------------------------------------------------------

    def _scan_batch(self, items: Sequence[PreparedUpload]) -> list[dict[str, Any]]:
        """One forward pass for the batch, then scoring; runs on the inference thread."""
        vectors = self.backbone.embed(torch.stack([item.tensor for item in items]))
        images = [upload_pixels(item, self.limits) for item in items]
        results = self.scanner.score_records(
            [item.record for item in items], vectors, images=images
        )
        rows = [result.to_json(self.context) for result in results]
        for row in rows:
            self.outcomes.update(scan_outcomes(row))
        return rows

    def _prepare(self, data: bytes, name: str) -> PreparedUpload:
        """Decode under the shared memory budget (decode thread); the estimate reads the
        header only, and everything the decode allocates is freed before the budget is."""
        cost = estimate_decode_bytes(data, name, self.limits, self.backbone.decode_min_side)
        try:
            with self.budget.hold(cost, timeout=self.config.request_timeout_s):
                return prepare_upload(data, name, self.backbone, self.limits)
        except BudgetTimeout as exc:
            raise Unavailable(f"{exc}; retry later") from None

    async def scan(self, data: bytes, filename: str | None) -> dict[str, Any]:
        """One upload's scan row; ImageLoadError for a bad image, Overloaded, Unavailable."""
        self._require_accepting()
        loop = asyncio.get_running_loop()
        with self.admission:
            prepared = await loop.run_in_executor(
                self.decode, self._prepare, data, client_name(filename)
            )
            return await self.batcher.submit(prepared, self.config.request_timeout_s)

    # -- report -----------------------------------------------------------------------

    async def report(
        self, files: Sequence[tuple[bytes, str | None]], case: CaseInfo, requested_by: str
    ) -> CaseReport:
        """Store the uploads, scan them (model thread), then seal and render the record.

        Raises ImageLoadError naming the first unusable upload before anything is stored.
        """
        self._require_accepting()
        loop = asyncio.get_running_loop()
        with self.admission:
            checked = []
            for data, filename in files:
                name = client_name(filename)
                prepared = await loop.run_in_executor(self.decode, self._prepare, data, name)
                checked.append((data, filename, name, prepared.record))
            uploads = []
            for data, filename, name, record in checked:
                stored = await loop.run_in_executor(self.decode, self.uploads.keep, data, filename)
                uploads.append(Upload(client_name=name, record=record, stored=stored))
            report_id = _report_id()
            timeout = self.config.request_timeout_s
            try:
                scan = await asyncio.wait_for(
                    loop.run_in_executor(
                        self.inference,
                        scan_uploads,
                        uploads,
                        self.snapshot,
                        self.backbone,
                        self.params,
                    ),
                    timeout,
                )
                return await asyncio.wait_for(
                    loop.run_in_executor(
                        self.render,
                        write_case_report,
                        uploads,
                        case,
                        scan,
                        self.reports_dir / report_id,
                        report_id,
                        requested_by,
                    ),
                    timeout,
                )
            except asyncio.TimeoutError:
                raise Unavailable(
                    f"report {report_id} was not finished within {timeout:g} s; retry later"
                ) from None

    def stored_report(self, report_id: str) -> Path | None:
        """The folder of an earlier report, if `report_id` names one (nothing else)."""
        if not REPORT_ID.fullmatch(report_id):
            return None
        folder = self.reports_dir / report_id
        return folder if (folder / JSON_NAME).is_file() else None

    # -- information ------------------------------------------------------------------

    def index_info(self) -> dict[str, Any]:
        snap = self.snapshot
        m = snap.manifest
        on_disk = read_current(snap.root)
        return {
            "index": str(Path(snap.root).resolve()),
            "works": m.count,
            "artists": len(m.artists),
            "background_sets": len(m.background),
            "works_per_artist": dict(sorted(m.artists.items())),
            "works_per_background_set": dict(sorted(m.background.items())),
            "generation": m.generation,
            "snapshot_digest": snap.snapshot_digest(),
            "generation_on_disk": on_disk,
            "stale": on_disk != snap.directory.name,
            "index_type": m.index_type,
            "approximate": snap.approximate,
            "backbone": m.backbone_spec,
            "fingerprint": m.fingerprint.digest(),
            "fingerprint_detail": m.fingerprint.to_dict(),
            "created_at": m.created_at,
            "updated_at": m.updated_at,
            "calibration": self.context["calibration"],
            "score_method": self.context["score_method"],
        }

    def stats(self) -> dict[str, Any]:
        c = self.config
        return {
            "uptime_seconds": round(time.time() - self.started_at, 1),
            "accepting": self.accepting,
            "settings": {
                **{k: str(v) if isinstance(v, Path) else v for k, v in asdict(c).items()},
                "effective_max_batch": c.effective_max_batch,
                "torch_threads": torch.get_num_threads(),
                "cpu_count": os.cpu_count(),
            },
            "in_progress": self.admission.active,
            "queued_for_inference": self.batcher.queued,
            "refused_busy": self.admission.refused,
            "responses": {str(k): v for k, v in sorted(self.responses.items())},
            "scans": {k: self.outcomes.get(k, 0) for k in OUTCOMES},
            "batching": {"enabled": c.batching, **self.batcher.stats.to_dict()},
            "decode_memory": {
                "budget_bytes": self.budget.capacity,
                "in_use_bytes": self.budget.in_use,
                "peak_bytes": self.budget.peak,
                "waits": self.budget.waits,
            },
        }
