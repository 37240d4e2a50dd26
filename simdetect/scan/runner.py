"""Opening a scan: the index, its calibration and the parameters, in one call.

    scanner = open_scanner(index_dir, ScanParams(top_k=5), reproducible=False)
    for result in scanner.scan_files(paths, backbone):          # files
        row = result.to_json(scanner.context())
    results = scanner.score_records(records, vectors)            # already embedded

Where embedding runs is the caller's choice (`scan_files(..., embed=RayEngine(...))`);
what a scan computes is not. `reproducible=True` (evidence reports, `verify`, the
service) scores against the calibration read back from disk and embeds each image
alone, so a later re-check gives exactly the recorded numbers.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

from simdetect.backbones.base import Backbone
from simdetect.embed import embed_files
from simdetect.index.store import IndexSnapshot, open_index
from simdetect.io.images import LoadLimits
from simdetect.io.names import text_name
from simdetect.io.walk import SkipRecord
from simdetect.scan.calibrate import artist_table, calibration_for
from simdetect.scan.result import ScanResult
from simdetect.scan.scanner import EmbedFn, Scanner, ScanParams


def open_scanner(
    index: Path | str | IndexSnapshot,
    params: ScanParams | None = None,
    *,
    reproducible: bool = False,
) -> Scanner:
    """A scanner over `index` (a directory or an opened snapshot)."""
    snapshot = index if isinstance(index, IndexSnapshot) else open_index(Path(index))
    params = params or ScanParams()
    calibration = calibration_for(
        snapshot, artist_table(snapshot), params.scoring, reproducible=reproducible
    )
    return Scanner(snapshot, params, calibration=calibration, reproducible=reproducible)


def scan_paths(
    scanner: Scanner,
    files: Sequence[str | os.PathLike[str]],
    backbone: Backbone,
    *,
    skipped: Sequence[SkipRecord] = (),
    batch_size: int = 16,
    workers: int = 2,
    limits: LoadLimits | None = None,
    on_progress: Callable[[int], None] | None = None,
    embed: EmbedFn | None = None,
    results: list[ScanResult] | None = None,
) -> list[ScanResult]:
    """Results for paths already expanded: the skipped first, then the files scanned.

    ``results``, when given, is filled as rows are made, so a caller still holds the
    rows made before a failure.
    """
    results = [] if results is None else results
    results.extend(ScanResult(suspect=s.path, sha256=None, error=s.reason) for s in skipped)
    results.extend(
        scanner.scan_files(
            files,
            backbone,
            batch_size=batch_size,
            workers=workers,
            limits=limits,
            on_progress=on_progress,
            embed=embed or embed_files,
        )
    )
    return results


def scan_in_order(scanner: Scanner, files: Sequence[str], backbone: Backbone) -> list[ScanResult]:
    """One result per file, in the order given (a file that produced none says so)."""
    results = {r.suspect: r for r in scanner.scan_files(list(files), backbone)}
    return [
        results.get(text_name(f))  # rows name files as text (simdetect.io.names)
        or ScanResult(suspect=text_name(f), sha256=None, error="it was not scanned")
        for f in files
    ]
