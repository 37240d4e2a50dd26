"""IPTC Digital Source Type vocabulary, shared by the C2PA and XMP readers.

Both C2PA actions and IPTC XMP carry the same NewsCodes URIs, so the "is this
an AI code" judgement lives in one place and cannot drift between readers.
"""

from __future__ import annotations

from dataclasses import dataclass

IPTC_DST_PREFIX = "http://cv.iptc.org/newscodes/digitalsourcetype/"

# Codes whose definition says the content was produced, wholly or in part, by
# an algorithm (trained model or otherwise) rather than captured or drawn.
_SYNTHETIC_CODES: dict[str, str] = {
    "trainedalgorithmicmedia": "generative AI: created by a model trained on sampled content",
    "compositewithtrainedalgorithmicmedia": "composite that includes generative-AI elements",
    "algorithmicmedia": "created purely by an algorithm, without training data",
    "compositesynthetic": "composite that includes synthetic elements",
}

_OTHER_CODES: dict[str, str] = {
    "digitalcapture": "original digital capture of a real scene",
    "computationalcapture": "digital capture with computational processing",
    "negativefilm": "digitised from a film negative",
    "positivefilm": "digitised from a film positive",
    "print": "digitised from a print",
    "minorhumanedits": "capture with minor human edits",
    "humanedits": "human-edited media",
    "compositecapture": "composite of captured elements",
    "algorithmicallyenhanced": "capture enhanced by an algorithm",
    "datadrivenmedia": "rendered from data",
    "digitalart": "created by a human using digital tools",
    "virtualrecording": "recording of a virtual event",
    "screencapture": "screen capture",
    "softwareimage": "created by software (deprecated code)",
    "digitalcreation": "created digitally (deprecated code)",
}


@dataclass(frozen=True)
class DigitalSourceType:
    """A DigitalSourceType value as written, plus its interpretation."""

    value: str
    code: str
    is_ai: bool
    meaning: str

    def as_fields(self) -> dict[str, str | bool]:
        """Flat JSON form for report fields."""
        return {
            "value": self.value,
            "code": self.code,
            "is_ai": self.is_ai,
            "meaning": self.meaning,
        }


def classify(value: str) -> DigitalSourceType:
    """Interpret a URI or bare code; http/https and case variants are tolerated."""
    stripped = value.strip()
    code = stripped.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]
    key = code.casefold()
    if key in _SYNTHETIC_CODES:
        return DigitalSourceType(stripped, code, True, _SYNTHETIC_CODES[key])
    meaning = _OTHER_CODES.get(key, "not an IPTC digital source type code known to this tool")
    return DigitalSourceType(stripped, code, False, meaning)
