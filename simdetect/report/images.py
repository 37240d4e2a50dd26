"""Images inlined into the HTML report as data: URIs.

The report must be one file that opens anywhere, years later, without fetching
anything, so every picture travels inside it. Pictures are downscaled: a court bundle
does not need a 40-megapixel original (its hash identifies it), and a report of a few
megabytes still opens on any machine.
"""

from __future__ import annotations

import base64
import io
import logging
from pathlib import Path

from PIL import Image

from simdetect.io.images import ImageLoadError, LoadLimits, load_image

log = logging.getLogger(__name__)

THUMBNAIL_SIDE = 512
JPEG_QUALITY = 85


def data_uri(data: bytes, media_type: str) -> str:
    return f"data:{media_type};base64,{base64.b64encode(data).decode('ascii')}"


def png_data_uri(png: bytes) -> str:
    return data_uri(png, "image/png")


def thumbnail_data_uri(
    path: str | Path, expected_sha256: str | None = None, side: int = THUMBNAIL_SIDE
) -> str | None:
    """A ≤ `side` px JPEG of the file as a viewer shows it, or None when it cannot be shown.

    With `expected_sha256`, a file whose bytes changed since they were recorded is not
    shown: a picture next to a hash it does not have would mislead.
    """
    try:
        loaded = load_image(path, LoadLimits())
    except ImageLoadError as exc:
        log.warning("cannot show %s in the report: %s", path, exc.reason)
        return None
    if expected_sha256 is not None and loaded.sha256 != expected_sha256:
        log.warning("not showing %s: its bytes changed since they were recorded", path)
        return None
    image = loaded.image.convert("RGB")
    if max(image.size) > side:
        image.thumbnail((side, side), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=JPEG_QUALITY, optimize=True)
    return data_uri(buf.getvalue(), "image/jpeg")
