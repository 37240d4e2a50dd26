"""What the check page shows for one suspect, shaped from a scan row and its extras.

The page only formats; every number it shows comes from here unchanged, so the page
and `simdetect scan` can never disagree. A scan row may carry a `copy` object (added
by the copy detector in a later schema); its shape is read defensively, and a row
without one simply has no copy finding.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from simdetect.report.limitations import needed_impostors, undecided_code
from simdetect.report.record import distributions, threshold_scale
from simdetect.report.suspects import CaseScan
from simdetect.scan import Scanner

CHART_ARTISTS = 3
FIELDS_TEXT_LIMIT = 2000
NEAR_DUPLICATE_BITS = 8


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _corners(region: Any) -> tuple[float, float, float, float] | None:
    """(x0, y0, x1, y1) from the shapes a region is likely written in, or None."""
    if isinstance(region, Mapping):
        keys = (
            ("x0", "y0", "x1", "y1"),
            ("left", "top", "right", "bottom"),
        )
        for k in keys:
            vals = [_number(region.get(name)) for name in k]
            if all(v is not None for v in vals):
                x0, y0, x1, y1 = (float(v) for v in vals if v is not None)
                return x0, y0, x1, y1
        vals = [_number(region.get(name)) for name in ("x", "y")]
        size = [
            _number(region.get(a) or region.get(b)) for a, b in (("w", "width"), ("h", "height"))
        ]
        if all(v is not None for v in vals + size):
            x, y, w, h = (float(v) for v in vals + size if v is not None)
            return x, y, x + w, y + h
        for nested in ("box", "bbox", "polygon", "points", "corners"):
            if nested in region:
                return _corners(region[nested])
        return None
    if isinstance(region, Sequence) and not isinstance(region, (str, bytes)):
        if len(region) == 4 and all(_number(v) is not None for v in region):
            x0, y0, x1, y1 = (float(v) for v in region)
            return x0, y0, x1, y1
        points = [p for p in region if isinstance(p, Sequence) and len(p) >= 2]
        xs = [_number(p[0]) for p in points]
        ys = [_number(p[1]) for p in points]
        if len(points) >= 2 and all(v is not None for v in xs + ys):
            fx = [float(v) for v in xs if v is not None]
            fy = [float(v) for v in ys if v is not None]
            return min(fx), min(fy), max(fx), max(fy)
    return None


def normalised_box(region: Any, width: Any, height: Any) -> list[float] | None:
    """A region as [x0, y0, x1, y1] in fractions of the image (0..1), or None.

    Coordinates all within 0..1 are taken as fractions already; larger ones as pixels
    of an image `width` × `height`.
    """
    corners = _corners(region)
    if corners is None:
        return None
    x0, y0, x1, y1 = corners
    if max(abs(x0), abs(y0), abs(x1), abs(y1)) > 1.0:
        w, h = _number(width), _number(height)
        if not w or not h:
            return None
        x0, x1, y0, y1 = x0 / w, x1 / w, y0 / h, y1 / h
    box = [min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)]
    box = [min(1.0, max(0.0, v)) for v in box]
    if box[2] - box[0] <= 0 or box[3] - box[1] <= 0:
        return None
    return [round(v, 4) for v in box]


def _source(copy: Mapping[str, Any]) -> dict[str, Any]:
    for key in ("source", "work", "matched_work", "original"):
        value = copy.get(key)
        if isinstance(value, Mapping):
            return dict(value)
        if isinstance(value, str):
            return {"path": value}
    return {k: copy[k] for k in ("path", "sha256", "artist") if k in copy}


def copy_finding(
    row: Mapping[str, Any], work_size: Mapping[str, tuple[int, int]]
) -> dict[str, Any] | None:
    """The row's copy finding in one fixed shape, or None when the row has none.

    Reads the `copy` object of the scan schema (see the copy detector's schema: `source`,
    `decided_by`, `region.suspect` / `region.source` in pixels, `transform`, `confidence`,
    `p_value`), and tolerates other spellings of the same facts. `work_size` maps an
    indexed work's SHA-256 to its (width, height), for a source region given in pixels
    when the object does not carry the source's size.
    """
    copy = row.get("copy")
    if not isinstance(copy, Mapping) or not copy:
        return None
    verdict = next((copy[k] for k in ("is_copy", "decision", "found") if k in copy), True)
    if verdict is not True:
        return None
    source = _source(copy)
    sha = source.get("sha256") or copy.get("source_sha256") or copy.get("sha256")
    sha = sha if isinstance(sha, str) else None
    path = source.get("path") or copy.get("source_path")
    sw, sh = source.get("width"), source.get("height")
    if not (_number(sw) and _number(sh)):
        sw, sh = work_size.get(sha or "", (0, 0))
    suspect_keys = ("region", "suspect_region", "matched_region", "query_region")
    suspect_region = next((copy[k] for k in suspect_keys if k in copy), None)
    source_region = next((copy[k] for k in ("source_region", "work_region") if k in copy), None)
    if isinstance(suspect_region, Mapping) and "suspect" in suspect_region:
        source_region = source_region or suspect_region.get("source")
        suspect_region = suspect_region.get("suspect")
    signal = next((copy[k] for k in ("decided_by", "signal") if copy.get(k) is not None), None)
    transform = copy.get("transform")
    return {
        "source_sha256": sha,
        "source_name": Path(str(path)).name if path else None,
        "source_artist": str(source.get("artist")) if source.get("artist") is not None else None,
        "signal": str(signal) if signal is not None else None,
        "transform": dict(transform) if isinstance(transform, Mapping) else _text(transform),
        "confidence": _number(copy.get("confidence")),
        "p_value": _number(copy.get("p_value")),
        "suspect_box": normalised_box(suspect_region, row.get("width"), row.get("height")),
        "source_box": normalised_box(source_region, sw, sh),
    }


def copy_check(row: Mapping[str, Any]) -> dict[str, Any] | None:
    """The copy check's outcome (copy / no_copy / not_checked and why), when the row has it."""
    check = row.get("copy_check")
    if not isinstance(check, Mapping):
        return None
    return {
        "state": str(check.get("state")),
        "reason": _text(check.get("reason")),
        "candidates": check.get("candidates") if isinstance(check.get("candidates"), int) else None,
    }


