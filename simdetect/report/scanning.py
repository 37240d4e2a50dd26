"""Scoring the images of a case: the same scan as `simdetect scan`, one row per image.

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
from simdetect.index.store import IndexSnapshot
from simdetect.indexing import expand_paths
from simdetect.io.walk import SkipRecord
from simdetect.report.errors import ReportError
from simdetect.scan import Scanner, ScanParams, ScanResult
from simdetect.scoring.aggregate import ArtistTable
from simdetect.scoring.calibration import ScoringParams, load_or_compute, stored_calibration

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


def reproducible_scanner(snapshot: IndexSnapshot, params: ScanParams) -> Scanner:
    """A scanner whose calibration is the copy stored beside the index.

    A calibration computed just now lives in memory as float64, while the stored copy
    (what every later run, and `simdetect verify`, loads) is float32; scoring against
    the in-memory copy would differ from any re-check in the 7th decimal. So the report
    always scores against the stored copy, computing and storing it first if needed.
    Only a read-only index, where nothing can be stored, scores against a fresh
    computation, which is then equally fresh on every re-check.
    """
    meta = snapshot.metadata
    table = ArtistTable.build(meta["artist"].tolist(), meta["role"].tolist())
    computed = load_or_compute(snapshot, table, params.scoring)
    stored = stored_calibration(snapshot, params.scoring)
    return Scanner(snapshot, params, calibration=stored or computed)


def scan_each(files: Sequence[str], scanner: Scanner, backbone: Backbone) -> list[ScanResult]:
    """One result per file, in order, each image embedded on its own.

    Batch size changes the floating-point path through the model; embedding every image
    alone makes its scores independent of which other images were scanned with it, so
    a re-check of some of the images reproduces exactly the recorded numbers.
    """
    results = {
        r.suspect: r for r in scanner.scan_files(list(files), backbone, batch_size=1, workers=1)
    }
    return [
        results.get(f) or ScanResult(suspect=f, sha256=None, error="it was not scanned")
        for f in files
    ]


def scan_case(
    files: Sequence[str],
    snapshot: IndexSnapshot,
    backbone: Backbone,
    params: ScanParams,
) -> CaseScan:
    """Scan `files` (absolute paths); any image that cannot be scored stops the report."""
    scanner = reproducible_scanner(snapshot, params)
    context = scanner.context()
    rows: list[dict[str, Any]] = []
    for result in scan_each(files, scanner, backbone):
        if result.error:
            raise ReportError(f"cannot read suspect {result.suspect}: {result.error}")
        rows.append(result.to_json(context))
    return CaseScan(scanner=scanner, rows=rows)


def scan_params(top_k: int, target_fpr: float, k: int, hubness_k: int) -> ScanParams:
    """The scan parameters a record names, rebuilt for a re-check."""
    return ScanParams(
        top_k=top_k, target_fpr=target_fpr, scoring=ScoringParams(k=k, hubness_k=hubness_k)
    )
