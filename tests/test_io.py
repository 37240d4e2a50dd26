"""Tests for simdetect.io: real files on disk, no mocks."""

from __future__ import annotations

import csv
import hashlib
import io
import os
import pickle
import random
import struct
import unicodedata
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, features

from simdetect.io import (
    DEFAULT_MAX_PIXELS,
    ImageLoadError,
    LoadedImage,
    LoadLimits,
    SkipRecord,
    atomic_path,
    atomic_write_bytes,
    atomic_write_text,
    fsync_dir,
    iter_image_files,
    list_artist_folders,
    load_image,
    load_image_bytes,
    phash,
    phash_distance,
    sha256_bytes,
    sha256_file,
    to_rgb,
    write_skips_csv,
)

RED = (255, 0, 0)
BLUE = (0, 0, 255)


# --------------------------------------------------------------------------- helpers


def _save(img: Image.Image, path: Path, fmt: str | None = None, **params: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, fmt, **params)
    return path


def _pixel(loaded: LoadedImage, xy: tuple[int, int]) -> tuple[int, int, int]:
    value = loaded.image.getpixel(xy)
    assert isinstance(value, tuple)
    return (int(value[0]), int(value[1]), int(value[2]))


def _close(actual: tuple[int, int, int], expected: tuple[int, int, int], tol: int = 12) -> bool:
    return all(abs(a - e) <= tol for a, e in zip(actual, expected, strict=True))


def _assert_rgb(loaded: LoadedImage, size: tuple[int, int]) -> None:
    assert loaded.image.mode == "RGB"
    assert loaded.image.size == size
    assert (loaded.width, loaded.height) == size


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def _png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header declares the given size but holds almost no pixel data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + _png_chunk(b"IEND", b"")
    )


