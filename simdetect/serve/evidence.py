"""Evidence reports made by the service: the same record `simdetect report` writes.

A record names every input by path and SHA-256, and `simdetect verify` re-hashes and
re-scores the files at those paths. So the uploaded images are first kept unchanged
under the service's evidence folder, the record names those stored copies, and the
case notes tie each stored copy to the name and size the client sent and to the
request (time, report id, which API key). A reader of the filed report can then
see where every image came from, and anyone holding the evidence folder and the index
can re-check it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from simdetect.backbones.base import Backbone
from simdetect.index.store import IndexSnapshot
from simdetect.io.atomic import atomic_write_text
from simdetect.io.image_record import ImageRecord
from simdetect.report.case import HTML_NAME, JSON_NAME, record_json
from simdetect.report.html import render_html
from simdetect.report.record import CaseInfo, build_record, utc_timestamp
from simdetect.report.renderings import seal_renderings
from simdetect.report.suspects import CaseScan, scan_case
from simdetect.scan import ScanParams

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Upload:
    """One uploaded image: the client's name for it, what it is, and where it is kept."""

    client_name: str
    record: ImageRecord
    stored: Path


@dataclass
class CaseReport:
    report_id: str
    record: dict[str, Any]
    json_path: Path
    html_path: Path

    @property
    def digest(self) -> str:
        return str(self.record["digest"])


def provenance_notes(uploads: list[Upload], report_id: str, requested_by: str) -> tuple[str, ...]:
    """How the images reached the record, for the case notes (Chinese / English)."""
    received = utc_timestamp()
    notes = [
        f"本报告由 simdetect HTTP 服务生成（报告编号 {report_id}，{received} 接收，"
        f"请求方：{requested_by}）；上传的图像按原字节保存于下列路径，记录中以该路径指代。 / "
        f"Made by the simdetect HTTP service (report {report_id}, received {received}, "
        f"requested with {requested_by}); each uploaded image was stored byte for byte "
        "at the path below, and the record refers to it by that path."
    ]
    for n, u in enumerate(uploads, start=1):
        notes.append(
            f"图像 {n}：上传文件名 “{u.client_name}”，{u.record.size_bytes:,} 字节，"
            f"SHA-256 {u.record.sha256}，保存为 {u.stored} / "
            f"Image {n}: uploaded as “{u.client_name}”, {u.record.size_bytes:,} bytes, "
            f"SHA-256 {u.record.sha256}, stored as {u.stored}"
        )
    return tuple(notes)


def scan_uploads(
    uploads: list[Upload], snapshot: IndexSnapshot, backbone: Backbone, params: ScanParams
) -> CaseScan:
    """The case's scan over the stored copies (the model's part; run on the model thread)."""
    return scan_case([str(u.stored) for u in uploads], snapshot, backbone, params)


def write_case_report(
    uploads: list[Upload],
    case: CaseInfo,
    scan: CaseScan,
    out_dir: Path,
    report_id: str,
    requested_by: str,
) -> CaseReport:
    """Seal the record and write it with its HTML rendering into `out_dir` (a new folder)."""
    for u, row in zip(uploads, scan.rows, strict=True):
        if row["sha256"] != u.record.sha256:
            raise RuntimeError(f"stored upload {u.stored} changed before it was scanned")
    notes = case.notes + provenance_notes(uploads, report_id, requested_by)
    record = build_record(replace(case, notes=notes), scan)
    out_dir.mkdir(parents=True, exist_ok=False)
    json_path = out_dir / JSON_NAME
    atomic_write_text(json_path, record_json(record))
    html_path = out_dir / HTML_NAME
    atomic_write_text(html_path, render_html(record, json_path))
    seal_renderings(out_dir, [html_path])
    log.info("report %s written to %s (digest %s)", report_id, out_dir, record["digest"])
    return CaseReport(report_id=report_id, record=record, json_path=json_path, html_path=html_path)
