"""The workbench's state and actions: one index, the service engine over it, and the
artist's works kept on disk.

Every change to the index goes through `IndexWriter` (locked, committed atomically as a
new generation); after a commit the engine's snapshot and scanner are replaced on the
model thread, so a scan sees either the old index or the new one, never a mixture.
An index that does not exist yet is created by the first works added; until then the
workbench has no engine and the check and evidence pages say so.
"""

from __future__ import annotations

import asyncio
import io
import logging
import tempfile
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from PIL import Image

from simdetect.backbones.base import Backbone
from simdetect.errors import ReferenceSetError, UserError
from simdetect.index.build import AddSummary, add_files
from simdetect.index.references import list_references
from simdetect.index.store import ROLE_ARTIST, ROLE_BACKGROUND, IndexWriter, open_index
from simdetect.io.images import ImageLoadError, LoadLimits, load_image, load_image_bytes
from simdetect.provenance.reader import read_provenance_bytes
from simdetect.report.case import HTML_NAME, JSON_NAME, PDF_NAME
from simdetect.report.pdf import find_chromium, html_to_pdf
from simdetect.report.record import CaseInfo
from simdetect.report.verify import verify_report
from simdetect.serve.engine import ServeConfig, ServeEngine
from simdetect.serve.uploads import UploadStore, client_name
from simdetect.ui.findings import check_view

log = logging.getLogger(__name__)

T = TypeVar("T")

THUMB_SIDES = (256, 1024)
THUMB_CACHE = 512
MAX_ARTIST_CHARS = 120
MAX_LISTED = 400  # works listed per group: a page, not a registry of millions
REPORT_FILES = (JSON_NAME, HTML_NAME, PDF_NAME)


class WorkbenchError(UserError):
    """A request the workbench refuses; the message says why in one line."""


class NoIndexYet(WorkbenchError):
    """Nothing indexed yet: the first works added create the index."""


@dataclass
class AddResult:
    added: int
    already_indexed: int
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file name, reason)
    conflicts: list[tuple[str, str]] = field(default_factory=list)  # (file name, owner)


def check_artist_name(name: str) -> str:
    """An artist name as stored: one trimmed line, any script (Chinese names included)."""
    text = client_name(name).strip()
    if not text or text == "upload":
        raise WorkbenchError("give the artist's name")
    if len(text) > MAX_ARTIST_CHARS:
        raise WorkbenchError(f"the artist's name is longer than {MAX_ARTIST_CHARS} characters")
    return text


