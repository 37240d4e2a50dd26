"""The evidence record: everything a report states, as one schema-versioned JSON object.

The HTML and PDF are renderings of this record and nothing else (plus the pictures of
the files it names), so what a court reads can always be traced to, and re-checked
against, the record. Field by field documentation: SCHEMA.md in this package.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from simdetect import __version__
from simdetect.index.store import IndexSnapshot
from simdetect.io.hashing import sha256_file
from simdetect.io.names import fs_name
from simdetect.provenance import read_provenance
from simdetect.report.canonical import ALGORITHM, seal
from simdetect.report.errors import ReportError
from simdetect.report.i18n import LANGS, Lang
from simdetect.report.limitations import limitations
from simdetect.report.portable import pack_case
from simdetect.report.software import software_versions
from simdetect.report.suspects import CaseScan

SCHEMA = "simdetect-evidence-record"
# 2: paths relative to the record's folder (copies of the files and the index snapshot
# kept there) with ``source_path`` naming where each was found; 1 named absolute paths.
SCHEMA_VERSION = 2
QUANTILES = {
    "p01": 0.01,
    "p05": 0.05,
    "p25": 0.25,
    "p50": 0.5,
    "p75": 0.75,
    "p95": 0.95,
    "p99": 0.99,
}
HISTOGRAM_BINS = 30
NEAR_DUPLICATE_BITS = 8
DECIMALS = 6


@dataclass(frozen=True)
class CaseInfo:
    """What the case is about; `artist` is the claimant artist and must be indexed."""

    artist: str
    case_id: str
    claimant: str | None = None
    respondent: str | None = None
    languages: tuple[Lang, ...] = LANGS
    notes: tuple[str, ...] = field(default_factory=tuple)


def utc_timestamp(moment: datetime | None = None) -> str:
    moment = moment or datetime.now(timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def default_case_id(moment: datetime | None = None) -> str:
    moment = moment or datetime.now(timezone.utc)
    return "SD-" + moment.astimezone(timezone.utc).strftime("%Y%m%d-%H%M%S")


def check_artist(snapshot: IndexSnapshot, artist: str) -> None:
    """A clear refusal for a name that is not an indexed artist (a typo, a background set)."""
    m = snapshot.manifest
    if artist in m.artists:
        return
    if artist in m.background:
        raise ReportError(
            f"{artist!r} is a background set in index {snapshot.root}, not an artist; "
            f"indexed artists: {', '.join(sorted(m.artists)) or 'none'}"
        )
    raise ReportError(
        f"artist {artist!r} is not in index {snapshot.root}; indexed artists: "
        f"{', '.join(sorted(m.artists)) or 'none'}"
    )


def _round(x: float) -> float:
    return round(float(x), DECIMALS)


def summarise(values: np.ndarray) -> dict[str, Any]:
    """n, extremes, mean and quantiles of a score distribution (never the raw array)."""
    n = len(values)
    if n == 0:
        return {"n": 0, "min": None, "max": None, "mean": None, "quantiles": None}
    return {
        "n": n,
        "min": _round(values.min()),
        "max": _round(values.max()),
        "mean": _round(values.mean()),
        "quantiles": {k: _round(np.quantile(values, q)) for k, q in QUANTILES.items()},
    }


def _histogram(
    impostor: np.ndarray, genuine: np.ndarray, marks: list[float]
) -> dict[str, Any] | None:
    every = np.concatenate([impostor, genuine, np.asarray(marks, dtype=np.float64)])
    every = every[np.isfinite(every)]
    if len(impostor) + len(genuine) == 0 or len(every) == 0:
        return None
    lo, hi = float(every.min()), float(every.max())
    pad = 0.02 * (hi - lo) if hi > lo else 0.05
    edges = np.linspace(lo - pad, hi + pad, HISTOGRAM_BINS + 1)
    return {
        "edges": [_round(e) for e in edges],
        "impostor": [int(c) for c in np.histogram(impostor, edges)[0]],
        "genuine": [int(c) for c in np.histogram(genuine, edges)[0]],
    }


def _marks(scan: CaseScan, artist: str, statistic: str) -> list[float]:
    """The claimant's scores and thresholds, which the histogram's range must cover."""
    marks = []
    for row in scan.rows:
        entry = claimant_summary(row, artist)["entry"] or {}
        keys = [statistic]
        if threshold_scale(entry) == statistic:
            keys.append("threshold")
        for key in keys:
            value = entry.get(key)
            if value is not None and math.isfinite(value):
                marks.append(float(value))
    return marks


def threshold_scale(entry: dict[str, Any]) -> str:
    """The statistic an entry's `threshold` is on: a contrastive null's, or `relative`."""
    return "contrastive" if entry.get("null") else "relative"


def decision_statistic(scan: CaseScan) -> str:
    """The statistic the scan's decisions were made on: the one its plots must show."""
    return "contrastive" if scan.scanner.imitation is not None else "relative"


