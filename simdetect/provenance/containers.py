"""Pull raw metadata blocks out of JPEG, PNG, WebP and TIFF containers.

Done at byte level rather than through Pillow because Pillow normalises or
drops exactly what matters as evidence: duplicate text chunks, zTXt/iTXt
flavours, extended XMP, JUMBF segments and CRC damage. Each detector then
works from the same extracted blocks, so the file is parsed once.
"""

from __future__ import annotations

import io
import logging
import zlib
from dataclasses import dataclass, field

from simdetect.provenance.tiff import parse_tiff, strip_exif_header

logger = logging.getLogger(__name__)

# Decompressed text chunks above this are refused (zip-bomb guard). Real
# ComfyUI workflows are well under a megabyte.
MAX_DECOMPRESSED_TEXT = 16 * 1024 * 1024

_XMP_APP1 = b"http://ns.adobe.com/xap/1.0/\x00"
_XMP_EXT_APP1 = b"http://ns.adobe.com/xmp/extension/\x00"
_TIFF_XMP_TAG = 700
_TIFF_C2PA_TAG = 0xCD41


@dataclass(frozen=True)
class TextChunk:
    """A keyword/text pair (PNG text chunk, JPEG comment)."""

    keyword: str
    text: str
    source: str


@dataclass(frozen=True)
class XmpPacket:
    """Raw XMP bytes and where they came from."""

    data: bytes
    source: str


@dataclass(frozen=True)
class ExifBlock:
    """A TIFF-structured EXIF block (header prefix already stripped)."""

    data: bytes
    source: str


@dataclass
class ContainerMetadata:
    """Everything the detectors need, extracted in one pass."""

    media_type: str | None = None
    format_name: str | None = None
    text_chunks: list[TextChunk] = field(default_factory=list)
    xmp_packets: list[XmpPacket] = field(default_factory=list)
    exif_blocks: list[ExifBlock] = field(default_factory=list)
    c2pa_sources: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def recognised(self) -> bool:
        """Whether the bytes were identified as an image at all."""
        return self.media_type is not None

    def texts(self, keyword: str) -> list[TextChunk]:
        """Text chunks with this keyword, ignoring case (writers disagree on it)."""
        wanted = keyword.casefold()
        return [c for c in self.text_chunks if c.keyword.casefold() == wanted]


def extract_metadata(data: bytes) -> ContainerMetadata:
    """Identify the container and extract its metadata blocks."""
    meta = ContainerMetadata()
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        meta.media_type, meta.format_name = "image/png", "PNG"
        _scan_png(data, meta)
    elif data.startswith(b"\xff\xd8"):
        meta.media_type, meta.format_name = "image/jpeg", "JPEG"
        _scan_jpeg(data, meta)
    elif data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        meta.media_type, meta.format_name = "image/webp", "WebP"
        _scan_webp(data, meta)
    elif data[:4] in (b"II*\x00", b"MM\x00*"):
        meta.media_type, meta.format_name = "image/tiff", "TIFF"
        _scan_tiff(data, meta)
    else:
        _identify_other(data, meta)
    return meta


def _decode_text(raw: bytes) -> str:
    # PNG tEXt is Latin-1 by spec, but many generators write UTF-8 anyway;
    # valid multi-byte UTF-8 is vanishingly unlikely to be intended Latin-1.
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _inflate(raw: bytes, what: str, warnings: list[str]) -> bytes | None:
    decomp = zlib.decompressobj()
    try:
        out = decomp.decompress(raw, MAX_DECOMPRESSED_TEXT)
    except zlib.error as exc:
        warnings.append(f"{what}: compressed text is corrupt ({exc})")
        return None
    if decomp.unconsumed_tail:
        warnings.append(f"{what}: decompressed text exceeds {MAX_DECOMPRESSED_TEXT} bytes; skipped")
        return None
    return out


def _scan_png(data: bytes, meta: ContainerMetadata) -> None:
    pos = 8
    saw_end = False
    while pos + 8 <= len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        ctype = data[pos + 4 : pos + 8]
        name = ctype.decode("latin-1")
        if pos + 12 + length > len(data):
            meta.warnings.append(f"PNG chunk {name!r} at offset {pos} is truncated")
            break
        body = data[pos + 8 : pos + 8 + length]
        crc = int.from_bytes(data[pos + 8 + length : pos + 12 + length], "big")
        if zlib.crc32(ctype + body) != crc:
            meta.warnings.append(f"PNG chunk {name!r} at offset {pos} has a bad CRC")
        pos += 12 + length
        if ctype in (b"tEXt", b"zTXt", b"iTXt"):
            _png_text(ctype, body, meta)
        elif ctype == b"eXIf":
            meta.exif_blocks.append(ExifBlock(strip_exif_header(body), "png:eXIf"))
        elif ctype == b"caBX":
            meta.c2pa_sources.append("png:caBX")
        elif ctype == b"IEND":
            saw_end = True
            break
    if not saw_end:
        meta.warnings.append("PNG has no IEND chunk (file truncated or damaged)")


