"""Build the hostile corpus: 300+ files and non-files that every entry point must survive.

Everything is generated here (numpy noise, PIL encoders, hand-written bytes): no
third-party images. Deterministic for a given seed. Kinds of entries:

- mutated files of every supported format (truncations, bit flips, zeroed spans,
  trailing garbage, wrong extensions);
- decompression bombs (huge declared sizes, tiny files that decode to 80+ megapixels);
- odd modes (1, L, LA, P with transparency, I;16, I, F, CMYK, YCbCr, RGBA, 16-bit RGB,
  broken and rotating EXIF) and animations (a GIF of 100,000 frames, APNG, WebP);
- not images at all (text, HTML, SVG, PDF and ZIP headers, empty and one-byte files);
- special files: FIFOs, Unix sockets, symlink loops, broken links, links to /dev/zero
  and out of the folder, a 2 GB sparse file;
- bad names: bytes that are not UTF-8, backslash sequences, newlines, very long names.

Usage: ``python tests/hostile/make_corpus.py OUT_DIR`` (prints the number of entries).
``entries.json`` next to OUT_DIR lists every entry a folder walk must account for,
as text (simdetect.io.names.text_name), relative to OUT_DIR.
"""

from __future__ import annotations

import io
import json
import os
import random
import socket
import struct
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

FORMATS = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp", "GIF": ".gif", "BMP": ".bmp"}
FORMATS["TIFF"] = ".tif"
MUTATIONS_PER_FORMAT = 30


def _encode(image: Image.Image, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **kw)
    return buf.getvalue()


def _noise(rng: np.random.Generator, w: int, h: int, mode: str = "RGB") -> Image.Image:
    bands = len(mode)
    arr = rng.integers(0, 256, (h, w, bands) if bands > 1 else (h, w), dtype=np.uint8)
    return Image.fromarray(arr).convert(mode) if bands > 1 else Image.fromarray(arr)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png_header_only(width: int, height: int, idat: bytes = b"") -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    body = _png_chunk(b"IHDR", ihdr)
    if idat:
        body += _png_chunk(b"IDAT", idat)
    return b"\x89PNG\r\n\x1a\n" + body + _png_chunk(b"IEND", b"")