class Workbench:
    """One index and everything the pages do with it."""

    def __init__(self, config: ServeConfig, backbone: Backbone) -> None:
        self.config = config
        self.backbone = backbone
        self.store = UploadStore(config.evidence_dir / "works")
        self.engine: ServeEngine | None = None
        # Writes, PDF printing and verification: one at a time, off the event loop.
        self.jobs = ThreadPoolExecutor(max_workers=1, thread_name_prefix="workbench")
        self.write_lock = asyncio.Lock()
        self.on_engine: Callable[[ServeEngine], None] | None = None
        self._thumbs: OrderedDict[tuple[str, int], bytes] = OrderedDict()

    # -- lifecycle ------------------------------------------------------------------

    def open(self) -> None:
        """Load the index's current generation into an engine, if there is one."""
        from simdetect.index.store import read_current

        if read_current(self.config.index_dir) is not None:
            snapshot = open_index(self.config.index_dir)
            self.engine = ServeEngine(self.config, snapshot, self.backbone)

    async def start(self) -> None:
        if self.engine is not None:
            await self.engine.start()

    async def stop(self) -> None:
        if self.engine is not None:
            await self.engine.stop()
        self.jobs.shutdown(wait=True, cancel_futures=True)

    def require_engine(self) -> ServeEngine:
        if self.engine is None:
            raise NoIndexYet("nothing is indexed yet: add the artist's works first")
        return self.engine

    async def _run(self, pool: ThreadPoolExecutor, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(pool, fn, *args)

    # -- portfolio ------------------------------------------------------------------

    def portfolio(self) -> dict[str, Any]:
        """Works by role and artist, with the index's calibration state."""
        engine = self.engine
        if engine is None:
            return {
                "ready": False,
                "index": str(self.config.index_dir),
                "works": [],
                "groups": [],
                **self._references(),
                "calibration": None,
                "backbone": self.backbone.name,
            }
        snap = engine.snapshot
        meta = snap.metadata
        groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
        columns = ("role", "artist", "sha256", "path", "width", "height", "added_at")
        for role, artist, sha, path, width, height, added in zip(
            *(meta[c].tolist() for c in columns), strict=True
        ):
            groups.setdefault((str(role), str(artist)), []).append(
                {
                    "sha256": str(sha),
                    "name": Path(str(path)).name,
                    "width": int(width),
                    "height": int(height),
                    "added_at": str(added),
                }
            )
        order = {ROLE_ARTIST: 0, ROLE_BACKGROUND: 2}
        listed = [
            {"role": role, "artist": artist, "total": len(works), "works": works[:MAX_LISTED]}
            for (role, artist), works in sorted(
                groups.items(), key=lambda kv: (order.get(kv[0][0], 1), kv[0][0], kv[0][1])
            )
        ]
        cal = engine.context["calibration"]
        return {
            "ready": True,
            "index": str(Path(snap.root).resolve()),
            "generation": snap.manifest.generation,
            "count": snap.count,
            "groups": listed,
            **self._references(),
            "calibration": {"state": cal.get("state"), "reason": cal.get("reason")},
            "backbone": snap.manifest.backbone_spec,
        }

    def _references(self) -> dict[str, Any]:
        """The generator reference sets beside the index (read-only here: never works)."""
        try:
            refs = list_references(self.config.index_dir)
        except ReferenceSetError as exc:  # the page still shows the works
            return {"references": [], "references_error": str(exc)}
        listed = [
            {"name": name, "count": e.get("count"), "backbone": e.get("backbone")}
            for name, e in sorted(refs.items())
        ]
        return {"references": listed, "references_error": None}

    def _work_path(self, sha256: str) -> tuple[str, int, int] | None:
        if self.engine is None:
            return None
        meta = self.engine.snapshot.metadata
        hit = meta[meta["sha256"] == sha256]
        if hit.empty:
            return None
        rec = hit.iloc[0]
        return str(rec["path"]), int(rec["width"]), int(rec["height"])

    def work_sizes(self) -> dict[str, tuple[int, int]]:
        if self.engine is None:
            return {}
        meta = self.engine.snapshot.metadata
        return {
            str(s): (int(w), int(h))
            for s, w, h in zip(meta["sha256"], meta["width"], meta["height"], strict=True)
        }

    def _make_thumb(self, path: str, sha256: str, side: int) -> bytes:
        loaded = load_image(path, self.require_engine().limits)
        if loaded.sha256 != sha256:
            raise WorkbenchError(f"{Path(path).name}: the file changed since it was indexed")
        image = loaded.image.convert("RGB")
        image.thumbnail((side, side), Image.Resampling.LANCZOS)
        buf = io.BytesIO()
        image.save(buf, "JPEG", quality=85)
        return buf.getvalue()

    async def thumbnail(self, sha256: str, side: int) -> bytes | None:
        """A JPEG of an indexed work at most `side` pixels wide; None if not indexed."""
        if side not in THUMB_SIDES:
            raise WorkbenchError(f"size must be one of {THUMB_SIDES}")
        found = self._work_path(sha256)
        if found is None:
            return None
        key = (sha256, side)
        cached = self._thumbs.get(key)
        if cached is not None:
            self._thumbs.move_to_end(key)
            return cached
        engine = self.require_engine()
        try:
            data = await self._run(engine.decode, self._make_thumb, found[0], sha256, side)
        except ImageLoadError as exc:
            raise WorkbenchError(f"{Path(exc.path).name}: {exc.reason}") from None
        self._thumbs[key] = data
        while len(self._thumbs) > THUMB_CACHE:
            self._thumbs.popitem(last=False)
        return data

    def _keep_valid(
        self, uploads: Sequence[tuple[bytes, str | None]]
    ) -> tuple[list[Path], list[tuple[str, str]]]:
        """Store each upload that decodes within the limits; the others with their reason."""
        limits = LoadLimits(max_pixels=self.config.max_pixels)
        stored: list[Path] = []
        skipped: list[tuple[str, str]] = []
        for data, filename in uploads:
            name = client_name(filename)
            try:
                load_image_bytes(data, name, limits)
            except ImageLoadError as exc:
                skipped.append((name, exc.reason))
                continue
            stored.append(self.store.keep(data, filename))
        return stored, skipped

    def _add(self, stored: list[Path], artist: str, role: str) -> AddSummary:
        summary = AddSummary()
        limits = LoadLimits(max_pixels=self.config.max_pixels)
        with IndexWriter(self.config.index_dir, self.backbone.fingerprint, self.backbone.name) as w:
            add_files(
                w,
                [str(p) for p in stored],
                self.backbone,
                artist,
                role,
                summary=summary,
                limits=limits,
                batch_size=16,
            )
        self._reload()
        return summary

    def _remove(self, sha256: str) -> int:
        with IndexWriter(self.config.index_dir) as writer:
            meta = writer.metadata
            hit = meta[meta["sha256"] == sha256]
            if hit.empty:
                return 0
            if len(meta) == len(hit):
                raise WorkbenchError("this is the only indexed work; an index cannot be empty")
            removed = writer.remove_files([str(hit.iloc[0]["path"])])
            writer.commit()
        self._reload()
        return removed

    def _reload(self) -> None:
        """Serve the index's new generation (runs where the model runs: no scan overlaps)."""
        snapshot = open_index(self.config.index_dir)
        engine = self.engine
        if engine is None:
            self.engine = ServeEngine(self.config, snapshot, self.backbone)
            return
        engine.use_snapshot(snapshot)

    async def add_works(
        self, uploads: Sequence[tuple[bytes, str | None]], artist: str, role: str
    ) -> AddResult:
        """Keep the uploads that are images, embed and index them, serve the new index."""
        if role not in (ROLE_ARTIST, ROLE_BACKGROUND):
            raise WorkbenchError(f"role must be {ROLE_ARTIST} or {ROLE_BACKGROUND}")
        artist = check_artist_name(artist)
        if not uploads:
            raise WorkbenchError("no file uploaded")
        async with self.write_lock:
            stored, skipped = await self._run(self.jobs, self._keep_valid, uploads)
            result = AddResult(0, 0, skipped)
            if not stored:
                return result
            had_engine = self.engine is not None
            pool = self.engine.inference if self.engine is not None else self.jobs
            summary = await self._run(pool, self._add, stored, artist, role)
            if not had_engine and self.engine is not None:
                await self.engine.start()
                if self.on_engine is not None:
                    self.on_engine(self.engine)
            result.added = summary.added
            result.already_indexed = summary.already_indexed
            result.skipped += [(Path(s.path).name, s.reason) for s in summary.skipped]
            result.conflicts = [(Path(p).name, owner) for p, owner in summary.conflicts]
            return result

    async def remove_work(self, sha256: str) -> int:
        engine = self.require_engine()
        async with self.write_lock:
            removed = await self._run(engine.inference, self._remove, sha256)
        self._thumbs = OrderedDict((k, v) for k, v in self._thumbs.items() if k[0] != sha256)
        return removed

    # -- check ----------------------------------------------------------------------

    async def check(self, data: bytes, filename: str | None) -> dict[str, Any]:
        """Scan one suspect (the service's scan) and add what the page explains."""
        engine = self.require_engine()
        row = await engine.scan(data, filename)
        scanner = engine.scanner
        provenance = await self._run(
            engine.decode, read_provenance_bytes, data, client_name(filename)
        )
        sizes = self.work_sizes() if row.get("copy") else {}  # only a copy region needs them
        return check_view(row, scanner, provenance.to_dict(), sizes)

    # -- evidence -------------------------------------------------------------------

    async def report(
        self, uploads: Sequence[tuple[bytes, str | None]], case: CaseInfo, requested_by: str
    ) -> dict[str, Any]:
        """The service's evidence report, printed to PDF as well where Chromium exists."""
        engine = self.require_engine()
        made = await engine.report(uploads, case, requested_by)
        folder = made.json_path.parent
        pdf_note = None
        if find_chromium() is not None:
            try:
                await self._run(self.jobs, html_to_pdf, made.html_path, folder / PDF_NAME)
            except Exception as exc:  # the record and HTML are the evidence; PDF a rendering
                log.warning("report %s: PDF not written: %s", made.report_id, exc)
                pdf_note = f"PDF not written: {exc}"
        else:
            pdf_note = "PDF not written: Chromium is not installed on the server"
        files = [name for name in REPORT_FILES if (folder / name).is_file()]
        return {
            "report_id": made.report_id,
            "digest": made.digest,
            "files": files,
            "pdf_note": pdf_note,
            "artist": case.artist,
            "case_id": case.case_id,
        }

    def report_file(self, report_id: str, name: str) -> Path | None:
        if name not in REPORT_FILES or self.engine is None:
            return None
        folder = self.engine.stored_report(report_id)
        if folder is None or not (folder / name).is_file():
            return None
        return folder / name

    def _verify(self, data: bytes) -> dict[str, Any]:
        with tempfile.TemporaryDirectory(prefix="simdetect-verify-") as tmp:
            path = Path(tmp) / JSON_NAME
            path.write_bytes(data)
            result = verify_report(path, self.config.index_dir)
        return {"ok": result.ok, "checks": result.checks_json()}

    async def verify(self, data: bytes) -> dict[str, Any]:
        """Every check `simdetect verify` makes, on an uploaded evidence.json."""
        if not data:
            raise WorkbenchError("the uploaded file is empty")
        return await self._run(self.jobs, self._verify, data)
