"""Files kept beside one index generation: derived data that belongs to that exact state.

The calibration statistics depend on every vector of a generation, so they live in the
generation's folder and vanish with it. What the bytes mean is the caller's business
(`simdetect.scan.calibrate`); this module only knows where they go and how they are
written (atomically) and that a read-only index simply keeps none.
"""

from __future__ import annotations

import logging
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from simdetect.index.store import IndexSnapshot
from simdetect.io.atomic import atomic_write_bytes

log = logging.getLogger(__name__)

CALIBRATION_NAME = "calibration.npz"

T = TypeVar("T")


def sidecar_path(snapshot: IndexSnapshot, name: str) -> Path:
    return snapshot.directory / name


def read_sidecar(snapshot: IndexSnapshot, name: str) -> bytes | None:
    """The stored bytes, or None when there are none (or they cannot be read)."""
    path = sidecar_path(snapshot, name)
    if not path.is_file():
        return None
    try:
        return path.read_bytes()
    except OSError as exc:
        log.warning("%s: unreadable, ignored (%s)", path, exc)
        return None


def write_sidecar(snapshot: IndexSnapshot, name: str, data: bytes) -> bool:
    """Store `data` beside the generation; False (logged) where the index is read-only."""
    try:
        atomic_write_bytes(sidecar_path(snapshot, name), data)
    except OSError as exc:  # a read-only index still scans; it just recomputes next time
        log.warning("could not store %s in %s: %s", name, snapshot.directory, exc)
        return False
    return True


def read_state(
    snapshot: IndexSnapshot, name: str, parse: Callable[[bytes], T], what: str
) -> T | None:
    """A stored state parsed, or None when there is none or it cannot be parsed (logged:
    the caller recomputes it, so a damaged file costs time, never a wrong score)."""
    blob = read_sidecar(snapshot, name)
    if blob is None:
        return None
    try:
        return parse(blob)
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as exc:
        log.warning("%s: unreadable %s, recomputing (%s)", snapshot.directory, what, exc)
        return None
