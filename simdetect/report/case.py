"""Making the report of one case: scan the images, build the record, write its renderings."""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simdetect.backbones.base import Backbone
from simdetect.defaults import DEFAULT_FAMILY_FPR
from simdetect.index.build import backbone_for_index
from simdetect.index.store import open_index
from simdetect.io.atomic import atomic_write_text, fsync_dir
from simdetect.report.errors import ReportError
from simdetect.report.html import render_html
from simdetect.report.pdf import html_to_pdf, require_chromium
from simdetect.report.record import CaseInfo, build_record, check_artist
from simdetect.report.renderings import seal_renderings
from simdetect.report.suspects import scan_case, suspect_files
from simdetect.scan import ScanParams
from simdetect.scoring.calibration import DEFAULT_TARGET_FPR

log = logging.getLogger(__name__)

FORMATS = ("html", "pdf", "json")
JSON_NAME = "evidence.json"
HTML_NAME = "report.html"
PDF_NAME = "report.pdf"


@dataclass
class ReportOutputs:
    """What was written; paths are None for formats that were not asked for."""

    record: dict[str, Any]
    json_path: Path | None
    html_path: Path | None
    pdf_path: Path | None

    @property
    def digest(self) -> str:
        return str(self.record["digest"])


def parse_formats(option: str) -> tuple[str, ...]:
    """`html,pdf,json` (any subset, any order) into a tuple; unknown names are an error."""
    wanted = [f.strip().lower() for f in option.split(",") if f.strip()]
    unknown = [f for f in wanted if f not in FORMATS]
    if unknown or not wanted:
        raise ReportError(
            f"{{}} takes a comma-separated subset of {','.join(FORMATS)}, not {option!r}",
            "formats",
        )
    return tuple(f for f in FORMATS if f in wanted)


def record_json(record: dict[str, Any]) -> str:
    """The record as written to disk: indented for people; verify re-canonicalises it."""
    return json.dumps(record, ensure_ascii=False, indent=2, allow_nan=False) + "\n"


def check_report_folder(out_dir: Path, overwrite: bool) -> None:
    """Refuse a folder that is a file, or holds anything, unless it may be replaced."""
    if out_dir.exists() and not out_dir.is_dir():
        raise ReportError(f"the case folder {out_dir} is a file")
    held = sorted(p.name for p in out_dir.iterdir()) if out_dir.is_dir() else []
    if held and not overwrite:
        shown = ", ".join(held[:4]) + (" …" if len(held) > 4 else "")
        raise ReportError(
            f"the case folder {out_dir} is not empty ({shown}); choose an empty folder, or "
            "set {} to replace everything in it with this report",
            "overwrite",
        )


def make_report(
    suspects: Sequence[str | os.PathLike[str]],
    index_dir: Path,
    case: CaseInfo,
    out_dir: Path,
    *,
    formats: Sequence[str] = FORMATS,
    target_fpr: float = DEFAULT_TARGET_FPR,
    top_k: int = 5,
    reference: str | None = None,
    family_fpr: float = DEFAULT_FAMILY_FPR,
    backbone: Backbone | None = None,
    created_at: str | None = None,
    overwrite: bool = False,
    include_snapshot: bool = True,
) -> ReportOutputs:
    """Scan `suspects` against `index_dir` for `case` and write the asked-for formats.

    Everything that can be refused (formats, Chromium, index, artist, images, a case
    folder already in use) is checked before any file is written, so a failed run leaves
    no half-made case folder. The artefacts are written into a staging folder beside
    `out_dir` and swapped in together: a record and an HTML page from two different runs
    can never sit side by side (the old folder is replaced whole, only with `overwrite`).

    The folder also keeps copies of the suspects, of the indexed works the record shows
    and (``include_snapshot``) of the index generation used (`simdetect.report.portable`),
    so it verifies on another machine and after the index has grown.
    """
    formats = tuple(formats)
    if not set(formats) <= set(FORMATS) or not formats:
        raise ReportError(f"formats must be a non-empty subset of {FORMATS}, not {formats}")
    if "pdf" in formats:
        require_chromium()
    if not 0 < target_fpr < 1:
        raise ReportError(
            f"{{}} must be between 0 and 1 (for example 0.01), not {target_fpr}", "target_fpr"
        )
    if top_k < 1:
        raise ReportError("{} must be at least 1", "top_k")
    out_dir = Path(out_dir)
    check_report_folder(out_dir, overwrite)
    snapshot = open_index(index_dir)
    check_artist(snapshot, case.artist)
    files = suspect_files(suspects)
    backbone = backbone or backbone_for_index(Path(index_dir), None)
    params = ScanParams(
        top_k=top_k, target_fpr=target_fpr, reference=reference, family_fpr=family_fpr
    )
    scan = scan_case(files, snapshot, backbone, params)

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.staging-", dir=out_dir.parent))
    try:
        record = build_record(case, scan, created_at, pack_into=stage, snapshot=include_snapshot)
        json_path = out_dir / JSON_NAME
        if "json" in formats:
            atomic_write_text(stage / JSON_NAME, record_json(record))
        if "html" in formats or "pdf" in formats:
            html = render_html(record, json_path, base=stage)
            if "html" in formats:
                atomic_write_text(stage / HTML_NAME, html)
            if "pdf" in formats:
                html_page = stage / HTML_NAME if "html" in formats else None
                _print(html, html_page, stage / PDF_NAME)
            written = [stage / n for n in (HTML_NAME, PDF_NAME) if (stage / n).exists()]
            seal_renderings(stage, written)
        _swap_in(stage, out_dir)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    return ReportOutputs(
        record=record,
        json_path=json_path if "json" in formats else None,
        html_path=out_dir / HTML_NAME if "html" in formats else None,
        pdf_path=out_dir / PDF_NAME if "pdf" in formats else None,
    )


def _swap_in(stage: Path, out_dir: Path) -> None:
    """Put the staged folder where `out_dir` is, replacing it whole (renames only)."""
    fsync_dir(stage)
    old = None
    if out_dir.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old-", dir=out_dir.parent))
        old.rmdir()
        out_dir.rename(old)
    stage.rename(out_dir)
    fsync_dir(out_dir.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _print(html: str, html_path: Path | None, pdf_path: Path) -> Path:
    if html_path is not None:
        return html_to_pdf(html_path, pdf_path)
    with tempfile.TemporaryDirectory(prefix="simdetect-report-") as tmp:
        page = Path(tmp) / HTML_NAME
        page.write_text(html, encoding="utf-8")
        return html_to_pdf(page, pdf_path)
