"""Scanning suspects against an index: one runner, one result schema.

`runner.open_scanner` opens a scan; `scanner.Scanner` scores; `result` is the JSONL row
schema; `calibrate` picks the stored or a fresh calibration.
"""

from simdetect.scan.result import (
    SCHEMA_VERSION,
    ArtistScore,
    Match,
    ScanResult,
    result_from_record,
)
from simdetect.scan.runner import open_scanner, scan_in_order, scan_paths
from simdetect.scan.scanner import Scanner, ScanParams

__all__ = [
    "SCHEMA_VERSION",
    "ArtistScore",
    "Match",
    "ScanParams",
    "ScanResult",
    "Scanner",
    "open_scanner",
    "result_from_record",
    "scan_in_order",
    "scan_paths",
]