def distributions(scan: CaseScan, artist: str, statistic: str | None = None) -> dict[str, Any]:
    """The claimant artist's null and genuine distributions, on the decision's scale.

    With contrastive scoring the null is what `p_value` and `decision` were read against
    (the generator reference's outputs, or indexed works by other artists) and the genuine
    scores are the artist's own works, each left out; without it, the relative score's
    impostors and genuine works. `statistic` pins the choice (a record being verified
    names the one it was made with).
    """
    statistic = statistic or decision_statistic(scan)
    cal = scan.scanner.calibration
    im = scan.scanner.imitation
    if statistic == "contrastive" and im is not None:
        a = im.table.names.index(artist)
        null = im.judge.null
        impostor = null.artists[a].scores
        genuine = im.judge.genuine[a]
        null_info: dict[str, Any] | None = {
            "kind": null.kind,
            "name": null.name,
            "size": null.size,
        }
    else:
        statistic = "relative"
        a = cal.artist_names.index(artist)
        impostor, genuine = cal.impostor[a], cal.genuine[a]
        null_info = None
    marks = _marks(scan, artist, statistic)
    out = {
        "artist": artist,
        "state": "calibrated" if cal.calibrated else "uncalibrated",
        "computed_at": cal.computed_at,
        "snapshot_digest": cal.snapshot_digest,
        "statistic": statistic,
        "impostor": summarise(impostor),
        "genuine": summarise(genuine),
        "histogram": _histogram(impostor, genuine, marks),
    }
    if null_info is not None:
        out["null"] = null_info
    return out


def _file_status(path: str, sha256: str) -> str:
    p = Path(fs_name(path))
    if not p.is_file():
        return "missing"
    try:
        return "present" if sha256_file(p) == sha256 else "changed"
    except OSError:
        return "missing"


def input_files(scan: CaseScan) -> list[dict[str, Any]]:
    """Every file the record refers to: suspects first, then matched works in order seen."""
    items: list[dict[str, Any]] = []
    for row in scan.rows:
        items.append(
            {
                "role": "suspect",
                "artist": None,
                "path": row["suspect"],
                "sha256": row["sha256"],
                "phash": row["phash"],
                "size_bytes": row["size_bytes"],
                "format": row["format"],
                "width": row["width"],
                "height": row["height"],
                "status": "present",
            }
        )
    meta = scan.snapshot.metadata
    by_key = {(p, s): i for i, (p, s) in enumerate(zip(meta["path"], meta["sha256"], strict=True))}
    seen: set[tuple[str, str]] = set()
    for row in scan.rows:
        # The copy verdict's source is evidence too: listed (and hashed) like a match.
        copy = row.get("copy")
        sources = [copy["source"]] if copy else []
        for match in [*sources, *row["matches"]]:
            key = (match["path"], match["sha256"])
            if key in seen:
                continue
            seen.add(key)
            m = meta.iloc[by_key[key]]
            items.append(
                {
                    "role": "indexed_work",
                    "artist": str(m["artist"]),
                    "path": str(m["path"]),
                    "sha256": str(m["sha256"]),
                    "phash": str(m["phash"]),
                    "size_bytes": int(m["size_bytes"]),
                    "format": str(m["format"]),
                    "width": int(m["width"]),
                    "height": int(m["height"]),
                    "status": _file_status(str(m["path"]), str(m["sha256"])),
                }
            )
    return items