def _text(value: Any, limit: int = FIELDS_TEXT_LIMIT) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text[:limit]


def provenance_view(report: Mapping[str, Any]) -> dict[str, Any]:
    """Every signal checked (found or not), with its fields as bounded text."""
    signals = []
    for s in report.get("signals", []):
        fields = s.get("fields") or {}
        signals.append(
            {
                "kind": s["kind"],
                "found": bool(s["found"]),
                "summary": s["summary"],
                "ai_indicators": list(s.get("ai_indicators", [])),
                "fields": _text(fields) if fields else None,
                "warnings": list(s.get("warnings", [])),
            }
        )
    return {
        "ai_indicators": list(report.get("ai_indicators", [])),
        "warnings": list(report.get("warnings", [])),
        "signals": signals,
    }


def chart_data(scanner: Scanner, row: dict[str, Any]) -> dict[str, Any]:
    """Impostor/genuine histograms for the top-ranked artists of one suspect."""
    names = scanner.calibration.artist_names
    out: dict[str, Any] = {}
    for entry in row["ranking"][:CHART_ARTISTS]:
        artist = entry["artist"]
        if artist not in names:
            continue
        dist = distributions(CaseScan(scanner=scanner, rows=[row]), artist)
        out[artist] = {
            "state": dist["state"],
            "histogram": dist["histogram"],
            "impostor_n": dist["impostor"]["n"],
            "genuine_n": dist["genuine"]["n"],
            "statistic": dist["statistic"],
            # the suspect's mark and the threshold on the histogram's scale
            "score": entry.get(dist["statistic"]),
            "threshold": (
                entry.get("threshold") if threshold_scale(entry) == dist["statistic"] else None
            ),
        }
    return out


def undecided_reason(entry: Mapping[str, Any], calibrated: bool) -> dict[str, Any]:
    """The entry plus, when it has no decision, the reason as a code the page words in
    each language (the same rule as the report's); other reasons stay the scan's text."""
    out = dict(entry)
    code = None
    if entry["decision"] is None:
        code = undecided_code(out, float(entry["target_fpr"]), calibrated)
    out["reason_code"] = code
    out["needed_impostors"] = needed_impostors(float(entry["target_fpr"])) if code else None
    return out


def check_view(
    row: dict[str, Any],
    scanner: Scanner,
    provenance: Mapping[str, Any],
    work_size: Mapping[str, tuple[int, int]],
) -> dict[str, Any]:
    """The check page's data for one suspect: scores, nearest works, signals, chart."""
    matches = [
        {
            "sha256": m["sha256"],
            "name": Path(m["path"]).name,
            "artist": m["artist"],
            "similarity": m["similarity"],
            "phash_distance": m["phash_distance"],
            "near_duplicate": m["phash_distance"] is not None
            and m["phash_distance"] <= NEAR_DUPLICATE_BITS,
        }
        for m in row["matches"]
    ]
    calibrated = row.get("calibration", {}).get("state") == "calibrated"
    return {
        "suspect": row["suspect"],
        "sha256": row["sha256"],
        "width": row["width"],
        "height": row["height"],
        "format": row["format"],
        "ranking": [undecided_reason(entry, calibrated) for entry in row["ranking"]],
        "matches": matches,
        "note": row.get("note"),
        "calibration": row.get("calibration", {}).get("state"),
        "target_fpr": row["ranking"][0]["target_fpr"] if row["ranking"] else None,
        "copy": copy_finding(row, work_size),
        "copy_check": copy_check(row),
        "provenance": provenance_view(provenance),
        "charts": chart_data(scanner, row),
        "row": row,
    }
