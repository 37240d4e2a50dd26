"""What a suspect image file says about its own origin.

Reads C2PA Content Credentials, IPTC DigitalSourceType in XMP, EXIF authorship
tags, Stable Diffusion WebUI / ComfyUI / NovelAI generation metadata and
China's GB 45438-2025 implicit AIGC label. Every source is always listed in the
report; absence is "no signal found", never "not AI", since metadata is easily
stripped. NovelAI's alpha-channel stealth watermark is out of scope.
"""

from simdetect.provenance.model import KINDS, NO_SIGNAL, ProvenanceReport, ProvenanceSignal
from simdetect.provenance.reader import read_provenance, read_provenance_bytes

__all__ = [
    "KINDS",
    "NO_SIGNAL",
    "ProvenanceReport",
    "ProvenanceSignal",
    "read_provenance",
    "read_provenance_bytes",
]
