"""The edits a copier applies to launder a work, as reproducible test transforms.

Each edit is a pure function of (image, rng, others): the same seed gives the same
bytes, so a robustness number can be reproduced and a failing copy inspected. The
parameters are the issue's, read the hard way where it was ambiguous:

- ``crop50``: 50% of *each side* (a quarter of the area) at a random position fully
  inside the image; ``crop50_center`` is the same crop at the centre.
- ``resize25``: 25% of each side.
- ``jpeg30``: one JPEG round trip at quality 30 (4:2:0 chroma subsampling, PIL's default).
- ``jitter``: brightness, contrast and saturation factors in [0.7, 1.3] and a hue shift
  in [-0.05, 0.05] of the colour circle, applied in that fixed order.
- ``flip``: horizontal mirror.
- ``rotate10``: 10° in a random direction, then cropped to the largest axis-aligned
  rectangle of the original aspect that holds only image pixels, and scaled back to the
  original size. A copier does not leave black wedges, so the crop is the honest
  reading; it also removes about a quarter of the area, which makes it the harder one.
- ``overlay``: a full-width banner covering 15% of the height at a random height,
  black at 70% opacity, with white text in PIL's default font (a watermark or caption).
- ``collage2x2``: the work shrunk to half of each side, placed in a random quadrant of a
  2×2 grid whose other three tiles are other works (fitted to the tile by centre crop).
"""

from __future__ import annotations

import io
import math
import random
from collections.abc import Callable, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFont, ImageOps

__all__ = ["EDIT_NAMES", "apply_edit", "rotated_valid_box"]

EDIT_NAMES: tuple[str, ...] = (
    "crop50",
    "crop50_center",
    "resize25",
    "jpeg30",
    "jitter",
    "flip",
    "rotate10",
    "overlay",
    "collage2x2",
)

_JITTER = 0.3
_HUE = 0.05
_ROTATE_DEGREES = 10.0
_BANNER_FRACTION = 0.15
_BANNER_ALPHA = 0.7
_BANNER_TEXT = "© AI ART STUDIO · generated · do not copy"
_COLLAGE_OTHERS = 3


def _crop_fraction(image: Image.Image, rng: random.Random, centre: bool) -> Image.Image:
    w, h = image.size
    cw, ch = max(1, round(w * 0.5)), max(1, round(h * 0.5))
    if centre:
        left, top = (w - cw) // 2, (h - ch) // 2
    else:
        left, top = rng.randint(0, w - cw), rng.randint(0, h - ch)
    return image.crop((left, top, left + cw, top + ch))


def _crop50(image: Image.Image, rng: random.Random, others: Sequence[Image.Image]) -> Image.Image:
    return _crop_fraction(image, rng, centre=False)


def _crop50_center(
    image: Image.Image, rng: random.Random, others: Sequence[Image.Image]
) -> Image.Image:
    return _crop_fraction(image, rng, centre=True)


def _resize25(image: Image.Image, rng: random.Random, others: Sequence[Image.Image]) -> Image.Image:
    w, h = image.size
    return image.resize((max(1, round(w / 4)), max(1, round(h / 4))), Image.Resampling.BICUBIC)


def _jpeg30(image: Image.Image, rng: random.Random, others: Sequence[Image.Image]) -> Image.Image:
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=30)
    buf.seek(0)
    with Image.open(buf) as decoded:
        return decoded.convert("RGB")


def _shift_hue(image: Image.Image, shift: float) -> Image.Image:
    hsv = np.asarray(image.convert("HSV"), dtype=np.uint8).copy()
    # uint8 wrap-around is exactly the circular hue shift we want.
    hsv[..., 0] = (hsv[..., 0].astype(np.int16) + round(shift * 256)) % 256
    return Image.fromarray(hsv, mode="HSV").convert("RGB")


def _jitter(image: Image.Image, rng: random.Random, others: Sequence[Image.Image]) -> Image.Image:
    brightness = rng.uniform(1 - _JITTER, 1 + _JITTER)
    contrast = rng.uniform(1 - _JITTER, 1 + _JITTER)
    saturation = rng.uniform(1 - _JITTER, 1 + _JITTER)
    hue = rng.uniform(-_HUE, _HUE)
    out = ImageEnhance.Brightness(image).enhance(brightness)
    out = ImageEnhance.Contrast(out).enhance(contrast)
    out = ImageEnhance.Color(out).enhance(saturation)
    return _shift_hue(out, hue)


