"""The limitations that apply to one record, in plain words and both languages.

Derived from the record's own content (not from live objects), so the list always
matches the numbers it qualifies, and conditional caveats appear only when their
condition holds: "uncalibrated" only for an uncalibrated index, "too few impostors"
only when a decision could not be made for that reason.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from simdetect.report.i18n import both, format_p, format_share
from simdetect.scoring.readiness import impostors_needed as needed_impostors

FEW_GENUINE = 10

# Plain words for the uncalibrated state; the scan row's own reason is English only.
_UNCALIBRATED_ZH = "索引中只有一位艺术家且没有背景作品，没有可比较的其他风格。"
_UNCALIBRATED_EN = (
    "the index holds a single artist and no background works, so there is no other "
    "style to compare with."
)


def _item(code: str, key: str, **params: object) -> dict[str, str]:
    return {"code": code, **both(key, **params)}


def claimant_entries(record: dict[str, Any]) -> list[dict[str, Any]]:
    return [s["claimant"]["entry"] for s in record["suspects"] if s["claimant"]["entry"]]


def undecided_code(entry: dict[str, Any], target_fpr: float, calibrated: bool) -> str | None:
    """Why a ranking entry has no decision, as a stable code the pages and the report word
    in each language: `uncalibrated`, `too_few_impostors`, or None (the scan's own words)."""
    if not calibrated:
        return "uncalibrated"
    if int(entry["n_impostors"]) < needed_impostors(target_fpr):
        return "too_few_impostors"
    return None


def limitations(record: dict[str, Any]) -> list[dict[str, str]]:
    """Every limitation as ``{code, zh, en}``, general ones first."""
    artist = record["case"]["artist"]
    index = record["index"]
    n_artists = len(index["artists"])
    items = [
        _item("style_only", "limit.style_only"),
        _item("relative_to_index", "limit.relative_to_index", n_artists=n_artists),
    ]
    entries = claimant_entries(record)
    calibrated = record["distributions"]["state"] == "calibrated"
    if not calibrated:
        items.append(
            _item(
                "uncalibrated",
                "limit.uncalibrated",
                reason_zh=_UNCALIBRATED_ZH,
                reason_en=_UNCALIBRATED_EN,
            )
        )
    elif entries:
        n_imp = int(entries[0]["n_impostors"])
        if n_imp > 0:
            items.append(
                _item(
                    "p_value_floor",
                    "limit.p_floor",
                    artist=artist,
                    n=n_imp,
                    floor=format_p(1 / (1 + n_imp)),
                )
            )
        target = float(record["method"]["target_fpr"])
        if any(e["decision"] is None and e["threshold"] is None for e in entries) and (
            n_imp < needed_impostors(target)
        ):
            items.append(
                _item(
                    "too_few_impostors",
                    "limit.too_few_impostors",
                    artist=artist,
                    n=n_imp,
                    fpr=format_share(target),
                    needed=needed_impostors(target),
                )
            )
    n_genuine = int(index["artists"].get(artist, 0))
    if n_genuine < FEW_GENUINE:
        items.append(_item("few_genuine", "limit.few_genuine", artist=artist, n=n_genuine))
    not_top = [
        Path(s["path"]).name
        for s in record["suspects"]
        if s["scan"]["ranking"] and s["scan"]["ranking"][0]["artist"] != artist
    ]
    if not_top:
        items.append(
            _item(
                "claimant_not_top",
                "limit.claimant_not_top",
                artist=artist,
                files=", ".join(not_top),
            )
        )
    unavailable = [
        i for i in record["inputs"] if i["role"] == "indexed_work" and i["status"] != "present"
    ]
    if unavailable:
        items.append(_item("work_unavailable", "limit.work_unavailable", n=len(unavailable)))
    items.append(
        _item(
            "backbone",
            "limit.backbone",
            backbone=record["method"]["backbone"]["spec"],
        )
    )
    items.append(_item("metadata", "limit.metadata"))
    items.append(_item("digest", "limit.digest"))
    return items
