"""Files kept beside one index generation: derived data that belongs to that exact state.

The calibration statistics depend on every vector of a generation, so they live in the
generation's folder and vanish with it. What the bytes mean is the caller's business
(`simdetect.scan.calibrate`); this module only knows where they go and how they are
written (atomically) and that a read-only index simply keeps none.
"""

from __future__ import annotations

import logging
from pathlib import Path

from simdetect.index.store import IndexSnapshot
from simdetect.io.atomic import atomic_write_bytes

log = logging.getLogger(__name__)

CALIBRATION_NAME = "calibration.npz"


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
