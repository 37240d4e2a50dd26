"""One suspect's result and its JSONL row: the stable scan schema (see README)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from simdetect.io.image_record import ImageRecord
from simdetect.scoring.contrastive import FamilyVerdict

SCHEMA_VERSION = 3


@dataclass
class ArtistScore:
    """One artist's scores for one suspect; README documents every field."""

    artist: str
    score: float | None
    similarity: float
    relative: float | None
    percentile: float | None
    p_value: float | None
    n_impostors: int
    genuine_percentile: float | None
    n_genuine: int
    decision: bool | None
    threshold: float | None
    target_fpr: float
    fpr_at_threshold: float | None
    n_works: int
    reason: str | None = None
    contrastive: float | None = None
    null: str | None = None  # "reference" or "index": which null p_value/decision used


@dataclass
class Match:
    path: str
    artist: str
    similarity: float
    sha256: str
    phash_distance: int | None


@dataclass
class ScanResult:
    """One suspect's result; `to_json` is the stable JSONL schema (see README)."""

    suspect: str
    sha256: str | None
    ranking: list[ArtistScore] = field(default_factory=list)
    matches: list[Match] = field(default_factory=list)
    width: int | None = None
    height: int | None = None
    format: str | None = None
    size_bytes: int | None = None
    phash: str | None = None
    error: str | None = None
    note: str | None = None
    copy: dict[str, Any] | None = None  # the copy verdict (copies/SCHEMA.md), or None
    copy_check: dict[str, Any] | None = None  # what the copy check did; None on error rows
    flagged: bool | None = None
    flagged_artist: str | None = None
    family_statistic: float | None = None
    family_reason: str | None = None

    def to_json(self, context: dict[str, Any]) -> dict[str, Any]:
        row: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "suspect": self.suspect,
            "sha256": self.sha256,
            "ranking": [_clean(asdict(r)) for r in self.ranking],
            "matches": [_clean(asdict(m)) for m in self.matches],
            "width": self.width,
            "height": self.height,
            "format": self.format,
            "size_bytes": self.size_bytes,
            "phash": self.phash,
            "error": self.error,
            "note": self.note,
            "copy": self.copy,
            "copy_check": self.copy_check,
            "flagged": self.flagged,
            "flagged_artist": self.flagged_artist,
            "family_statistic": _num(self.family_statistic),
            "family_reason": self.family_reason,
        }
        row.update(context)
        return row


def platform_verdict(flagged: bool | None, decisions: list[bool | None]) -> str:
    """ "flagged", "undecided" or "not_flagged", as every count of scans reads a row.

    The family-wise `flagged` answers "does this imitate any artist?"; per-artist
    decisions summed would flag far more than the promised rate, so they count only where
    no family verdict could be made (as audits count them). A row that is not flagged but
    has an artist nobody could decide for is undecided, never "no".
    """
    hit = flagged if flagged is not None else any(d is True for d in decisions)
    if hit:
        return "flagged"
    if not decisions or any(d is None for d in decisions):
        return "undecided"
    return "not_flagged"


def _clean(d: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, float):
            v = None if math.isnan(v) else round(v, 6)
        out[k] = v
    return out


def _num(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def result_from_record(
    rec: ImageRecord,
    ranking: list[ArtistScore],
    matches: list[Match],
    note: str | None,
    family: FamilyVerdict | None = None,
) -> ScanResult:
    """The one place a scored image becomes a ScanResult (files, uploads, Ray batches)."""
    return ScanResult(
        suspect=rec.path,
        sha256=rec.sha256,
        ranking=ranking,
        matches=matches,
        width=rec.width,
        height=rec.height,
        format=rec.format,
        size_bytes=rec.size_bytes,
        phash=rec.phash,
        note=note,
        flagged=None if family is None else family.flagged,
        flagged_artist=None if family is None else family.flagged_artist,
        family_statistic=None if family is None else family.statistic,
        family_reason=None if family is None else family.reason,
    )
