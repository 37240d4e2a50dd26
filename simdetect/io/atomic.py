"""Crash-safe file writes.

Index files, manifests and reports are read back by later runs; a half-written file
after a crash or Ctrl-C would silently poison them. Every writer therefore writes to
a temp file in the target's own directory (so the final ``os.replace`` is a same-
filesystem atomic rename), fsyncs it, renames it over the target, and fsyncs the
directory so the rename itself survives a power cut.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_copy", "atomic_path", "atomic_write_bytes", "atomic_write_text", "fsync_dir"]

log = logging.getLogger(__name__)

# Filesystems that cannot fsync a directory answer with one of these; the rename is
# still atomic there, only its durability is weaker, so it is not worth failing for.
_DIR_FSYNC_UNSUPPORTED = {errno.EINVAL, errno.ENOTSUP, errno.EBADF, errno.EACCES}


def fsync_dir(path: str | os.PathLike[str]) -> None:
    """Flush a directory entry table to disk so a completed rename survives a crash."""
    if os.name == "nt":  # Windows cannot open directories as files; renames are journaled.
        return
    fd = os.open(os.fspath(path), os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in _DIR_FSYNC_UNSUPPORTED:
            raise
        log.debug("fsync of directory %s not supported: %s", path, exc)
    finally:
        os.close(fd)


def _temp_path_for(target: Path) -> Path:
    # Hidden so directory walkers skip it; pid + random so concurrent writers never
    # collide; the target's suffix is kept because some writers (PIL.save, np.save)
    # choose the format from, or append, an extension.
    token = secrets.token_hex(6)
    return target.with_name(f".{target.name}.tmp-{os.getpid()}-{token}{target.suffix}")


def _remove_quietly(path: Path) -> None:
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    except OSError as exc:  # never mask the original failure with a cleanup failure
        log.warning("could not remove temporary file %s: %s", path, exc)


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Replace ``path`` with ``data`` so readers see either the old or the new file, never
    a mix, and the old file is untouched if anything fails."""
    target = Path(path)
    tmp = _temp_path_for(target)
    try:
        with open(tmp, "xb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        _remove_quietly(tmp)
        raise
    fsync_dir(target.parent)


def atomic_write_text(path: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> None:
    """Text variant of :func:`atomic_write_bytes`; newlines are written exactly as given
    (no platform translation) so output is byte-identical across systems."""
    atomic_write_bytes(path, text.encode(encoding))


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temp path for writers that insist on a filename (faiss, parquet) and move
    it onto ``path`` only if the block finishes without raising."""
    target = Path(path)
    tmp = _temp_path_for(target)
    try:
        yield tmp
        if not tmp.exists():
            raise FileNotFoundError(f"writer did not create the temporary file {tmp} for {target}")
        _fsync_path(tmp)
        os.replace(tmp, target)
    except BaseException:
        _remove_quietly(tmp)
        raise
    fsync_dir(target.parent)


def atomic_copy(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> Path:
    """Copy ``src`` to ``dst`` the same way: complete and flushed, or not there at all.

    Copies go into evidence folders that are moved to other machines; a half-copied
    suspect would fail verification there for no fault of the evidence.
    """
    target = Path(dst)
    with atomic_path(target) as tmp:
        shutil.copyfile(src, tmp)
    return target
