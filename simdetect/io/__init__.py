"""File-level input/output: image decoding, folder walking, hashing, atomic writes."""

from simdetect.io.atomic import atomic_path, atomic_write_bytes, atomic_write_text, fsync_dir
from simdetect.io.hashing import phash, phash_distance, sha256_bytes, sha256_file
from simdetect.io.images import (
    DEFAULT_MAX_PIXELS,
    SUPPORTED_FORMATS,
    ImageLoadError,
    LoadedImage,
    LoadLimits,
    load_image,
    load_image_bytes,
    to_rgb,
)
from simdetect.io.walk import SkipRecord, iter_image_files, list_artist_folders, write_skips_csv

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "SUPPORTED_FORMATS",
    "ImageLoadError",
    "LoadLimits",
    "LoadedImage",
    "SkipRecord",
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
    "fsync_dir",
    "iter_image_files",
    "list_artist_folders",
    "load_image",
    "load_image_bytes",
    "phash",
    "phash_distance",
    "sha256_bytes",
    "sha256_file",
    "to_rgb",
    "write_skips_csv",
]
