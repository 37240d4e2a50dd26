"""One generation of an index, copied out as a complete index of its own.

Evidence must be re-checkable after the index it was made with has grown (old
generations are pruned) and on a machine that never had it. The export holds exactly
what re-scoring reads: the generation's files (vectors, metadata, manifest and the
calibration and scoring state stored beside them), the generator reference sets and the
calibrated copy index of its works. It opens with :func:`simdetect.index.store.open_index`
like any index; its snapshot digest is the original's, because the digest names the
generation's contents, not where they sit.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

from simdetect.errors import UserError
from simdetect.index.references import REFERENCES_DIR
from simdetect.index.store import CURRENT_NAME, VERIFIED_NAME, IndexSnapshot
from simdetect.io.atomic import atomic_copy, atomic_write_text, fsync_dir

__all__ = ["export_snapshot"]

log = logging.getLogger(__name__)


def _copy_files(src: Path, dest: Path) -> int:
    """Regular files of ``src`` (not links, not the per-machine verification stamps)."""
    dest.mkdir(parents=True, exist_ok=True)
    size = 0
    for path in sorted(src.iterdir()):
        if path.is_symlink() or not path.is_file() or path.name == VERIFIED_NAME:
            continue
        if path.name.startswith("."):  # temporaries of a writer at work
            continue
        atomic_copy(path, dest / path.name)
        size += path.stat().st_size
    fsync_dir(dest)
    return size


def export_snapshot(
    snapshot: IndexSnapshot, dest: Path, extra: Mapping[str, Path] | None = None
) -> int:
    """Write ``snapshot`` into the new folder ``dest``; returns the bytes copied.

    ``extra`` maps a folder inside the export to a folder whose files go there: state
    kept beside the index by the layers above it (the calibrated copy index, so the copy
    verdict can be re-checked without the works' image files).
    """
    dest = Path(dest)
    if dest.exists():
        raise UserError(f"cannot export the index snapshot to {dest}: it already exists")
    size = _copy_files(snapshot.directory, dest / snapshot.directory.name)
    references = Path(snapshot.root) / REFERENCES_DIR
    if references.is_dir() and not references.is_symlink():
        size += _copy_files(references, dest / REFERENCES_DIR)
    for inside, src in (extra or {}).items():
        if Path(inside).is_absolute() or ".." in Path(inside).parts:
            raise ValueError(f"extra folder {inside!r} must be a relative path inside the export")
        if src.is_dir() and not src.is_symlink():
            size += _copy_files(src, dest / inside)
    atomic_write_text(dest / CURRENT_NAME, snapshot.directory.name + "\n")
    fsync_dir(dest)
    log.info("exported %s (%d bytes) to %s", snapshot.directory, size, dest)
    return size
