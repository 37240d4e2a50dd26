"""Hashing of weight files, cached so a 1.7 GB checkpoint is not re-read on every run."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

from simdetect.io.atomic import atomic_write_text

log = logging.getLogger(__name__)


def default_cache_dir() -> Path:
    base = os.environ.get("SIMDETECT_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "simdetect"
    )
    return Path(base)


def file_sha256(path: Path, cache_dir: Path | None = None) -> str:
    """SHA-256 of a weights file, memoised on (resolved path, size, mtime)."""
    path = Path(path).resolve()
    stat = path.stat()
    key = f"{path}|{stat.st_size}|{stat.st_mtime_ns}"
    cache_file = (cache_dir or default_cache_dir()) / "weights-sha256.json"
    cache: dict[str, str] = {}
    try:
        cache = json.loads(cache_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        cache = {}
    if key in cache:
        return cache[key]
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    value = digest.hexdigest()
    cache[key] = value
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(cache_file, json.dumps(cache, indent=0, sort_keys=True))
    except OSError as exc:  # a read-only home must not stop a scan
        log.debug("could not cache weights hash: %s", exc)
    return value
