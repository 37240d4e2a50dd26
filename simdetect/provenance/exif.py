"""EXIF text tags that speak to authorship and origin.

EXIF is where generators and editors stamp their name (Software), where
artists put Artist/Copyright, and where Stable Diffusion WebUI and China's
AIGC label land in JPEG/WebP output (UserComment / ImageDescription). The
decoded text is shared with those detectors, so decoding happens once here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from simdetect.provenance.containers import ExifBlock
from simdetect.provenance.model import KIND_EXIF, ProvenanceSignal, no_signal
from simdetect.provenance.tiff import ByteOrder, IfdEntry, parse_tiff

logger = logging.getLogger(__name__)

# (field name, tag) for ASCII tags in IFD0 or the EXIF IFD.
_ASCII_TAGS: tuple[tuple[str, int], ...] = (
    ("software", 0x0131),
    ("artist", 0x013B),
    ("copyright", 0x8298),
    ("image_description", 0x010E),
    ("make", 0x010F),
    ("model", 0x0110),
    ("datetime", 0x0132),
    ("datetime_original", 0x9003),
)
# Windows Explorer "XP" tags: UTF-16LE in BYTE fields.
_XP_TAGS: tuple[tuple[str, int], ...] = (
    ("xp_comment", 0x9C9C),
    ("xp_author", 0x9C9D),
    ("xp_title", 0x9C9B),
)
_USER_COMMENT = 0x9286

# Generators known to stamp their own name into EXIF Software / Make. Matching
# is a hint, reported verbatim, not a verdict.
_AI_SOFTWARE_NAMES: tuple[str, ...] = (
    "midjourney",
    "dall-e",
    "dall·e",
    "stable diffusion",
    "novelai",
    "comfyui",
    "adobe firefly",
    "leonardo.ai",
    "invokeai",
    "fooocus",
    "automatic1111",
)

FIELD_ORDER: tuple[str, ...] = (
    *(name for name, _ in _ASCII_TAGS),
    "user_comment",
    *(name for name, _ in _XP_TAGS),
)


@dataclass
class ExifData:
    """Decoded origin-relevant EXIF text, first block wins per field."""

    values: dict[str, str] = field(default_factory=dict)
    user_comment_charset: str | None = None
    sources: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _ascii(entry: IfdEntry) -> str:
    raw = entry.value.split(b"\x00", 1)[0] if entry.type == 2 else entry.value.rstrip(b"\x00")
    try:
        return raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        return raw.decode("latin-1").strip()


def _utf16_score(text: str) -> int:
    """Plausibility of a UTF-16 decoding; the wrong byte order of ASCII text
    lands in CJK ranges, so ASCII is weighted above CJK to break ties."""
    score = 0
    for ch in text:
        o = ord(ch)
        if 0x20 <= o < 0x7F or ch in "\n\r\t":
            score += 2
        elif (
            0xA0 <= o <= 0x24F
            or 0x2000 <= o <= 0x206F
            or 0x3000 <= o <= 0x30FF
            or 0x4E00 <= o <= 0x9FFF
            or 0xAC00 <= o <= 0xD7AF
            or 0xFF00 <= o <= 0xFFEF
        ):
            score += 1
    return score


def _decode_utf16(payload: bytes, byte_order: ByteOrder) -> tuple[str, str]:
    if payload[:2] == b"\xff\xfe":
        return payload[2:].decode("utf-16-le"), "UTF-16LE with BOM"
    if payload[:2] == b"\xfe\xff":
        return payload[2:].decode("utf-16-be"), "UTF-16BE with BOM"
    if len(payload) % 2:
        payload = payload[:-1]
    # The spec ties byte order to the TIFF header but writers ignore that
    # (piexif always writes big-endian), so try both and keep the plausible one.
    first, second = ("be", "le") if byte_order == "big" else ("le", "be")
    candidates: list[tuple[int, int, str, str]] = []
    for rank, suffix in enumerate((first, second)):
        try:
            text = payload.decode(f"utf-16-{suffix}")
        except UnicodeDecodeError:
            continue
        candidates.append((_utf16_score(text), -rank, text, f"UTF-16{suffix.upper()}"))
    if not candidates:
        raise UnicodeDecodeError("utf-16", payload, 0, len(payload), "invalid in both byte orders")
    _, _, text, name = max(candidates)
    return text, name


def decode_user_comment(
    raw: bytes, byte_order: ByteOrder
) -> tuple[str | None, str | None, list[str]]:
    """Decode UserComment per its 8-byte charset prefix.

    Returns (text, charset description, warnings); text is None when nothing
    usable is there.
    """
    warnings: list[str] = []
    if len(raw) < 8:
        warnings.append(f"EXIF UserComment is {len(raw)} bytes, shorter than its charset prefix")
        return None, None, warnings
    prefix, payload = raw[:8], raw[8:]
    try:
        if prefix == b"ASCII\x00\x00\x00":
            text, charset = payload.decode("ascii"), "ASCII"
        elif prefix == b"UNICODE\x00":
            text, detail = _decode_utf16(payload, byte_order)
            charset = f"UNICODE ({detail})"
        elif prefix == b"JIS\x00\x00\x00\x00\x00":
            codec = "iso2022_jp" if b"\x1b" in payload else "shift_jis"
            text, charset = payload.decode(codec), f"JIS ({codec})"
        elif prefix == b"\x00" * 8:
            text, charset = payload.decode("utf-8"), "undefined (decoded as UTF-8)"
        else:
            warnings.append(f"EXIF UserComment has unknown charset prefix {prefix!r}")
            text, charset = raw.decode("utf-8"), "unknown prefix (whole value decoded as UTF-8)"
    except UnicodeDecodeError as exc:
        warnings.append(
            f"EXIF UserComment is not valid text for its charset prefix {prefix!r} ({exc.reason}); "
            "kept as Latin-1"
        )
        text, charset = payload.decode("latin-1"), "undecodable (shown as Latin-1)"
    text = text.rstrip("\x00").strip()
    return (text or None), charset, warnings


def decode_exif(blocks: list[ExifBlock]) -> ExifData:
    """Decode every EXIF block; problems become warnings."""
    data = ExifData()
    for block in blocks:
        try:
            _decode_block(block, data)
        except Exception as exc:  # a hostile block must not sink the report
            logger.debug("EXIF block from %s failed to decode", block.source, exc_info=True)
            data.warnings.append(f"EXIF block in {block.source} could not be decoded ({exc})")
    return data


def _decode_block(block: ExifBlock, data: ExifData) -> None:
    dirs = parse_tiff(block.data)
    if dirs is None:
        data.warnings.append(f"EXIF block in {block.source} has no TIFF header; ignored")
        return
    data.sources.append(block.source)
    data.warnings.extend(f"{block.source}: {w}" for w in dirs.warnings)
    tags = {**dirs.exif_ifd, **dirs.ifd0}
    for name, tag in _ASCII_TAGS:
        entry = tags.get(tag)
        if entry is not None and name not in data.values:
            text = _ascii(entry)
            if text:
                data.values[name] = text
    for name, tag in _XP_TAGS:
        entry = tags.get(tag)
        if entry is not None and name not in data.values:
            text = entry.value.decode("utf-16-le", "replace").rstrip("\x00").strip()
            if text:
                data.values[name] = text
    comment = tags.get(_USER_COMMENT)
    if comment is not None and "user_comment" not in data.values:
        decoded, charset, warnings = decode_user_comment(comment.value, dirs.byte_order)
        data.warnings.extend(warnings)
        if decoded is not None:
            data.values["user_comment"] = decoded
            data.user_comment_charset = charset


def exif_signal(data: ExifData) -> ProvenanceSignal:
    """The ``exif`` signal: origin-relevant text tags, verbatim."""
    if not data.values:
        return no_signal(KIND_EXIF, list(data.warnings))
    fields: dict[str, object] = {name: data.values.get(name) for name in FIELD_ORDER}
    fields["user_comment_charset"] = data.user_comment_charset
    fields["exif_sources"] = list(data.sources)
    indicators = []
    for name in ("software", "make", "model"):
        value = data.values.get(name, "")
        if value.startswith(("prompt:", "workflow:")):
            continue  # ComfyUI graph stashed in EXIF; the comfyui signal covers it
        if any(gen in value.casefold() for gen in _AI_SOFTWARE_NAMES):
            indicators.append(f"EXIF {name.capitalize()} names an AI generator: {value[:80]!r}")
    labels = {"software": "Software", "artist": "Artist", "copyright": "Copyright"}
    parts = [f"{label}={data.values[key]!r}" for key, label in labels.items() if key in data.values]
    if not parts:
        parts = ["text tags: " + ", ".join(sorted(data.values))]
    summary = "EXIF " + ", ".join(parts)
    return ProvenanceSignal(
        kind=KIND_EXIF,
        found=True,
        summary=summary,
        fields=fields,
        warnings=list(data.warnings),
        ai_indicators=indicators,
    )
