"""How much memory a decode will take, and how far to reduce it so it fits.

A 194 KB PNG can declare 10000 x 10000 16-bit pixels: 200 MB once decoded, and the
numeric conversions to 8-bit RGB used to multiply that eight-fold (1.6 GB for one
upload). The pixel limit alone does not bound memory, because the cost per pixel
depends on the mode, so each decode is planned from its header first:

- ``decoded``: what PIL allocates for the image in its own mode (PIL keeps RGB, LA,
  CMYK ... at 4 bytes per pixel, 16-bit at 2, 32-bit integer and float at 4);
- ``convert``: what the conversion to 8-bit RGB allocates on top, per output pixel;
- ``extras``: orientation, perceptual hash and model preprocessing, per output pixel.

If the full-size plan exceeds the budget, the image is reduced right after decoding
(box average by an integer factor, before any conversion), taking the smallest factor
that fits. JPEGs are already decoded at a reduced DCT scale when a model needs fewer
pixels (``draft``). Images within the budget decode exactly as before, bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DecodePlan", "bytes_per_pixel", "plan_decode"]

HIGH_BIT_16 = frozenset({"I;16", "I;16L", "I;16B", "I;16N"})
_ALPHA = frozenset({"LA", "La", "PA", "RGBA", "RGBa"})
_ONE_BYTE = frozenset({"1", "L", "P"})
_EXTRAS = 4 + 1  # a transposed copy (EXIF orientation) and the greyscale for the hash
_FACTORS = (2, 3, 4, 5, 6, 8, 12, 16, 24, 32, 64, 128, 256)
_MAX_FACTOR = _FACTORS[-1]


def bytes_per_pixel(mode: str) -> int:
    """Bytes PIL allocates per pixel for an image in ``mode``."""
    if mode in _ONE_BYTE:
        return 1
    if mode in HIGH_BIT_16:
        return 2
    return 4  # I, F, and every multi-band mode (PIL pads 3 bands to 4)


def _convert_cost(mode: str, fmt: str, transparency: bool) -> int:
    """Bytes per output pixel allocated on the way from ``mode`` to 8-bit RGB."""
    if mode in HIGH_BIT_16:
        return 24  # numpy copy, uint32 arithmetic temporaries, grey, RGB
    if mode == "I":
        return 42  # the same in int64
    if mode == "F":
        return 32
    if mode in _ALPHA or transparency:
        return 16  # RGBA, white background, composite, RGB
    if mode == "RGB":
        return 0 if fmt == "JPEG" else 4
    return 4


def _pre_reduce_cost(mode: str, transparency: bool) -> int:
    """Bytes per source pixel allocated before reducing (modes PIL cannot reduce as they are)."""
    if mode in HIGH_BIT_16:
        return 0  # reduced in strips of a few MiB
    if mode == "P":
        return 4  # to RGB or RGBA
    if mode == "1":
        return 1  # to L
    return 0


@dataclass(frozen=True)
class DecodePlan:
    """Reduce by ``factor`` (1 = full size); ``cost`` is the estimated peak in bytes."""

    factor: int
    cost: int
    full_cost: int

    @property
    def reduced(self) -> bool:
        return self.factor > 1


def reduced_size(width: int, height: int, factor: int) -> tuple[int, int, int, int]:
    """(factor_x, factor_y, out_width, out_height): a side shorter than the factor stays."""
    fx, fy = min(factor, width), min(factor, height)
    return fx, fy, max(1, width // fx), max(1, height // fy)


def _cost(width: int, height: int, mode: str, fmt: str, transparency: bool, factor: int) -> int:
    pixels = width * height
    decoded = pixels * bytes_per_pixel(mode)
    per_out = _convert_cost(mode, fmt, transparency) + _EXTRAS
    if factor == 1:
        return decoded + pixels * per_out
    _, _, w, h = reduced_size(width, height, factor)
    out_mode_bytes = 4 * w * h  # the reduced image itself
    pre = pixels * _pre_reduce_cost(mode, transparency)
    return decoded + pre + out_mode_bytes + w * h * per_out


def plan_decode(
    width: int,
    height: int,
    mode: str,
    fmt: str,
    transparency: bool,
    max_bytes: int,
    min_side: int | None = None,
) -> DecodePlan | None:
    """The smallest reduction whose estimated peak fits ``max_bytes``; None if none does.

    Once an image has to be reduced anyway, a consumer that needs only ``min_side``
    pixels (a model) gets it reduced further, down to twice that on the short side.
    """
    full = _cost(width, height, mode, fmt, transparency, 1)
    if full <= max_bytes:
        return DecodePlan(1, full, full)
    for factor in _FACTORS:
        if factor > max(width, height):
            break
        cost = _cost(width, height, mode, fmt, transparency, factor)
        if cost <= max_bytes:
            if min_side:
                enough = [f for f in _FACTORS if min(width, height) // f >= 2 * min_side]
                if enough and enough[-1] > factor:
                    factor = enough[-1]
                    cost = _cost(width, height, mode, fmt, transparency, factor)
            return DecodePlan(factor, cost, full)
    return None


def describe_refusal(width: int, height: int, mode: str, fmt: str, max_bytes: int) -> str:
    need = _cost(width, height, mode, fmt, False, _MAX_FACTOR)
    return (
        f"image too large to decode in memory: {width}x{height} {mode} needs at least "
        f"{need / 2**20:,.0f} MiB, over the decoding budget of {max_bytes / 2**20:,.0f} MiB"
    )