def claimant_summary(row: dict[str, Any], artist: str) -> dict[str, Any]:
    """The claimant artist's rank and ranking entry in one scan row."""
    ranking = row["ranking"]
    for rank, entry in enumerate(ranking, start=1):
        if entry["artist"] == artist:
            return {"artist": artist, "rank": rank, "of": len(ranking), "entry": entry}
    return {"artist": artist, "rank": None, "of": len(ranking), "entry": None}


def near_duplicates(row: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"path": m["path"], "artist": m["artist"], "phash_distance": m["phash_distance"]}
        for m in row["matches"]
        if m.get("phash_distance") is not None and m["phash_distance"] <= NEAR_DUPLICATE_BITS
    ]


def method_section(scan: CaseScan) -> dict[str, Any]:
    manifest = scan.snapshot.manifest
    params = scan.scanner.params
    versions = software_versions()
    versions["simdetect"] = __version__
    return {
        "backbone": {
            "spec": manifest.backbone_spec,
            "fingerprint": manifest.fingerprint.to_dict(),
            "fingerprint_digest": manifest.fingerprint.digest(),
        },
        "scoring": {
            "k": params.scoring.k,
            "hubness_k": params.scoring.hubness_k,
            "description": params.scoring.describe(),
        },
        "target_fpr": params.target_fpr,
        "reference": params.reference,
        "family_fpr": params.family_fpr,
        "contrastive": params.imitation.record(),
        # How the nearest works were ordered (None: plain cosine); see scoring.ranking.
        "ranking": None if params.ranking is None else asdict(params.ranking),
        "top_k": params.top_k,
        "near_duplicate_bits": NEAR_DUPLICATE_BITS,
        "software": versions,
    }


def index_section(scan: CaseScan) -> dict[str, Any]:
    snap = scan.snapshot
    m = snap.manifest
    return {
        "path": str(Path(snap.root).resolve()),
        "snapshot_digest": snap.snapshot_digest(),
        "generation": m.generation,
        "works": m.count,
        "artists": dict(sorted(m.artists.items())),
        "background": dict(sorted(m.background.items())),
        "index_type": m.index_type,
        "files": dict(sorted(m.files.items())),
        "created_at": m.created_at,
        "updated_at": m.updated_at,
    }


def build_record(
    case: CaseInfo,
    scan: CaseScan,
    created_at: str | None = None,
    *,
    pack_into: Path | None = None,
    snapshot: bool = True,
) -> dict[str, Any]:
    """The sealed record (section digests and digest included) for one case.

    With ``pack_into`` (the case folder being written), the files the record names and
    (with ``snapshot``) the index generation are copied there and the record names them
    relative to that folder, so the folder verifies wherever it is moved.
    """
    check_artist(scan.snapshot, case.artist)
    suspects = []
    for row in scan.rows:
        claimant = claimant_summary(row, case.artist)
        suspects.append(
            {
                "path": row["suspect"],
                "sha256": row["sha256"],
                "claimant": claimant,
                "near_duplicates": near_duplicates(row),
                "copy": row.get("copy"),
                "copy_check": row.get("copy_check"),
                "provenance": read_provenance(fs_name(row["suspect"])).to_dict(),
                "scan": row,
            }
        )
    record: dict[str, Any] = {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "digest_algorithm": ALGORITHM,
        "created_at": created_at or utc_timestamp(),
        "case": {
            "id": case.case_id,
            "claimant": case.claimant,
            "respondent": case.respondent,
            "artist": case.artist,
            "languages": list(case.languages),
            "notes": list(case.notes),
        },
        "method": method_section(scan),
        "index": index_section(scan),
        "distributions": distributions(scan, case.artist),
        "suspects": suspects,
        "inputs": input_files(scan),
    }
    if pack_into is not None:
        pack_case(record, scan, pack_into, snapshot=snapshot)
    record["limitations"] = limitations(record)
    return seal(record)
