"""China's implicit AIGC metadata label (GB 45438-2025).

《人工智能生成合成内容标识方法》 requires AI-generated files to carry an
implicit label: a metadata field named ``AIGC`` whose value is JSON with
``Label``, ``ContentProducer``, ``ProduceID``, ``ReservedCode1``,
``ContentPropagator``, ``PropagateID`` and ``ReservedCode2``. Platforms write
it wherever their format allows, so it is looked for in PNG text chunks, in
XMP (any namespace; TC260's ``http://www.tc260.org.cn/ns/AIGC/1.0/`` in
practice) and in EXIF text tags holding the JSON.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from simdetect.provenance.containers import ContainerMetadata
from simdetect.provenance.exif import ExifData
from simdetect.provenance.model import KIND_AIGC, ProvenanceSignal, no_signal
from simdetect.provenance.xmp import XmpFindings

STANDARD = "GB 45438-2025"

# Canonical key -> report field name, in the standard's order.
_KEYS: dict[str, str] = {
    "Label": "label",
    "ContentProducer": "content_producer",
    "ProduceID": "produce_id",
    "ReservedCode1": "reserved_code1",
    "ContentPropagator": "content_propagator",
    "PropagateID": "propagate_id",
    "ReservedCode2": "reserved_code2",
}
_KEYS_FOLDED = {k.casefold(): k for k in _KEYS}

LABEL_MEANINGS: dict[str, str] = {
    "1": "AI-generated (属于人工智能生成合成内容)",
    "2": "possibly AI-generated (可能为人工智能生成合成内容)",
    "3": "suspected AI-generated (疑似为人工智能生成合成内容)",
}

_EXIF_TAGS = ("user_comment", "image_description", "xp_comment")
_EXCERPT = 4000


@dataclass
class _Candidate:
    source: str
    raw: str
    value: dict[str, Any] | None
    error: str | None


def _unwrap(value: Any, depth: int = 0) -> dict[str, Any] | None:
    """Peel ``{"AIGC": ...}`` wrappers and JSON-in-a-string encodings."""
    if depth > 4:
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):
            return None
        return _unwrap(value, depth + 1)
    if not isinstance(value, dict):
        return None
    for key, inner in value.items():
        if str(key).casefold() == "aigc":
            return _unwrap(inner, depth + 1)
    return value


def _from_text(source: str, text: str) -> _Candidate:
    try:
        loaded = json.loads(text)
    except (ValueError, RecursionError) as exc:
        return _Candidate(source, text, None, f"{source} AIGC value is not valid JSON ({exc})")
    value = _unwrap(loaded)
    if value is None:
        return _Candidate(source, text, None, f"{source} AIGC value is not a JSON object")
    return _Candidate(source, text, value, None)


def _exif_candidate(source: str, text: str) -> _Candidate | None:
    """EXIF text only counts if it plausibly carries the label."""
    stripped = text.strip()
    if not stripped.startswith("{"):
        return None
    try:
        loaded = json.loads(stripped)
    except (ValueError, RecursionError) as exc:
        if "aigc" in stripped.casefold() or "contentproducer" in stripped.casefold():
            return _Candidate(source, text, None, f"{source} AIGC JSON is malformed ({exc})")
        return None
    if not isinstance(loaded, dict):
        return None
    folded = {str(k).casefold() for k in loaded}
    if "aigc" in folded or ("label" in folded and len(folded & set(_KEYS_FOLDED)) >= 2):
        value = _unwrap(loaded)
        if value is None:
            return _Candidate(source, text, None, f"{source} AIGC value is not a JSON object")
        return _Candidate(source, text, value, None)
    return None


def _candidates(
    meta: ContainerMetadata, xmp: list[XmpFindings], exif: ExifData
) -> list[_Candidate]:
    found: list[_Candidate] = []
    for chunk in meta.texts("AIGC"):
        found.append(_from_text(f"{chunk.source} 'AIGC'", chunk.text))
    for findings in xmp:
        for item in findings.aigc_values:
            where = f"xmp ({findings.source}) {item.namespace or 'unknown namespace'}"
            if isinstance(item.value, dict):
                found.append(
                    _Candidate(where, json.dumps(item.value, ensure_ascii=False), item.value, None)
                )
            else:
                found.append(_from_text(where, item.value))
    for tag in _EXIF_TAGS:
        text = exif.values.get(tag)
        if text:
            cand = _exif_candidate(f"exif:{tag}", text)
            if cand is not None:
                found.append(cand)
    return found


def _normalise(value: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    known: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, val in value.items():
        canonical = _KEYS_FOLDED.get(str(key).casefold())
        if canonical is None:
            extra[str(key)] = val
        else:
            known[_KEYS[canonical]] = val if val is None or isinstance(val, str) else str(val)
    return known, extra


def aigc_signal(
    meta: ContainerMetadata, xmp: list[XmpFindings], exif: ExifData
) -> ProvenanceSignal:
    """The ``aigc_label`` signal."""
    warnings = [
        f"XMP packet in {f.source} could not be parsed; AIGC property there was only text-scanned"
        for f in xmp
        if not f.parsed
    ]
    candidates = _candidates(meta, xmp, exif)
    if not candidates:
        return no_signal(KIND_AIGC, warnings)
    warnings.extend(c.error for c in candidates if c.error)
    parsed = [c for c in candidates if c.value is not None]
    primary = parsed[0] if parsed else candidates[0]
    known, extra = _normalise(primary.value) if primary.value is not None else ({}, {})
    label = known.get("label")
    meaning = LABEL_MEANINGS.get(str(label).strip()) if label is not None else None
    if label is not None and meaning is None:
        warnings.append(f"AIGC Label value {label!r} is not one defined by {STANDARD}")
    labels = {str(_normalise(c.value)[0].get("label")) for c in parsed if c.value is not None}
    if len(labels) > 1:
        warnings.append(f"AIGC labels disagree across sources: {sorted(labels)}")
    fields: dict[str, Any] = {
        "standard": STANDARD,
        "source": primary.source,
        "sources": [c.source for c in candidates],
        "parsed": primary.value is not None,
        **{name: known.get(name) for name in _KEYS.values()},
        "label_meaning": meaning,
        "extra": extra,
        "raw": primary.raw[:_EXCERPT],
    }
    if primary.value is None:
        indicator = f"China AIGC implicit label field present ({STANDARD}; value unparseable)"
    else:
        producer = known.get("content_producer")
        who = f", ContentProducer={producer}" if producer else ""
        short = meaning.split(" (", 1)[0] if meaning else "undefined label value"
        indicator = f"China AIGC implicit label ({STANDARD}): Label={label} ({short}){who}"
    return ProvenanceSignal(
        kind=KIND_AIGC,
        found=True,
        summary=f"{indicator} in {primary.source}",
        fields=fields,
        warnings=warnings,
        ai_indicators=[indicator],
    )
