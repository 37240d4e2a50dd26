"""The images of a case: named files only, each scored by the reproducible scan runner.

The report and `simdetect verify` both go through here, so a verification re-runs
exactly the computation that produced the record.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from simdetect.backbones.base import Backbone
from simdetect.defaults import DEFAULT_FAMILY_FPR
from simdetect.index.build import expand_paths
from simdetect.index.store import IndexSnapshot
from simdetect.io.walk import SkipRecord
from simdetect.report.errors import ReportError
from simdetect.scan import Scanner, ScanParams, open_scanner, scan_in_order
from simdetect.scoring.calibration import ScoringParams
from simdetect.scoring.imitation import ImitationParams
from simdetect.scoring.ranking import RankingParams

log = logging.getLogger(__name__)


@dataclass
class CaseScan:
    """The scan rows of a case, in the order the images were given."""

    scanner: Scanner
    rows: list[dict[str, Any]]

    @property
    def snapshot(self) -> IndexSnapshot:
        return self.scanner.snapshot


def suspect_files(paths: Sequence[str | os.PathLike[str]]) -> list[str]:
    """Files named (folders walked) as absolute paths; a path that is not there is an error.

    Evidence must not silently leave an image out, so nothing is skipped here.
    """
    skipped: list[SkipRecord] = []
    files = expand_paths(paths, skipped)
    if skipped:
        first = skipped[0]
        raise ReportError(f"cannot read suspect {first.path}: {first.reason}")
    if not files:
        raise ReportError("no suspect image given (the folders named hold no images)")
    return files


def scan_case(
    files: Sequence[str],
    snapshot: IndexSnapshot,
    backbone: Backbone,
    params: ScanParams,
) -> CaseScan:
    """Scan `files` (absolute paths); any image that cannot be scored stops the report."""
    scanner = open_scanner(snapshot, params, reproducible=True)
    context = scanner.context()
    rows: list[dict[str, Any]] = []
    for result in scan_in_order(scanner, files, backbone):
        if result.error:
            raise ReportError(f"cannot read suspect {result.suspect}: {result.error}")
        rows.append(result.to_json(context))
    return CaseScan(scanner=scanner, rows=rows)


def scan_params(
    top_k: int,
    target_fpr: float,
    k: int,
    hubness_k: int,
    reference: str | None = None,
    family_fpr: float = DEFAULT_FAMILY_FPR,
    imitation: ImitationParams | None = None,
    ranking: RankingParams | None = None,
) -> ScanParams:
    """The scan parameters a record names, rebuilt for a re-check (`ranking` None: nearest
    works by plain cosine, as every record made before the ranking space names none)."""
    return ScanParams(
        top_k=top_k,
        target_fpr=target_fpr,
        scoring=ScoringParams(k=k, hubness_k=hubness_k),
        reference=reference,
        family_fpr=family_fpr,
        imitation=imitation or ImitationParams(),
        ranking=ranking,
    )
