"""Safe, uniform image loading.

Artists' folders and suspect uploads contain every format, colour mode and kind of
damage. Everything downstream (embeddings, hashes, reports) wants one thing: a fully
decoded 8-bit RGB image that looks like what a viewer shows, plus the hash of the
exact bytes that were decoded. Every failure becomes an :class:`ImageLoadError` with a
one-line reason, so one bad file is reported and skipped instead of crashing a run.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from PIL import (
    BmpImagePlugin,  # noqa: F401  (imported to register the format with PIL)
    ExifTags,
    GifImagePlugin,  # noqa: F401
    Image,
    ImageFile,
    JpegImagePlugin,  # noqa: F401
    PngImagePlugin,  # noqa: F401
    TiffImagePlugin,  # noqa: F401
    WebPImagePlugin,  # noqa: F401
)

from simdetect.defaults import (
    DEFAULT_MAX_DECODE_BYTES,
    DEFAULT_MAX_FILE_BYTES,
    DEFAULT_MAX_PIXELS,
)
from simdetect.errors import (
    ImageLoadError,
    UserError,
)
from simdetect.io import decoding
from simdetect.io.names import text_name

__all__ = [
    "DEFAULT_MAX_DECODE_BYTES",
    "DEFAULT_MAX_FILE_BYTES",
    "DEFAULT_MAX_PIXELS",
    "SUPPORTED_FORMATS",
    "ImageLoadError",
    "LoadLimits",
    "LoadedImage",
    "estimate_decode_bytes",
    "load_image",
    "load_image_bytes",
    "to_rgb",
]

log = logging.getLogger(__name__)


# Only these decoders are ever tried: fewer exotic parsers reachable from untrusted
# uploads, and a predictable answer to "which files are indexed?".
SUPPORTED_FORMATS: tuple[str, ...] = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF")

_WHITE = (255, 255, 255, 255)
_ALPHA_MODES = frozenset({"LA", "La", "PA", "RGBA", "RGBa"})
_HIGH_BIT_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I", "F"})
_U16_MAX = 65535
_STRIP_BYTES = 8 * 1024 * 1024

# Same table as PIL.ImageOps.exif_transpose; applied to the converted copy so a big
# image is not duplicated once more just to rotate it.
_ORIENTATION_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_SWAPS_AXES = frozenset({5, 6, 7, 8})


@dataclass(frozen=True)
class LoadLimits:
    """Resource limits for decoding untrusted images."""

    max_pixels: int = DEFAULT_MAX_PIXELS
    max_decode_bytes: int = DEFAULT_MAX_DECODE_BYTES
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES

    def __post_init__(self) -> None:
        if self.max_pixels <= 0:
            raise UserError(f"{{}} must be positive, got {self.max_pixels}", "max_pixels")
        if self.max_decode_bytes <= 0:
            raise UserError("{} must be positive", "max_decode_bytes")
        if self.max_file_bytes <= 0:
            raise UserError("{} must be positive", "max_file_bytes")


@dataclass
class LoadedImage:
    """A decoded image ready for models, plus the provenance of its bytes."""

    path: str
    image: Image.Image
    sha256: str
    size_bytes: int
    format: str
    width: int
    height: int
    source_mode: str
    n_frames: int


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def _format_too_large(pixels: int, limit: int) -> str:
    return (
        f"image too large: {pixels:,} pixels exceeds the limit of {limit:,} "
        "(raise --max-pixels to allow)"
    )


def load_image(
    path: str | os.PathLike[str],
    limits: LoadLimits = LoadLimits(),
    min_side: int | None = None,
) -> LoadedImage:
    """Load an image file; the bytes are read once so the hash always matches the pixels."""
    from simdetect.io.reader import read_input  # the reader reports with this module's error

    name = os.fspath(path)
    data = read_input(name, limits.max_file_bytes)
    return load_image_bytes(data, text_name(name), limits, min_side)


def load_image_bytes(
    data: bytes,
    name: str,
    limits: LoadLimits = LoadLimits(),
    min_side: int | None = None,
    sha256: str | None = None,
) -> LoadedImage:
    """Load an image from memory (uploads); ``name`` is only used for reporting.

    ``min_side`` lets JPEGs decode at a reduced DCT scale whose sides stay at least
    that long: a model that looks at 224 pixels gains nothing from decoding 4000, and
    the reduced decode is several times faster. Width and height stay the file's own.
    ``sha256``, when the caller already hashed ``data``, saves hashing it twice.
    """
    if not data:
        raise ImageLoadError(name, "zero-byte file")
    try:
        return _decode(data, name, limits, min_side, sha256)
    except ImageLoadError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # Only reachable for images the caller's limit allowed but PIL's process-wide
        # hard cap (2 x Image.MAX_IMAGE_PIXELS, checked again by some decoders such as
        # TIFF) refuses, or when warnings are escalated to errors.
        raise ImageLoadError(
            name, f"image too large: refused by the decoder's own safety cap ({_one_line(exc)})"
        ) from None
    except MemoryError:
        raise ImageLoadError(name, "not enough memory to decode image") from None
    except Exception as exc:
        # PIL raises OSError, ValueError, SyntaxError, struct.error, EOFError, ... for
        # damaged data; all of them mean the same thing to the user.
        raise ImageLoadError(name, f"truncated or corrupt image data: {_one_line(exc)}") from None


def _open_lazy(data: bytes, name: str) -> ImageFile.ImageFile:
    """Identify and parse the header only.

    Goes through PIL's registered format factories rather than ``Image.open`` because
    ``Image.open`` applies PIL's process-global ``MAX_IMAGE_PIXELS`` check before we
    can apply the caller's own limit.
    """
    prefix = data[:16]
    fp = io.BytesIO(data)
    for fmt in SUPPORTED_FORMATS:
        entry = Image.OPEN.get(fmt)
        if entry is None:
            continue
        factory, accept = entry
        verdict = accept(prefix) if accept is not None else True
        if isinstance(verdict, str):  # recognised but unsupported by this PIL build
            raise ImageLoadError(name, f"unsupported image: {verdict}")
        if not verdict:
            continue
        fp.seek(0)
        try:
            return factory(fp, name)
        except (ImageLoadError, Image.DecompressionBombError):
            raise
        except Exception as exc:
            raise ImageLoadError(
                name, f"truncated or corrupt image data: bad {fmt} header: {_one_line(exc)}"
            ) from None
    raise ImageLoadError(name, "not an image (cannot identify format)")


@contextlib.contextmanager
def _quiet_pil_bomb_warning(pixels: int) -> Iterator[None]:
    # Our limit was already enforced; PIL's global threshold (~89 MP) would otherwise
    # warn on images the caller allowed. Only touches the warnings filters for such
    # rare huge images, as catch_warnings is not thread-safe.
    threshold = Image.MAX_IMAGE_PIXELS
    if threshold is None or pixels <= threshold:
        yield
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        yield


def _plan(
    img: ImageFile.ImageFile, fmt: str, name: str, limits: LoadLimits, min_side: int | None
) -> decoding.DecodePlan:
    width, height = img.size
    transparency = "transparency" in img.info
    plan = decoding.plan_decode(
        width, height, img.mode, fmt, transparency, limits.max_decode_bytes, min_side
    )
    if plan is None:
        raise ImageLoadError(
            name,
            decoding.describe_refusal(width, height, img.mode, fmt, limits.max_decode_bytes),
        )
    return plan


def estimate_decode_bytes(
    data: bytes, name: str, limits: LoadLimits = LoadLimits(), min_side: int | None = None
) -> int:
    """Estimated peak bytes of decoding ``data`` (header only); ImageLoadError when refused.

    What a caller sharing one memory budget between decodes holds while decoding.
    """
    if not data:
        raise ImageLoadError(name, "zero-byte file")
    img = _open_lazy(data, name)
    try:
        width, height = img.size
        if width * height > limits.max_pixels:
            raise ImageLoadError(name, _format_too_large(width * height, limits.max_pixels))
        fmt = img.format or "unknown"
        _draft(img, fmt, min_side)
        return _plan(img, fmt, name, limits, min_side).cost
    finally:
        img.close()


def _draft(img: ImageFile.ImageFile, fmt: str, min_side: int | None) -> None:
    width, height = img.size
    if min_side and fmt == "JPEG" and min(width, height) >= 2 * min_side:
        img.draft(img.mode, (min_side, min_side))


def _decode(
    data: bytes, name: str, limits: LoadLimits, min_side: int | None, sha256: str | None
) -> LoadedImage:
    img = _open_lazy(data, name)
    rgb: Image.Image | None = None
    try:
        width, height = img.size
        pixels = width * height
        if pixels > limits.max_pixels:
            raise ImageLoadError(name, _format_too_large(pixels, limits.max_pixels))
        if pixels <= 0:
            raise ImageLoadError(name, f"truncated or corrupt image data: size {width}x{height}")
        source_mode = img.mode
        fmt = img.format or "unknown"
        _draft(img, fmt, min_side)
        plan = _plan(img, fmt, name, limits, min_side)
        with _quiet_pil_bomb_warning(pixels):
            img.load()
            orientation = _orientation(img, name)
            if plan.reduced:
                rgb = _reduced_rgb(img, plan.factor)
            else:
                # A single-frame RGB decode of our own bytes is already what models want,
                # so it is handed on as it is: copying it cost a tenth of a full-resolution
                # file's preparation. Closing would destroy the pixels, so it stays open
                # (its source is an in-memory buffer; there is no descriptor to leak).
                rgb = img if fmt == "JPEG" and img.mode == "RGB" else to_rgb(img)
            if orientation in _ORIENTATION_TRANSPOSE:
                rgb = rgb.transpose(_ORIENTATION_TRANSPOSE[orientation])
            n_frames = _frames(img)
    finally:
        if rgb is not img:
            img.close()
    return LoadedImage(
        path=name,
        image=rgb,
        sha256=sha256 or hashlib.sha256(data).hexdigest(),
        size_bytes=len(data),
        format=fmt,
        width=height if orientation in _SWAPS_AXES else width,
        height=width if orientation in _SWAPS_AXES else height,
        source_mode=source_mode,
        n_frames=n_frames,
    )


def _frames(img: Image.Image) -> int:
    """1 for a still image, 2 for "more than one frame".

    Counting the frames of a GIF means parsing every one of them: ten million 1x1
    frames took 152 s. Only the first frame is ever used, so one look past it is enough.
    """
    try:
        return 2 if getattr(img, "is_animated", False) else 1
    except Exception:  # a damaged second frame does not make the first one unusable
        return 1


def _reduced_rgb(img: Image.Image, factor: int) -> Image.Image:
    """8-bit RGB of ``img`` reduced by ``factor`` (box average), converting as little as
    possible at full size."""
    width, height = img.size
    fx, fy, out_w, out_h = decoding.reduced_size(width, height, factor)
    mode = img.mode
    if mode in decoding.HIGH_BIT_16:
        return _reduced_16bit(img, fx, fy, out_w, out_h)
    if mode == "P":
        base = img.convert("RGBA" if "transparency" in img.info else "RGB")
    elif mode == "1":
        base = img.convert("L")
    else:
        base = img
    try:
        small = base.reduce((fx, fy))
    except ValueError:  # a mode PIL cannot reduce: convert first (rare, small modes)
        small = to_rgb(base).reduce((fx, fy))
    finally:
        if base is not img:
            base.close()
    return to_rgb(small)


def _reduced_16bit(img: Image.Image, fx: int, fy: int, out_w: int, out_h: int) -> Image.Image:
    """Box-average 16-bit grey in strips of a few MiB: PIL cannot reduce these modes, and a
    whole-image numpy copy would double the decoded size."""
    trns = img.info.get("transparency")
    step = max(fy, (_STRIP_BYTES // max(1, 2 * img.size[0])) // fy * fy)
    mean = np.empty((out_h, out_w), dtype=np.float64)
    for y0 in range(0, out_h * fy, step):
        y1 = min(y0 + step, out_h * fy)
        strip = np.asarray(img.crop((0, y0, out_w * fx, y1)))
        if isinstance(trns, int):  # transparent grey shows as white, as in to_rgb
            strip = np.where(strip == trns, np.uint16(_U16_MAX), strip)
        blocks = strip.reshape((y1 - y0) // fy, fy, out_w, fx)
        mean[y0 // fy : y1 // fy] = blocks.mean(axis=(1, 3), dtype=np.float64)
    gray = np.rint(mean * (255.0 / _U16_MAX)).astype(np.uint8)
    return Image.fromarray(gray).convert("RGB")


def _orientation(img: Image.Image, name: str) -> int:
    # Broken EXIF is common (edited phone photos) and says nothing about the pixels,
    # so it costs the rotation, not the image.
    try:
        value = img.getexif().get(ExifTags.Base.Orientation, 1)
        return int(value)
    except Exception as exc:
        log.warning("%s: ignoring unreadable EXIF orientation: %s", name, _one_line(exc))
        return 1


def to_rgb(image: Image.Image) -> Image.Image:
    """Return a new 8-bit RGB image as a viewer would show it on a white page.

    Transparency is composited on white (not dropped, which exposes whatever colour
    hides under transparent pixels) and high-bit-depth data is rescaled (not clipped,
    which turns most 16-bit images white).
    """
    mode = image.mode
    if mode in _HIGH_BIT_MODES:
        return _high_bit_to_rgb(image)
    if mode in _ALPHA_MODES or "transparency" in image.info:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, _WHITE)
        return Image.alpha_composite(background, rgba).convert("RGB")
    if mode == "RGB":
        return image.copy()
    try:
        return image.convert("RGB")
    except ValueError as exc:
        raise ValueError(f"unsupported colour mode {mode}: {_one_line(exc)}") from None


def _high_bit_to_rgb(image: Image.Image) -> Image.Image:
    raw = np.asarray(image)
    gray = _scale_to_u8(raw, image.mode)
    trns = image.info.get("transparency")
    if isinstance(trns, int):
        gray = np.where(raw == trns, np.uint8(255), gray)
    return Image.fromarray(np.ascontiguousarray(gray)).convert("RGB")


def _scale_to_u8(raw: NDArray[np.generic], mode: str) -> NDArray[np.uint8]:
    if mode != "F":
        # uint32 is enough for the 16-bit arithmetic below and halves peak memory.
        wide = np.uint32 if raw.dtype.kind == "u" and raw.dtype.itemsize <= 2 else np.int64
        ints = raw.astype(wide)
        lo, hi = int(ints.min()), int(ints.max())
        if lo >= 0 and hi <= _U16_MAX:
            # Genuine 16-bit range (also PIL's "I" for 16-bit PNGs): map 65535 -> 255
            # with rounding, preserving the image's real brightness.
            return ((ints * 255 + _U16_MAX // 2) // _U16_MAX).astype(np.uint8)
        return _stretch(ints.astype(np.float64), float(lo), float(hi))
    floats = np.nan_to_num(raw.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    lo_f, hi_f = float(floats.min()), float(floats.max())
    if lo_f >= 0.0 and hi_f <= 1.0:  # conventional normalised float images
        return np.rint(floats * 255.0).astype(np.uint8)
    return _stretch(floats, lo_f, hi_f)


def _stretch(values: NDArray[np.float64], lo: float, hi: float) -> NDArray[np.uint8]:
    # No known nominal range (signed 32-bit, HDR floats): use the image's own range.
    if hi <= lo:
        return np.zeros(values.shape, dtype=np.uint8)
    return np.rint((values - lo) * (255.0 / (hi - lo))).astype(np.uint8)
