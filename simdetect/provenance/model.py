"""Records for what an image says about its own origin.

These records end up in legal evidence reports, so two rules shape them: every
source that was checked is listed (an absent signal is reported as "no signal
found", never as "not AI", because metadata is trivially stripped), and
everything in ``fields`` must survive ``json.dumps`` unchanged so the report can
be archived and re-read without this code.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

KIND_C2PA = "c2pa"
KIND_XMP_DST = "iptc_xmp_digital_source_type"
KIND_EXIF = "exif"
KIND_SD_WEBUI = "sd_webui_parameters"
KIND_COMFYUI = "comfyui"
KIND_NOVELAI = "novelai"
KIND_AIGC = "aigc_label"

#: Report order. Fixed so that two reports on the same file diff cleanly.
KINDS: tuple[str, ...] = (
    KIND_C2PA,
    KIND_XMP_DST,
    KIND_EXIF,
    KIND_SD_WEBUI,
    KIND_COMFYUI,
    KIND_NOVELAI,
    KIND_AIGC,
)

NO_SIGNAL = "no signal found"

# Deeper structures than this are almost certainly hostile or broken; cutting
# them keeps serialisation from blowing the recursion limit.
_MAX_DEPTH = 64


@dataclass
class ProvenanceSignal:
    """What one metadata source says about the file's origin.

    ``ai_indicators`` holds short human-readable claims of AI generation made by
    this source; it is empty when the source exists but asserts nothing about
    AI (e.g. an EXIF block with only a camera model).
    """

    kind: str
    found: bool
    summary: str
    fields: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    ai_indicators: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Serialise with a fixed key order so archived reports are comparable."""
        return {
            "kind": self.kind,
            "found": self.found,
            "summary": self.summary,
            "ai_indicators": list(self.ai_indicators),
            "fields": json_safe(self.fields),
            "warnings": list(self.warnings),
        }


@dataclass
class ProvenanceReport:
    """Every provenance source checked for one file, in ``KINDS`` order."""

    path: str
    signals: list[ProvenanceSignal]
    warnings: list[str] = field(default_factory=list)
    media_type: str | None = None

    def found(self) -> list[ProvenanceSignal]:
        """Signals that are present, whether or not they claim AI origin."""
        return [s for s in self.signals if s.found]

    def ai_indicators(self) -> list[str]:
        """All claims of AI generation, in report order."""
        return [text for s in self.signals for text in s.ai_indicators]

    def signal(self, kind: str) -> ProvenanceSignal:
        """Look up one signal; every kind is always present in a report."""
        for s in self.signals:
            if s.kind == kind:
                return s
        raise KeyError(kind)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form with a stable key order."""
        return {
            "path": self.path,
            "media_type": self.media_type,
            "warnings": list(self.warnings),
            "ai_indicators": self.ai_indicators(),
            "signals": [s.to_dict() for s in self.signals],
        }


def no_signal(kind: str, warnings: list[str] | None = None) -> ProvenanceSignal:
    """An explicit "checked, nothing there" entry (never a negative finding)."""
    return ProvenanceSignal(kind=kind, found=False, summary=NO_SIGNAL, warnings=warnings or [])


def json_safe(value: Any, _depth: int = 0) -> Any:
    """Coerce parsed metadata into strict JSON types.

    Metadata JSON written by Python tools can contain NaN/Infinity, and C2PA
    or EXIF values can arrive as tuples or bytes; strict JSON consumers of the
    evidence report must not choke on any of them.
    """
    if _depth > _MAX_DEPTH:
        return "<truncated: nested too deeply>"
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, dict):
        return {str(k): json_safe(v, _depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v, _depth + 1) for v in value]
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).hex()
    return str(value)
