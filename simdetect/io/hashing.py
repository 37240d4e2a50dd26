"""Content hashes: SHA-256 for exact identity, a DCT perceptual hash for near-duplicates.

SHA-256 ties evidence to exact file bytes; the perceptual hash survives re-encoding and
resizing, which is how copied artwork is usually laundered.
"""

from __future__ import annotations

import hashlib
import os
import re

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from simdetect.io.images import to_rgb

__all__ = ["phash", "phash_distance", "sha256_bytes", "sha256_file"]

_CHUNK = 1 << 20
_HASH_SIZE = 8
_DCT_SIZE = 32
_HEX_LEN = _HASH_SIZE * _HASH_SIZE // 4
_HEX_RE = re.compile(rf"[0-9a-fA-F]{{{_HEX_LEN}}}")


def sha256_bytes(data: bytes) -> str:
    """Hex SHA-256 of in-memory bytes."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file, streamed so large files never sit in memory whole."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _dct_matrix(n: int) -> NDArray[np.float64]:
    # Orthonormal DCT-II basis, so phash needs no scipy. Frozen because it is shared.
    k = np.arange(n)[:, None]
    i = np.arange(n)[None, :]
    mat = np.cos(np.pi * (2 * i + 1) * k / (2 * n)) * np.sqrt(2.0 / n)
    mat[0, :] = np.sqrt(1.0 / n)
    mat.setflags(write=False)
    return mat


_DCT_BASIS = _dct_matrix(_DCT_SIZE)


def _grayscale(image: Image.Image) -> Image.Image:
    # Alpha and 16-bit/float modes would otherwise be clipped or have hidden pixels
    # leak in; reuse the loader's conversion so hashes match what was indexed.
    if image.mode not in ("L", "RGB"):
        image = to_rgb(image)
    return image.convert("L")


def phash(image: Image.Image) -> str:
    """64-bit DCT perceptual hash as 16 lower-case hex chars.

    Low DCT frequencies capture layout and tone but not fine detail, so recompression
    and resizing barely change them. The median excludes the DC term because overall
    brightness would otherwise dominate the threshold.
    """
    small = _grayscale(image).resize((_DCT_SIZE, _DCT_SIZE), Image.Resampling.LANCZOS)
    pixels = np.asarray(small, dtype=np.float64)
    basis = _DCT_BASIS
    coeffs = basis @ pixels @ basis.T
    low = coeffs[:_HASH_SIZE, :_HASH_SIZE].ravel()
    median = float(np.median(low[1:]))
    value = 0
    for bit in low > median:
        value = (value << 1) | int(bit)
    return f"{value:0{_HEX_LEN}x}"


def _parse_hash(text: str) -> int:
    if not isinstance(text, str) or not _HEX_RE.fullmatch(text):
        raise ValueError(f"perceptual hash must be {_HEX_LEN} hex characters, got {text!r}")
    return int(text, 16)


def phash_distance(a: str, b: str) -> int:
    """Number of differing bits between two :func:`phash` values (0 = same image)."""
    return (_parse_hash(a) ^ _parse_hash(b)).bit_count()