def _flip(image: Image.Image, rng: random.Random, others: Sequence[Image.Image]) -> Image.Image:
    return image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)


def rotated_valid_box(width: int, height: int, degrees: float) -> tuple[int, int]:
    """Largest (w, h) of the original aspect that fits inside the rotated image.

    A centred w×h rectangle fits inside the rotated W×H one when its rotation back by
    the same angle fits inside W×H, i.e. w·cos + h·sin <= W and w·sin + h·cos <= H.
    """
    a = math.radians(abs(degrees))
    c, s = math.cos(a), math.sin(a)
    aspect = width / height
    # w = aspect * h; solve both constraints for h and keep the tighter one.
    h = min(width / (aspect * c + s), height / (aspect * s + c))
    return max(1, math.floor(aspect * h)), max(1, math.floor(h))


def _rotate10(image: Image.Image, rng: random.Random, others: Sequence[Image.Image]) -> Image.Image:
    degrees = _ROTATE_DEGREES if rng.random() < 0.5 else -_ROTATE_DEGREES
    w, h = image.size
    rotated = image.rotate(degrees, resample=Image.Resampling.BICUBIC, expand=False)
    vw, vh = rotated_valid_box(w, h, degrees)
    left, top = (w - vw) // 2, (h - vh) // 2
    return rotated.crop((left, top, left + vw, top + vh)).resize((w, h), Image.Resampling.BICUBIC)


def _banner_font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, ValueError, OSError):  # Pillow built without FreeType
        return ImageFont.load_default()


def _overlay(image: Image.Image, rng: random.Random, others: Sequence[Image.Image]) -> Image.Image:
    w, h = image.size
    bh = max(1, round(h * _BANNER_FRACTION))
    top = rng.randint(0, h - bh)
    base = image.convert("RGBA")
    layer = Image.new("RGBA", base.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    draw.rectangle((0, top, w, top + bh - 1), fill=(0, 0, 0, round(255 * _BANNER_ALPHA)))
    font = _banner_font(max(8, round(bh * 0.45)))
    draw.text(
        (w // 2, top + bh // 2), _BANNER_TEXT, font=font, fill=(255, 255, 255, 230), anchor="mm"
    )
    return Image.alpha_composite(base, layer).convert("RGB")


def _collage2x2(
    image: Image.Image, rng: random.Random, others: Sequence[Image.Image]
) -> Image.Image:
    if len(others) < _COLLAGE_OTHERS:
        raise ValueError(f"collage2x2 needs {_COLLAGE_OTHERS} other images, got {len(others)}")
    w, h = image.size
    tw, th = max(1, w // 2), max(1, h // 2)
    slot = rng.randrange(4)
    tiles = [
        ImageOps.fit(o.convert("RGB"), (tw, th), Image.Resampling.BICUBIC)
        for o in others[:_COLLAGE_OTHERS]
    ]
    tiles.insert(slot, image.resize((tw, th), Image.Resampling.BICUBIC))
    canvas = Image.new("RGB", (2 * tw, 2 * th))
    for i, tile in enumerate(tiles):
        canvas.paste(tile, ((i % 2) * tw, (i // 2) * th))
    return canvas


_EDITS: dict[str, Callable[[Image.Image, random.Random, Sequence[Image.Image]], Image.Image]] = {
    "crop50": _crop50,
    "crop50_center": _crop50_center,
    "resize25": _resize25,
    "jpeg30": _jpeg30,
    "jitter": _jitter,
    "flip": _flip,
    "rotate10": _rotate10,
    "overlay": _overlay,
    "collage2x2": _collage2x2,
}


def apply_edit(
    name: str,
    image: Image.Image,
    rng: random.Random,
    others: Sequence[Image.Image] = (),
) -> Image.Image:
    """Return the edited copy; the input is never modified.

    Only the rng's draws make edits differ between calls, so a caller that seeds one
    ``random.Random`` per (work, edit) gets the same copy on every run and platform.
    """
    try:
        edit = _EDITS[name]
    except KeyError:
        raise ValueError(
            f"unknown edit {name!r}; expected one of {', '.join(EDIT_NAMES)}"
        ) from None
    return edit(image.convert("RGB"), rng, others)
