"""Deterministic, safe traversal of artists' image folders.

Index contents must not depend on filesystem listing order, and a folder handed to the
tool must not leak files from elsewhere through symlinks (or loop forever through a
symlinked parent), so traversal is sorted and symlinks are confined to the root.
"""

from __future__ import annotations

import csv
import errno
import io
import logging
import os
import stat
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from simdetect.errors import UserError
from simdetect.io.atomic import atomic_write_text
from simdetect.io.names import text_name

__all__ = [
    "SkipRecord",
    "file_kind",
    "iter_image_files",
    "list_artist_folders",
    "safe_resolve",
    "write_skips_csv",
]

log = logging.getLogger(__name__)

SkipCallback = Callable[["SkipRecord"], None]


@dataclass(frozen=True)
class SkipRecord:
    """A file that was not used, and why, for the user-facing skips report.

    ``path`` is the name as text (:func:`simdetect.io.names.text_name`).
    """

    path: str
    reason: str


def safe_resolve(path: Path) -> tuple[str, str | None]:
    """``(resolved path, None)``, or ``("", reason)`` for a link loop or an unreadable link.

    ``Path.resolve`` raises RuntimeError (3.10-3.12) or OSError (3.13+) on a loop; a loop
    in a scanned folder must cost that entry, not the run.
    """
    try:
        return str(path.resolve()), None
    except RuntimeError:
        return "", "symlink loop"
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "", "symlink loop"
        return "", f"cannot resolve path: {exc.strerror or exc}"


def _skip(on_skip: SkipCallback | None, path: Path | str, reason: str) -> None:
    log.debug("%s: %s", text_name(path), reason)
    if on_skip is not None:
        on_skip(SkipRecord(text_name(path), reason))


_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def file_kind(mode: int) -> str:
    """What a non-regular file is, in words, for a skip reason."""
    for test, words in _KINDS:
        if test(mode):
            return words
    return "not a regular file"


def _is_hidden(name: str) -> bool:
    return name.startswith(".")


def _inside(target: Path, root: Path) -> bool:
    return target == root or root in target.parents


def _sorted_entries(directory: Path, on_skip: SkipCallback | None) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(directory) as it:
            entries = list(it)
    except OSError as exc:
        # One unreadable sub-folder should not abort a whole artist's index.
        reason = f"cannot list folder: {exc.strerror or exc}"
        log.warning("%s: %s", text_name(directory), reason)
        if on_skip is not None:
            on_skip(SkipRecord(text_name(directory), reason))
        return []
    return sorted(entries, key=lambda e: e.name)


def iter_image_files(
    root: str | os.PathLike[str], *, on_skip: SkipCallback | None = None
) -> Iterator[Path]:
    """Yield every non-hidden regular file under ``root`` in sorted order.

    Non-image files are yielded too, so the caller can report them as skipped with the
    loader's reason. Order is a case-sensitive sort of relative path components,
    produced by a depth-first walk with each folder's entries sorted by name. Symlinks
    that are not followed (symlinked folders, links leaving the root, broken links,
    special files) are passed to ``on_skip`` when given; hidden names are skipped
    silently because they are editor/OS clutter.
    """
    root_path = Path(root)
    if not os.path.lexists(root_path):
        raise FileNotFoundError(f"input path does not exist: {root_path}")
    if root_path.is_file():
        yield root_path
        return
    if not root_path.is_dir():
        raise NotADirectoryError(f"input path is neither a file nor a folder: {root_path}")
    yield from _walk(root_path, root_path.resolve(), on_skip, set())


def _walk(
    directory: Path,
    real_root: Path,
    on_skip: SkipCallback | None,
    visited: set[tuple[int, int]],
) -> Iterator[Path]:
    # Links to folders are never followed, so only a bind mount can make a loop; the
    # (device, inode) of every folder entered catches that too.
    try:
        st = directory.stat()
    except OSError as exc:
        _skip(on_skip, directory, f"cannot list folder: {exc.strerror or exc}")
        return
    key = (st.st_dev, st.st_ino)
    if key in visited:
        _skip(on_skip, directory, "folder loop: this folder was already walked")
        return
    visited.add(key)
    for entry in _sorted_entries(directory, on_skip):
        if _is_hidden(entry.name):
            continue
        path = directory / entry.name
        reason = _skip_reason(entry, path, real_root)
        if reason is None:
            if entry.is_dir(follow_symlinks=False):
                yield from _walk(path, real_root, on_skip, visited)
            else:
                yield path
            continue
        _skip(on_skip, path, reason)


def _skip_reason(entry: os.DirEntry[str], path: Path, real_root: Path) -> str | None:
    """Why an entry is not walked/yielded, or None if it is."""
    try:
        if entry.is_symlink():
            resolved, problem = safe_resolve(path)
            if problem is not None:
                return problem
            if entry.is_dir():
                return "symlinked folder not followed"
            if not entry.is_file():
                return "broken symlink or symlink to a non-regular file"
            if not _inside(Path(resolved), real_root):
                return "symlink points outside the input folder"
            return None
        if entry.is_dir(follow_symlinks=False) or entry.is_file(follow_symlinks=False):
            return None
        kind = file_kind(entry.stat(follow_symlinks=False).st_mode)
    except OSError as exc:
        return f"cannot inspect file: {exc.strerror or exc}"
    return f"{kind}, not a regular file"


def list_artist_folders(root: str | os.PathLike[str]) -> list[tuple[str, Path]]:
    """Return ``(artist_name, folder)`` for each immediate sub-folder of ``root``.

    The name is the folder name NFC-normalised, because macOS writes decomposed
    (NFD) names and the same artist must get the same key on every system.
    """
    root_path = Path(root)
    if not root_path.exists():
        raise FileNotFoundError(f"artists folder does not exist: {root_path}")
    if not root_path.is_dir():
        raise NotADirectoryError(f"artists path is not a folder: {root_path}")
    real_root = root_path.resolve()
    found: dict[str, Path] = {}
    for entry in _sorted_entries(root_path, None):
        if _is_hidden(entry.name):
            continue
        path = root_path / entry.name
        try:
            if not entry.is_dir():
                continue
            if entry.is_symlink() and not _inside(path.resolve(), real_root):
                log.warning("%s: symlinked artist folder points outside %s; skipped", path, root)
                continue
        except OSError as exc:
            log.warning("%s: cannot inspect folder: %s", path, exc)
            continue
        name = unicodedata.normalize("NFC", entry.name)
        if name in found:
            raise UserError(
                f"two folders in {root_path} have the same artist name {name!r} after "
                f"Unicode normalisation: {found[name]} and {path}"
            )
        found[name] = path
    if not found:
        raise UserError(
            f"no artist sub-folders found in {root_path}: expected one folder per artist"
        )
    return sorted(found.items())


def write_skips_csv(records: Iterable[SkipRecord], path: str | os.PathLike[str]) -> Path:
    """Write the skips report (``path,reason``) atomically and return its path."""
    target = Path(path)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["path", "reason"])
    for record in records:
        writer.writerow([record.path, record.reason])
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(target, buffer.getvalue())
    return target
