"""An artist's case in one step: her portfolio indexed, the suspects scanned, copies
checked and the evidence written, all inside one case folder.

The folder holds the index (``index/``) beside the report (``report/``), so the evidence
and the works it was scored against travel together and a second run reuses the index:
works already indexed are recognised by their bytes and not embedded again.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from simdetect.defaults import DEFAULT_FAMILY_FPR
from simdetect.index.build import AddSummary, add_paths, add_tree, backbone_for_index
from simdetect.index.store import ROLE_BACKGROUND
from simdetect.report.case import (
    FORMATS,
    ReportOutputs,
    check_report_folder,
    make_report,
)
from simdetect.report.errors import ReportError
from simdetect.report.record import CaseInfo
from simdetect.report.suspects import suspect_files
from simdetect.scoring.calibration import DEFAULT_TARGET_FPR

INDEX_FOLDER = "index"
REPORT_FOLDER = "report"


@dataclass
class CaseRun:
    """What one case run did: the index it used, what it added, and what it wrote."""

    index_dir: Path
    report_dir: Path
    portfolio: AddSummary
    background: AddSummary | None
    outputs: ReportOutputs


def run_artist_case(
    suspects: Sequence[str | os.PathLike[str]],
    portfolio: Path,
    case: CaseInfo,
    out_dir: Path,
    *,
    background: Path | None = None,
    backbone_name: str | None = None,
    formats: Sequence[str] = FORMATS,
    target_fpr: float = DEFAULT_TARGET_FPR,
    family_fpr: float = DEFAULT_FAMILY_FPR,
    top_k: int = 5,
    overwrite: bool = False,
    on_total: Callable[[int], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> CaseRun:
    """Index `portfolio` as `case.artist` (and `background`, each sub-folder one set of
    comparison works) into ``out_dir/index``, then write the report to ``out_dir/report``.

    Everything cheap to check (folders, suspects, a report folder already in use) is
    checked before any embedding, so a refused case costs nothing and changes nothing.
    """
    out_dir = Path(out_dir)
    portfolio = Path(portfolio)
    if not portfolio.is_dir():
        raise ReportError(f"the portfolio {portfolio} is not a folder")
    if background is not None and not Path(background).is_dir():
        raise ReportError(f"the background {background} is not a folder")
    if out_dir.exists() and not out_dir.is_dir():
        raise ReportError(f"the case folder {out_dir} is a file")
    files = suspect_files(suspects)
    index_dir = out_dir / INDEX_FOLDER
    report_dir = out_dir / REPORT_FOLDER
    check_report_folder(report_dir, overwrite)

    backbone = backbone_for_index(index_dir, backbone_name)
    out_dir.mkdir(parents=True, exist_ok=True)
    added = add_paths(
        index_dir,
        [portfolio],
        case.artist,
        backbone=backbone,
        on_total=on_total,
        on_progress=on_progress,
    )
    if added.added + added.already_indexed == 0:
        raise ReportError(f"no work in the portfolio {portfolio} could be read")
    comparison = None
    if background is not None:
        comparison = add_tree(
            index_dir,
            Path(background),
            backbone=backbone,
            role=ROLE_BACKGROUND,
            on_total=on_total,
            on_progress=on_progress,
        )
    outputs = make_report(
        files,
        index_dir,
        case,
        report_dir,
        formats=formats,
        target_fpr=target_fpr,
        family_fpr=family_fpr,
        top_k=top_k,
        backbone=backbone,
        overwrite=overwrite,
    )
    return CaseRun(index_dir, report_dir, added, comparison, outputs)
