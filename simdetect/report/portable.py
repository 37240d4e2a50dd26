"""A case folder that carries its own evidence: the files and the index snapshot it names.

A record that names ``/home/artist/suspects/x.png`` and an index that later grew is
evidence only on the machine and the day it was made: on the lawyer's machine every file
is missing and re-scoring is refused. So the report folder keeps copies of what the
record is about — each suspect's bytes (``suspects/``), each indexed work the record
shows (``works/``), and the index generation the scores were computed on, exported whole
(``snapshot/``) — and the record names them by paths relative to its own folder. Where a
file was first found stays in ``source_path``, for the reader; only the copies are
checked. A moved or copied folder therefore verifies anywhere, and the index it came
from may grow or be deleted.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from simdetect.copies.indexed import COPIES_DIR
from simdetect.index.export import export_snapshot
from simdetect.io.atomic import atomic_copy
from simdetect.io.hashing import sha256_file
from simdetect.io.names import fit_file_name, fs_name
from simdetect.report.errors import ReportError
from simdetect.report.suspects import CaseScan

__all__ = [
    "SNAPSHOT_DIR",
    "SUSPECTS_DIR",
    "WORKS_DIR",
    "find_by_sha256",
    "is_packed",
    "pack_case",
    "resolve_recorded",
]

SUSPECTS_DIR = "suspects"
WORKS_DIR = "works"
SNAPSHOT_DIR = "snapshot"
# In bytes of UTF-8: file systems limit names to 255 bytes, and 84 CJK characters are 252.
_NAME_LIMIT = 120
# Characters that are unsafe or confusing in a file name on some system, and the
# surrogates Python uses for bytes that are not UTF-8.
_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|\ud800-\udfff]')


def safe_file_name(name: str) -> str:
    """A name every file system accepts, keeping letters of any script (雪鱼.png stays)."""
    return fit_file_name(_UNSAFE.sub("_", name).strip(" .") or "file", _NAME_LIMIT, "file")


def resolve_recorded(base: Path, recorded: str) -> Path:
    """Where a path named in a record is: relative ones inside the record's folder."""
    path = Path(fs_name(recorded))  # names that are not UTF-8 are stored escaped
    return path if path.is_absolute() else Path(base) / path


def is_packed(recorded: str) -> bool:
    return not Path(fs_name(recorded)).is_absolute()


def _copy_checked(src: Path, dest: Path, sha256: str, what: str) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        atomic_copy(src, dest)
    except OSError as exc:
        raise ReportError(f"cannot copy {what} {src} into the case folder: {exc}") from None
    if sha256_file(dest) != sha256:
        raise ReportError(
            f"{what} {src} changed while the report was being made (its SHA-256 is no "
            "longer the one scanned); make the report again"
        )


def pack_case(record: dict[str, Any], scan: CaseScan, folder: Path, *, snapshot: bool) -> None:
    """Copy the record's files (and, with ``snapshot``, the index generation) into
    ``folder`` and point the record at the copies, before it is sealed.

    Indexed works whose file is missing or changed since indexing cannot be copied;
    they keep their original path and status (the report's limitations say so).
    """
    local: dict[tuple[str, str], str] = {}
    for i, suspect in enumerate(record["suspects"], start=1):
        src, sha = str(suspect["path"]), str(suspect["sha256"])
        rel = f"{SUSPECTS_DIR}/{i:02d}-{safe_file_name(Path(src).name)}"
        _copy_checked(Path(fs_name(src)), folder / rel, sha, "suspect")
        local[(src, sha)] = rel
        suspect["source_path"], suspect["path"] = src, rel
    n_works = 0
    for item in record["inputs"]:
        src, sha = str(item["path"]), str(item["sha256"])
        item["source_path"] = src
        if item["role"] == "suspect":
            item["path"] = local[(src, sha)]
        elif item["status"] == "present":
            n_works += 1
            rel = f"{WORKS_DIR}/{n_works:02d}-{safe_file_name(Path(src).name)}"
            _copy_checked(Path(fs_name(src)), folder / rel, sha, "indexed work")
            item["path"] = rel
    if snapshot:
        steps = scan.scanner.copies
        stored = steps.stored_at if steps is not None else None
        extra = {f"{COPIES_DIR}/{stored.name}": stored} if stored is not None else None
        export_snapshot(scan.snapshot, folder / SNAPSHOT_DIR, extra)
        index = record["index"]
        index["source_path"], index["path"] = index["path"], SNAPSHOT_DIR


def find_by_sha256(folders: Iterable[Path], wanted: dict[str, int]) -> dict[str, Path]:
    """Files under ``folders`` whose SHA-256 is one of ``wanted`` (sha → size in bytes).

    Only regular files of a wanted size are hashed, so pointing at a large folder costs
    a walk, not a read of everything in it. Links and special files are never followed.
    """
    sizes = set(wanted.values())
    found: dict[str, Path] = {}
    for folder in folders:
        for top, dirs, names in os.walk(folder, followlinks=False):
            dirs.sort()
            for name in sorted(names):
                if len(found) == len(wanted):
                    return found
                path = Path(top) / name
                try:
                    st = path.lstat()
                    if not stat.S_ISREG(st.st_mode) or st.st_size not in sizes:
                        continue
                    sha = sha256_file(path)
                except OSError:
                    continue
                if sha in wanted and sha not in found:
                    found[sha] = path
    return found