def _png_text(ctype: bytes, body: bytes, meta: ContainerMetadata) -> None:
    kind = ctype.decode("ascii")
    keyword_raw, sep, rest = body.partition(b"\x00")
    keyword = keyword_raw.decode("latin-1")
    if not sep:
        meta.warnings.append(f"PNG {kind} chunk has no keyword separator; skipped")
        return
    what = f"PNG {kind} {keyword!r}"
    raw: bytes | None
    if ctype == b"tEXt":
        raw = rest
    elif ctype == b"zTXt":
        raw = _inflate(rest[1:], what, meta.warnings)
    else:
        if len(rest) < 2:
            meta.warnings.append(f"{what}: chunk is truncated")
            return
        _lang, _, rest2 = rest[2:].partition(b"\x00")
        _translated, _, payload = rest2.partition(b"\x00")
        raw = _inflate(payload, what, meta.warnings) if rest[0] == 1 else payload
    if raw is None:
        return
    if keyword == "XML:com.adobe.xmp":
        meta.xmp_packets.append(XmpPacket(raw, f"png:{kind}"))
    else:
        meta.text_chunks.append(TextChunk(keyword, _decode_text(raw), f"png:{kind}"))


def _scan_jpeg(data: bytes, meta: ContainerMetadata) -> None:
    extended: dict[bytes, dict[int, bytes]] = {}
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            meta.warnings.append(f"JPEG marker expected at offset {pos}; stopped scanning")
            break
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0x01, 0xD8) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        if marker == 0xD9:
            break
        seglen = int.from_bytes(data[pos + 2 : pos + 4], "big")
        if seglen < 2 or pos + 2 + seglen > len(data):
            meta.warnings.append(f"JPEG segment 0xFF{marker:02X} at offset {pos} is truncated")
            break
        payload = data[pos + 4 : pos + 2 + seglen]
        pos += 2 + seglen
        if marker == 0xE1:
            _jpeg_app1(payload, meta, extended)
        elif marker == 0xEB and payload[:2] == b"JP":
            # APP11 JUMBF; JPEG XT also uses JUMBF, so only count C2PA boxes.
            if b"c2pa" in payload and "jpeg:APP11" not in meta.c2pa_sources:
                meta.c2pa_sources.append("jpeg:APP11")
        elif marker == 0xFE:
            meta.text_chunks.append(TextChunk("comment", _decode_text(payload), "jpeg:COM"))
        elif marker == 0xDA:  # start of scan: no metadata follows
            break
    for guid, parts in extended.items():
        joined = b"".join(parts[k] for k in sorted(parts))
        meta.xmp_packets.append(
            XmpPacket(joined, f"jpeg:APP1 extended XMP {guid.decode('latin-1')}")
        )


def _jpeg_app1(
    payload: bytes, meta: ContainerMetadata, extended: dict[bytes, dict[int, bytes]]
) -> None:
    if payload.startswith(b"Exif\x00"):
        meta.exif_blocks.append(ExifBlock(strip_exif_header(payload), "jpeg:APP1 Exif"))
    elif payload.startswith(_XMP_APP1):
        meta.xmp_packets.append(XmpPacket(payload[len(_XMP_APP1) :], "jpeg:APP1 XMP"))
    elif payload.startswith(_XMP_EXT_APP1):
        body = payload[len(_XMP_EXT_APP1) :]
        if len(body) < 40:
            meta.warnings.append("JPEG extended XMP segment is truncated")
            return
        guid = body[:32]
        offset = int.from_bytes(body[36:40], "big")
        extended.setdefault(guid, {})[offset] = body[40:]


def _scan_webp(data: bytes, meta: ContainerMetadata) -> None:
    pos = 12
    while pos + 8 <= len(data):
        fourcc = data[pos : pos + 4]
        size = int.from_bytes(data[pos + 4 : pos + 8], "little")
        if pos + 8 + size > len(data):
            meta.warnings.append(f"WebP chunk {fourcc!r} at offset {pos} is truncated")
            break
        body = data[pos + 8 : pos + 8 + size]
        pos += 8 + size + (size & 1)
        if fourcc == b"EXIF":
            meta.exif_blocks.append(ExifBlock(strip_exif_header(body), "webp:EXIF"))
        elif fourcc == b"XMP ":
            meta.xmp_packets.append(XmpPacket(body, "webp:XMP"))
        elif fourcc == b"C2PA":
            meta.c2pa_sources.append("webp:C2PA")


def _scan_tiff(data: bytes, meta: ContainerMetadata) -> None:
    meta.exif_blocks.append(ExifBlock(data, "tiff:IFD0"))
    dirs = parse_tiff(data)
    if dirs is None:
        return
    xmp = dirs.ifd0.get(_TIFF_XMP_TAG)
    if xmp is not None:
        meta.xmp_packets.append(XmpPacket(xmp.value, "tiff:tag700"))
    if _TIFF_C2PA_TAG in dirs.ifd0:
        meta.c2pa_sources.append("tiff:tag0xCD41")


def _identify_other(data: bytes, meta: ContainerMetadata) -> None:
    """Name formats we cannot mine for metadata, so the report can say so."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as img:
            fmt = img.format
    except UnidentifiedImageError:
        meta.warnings.append("not a recognised image file; no image metadata could be read")
        return
    except Exception as exc:  # Pillow raises many types on hostile input
        logger.debug("Pillow failed to identify file", exc_info=True)
        meta.warnings.append(f"could not identify file as an image ({type(exc).__name__}: {exc})")
        return
    meta.format_name = fmt
    meta.media_type = Image.MIME.get(fmt or "", "application/octet-stream")
    meta.warnings.append(
        f"{fmt} files are not mined for embedded text/XMP/EXIF metadata; only C2PA was checked"
    )