def _shapes(seed: int, size: int = 256) -> Image.Image:
    """A structured synthetic picture: random filled shapes on a random background."""
    rng = random.Random(seed)
    img = Image.new("RGB", (size, size), tuple(rng.randrange(256) for _ in range(3)))
    draw = ImageDraw.Draw(img)
    for _ in range(12):
        x0, y0 = rng.randrange(size), rng.randrange(size)
        x1, y1 = x0 + rng.randrange(20, size // 2), y0 + rng.randrange(20, size // 2)
        colour = tuple(rng.randrange(256) for _ in range(3))
        if rng.random() < 0.5:
            draw.rectangle((x0, y0, x1, y1), fill=colour)
        else:
            draw.ellipse((x0, y0, x1, y1), fill=colour)
    return img


def _half_red_half_blue(mode: str = "RGB") -> Image.Image:
    img = Image.new("RGB", (40, 20), BLUE)
    img.paste(RED, (0, 0, 20, 20))
    return img.convert(mode) if mode != "RGB" else img


# ------------------------------------------------------------------------ formats


@pytest.mark.parametrize(
    ("mode", "left", "right"),
    [("RGB", RED, BLUE), ("L", (76, 76, 76), (29, 29, 29)), ("CMYK", RED, BLUE)],
)
def test_jpeg_modes(
    tmp_path: Path, mode: str, left: tuple[int, int, int], right: tuple[int, int, int]
) -> None:
    path = _save(_half_red_half_blue(mode), tmp_path / f"img_{mode}.jpg", quality=95)
    loaded = load_image(path)
    _assert_rgb(loaded, (40, 20))
    assert loaded.format == "JPEG"
    assert loaded.source_mode == mode
    assert _close(_pixel(loaded, (5, 10)), left, tol=20)
    assert _close(_pixel(loaded, (35, 10)), right, tol=20)


def test_cmyk_white_is_white(tmp_path: Path) -> None:
    # PIL writes CMYK JPEGs Adobe-inverted; reading them back must not invert colours.
    img = Image.new("CMYK", (16, 16), (0, 0, 0, 0))
    img.paste((255, 0, 0, 0), (0, 0, 8, 16))  # pure cyan on the left
    loaded = load_image(_save(img, tmp_path / "cmyk.jpg", quality=95))
    assert _close(_pixel(loaded, (12, 8)), (255, 255, 255))
    assert _close(_pixel(loaded, (2, 8)), (0, 255, 255), tol=25)


def test_png_rgb_and_metadata(tmp_path: Path) -> None:
    path = _save(_half_red_half_blue(), tmp_path / "rgb.png")
    loaded = load_image(path)
    _assert_rgb(loaded, (40, 20))
    assert loaded.format == "PNG"
    assert loaded.source_mode == "RGB"
    assert loaded.n_frames == 1
    assert loaded.path == str(path)
    raw = path.read_bytes()
    assert loaded.sha256 == hashlib.sha256(raw).hexdigest() == sha256_file(path)
    assert loaded.size_bytes == len(raw)
    assert _pixel(loaded, (0, 0)) == RED
    assert _pixel(loaded, (39, 19)) == BLUE


def test_png_rgba_transparent_becomes_white(tmp_path: Path) -> None:
    img = Image.new("RGBA", (10, 10), (0, 0, 0, 0))  # transparent *black*
    img.paste((255, 0, 0, 255), (0, 0, 5, 10))
    img.putpixel((9, 9), (0, 0, 255, 128))  # half-transparent blue
    loaded = load_image(_save(img, tmp_path / "rgba.png"))
    assert loaded.source_mode == "RGBA"
    assert _pixel(loaded, (7, 2)) == (255, 255, 255)
    assert _pixel(loaded, (1, 1)) == RED
    assert _close(_pixel(loaded, (9, 9)), (127, 127, 255), tol=2)


def test_png_palette_with_transparency(tmp_path: Path) -> None:
    img = Image.new("P", (10, 10), 0)
    img.putpalette([0, 0, 0, 255, 0, 0] + [0] * (256 * 3 - 6))
    img.paste(1, (0, 0, 5, 10))
    loaded = load_image(_save(img, tmp_path / "p.png", transparency=0))
    assert loaded.source_mode == "P"
    assert _pixel(loaded, (8, 5)) == (255, 255, 255)
    assert _pixel(loaded, (2, 5)) == RED


def test_png_palette_without_transparency(tmp_path: Path) -> None:
    img = _half_red_half_blue().convert("P")
    loaded = load_image(_save(img, tmp_path / "p_opaque.png"))
    assert loaded.source_mode == "P"
    assert _pixel(loaded, (2, 5)) == RED
    assert _pixel(loaded, (38, 5)) == BLUE


def test_png_la(tmp_path: Path) -> None:
    img = Image.new("LA", (10, 10), (0, 0))
    img.paste((100, 255), (0, 0, 5, 10))
    loaded = load_image(_save(img, tmp_path / "la.png"))
    assert loaded.source_mode == "LA"
    assert _pixel(loaded, (8, 5)) == (255, 255, 255)
    assert _pixel(loaded, (2, 5)) == (100, 100, 100)


def test_pa_and_premultiplied_modes_convert() -> None:
    pa = Image.new("PA", (4, 4), (0, 0))
    pa.putpalette([200, 10, 10] * 256)
    out = to_rgb(pa)
    assert out.mode == "RGB"
    assert out.getpixel((0, 0)) == (255, 255, 255)


@pytest.mark.parametrize(("suffix", "fmt"), [("png", "PNG"), ("tif", "TIFF")])
def test_sixteen_bit_grayscale_uses_full_range(tmp_path: Path, suffix: str, fmt: str) -> None:
    ramp = np.linspace(0, 65535, 64 * 64).round().astype(np.uint16).reshape(64, 64)
    img = Image.fromarray(ramp)
    assert img.mode == "I;16"
    loaded = load_image(_save(img, tmp_path / f"gray16.{suffix}"))
    assert loaded.format == fmt
    assert loaded.source_mode in {"I;16", "I;16B", "I"}
    arr = np.asarray(loaded.image)
    assert arr.min() == 0
    assert arr.max() == 255
    assert len(np.unique(arr[..., 0])) > 200  # a ramp, not clipped to white
    mid = ramp[32, 32] / 65535 * 255
    assert abs(int(arr[32, 32, 0]) - mid) <= 1


def test_sixteen_bit_dark_image_stays_dark() -> None:
    dark = Image.fromarray(np.full((8, 8), 4096, dtype=np.uint16))
    assert np.asarray(to_rgb(dark)).max() == round(4096 / 257)


def test_float_and_int32_modes() -> None:
    floats = Image.fromarray(np.linspace(0, 1, 16, dtype=np.float32).reshape(4, 4))
    assert floats.mode == "F"
    out = np.asarray(to_rgb(floats))
    assert out.min() == 0 and out.max() == 255
    ints = Image.fromarray(np.array([[-5, 0], [100_000, 7]], dtype=np.int32))
    assert ints.mode == "I"
    out = np.asarray(to_rgb(ints))
    assert out[0, 0, 0] == 0 and out[1, 0, 0] == 255


def test_one_bit_png(tmp_path: Path) -> None:
    img = Image.new("1", (8, 8), 0)
    img.paste(1, (0, 0, 4, 8))
    loaded = load_image(_save(img, tmp_path / "bits.png"))
    assert loaded.source_mode == "1"
    assert _pixel(loaded, (1, 1)) == (255, 255, 255)
    assert _pixel(loaded, (6, 1)) == (0, 0, 0)


@pytest.mark.skipif(not features.check("webp"), reason="PIL built without WebP")
def test_webp(tmp_path: Path) -> None:
    loaded = load_image(_save(_half_red_half_blue(), tmp_path / "img.webp", lossless=True))
    _assert_rgb(loaded, (40, 20))
    assert loaded.format == "WEBP"
    assert _pixel(loaded, (2, 2)) == RED


def test_animated_gif_first_frame(tmp_path: Path) -> None:
    frames = [Image.new("RGB", (12, 12), RED), Image.new("RGB", (12, 12), BLUE)]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    loaded = load_image(path)
    _assert_rgb(loaded, (12, 12))
    assert loaded.format == "GIF"
    assert loaded.n_frames == 2
    assert _pixel(loaded, (6, 6)) == RED


def test_bmp(tmp_path: Path) -> None:
    loaded = load_image(_save(_half_red_half_blue(), tmp_path / "img.bmp"))
    assert loaded.format == "BMP"
    assert _pixel(loaded, (2, 2)) == RED
    assert _pixel(loaded, (38, 2)) == BLUE


def test_tiff_rgb_and_cmyk(tmp_path: Path) -> None:
    loaded = load_image(_save(_half_red_half_blue(), tmp_path / "rgb.tiff"))
    assert loaded.format == "TIFF"
    assert _pixel(loaded, (2, 2)) == RED
    cmyk = load_image(_save(_half_red_half_blue("CMYK"), tmp_path / "cmyk.tif"))
    assert cmyk.source_mode == "CMYK"
    assert _close(_pixel(cmyk, (2, 2)), RED)
    assert _close(_pixel(cmyk, (38, 2)), BLUE)


def test_exif_orientation_applied(tmp_path: Path) -> None:
    img = Image.new("RGB", (60, 30), BLUE)
    img.paste(RED, (0, 0, 10, 10))  # marker in the stored top-left corner
    exif = Image.Exif()
    exif[0x0112] = 6  # displayed after rotating 90 degrees clockwise
    path = _save(img, tmp_path / "rotated.jpg", quality=95, exif=exif.tobytes())
    loaded = load_image(path)
    assert (loaded.width, loaded.height) == (30, 60)
    assert loaded.image.size == (30, 60)
    # Clockwise rotation carries the top-left corner to the top-right.
    assert _close(_pixel(loaded, (25, 4)), RED, tol=30)
    assert _close(_pixel(loaded, (4, 4)), BLUE, tol=30)
    assert _close(_pixel(loaded, (25, 55)), BLUE, tol=30)


def test_load_image_bytes_matches_file(tmp_path: Path) -> None:
    path = _save(_half_red_half_blue(), tmp_path / "x.png")
    data = path.read_bytes()
    loaded = load_image_bytes(data, "upload.png")
    assert loaded.path == "upload.png"
    assert loaded.sha256 == sha256_bytes(data) == load_image(path).sha256
    assert _pixel(loaded, (0, 0)) == RED


def test_loaded_image_is_detached(tmp_path: Path) -> None:
    path = _save(_half_red_half_blue(), tmp_path / "detached.png")
    loaded = load_image(path)
    path.unlink()
    assert loaded.image.copy().getpixel((0, 0)) == RED


# ------------------------------------------------------------------------- errors


def _expect_error(target: Path | bytes, *fragments: str, limits: LoadLimits | None = None) -> None:
    limits = limits or LoadLimits()
    with pytest.raises(ImageLoadError) as info:
        if isinstance(target, Path):
            load_image(target, limits)
        else:
            load_image_bytes(target, "upload.bin", limits)
    err = info.value
    name = str(target) if isinstance(target, Path) else "upload.bin"
    assert err.path == name
    assert str(err) == f"{name}: {err.reason}"
    assert "\n" not in err.reason
    for fragment in fragments:
        assert fragment in err.reason


def test_zero_byte_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    _expect_error(path, "zero-byte file")


def test_text_file_named_jpg(tmp_path: Path) -> None:
    path = tmp_path / "notes.jpg"
    path.write_text("this is not a picture\n", encoding="utf-8")
    _expect_error(path, "not an image")


def test_random_bytes_named_png(tmp_path: Path) -> None:
    path = tmp_path / "noise.png"
    path.write_bytes(np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    _expect_error(path, "not an image")


def test_truncated_jpeg(tmp_path: Path) -> None:
    noise = np.random.default_rng(2).integers(0, 256, (128, 128, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(noise).save(buf, "JPEG", quality=90)
    path = tmp_path / "cut.jpg"
    path.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    _expect_error(path, "truncated or corrupt")


def test_truncated_png(tmp_path: Path) -> None:
    buf = io.BytesIO()
    _shapes(3).save(buf, "PNG")
    _expect_error(buf.getvalue()[: len(buf.getvalue()) // 2], "truncated or corrupt")


def test_header_bomb_rejected_before_decoding(tmp_path: Path) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(_png_claiming(20_000, 20_000))
    _expect_error(path, "image too large", "400,000,000", f"{DEFAULT_MAX_PIXELS:,}", "--max-pixels")


def test_bomb_above_pil_hard_cap_gets_our_message() -> None:
    # 500 MP is past PIL's own DecompressionBombError threshold; our check must win.
    data = _png_claiming(25_000, 20_000)
    _expect_error(data, "image too large", "500,000,000", limits=LoadLimits(max_pixels=1000))


def test_custom_pixel_limit(tmp_path: Path) -> None:
    path = _save(Image.new("RGB", (20, 20), RED), tmp_path / "small.png")
    _expect_error(path, "image too large", "400 pixels", "limit of 100", limits=LoadLimits(100))
    assert load_image(path, LoadLimits(max_pixels=400)).width == 20


def test_invalid_limits() -> None:
    with pytest.raises(ValueError):
        LoadLimits(max_pixels=0)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    _expect_error(tmp_path / "nope.png", "cannot read file")
    _expect_error(tmp_path, "cannot read file")


def test_error_pickles() -> None:
    err = ImageLoadError("a.png", "zero-byte file")
    clone = pickle.loads(pickle.dumps(err))
    assert (clone.path, clone.reason, str(clone)) == ("a.png", "zero-byte file", str(err))


# --------------------------------------------------------------------- unicode


def test_chinese_names_load_and_walk(tmp_path: Path) -> None:
    path = _save(_half_red_half_blue(), tmp_path / "雪鱼" / "作品_01.png")
    loaded = load_image(path)
    assert loaded.path.endswith("作品_01.png")
    assert list(iter_image_files(tmp_path)) == [path]
    assert list_artist_folders(tmp_path) == [("雪鱼", tmp_path / "雪鱼")]


# ------------------------------------------------------------------------ walk


@pytest.fixture
def tree(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "root"
    outside = tmp_path / "outside"
    for rel in [
        "b.png",
        "B.png",
        "a/1.png",
        "a/sub/2.jpg",
        "a/.hidden.png",
        ".cache/x.png",
        "notes.txt",
        "a-b/3.png",
    ]:
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"x")
    outside.mkdir()
    (outside / "secret.png").write_bytes(b"x")
    (root / "link_in.png").symlink_to(root / "a" / "1.png")
    (root / "link_out.png").symlink_to(outside / "secret.png")
    (root / "linkdir").symlink_to(root / "a", target_is_directory=True)
    (root / "linkdir_out").symlink_to(outside, target_is_directory=True)
    (root / "broken.png").symlink_to(root / "missing.png")
    return root, outside


def test_walk_filters_and_orders(tree: tuple[Path, Path]) -> None:
    root, _ = tree
    skipped: list[SkipRecord] = []
    got = [p.relative_to(root).as_posix() for p in iter_image_files(root, on_skip=skipped.append)]
    assert got == [
        "B.png",
        "a/1.png",
        "a/sub/2.jpg",
        "a-b/3.png",
        "b.png",
        "link_in.png",
        "notes.txt",
    ]
    assert got == [p.relative_to(root).as_posix() for p in iter_image_files(root)]
    reasons = {Path(r.path).name: r.reason for r in skipped}
    assert set(reasons) == {"link_out.png", "linkdir", "linkdir_out", "broken.png"}
    assert "outside" in reasons["link_out.png"]


def test_walk_single_file_and_missing(tree: tuple[Path, Path]) -> None:
    root, _ = tree
    assert list(iter_image_files(root / "b.png")) == [root / "b.png"]
    with pytest.raises(FileNotFoundError, match="does not exist"):
        list(iter_image_files(root / "absent"))


def test_list_artist_folders(tree: tuple[Path, Path], tmp_path: Path) -> None:
    root, _ = tree
    names = [name for name, _ in list_artist_folders(root)]
    assert names == ["a", "a-b", "linkdir"]  # hidden and outside-pointing links excluded

    artists = tmp_path / "artists"
    nfd = unicodedata.normalize("NFD", "Zoë")
    for name in ["雪鱼", "Alice", nfd, ".git"]:
        (artists / name).mkdir(parents=True)
    (artists / "readme.txt").write_text("x", encoding="utf-8")
    result = list_artist_folders(artists)
    assert [name for name, _ in result] == ["Alice", "Zoë", "雪鱼"]
    assert all(path.is_dir() for _, path in result)
    assert result[1][0] == unicodedata.normalize("NFC", "Zoë")


def test_list_artist_folders_empty(tmp_path: Path) -> None:
    (tmp_path / "loose.png").write_bytes(b"x")
    with pytest.raises(ValueError, match="no artist sub-folders"):
        list_artist_folders(tmp_path)


def test_write_skips_csv(tmp_path: Path) -> None:
    records = [
        SkipRecord("雪鱼/作品, 02.png", "zero-byte file"),
        SkipRecord('odd "name".jpg', "not an image (cannot identify format)"),
    ]
    out = write_skips_csv(records, tmp_path / "report" / "skips.csv")
    raw = out.read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf")
    with open(out, encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows == [["path", "reason"]] + [[r.path, r.reason] for r in records]
    assert [p.name for p in out.parent.iterdir()] == ["skips.csv"]


# ---------------------------------------------------------------------- hashing


def test_sha256_helpers(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"abc")
    expected = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert sha256_bytes(b"abc") == sha256_file(path) == expected


def test_phash_format_and_distance() -> None:
    h = phash(_shapes(1))
    assert len(h) == 16 and h == h.lower()
    int(h, 16)
    assert phash_distance(h, h) == 0
    assert phash_distance("0" * 16, "f" * 16) == 64
    assert phash_distance("0" * 16, "0" * 15 + "3") == 2
    with pytest.raises(ValueError):
        phash_distance("xyz", h)


def test_phash_robust_to_recompression_and_resize() -> None:
    for seed in range(3):
        original = _shapes(seed)
        base = phash(original)
        buf = io.BytesIO()
        original.save(buf, "JPEG", quality=60)
        recompressed = load_image_bytes(buf.getvalue(), "copy.jpg").image
        assert phash_distance(base, phash(recompressed)) <= 6
        half = original.resize((128, 128), Image.Resampling.LANCZOS)
        assert phash_distance(base, phash(half)) <= 6


def test_phash_separates_unrelated_images() -> None:
    hashes = [phash(_shapes(seed)) for seed in range(10, 16)]
    for i, a in enumerate(hashes):
        for b in hashes[i + 1 :]:
            assert phash_distance(a, b) > 20


def test_phash_accepts_other_modes() -> None:
    rgba = _shapes(4).convert("RGBA")
    assert phash_distance(phash(rgba), phash(_shapes(4))) <= 2
    wide = Image.fromarray(np.asarray(_shapes(4).convert("L"), dtype=np.uint16) * 257)
    assert phash_distance(phash(wide), phash(_shapes(4))) <= 2


# ----------------------------------------------------------------------- atomic


def _dir_names(path: Path) -> list[str]:
    return sorted(os.listdir(path))


def test_atomic_write_bytes_and_text(tmp_path: Path) -> None:
    target = tmp_path / "data.bin"
    atomic_write_bytes(target, b"one")
    atomic_write_bytes(target, b"two")
    assert target.read_bytes() == b"two"
    text_target = tmp_path / "t.txt"
    atomic_write_text(text_target, "雪鱼\nline2\n")
    assert text_target.read_bytes() == "雪鱼\nline2\n".encode()
    assert _dir_names(tmp_path) == ["data.bin", "t.txt"]
    fsync_dir(tmp_path)


def test_atomic_write_failure_keeps_old(tmp_path: Path) -> None:
    target = tmp_path / "keep.txt"
    target.write_text("old", encoding="utf-8")
    with pytest.raises(TypeError):
        atomic_write_bytes(target, "not bytes")  # type: ignore[arg-type]
    assert target.read_text(encoding="utf-8") == "old"
    assert _dir_names(tmp_path) == ["keep.txt"]


def test_atomic_path_commits(tmp_path: Path) -> None:
    target = tmp_path / "index.faiss"
    target.write_text("old", encoding="utf-8")
    with atomic_path(target) as tmp:
        assert tmp.parent == tmp_path
        assert tmp.name.startswith(".index.faiss.tmp-")
        assert not tmp.exists()
        tmp.write_text("new", encoding="utf-8")
        assert target.read_text(encoding="utf-8") == "old"
    assert target.read_text(encoding="utf-8") == "new"
    assert _dir_names(tmp_path) == ["index.faiss"]


def test_atomic_path_exception_keeps_old(tmp_path: Path) -> None:
    target = tmp_path / "table.parquet"
    target.write_text("old", encoding="utf-8")
    with pytest.raises(RuntimeError, match="writer crashed"), atomic_path(target) as tmp:
        tmp.write_text("half", encoding="utf-8")
        raise RuntimeError("writer crashed")
    assert target.read_text(encoding="utf-8") == "old"
    assert _dir_names(tmp_path) == ["table.parquet"]


def test_atomic_path_requires_writer_output(tmp_path: Path) -> None:
    target = tmp_path / "never.bin"
    with pytest.raises(FileNotFoundError), atomic_path(target):
        pass
    assert _dir_names(tmp_path) == []
