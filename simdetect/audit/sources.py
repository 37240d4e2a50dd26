"""Where an audit's inputs come from: a folder, a list of paths, or a table with a path column.

Every source is streamed — a platform's day of generator outputs can be millions of
paths, so neither the list of inputs nor a Parquet table is ever held whole. Each input
gets its position in the source (`seq`), which is what the checkpoint counts and what
orders the results. Relative paths in a list or table are taken relative to that file's
folder, so a list and its images can be moved together.
"""

from __future__ import annotations

import csv
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import count
from pathlib import Path

from simdetect.errors import SourceError
from simdetect.io.walk import SkipRecord, iter_image_files

__all__ = ["AuditInput", "SourceError", "describe_source", "iter_source", "source_kind"]

PATH_COLUMN = "path"
PARQUET_BATCH_ROWS = 8192


@dataclass(frozen=True)
class AuditInput:
    """One entry of the source; `error` is set when it cannot even be handed to decoding."""

    seq: int
    path: str
    error: str | None = None


def source_kind(source: Path) -> str:
    """'folder', 'parquet', 'csv' or 'list' — decided by what the path is and its suffix."""
    if source.is_dir():
        return "folder"
    if not source.exists():
        raise SourceError(f"{source}: audit source does not exist")
    suffix = source.suffix.lower()
    if suffix == ".parquet":
        return "parquet"
    if suffix == ".csv":
        return "csv"
    return "list"


def describe_source(source: Path) -> dict[str, str]:
    """What a checkpoint records to notice, on resume, that it is pointed at another source.

    Also reads the first entry, so a table without its path column or a list that is not
    text fails before any work.
    """
    kind = source_kind(source)
    if kind != "folder":
        next(iter_source(source), None)
    return {"path": str(source.resolve()), "kind": kind}


def iter_source(source: Path) -> Iterator[AuditInput]:
    """Yield the source's entries in a deterministic order, numbered from 0."""
    kind = source_kind(source)
    if kind == "folder":
        entries = _folder(source)
    elif kind == "parquet":
        entries = _parquet(source)
    elif kind == "csv":
        entries = _csv(source)
    else:
        entries = _lines(source)
    for seq, (path, error) in zip(count(), entries):
        yield AuditInput(seq, path, error)


def _folder(root: Path) -> Iterator[tuple[str, str | None]]:
    # The walk reports links it will not follow through a callback; they are queued and
    # yielded in walk order, so they keep their place among the files.
    skipped: deque[SkipRecord] = deque()
    for path in iter_image_files(root, on_skip=skipped.append):
        while skipped:
            s = skipped.popleft()
            yield s.path, s.reason
        yield str(path), None
    while skipped:
        s = skipped.popleft()
        yield s.path, s.reason


def _resolve(base: Path, raw: str) -> tuple[str, str | None]:
    text = raw.strip()
    if not text:
        return "", "empty path"
    path = Path(text)
    return (str(path) if path.is_absolute() else str(base / path)), None


def _lines(listing: Path) -> Iterator[tuple[str, str | None]]:
    """One path per line; blank lines and lines starting with '#' are not inputs."""
    base = listing.parent
    try:
        with listing.open("r", encoding="utf-8") as fh:
            for line in fh:
                text = line.rstrip("\r\n")
                if not text.strip() or text.lstrip().startswith("#"):
                    continue
                yield _resolve(base, text)
    except UnicodeDecodeError as exc:
        raise SourceError(f"{listing}: not a UTF-8 text file of paths ({exc.reason})") from None


def _csv(table: Path) -> Iterator[tuple[str, str | None]]:
    base = table.parent
    with table.open("r", encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames is None or PATH_COLUMN not in reader.fieldnames:
            raise SourceError(
                f"{table}: CSV needs a {PATH_COLUMN!r} column "
                f"(found {', '.join(reader.fieldnames or []) or 'no header'})"
            )
        for row in reader:
            yield _resolve(base, row.get(PATH_COLUMN) or "")


def _parquet(table: Path) -> Iterator[tuple[str, str | None]]:
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(table)
    except Exception as exc:  # pyarrow raises several types for a file that is not Parquet
        raise SourceError(f"{table}: cannot read as Parquet: {exc}") from None
    if PATH_COLUMN not in pf.schema_arrow.names:
        raise SourceError(
            f"{table}: Parquet needs a {PATH_COLUMN!r} column "
            f"(found {', '.join(pf.schema_arrow.names)})"
        )
    base = table.parent
    for batch in pf.iter_batches(batch_size=PARQUET_BATCH_ROWS, columns=[PATH_COLUMN]):
        for value in batch.column(0).to_pylist():
            yield _resolve(base, "" if value is None else str(value))


def count_inputs(source: Path) -> int | None:
    """Number of entries, when it is cheap to know (Parquet metadata); else None."""
    if source_kind(source) != "parquet":
        return None
    import pyarrow.parquet as pq

    return int(pq.ParquetFile(source).metadata.num_rows)
