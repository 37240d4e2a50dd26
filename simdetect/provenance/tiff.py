"""Minimal, bounds-checked TIFF/EXIF directory walker.

EXIF blocks in suspect files are attacker-controlled; a hand-rolled walker
lets every bad offset, loop or oversized count become a warning instead of an
exception deep inside a general-purpose image library. Only IFD0 and the EXIF
sub-IFD are read because that is where the origin-relevant tags live.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ByteOrder = Literal["little", "big"]

EXIF_IFD_POINTER = 0x8769

# TIFF field type -> size in bytes of one value.
_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}
# Real files have a few dozen entries; a huge count means a corrupt block.
_MAX_ENTRIES = 1024


@dataclass(frozen=True)
class IfdEntry:
    """One directory entry with its value bytes already resolved."""

    tag: int
    type: int
    count: int
    value: bytes


@dataclass
class TiffDirectories:
    """IFD0 and EXIF sub-IFD entries keyed by tag, plus what went wrong."""

    byte_order: ByteOrder
    ifd0: dict[int, IfdEntry] = field(default_factory=dict)
    exif_ifd: dict[int, IfdEntry] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def strip_exif_header(blob: bytes) -> bytes:
    """EXIF arrives with or without the JPEG-style ``Exif\\0\\0`` prefix."""
    if blob.startswith(b"Exif\x00\x00"):
        return blob[6:]
    if blob.startswith(b"Exif\x00"):
        return blob[5:]
    return blob


def parse_tiff(blob: bytes) -> TiffDirectories | None:
    """Walk IFD0 and the EXIF IFD; ``None`` if the header is not TIFF at all."""
    order: ByteOrder
    if blob[:4] == b"II*\x00":
        order = "little"
    elif blob[:4] == b"MM\x00*":
        order = "big"
    else:
        return None
    dirs = TiffDirectories(byte_order=order)
    ifd0_offset = int.from_bytes(blob[4:8], order)
    dirs.ifd0 = _read_ifd(blob, ifd0_offset, order, dirs.warnings, "IFD0")
    pointer = dirs.ifd0.get(EXIF_IFD_POINTER)
    if pointer is not None:
        if pointer.type in (4, 13) and len(pointer.value) >= 4:
            exif_offset = int.from_bytes(pointer.value[:4], order)
            if exif_offset == ifd0_offset:
                dirs.warnings.append("EXIF IFD pointer loops back to IFD0; ignored")
            else:
                dirs.exif_ifd = _read_ifd(blob, exif_offset, order, dirs.warnings, "EXIF IFD")
        else:
            dirs.warnings.append("EXIF IFD pointer has an invalid type; ignored")
    return dirs


def _read_ifd(
    blob: bytes, offset: int, order: ByteOrder, warnings: list[str], name: str
) -> dict[int, IfdEntry]:
    entries: dict[int, IfdEntry] = {}
    if offset < 8 or offset + 2 > len(blob):
        warnings.append(f"{name} offset {offset} is outside the EXIF block")
        return entries
    count = int.from_bytes(blob[offset : offset + 2], order)
    if count > _MAX_ENTRIES:
        warnings.append(f"{name} claims {count} entries; treated as corrupt")
        return entries
    for i in range(count):
        pos = offset + 2 + 12 * i
        if pos + 12 > len(blob):
            warnings.append(f"{name} is truncated after {i} entries")
            break
        tag = int.from_bytes(blob[pos : pos + 2], order)
        typ = int.from_bytes(blob[pos + 2 : pos + 4], order)
        n = int.from_bytes(blob[pos + 4 : pos + 8], order)
        size = _TYPE_SIZES.get(typ)
        if size is None:
            warnings.append(f"{name} tag 0x{tag:04X} has unknown type {typ}; skipped")
            continue
        total = size * n
        if total <= 4:
            value = blob[pos + 8 : pos + 8 + total]
        else:
            start = int.from_bytes(blob[pos + 8 : pos + 12], order)
            if start + total > len(blob):
                warnings.append(f"{name} tag 0x{tag:04X} points outside the EXIF block; skipped")
                continue
            value = blob[start : start + total]
        entries.setdefault(tag, IfdEntry(tag=tag, type=typ, count=n, value=value))
    return entries
