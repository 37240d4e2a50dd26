"""Uploaded bytes → what the model needs, and uploads kept where a report can name them.

An upload is decoded exactly as `simdetect scan` decodes a file (same loader, same
limits, same reduced JPEG decode, same perceptual hash), so a row served over HTTP
equals the CLI's row for the same bytes. Evidence records name inputs by path and
SHA-256, so an image that goes into a report is first stored under a path that stays
valid for `simdetect verify`: content-addressed, never overwritten once written.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image

from simdetect.backbones.base import Backbone
from simdetect.copies.verdict import MAX_SIDE
from simdetect.io.atomic import atomic_write_bytes
from simdetect.io.hashing import phash, sha256_bytes, sha256_file
from simdetect.io.image_record import ImageRecord
from simdetect.io.images import ImageLoadError, LoadLimits, load_image_bytes
from simdetect.io.names import fit_file_name

COPY_MIN_SIDE = MAX_SIDE // 2

DEFAULT_UPLOAD_NAME = "upload"
MAX_NAME_CHARS = 120
# File systems count a name's bytes (255 at most), not its characters: 84 CJK characters
# are 252 bytes, and the atomic writer's temporary name adds about 40 more.
MAX_STORED_NAME_BYTES = 180
_MAX_SUFFIX_BYTES = 16
_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\]")


@dataclass
class PreparedUpload:
    """One decoded upload: its record (hashes, size, format) and the model's input tensor."""

    record: ImageRecord
    tensor: torch.Tensor
    data: bytes = b""  # the upload's bytes: decoded again only if the copy check needs them


def client_name(filename: str | None) -> str:
    """The name a client gave its upload, reduced to one printable line (for JSON and logs)."""
    if not filename:
        return DEFAULT_UPLOAD_NAME
    text = unicodedata.normalize("NFC", filename)
    text = "".join(" " if unicodedata.category(c) in ("Cc", "Zl", "Zp") else c for c in text)
    text = " ".join(text.split())
    return text[:MAX_NAME_CHARS] or DEFAULT_UPLOAD_NAME


def prepare_upload(
    data: bytes, name: str, backbone: Backbone, limits: LoadLimits
) -> PreparedUpload:
    """Decode, hash and preprocess one upload; raises ImageLoadError with a one-line reason.

    Mirrors `simdetect.embed.prepare_file` step for step; runs in a worker thread.
    """
    if not data:
        raise ImageLoadError(name, "zero-byte file")
    loaded = load_image_bytes(data, name, limits, backbone.decode_min_side)
    record = ImageRecord(
        path=name,
        sha256=sha256_bytes(data),
        size_bytes=len(data),
        format=loaded.format,
        width=loaded.width,
        height=loaded.height,
        phash=phash(loaded.image),
    )
    return PreparedUpload(record=record, tensor=backbone.preprocess(loaded.image), data=data)


def upload_pixels(item: PreparedUpload, limits: LoadLimits) -> Callable[[], Image.Image]:
    """The upload's pixels for the copy check, decoded from its bytes only when asked."""

    def load() -> Image.Image:
        return load_image_bytes(item.data, item.record.path, limits, COPY_MIN_SIDE).image

    return load


def storage_name(filename: str | None) -> str:
    """A file name safe to create on disk that still reads like the client's name.

    Path separators and control characters become `_`; everything else, markup
    included, is kept: reports escape what they show, and a name that still reads as
    the client's is what lets a reader match the record to the file they were sent.
    """
    name = _UNSAFE.sub("_", client_name(filename)).strip()
    if name in ("", ".", ".."):
        name = DEFAULT_UPLOAD_NAME
    return fit_file_name(
        name[:MAX_NAME_CHARS], MAX_STORED_NAME_BYTES, DEFAULT_UPLOAD_NAME, _MAX_SUFFIX_BYTES
    )


class UploadStore:
    """Uploads kept for reports, at `ROOT/<sha256>/<name>` (content-addressed).

    The same bytes under the same name map to the same file, which is written once
    and never replaced, so every record that names it stays verifiable.
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    def keep(self, data: bytes, filename: str | None) -> Path:
        digest = sha256_bytes(data)
        folder = self.root / digest
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / storage_name(filename)
        if not (path.is_file() and sha256_file(path) == digest):
            atomic_write_bytes(path, data)
        return path.resolve()
