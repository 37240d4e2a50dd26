"""The copy finding on a suspect's card: suspect and source side by side, region outlined.

Each picture is an inline SVG whose coordinate system is the image's own pixels (as
recorded), so the matched box and the rotated outline from the copy object are drawn
exactly where the record says, whatever size the thumbnail is. Inline SVG needs
nothing beyond the report's Content-Security-Policy (images stay ``data:`` URIs).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from markupsafe import Markup, escape

__all__ = ["copy_view", "outlined_svg"]


def _num(x: float) -> str:
    return f"{float(x):.1f}"


def outlined_svg(
    thumb: str | None,
    width: int,
    height: int,
    outline: list[tuple[float, float]],
    label: str,
) -> Markup:
    """An image (or a grey box when it cannot be shown) with a red outline drawn on it."""
    w, h = max(1, int(width)), max(1, int(height))
    stroke = max(w, h) / 120.0
    points = " ".join(f"{_num(x)},{_num(y)}" for x, y in outline)
    picture = (
        f'<image href="{escape(thumb)}" x="0" y="0" width="{w}" height="{h}" '
        'preserveAspectRatio="none"/>'
        if thumb
        else f'<rect x="0" y="0" width="{w}" height="{h}" fill="#e8e8e8"/>'
    )
    return Markup(
        f'<svg class="copy-svg" viewBox="0 0 {w} {h}" role="img" aria-label="{escape(label)}" '
        f'xmlns="http://www.w3.org/2000/svg">{picture}'
        f'<polygon points="{points}" fill="rgba(166,27,27,0.10)" stroke="#d01c1c" '
        f'stroke-width="{_num(stroke)}" stroke-linejoin="round"/></svg>'
    )


def _box_corners(box: Mapping[str, int]) -> list[tuple[float, float]]:
    x0, y0, x1, y1 = (float(box[k]) for k in ("x0", "y0", "x1", "y1"))
    return [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]


def copy_view(
    suspect: Mapping[str, Any],
    width: int | None,
    height: int | None,
    thumbs: Mapping[str, str | None],
) -> dict[str, Any] | None:
    """What the template needs to show a suspect's copy finding, or None without one."""
    copy = suspect.get("copy")
    if not copy:
        return None
    source = copy["source"]
    region = copy["region"]
    transform = copy["transform"]
    sw = int(width or region["suspect"]["x1"])
    sh = int(height or region["suspect"]["y1"])
    polygon = [(float(x), float(y)) for x, y in region["source_polygon"]]
    return {
        "source_name": Path(source["path"]).name,
        "source_path": source["path"],
        "source_sha256": source["sha256"],
        "source_artist": source["artist"],
        "decided_by": copy["decided_by"],
        "p_value": copy["p_value"],
        "confidence": copy["confidence"],
        "rotation": transform["rotation_degrees"],
        "scale": transform["scale"],
        "mirrored": transform["mirrored"],
        "phash_distance": copy["signals"]["phash_distance"],
        "geometry": copy["signals"]["geometry"],
        "suspect_svg": outlined_svg(
            thumbs.get(suspect["sha256"]),
            sw,
            sh,
            _box_corners(region["suspect"]),
            Path(str(suspect.get("path", ""))).name,
        ),
        "source_svg": outlined_svg(
            thumbs.get(source["sha256"]),
            int(source["width"]),
            int(source["height"]),
            polygon,
            Path(source["path"]).name,
        ),
    }