def _zero_png(width: int, height: int) -> bytes:
    """A valid greyscale PNG of zeros: a few hundred KB that decode to width*height bytes."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    raw = zlib.compressobj(9)
    row = b"\x00" * (width + 1)
    parts = [raw.compress(row) for _ in range(height)]
    idat = b"".join(parts) + raw.flush()
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


def _gif_frames(n: int) -> bytes:
    head = b"GIF89a\x01\x00\x01\x00\x80\x00\x00" + b"\x00\x00\x00\xff\xff\xff"
    frame = b"\x2c\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02\x44\x01\x00"
    return head + frame * n + b"\x3b"


class Corpus:
    def __init__(self, root: Path, seed: int) -> None:
        self.root = root
        self.rng = np.random.default_rng(seed)
        self.pyrng = random.Random(seed)
        self.entries: list[str] = []  # text names relative to root
        self.kinds: dict[str, str] = {}

    def _note(self, rel: bytes | str, kind: str) -> None:
        text = rel if isinstance(rel, str) else os.fsdecode(rel)
        from simdetect.io.names import text_name

        self.entries.append(text_name(text))
        self.kinds[text_name(text)] = kind

    def add(self, rel: bytes | str, data: bytes, kind: str) -> None:
        path = os.path.join(os.fsencode(self.root), os.fsencode(rel))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as fh:
            fh.write(data)
        self._note(rel, kind)

    def special(self, rel: str, make: Callable[[str], None], kind: str) -> None:
        path = os.path.join(str(self.root), rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        make(path)
        self._note(rel, kind)


def _mutations(c: Corpus) -> None:
    for fmt, ext in FORMATS.items():
        base = _noise(c.rng, 64, 48)
        kw: dict[str, object] = {"quality": 85} if fmt in ("JPEG", "WEBP") else {}
        good = _encode(base if fmt != "GIF" else base.convert("P"), fmt, **kw)
        name = fmt.lower()
        c.add(f"formats/{name}/valid{ext}", good, "valid")
        for i in range(MUTATIONS_PER_FORMAT):
            data = bytearray(good)
            op = i % 6
            if op == 0:  # truncated
                cut = max(1, int(len(data) * c.pyrng.uniform(0.02, 0.95)))
                data = data[:cut]
            elif op == 1:  # a few bit flips
                for _ in range(c.pyrng.randint(1, 8)):
                    pos = c.pyrng.randrange(len(data))
                    data[pos] ^= 1 << c.pyrng.randrange(8)
            elif op == 2:  # zeroed span in the header region
                start = c.pyrng.randrange(min(64, len(data)))
                span = len(data[start : start + c.pyrng.randint(1, 16)])
                data[start : start + span] = bytes(span)
            elif op == 3:  # 0xff span (often makes huge sizes or counts)
                start = c.pyrng.randrange(min(48, len(data)))
                for j in range(start, min(len(data), start + 6)):
                    data[j] = 0xFF
            elif op == 4:  # garbage appended or prepended
                junk = bytes(c.rng.integers(0, 256, c.pyrng.randint(1, 4096), dtype=np.uint8))
                data = data + junk if c.pyrng.random() < 0.5 else junk + data
            else:  # random bytes spliced into the middle
                pos = c.pyrng.randrange(len(data))
                data[pos:pos] = bytes(c.rng.integers(0, 256, 32, dtype=np.uint8))
            c.add(f"formats/{name}/mut-{i:02d}{ext}", bytes(data), "mutated")
        # the right bytes under the wrong extension, and the reverse
        c.add(f"formats/{name}/wrong-ext.txt", good, "valid")


def _bombs(c: Corpus) -> None:
    c.add("bombs/png-100k-square.png", _png_header_only(100_000, 100_000, b"x"), "bomb")
    c.add("bombs/png-1x2e9.png", _png_header_only(1, 2_000_000_000, b"x"), "bomb")
    c.add("bombs/png-zero-width.png", _png_header_only(0, 10), "bomb")
    c.add("bombs/png-4000-zeros.png", _zero_png(4000, 4000), "bomb-valid")  # 16 MP from 16 KB
    c.add("bombs/png-12000-declared.png", _png_header_only(12000, 12000, b"x" * 64), "bomb")
    gif = bytearray(_gif_frames(1))
    gif[6:10] = b"\xff\xff\xff\xff"  # logical screen 65535 x 65535
    c.add("bombs/gif-screen.gif", bytes(gif), "bomb")
    jpeg = bytearray(_encode(_noise(c.rng, 16, 16), "JPEG"))
    sof = jpeg.find(b"\xff\xc0")
    jpeg[sof + 5 : sof + 9] = b"\xff\xf0\xff\xf0"  # 65520 x 65520
    c.add("bombs/jpeg-sof.jpg", bytes(jpeg), "bomb")
    bmp = bytearray(_encode(_noise(c.rng, 8, 8), "BMP"))
    bmp[18:26] = struct.pack("<ii", 60000, 60000)
    c.add("bombs/bmp-dims.bmp", bytes(bmp), "bomb")
    tif = bytearray(_encode(_noise(c.rng, 8, 8), "TIFF"))
    c.add("bombs/tiff-small.tif", bytes(tif), "valid")
    for w, h in ((1, 99_000_000), (99_000_000, 1)):
        c.add(f"bombs/strip-{w}x{h}.png", _png_header_only(w, h, b"x"), "bomb")


def _modes(c: Corpus) -> None:
    w, h = 40, 30
    arr16 = c.rng.integers(0, 65535, (h, w), dtype=np.uint16)
    images: list[tuple[str, bytes]] = [
        ("mode-1.png", _encode(_noise(c.rng, w, h, "L").convert("1"), "PNG")),
        ("mode-L.png", _encode(_noise(c.rng, w, h, "L"), "PNG")),
        ("mode-LA.png", _encode(_noise(c.rng, w, h, "LA"), "PNG")),
        ("mode-RGBA.png", _encode(_noise(c.rng, w, h, "RGBA"), "PNG")),
        ("mode-P-trns.png", _encode(_noise(c.rng, w, h).convert("P"), "PNG", transparency=3)),
        ("mode-P-trns.gif", _encode(_noise(c.rng, w, h).convert("P"), "GIF", transparency=7)),
        ("mode-I16.png", _encode(Image.fromarray(arr16), "PNG")),
        (
            "mode-I16-trns.png",
            _encode(Image.fromarray(arr16), "PNG", transparency=int(arr16[0, 0])),
        ),
        ("mode-I.tif", _encode(Image.fromarray(arr16.astype(np.int32) - 30000), "TIFF")),
        (
            "mode-F.tif",
            _encode(Image.fromarray(c.rng.normal(0, 1e6, (h, w)).astype(np.float32)), "TIFF"),
        ),
        ("mode-F-nan.tif", _encode(Image.fromarray(np.full((h, w), np.nan, np.float32)), "TIFF")),
        ("mode-CMYK.jpg", _encode(_noise(c.rng, w, h).convert("CMYK"), "JPEG")),
        ("mode-CMYK.tif", _encode(_noise(c.rng, w, h).convert("CMYK"), "TIFF")),
        ("mode-YCbCr.tif", _encode(_noise(c.rng, w, h).convert("YCbCr"), "TIFF")),
        ("mode-LAB.tif", _encode(_noise(c.rng, w, h).convert("LAB"), "TIFF")),
        ("mode-RGBA.webp", _encode(_noise(c.rng, w, h, "RGBA"), "WEBP", lossless=True)),
        ("mode-RGBA.tif", _encode(_noise(c.rng, w, h, "RGBA"), "TIFF")),
        ("mode-L.jpg", _encode(_noise(c.rng, w, h, "L"), "JPEG")),
        ("mode-1.bmp", _encode(_noise(c.rng, w, h, "L").convert("1"), "BMP")),
        ("mode-P.bmp", _encode(_noise(c.rng, w, h).convert("P"), "BMP")),
        ("one-pixel.png", _encode(_noise(c.rng, 1, 1), "PNG")),
        ("wide-1x4000.png", _encode(_noise(c.rng, 4000, 1), "PNG")),
    ]
    for orientation in range(0, 10):
        exif = Image.Exif()
        exif[0x0112] = orientation
        img = _noise(c.rng, w + orientation, h)
        images.append((f"exif-orient-{orientation}.jpg", _encode(img, "JPEG", exif=exif.tobytes())))
    broken = bytearray(_encode(_noise(c.rng, w, h), "JPEG", exif=Image.Exif().tobytes()))
    images.append(
        (
            "exif-broken.jpg",
            bytes(broken[:2]) + b"\xff\xe1\x00\x10Exif\x00\x00MM\x00*\xff\xff" + bytes(broken[2:]),
        )
    )
    for name, data in images:
        c.add(f"modes/{name}", data, "valid")
    # 16-bit RGB PNG written by hand (PIL does not write it)
    rgb16 = c.rng.integers(0, 65535, (h, w, 3), dtype=np.uint16).astype(">u2")
    raw = b"".join(b"\x00" + rgb16[y].tobytes() for y in range(h))
    ihdr = struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)
    data = (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", zlib.compress(raw))
        + _png_chunk(b"IEND", b"")
    )
    c.add("modes/rgb16.png", data, "valid")


def _animations(c: Corpus) -> None:
    c.add("anim/gif-100k-frames.gif", _gif_frames(100_000), "valid")
    frames = [_noise(c.rng, 32, 32).convert("P") for _ in range(3)]
    c.add(
        "anim/three.gif",
        _encode(frames[0], "GIF", save_all=True, append_images=frames[1:]),
        "valid",
    )
    rgb = [_noise(c.rng, 32, 32) for _ in range(3)]
    c.add("anim/apng.png", _encode(rgb[0], "PNG", save_all=True, append_images=rgb[1:]), "valid")
    c.add("anim/anim.webp", _encode(rgb[0], "WEBP", save_all=True, append_images=rgb[1:]), "valid")
    c.add("anim/multi.tif", _encode(rgb[0], "TIFF", save_all=True, append_images=rgb[1:]), "valid")


def _not_images(c: Corpus) -> None:
    samples = {
        "empty.jpg": b"",
        "one-byte.png": b"\x89",
        "text.jpg": b"hello, this is not an image\n" * 10,
        "page.png": b"<html><script>alert(1)</script></html>",
        "vector.svg": b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        "doc.pdf": b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF",
        "archive.zip": b"PK\x03\x04" + b"\x00" * 60,
        "elf.bin": b"\x7fELF\x02\x01\x01" + b"\x00" * 100,
        "psd.psd": b"8BPS\x00\x01" + b"\x00" * 40,
        "ico.ico": b"\x00\x00\x01\x00\x01\x00" + b"\x00" * 30,
        "jpeg-soi-only.jpg": b"\xff\xd8",
        "png-sig-only.png": b"\x89PNG\r\n\x1a\n",
        "gif-head-only.gif": b"GIF89a",
        "riff-webp-empty.webp": b"RIFF\x04\x00\x00\x00WEBP",
        "tiff-bad-ifd.tif": b"II*\x00\xff\xff\xff\x7f",
        "bmp-head.bmp": b"BM" + b"\xff" * 12,
    }
    for name, data in samples.items():
        c.add(f"junk/{name}", data, "junk")
    polyglot = _encode(_noise(c.rng, 24, 24), "JPEG") + b"PK\x03\x04" + b"\x00" * 200
    c.add("junk/polyglot-jpeg-zip.jpg", polyglot, "valid")


def _names(c: Corpus) -> None:
    names: list[bytes] = [
        b"bad\xff\xfe.png",
        b"latin1-caf\xe9.png",
        b"\x80\x81\x82.png",
        b"half-utf8-\xe6\xb0.png",
        b"overlong-\xc0\xaf.png",
        b"surrogate-\xed\xa0\x80.png",
        b"back\\slash.png",
        b"literal-\\xff.png",
        b"double\\\\.png",
        b"new\nline.png",
        b"tab\there.png",
        b"carriage\rreturn.png",
        b"quote\"'.png",
        b"<img src=x onerror=alert(1)>.png",
        "rtl-\u202egnp.exe".encode(),
        "zero\u200bwidth.png".encode(),
        "nfd-e\u0301.png".encode(),
        "nfc-\u00e9.png".encode(),
        "水墨山人-作品.png".encode(),
        b"-starts-with-dash.png",
        b" leading-space.png",
        b"trailing-space.png ",
        b"x" * 250 + b".png",
        ("字" * 80 + ".png").encode(),
        b"%s%n%x.png",
        b"$(touch pwned).png",
    ]
    for i, raw in enumerate(names):
        data = _encode(_noise(c.rng, 20 + i, 20), "PNG")
        c.add(b"names/" + raw, data, "valid")


def _special(c: Corpus) -> None:
    for i in range(6):
        c.special(f"special/fifo-{i}.jpg", os.mkfifo, "fifo")
    for i in range(3):

        def make_socket(path: str) -> None:
            s = socket.socket(socket.AF_UNIX)
            s.bind(path)
            s.close()  # the socket file stays

        c.special(f"special/socket-{i}.png", make_socket, "socket")
    for i in range(3):
        c.special(f"special/loop-{i}a", lambda p, i=i: os.symlink(f"loop-{i}b", p), "loop")
        c.special(f"special/loop-{i}b", lambda p, i=i: os.symlink(f"loop-{i}a", p), "loop")
    c.special("special/self", lambda p: os.symlink(".", p), "link-dir")
    c.special("special/parent", lambda p: os.symlink("..", p), "link-dir")
    c.special("special/broken.png", lambda p: os.symlink("does-not-exist.png", p), "broken")
    c.special("special/dev-zero.jpg", lambda p: os.symlink("/dev/zero", p), "device-link")
    c.special("special/dev-urandom.png", lambda p: os.symlink("/dev/urandom", p), "device-link")
    c.special("special/etc-passwd.png", lambda p: os.symlink("/etc/passwd", p), "outside-link")

    def sparse(path: str) -> None:
        with open(path, "wb") as fh:
            fh.truncate(2 * 1024**3)

    c.special("special/sparse-2gb.jpg", sparse, "sparse")

    def sparse_head(path: str) -> None:  # a real JPEG header, then 1 GB of holes
        with open(path, "wb") as fh:
            fh.write(_encode(_noise(c.rng, 16, 16), "JPEG")[:200])
            fh.truncate(1024**3)

    c.special("special/sparse-jpeg-1gb.jpg", sparse_head, "sparse")
    c.special("special/unreadable.png", lambda p: Path(p).write_bytes(b"\x89PNG"), "junk")
    os.chmod(os.path.join(str(c.root), "special/unreadable.png"), 0)


def build(root: Path, seed: int = 13) -> Corpus:
    root.mkdir(parents=True, exist_ok=True)
    c = Corpus(root, seed)
    for part in (_mutations, _bombs, _modes, _animations, _not_images, _names, _special):
        part(c)
    listing = {"entries": sorted(c.entries), "kinds": c.kinds}
    (root.parent / "entries.json").write_text(
        json.dumps(listing, ensure_ascii=False, indent=1), encoding="utf-8"
    )
    return c


if __name__ == "__main__":
    corpus = build(Path(sys.argv[1]))
    print(len(corpus.entries))
