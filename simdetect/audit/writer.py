"""The audit's Parquet schema, chunk files and the final atomic assembly.

Parquet cannot be appended to, so results go to one file per chunk and are copied,
chunk by chunk, into the final file at the end: memory stays at one chunk whatever the
number of rows. The final file carries the run's context (backbone, index snapshot,
calibration) and `complete: true` in its key-value metadata, so a finished output is
recognisable without its checkpoint.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from simdetect.io.atomic import atomic_path

METADATA_KEY = b"simdetect.audit"
AUDIT_SCHEMA_VERSION = 1

# Field names are those of a scan row's `ranking` entries (README, "Scan output").
RANKING_ENTRY = pa.struct(
    [
        ("artist", pa.string()),
        ("score", pa.float64()),
        ("similarity", pa.float64()),
        ("relative", pa.float64()),
        ("percentile", pa.float64()),
        ("p_value", pa.float64()),
        ("n_impostors", pa.int64()),
        ("genuine_percentile", pa.float64()),
        ("n_genuine", pa.int64()),
        ("decision", pa.bool_()),
        ("threshold", pa.float64()),
        ("target_fpr", pa.float64()),
        ("fpr_at_threshold", pa.float64()),
        ("n_works", pa.int64()),
        ("reason", pa.string()),
    ]
)

AUDIT_SCHEMA = pa.schema(
    [
        ("seq", pa.int64()),
        ("path", pa.string()),
        ("sha256", pa.string()),
        ("error", pa.string()),
        ("flagged", pa.bool_()),
        ("flagged_artists", pa.list_(pa.string())),
        ("undecided_artists", pa.list_(pa.string())),
        ("top_artist", pa.string()),
        ("top_score", pa.float64()),
        ("top_p_value", pa.float64()),
        ("ranking", pa.list_(RANKING_ENTRY)),
        ("best_match_path", pa.string()),
        ("best_match_artist", pa.string()),
        ("best_match_similarity", pa.float64()),
        ("width", pa.int64()),
        ("height", pa.int64()),
        ("format", pa.string()),
        ("size_bytes", pa.int64()),
        ("phash", pa.string()),
        ("backbone", pa.string()),
        ("index_snapshot", pa.string()),
        ("copy_state", pa.string()),
        ("copy_source_path", pa.string()),
        ("copy_source_sha256", pa.string()),
        ("copy_source_artist", pa.string()),
        ("copy_decided_by", pa.string()),
        ("copy_confidence", pa.float64()),
        ("copy_p_value", pa.float64()),
    ]
)


def rows_to_table(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=AUDIT_SCHEMA)


def write_chunk(table: pa.Table, path: Path) -> None:
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def read_metadata(path: Path) -> dict[str, Any] | None:
    """The run's metadata of a finished audit output, or None if it is not one."""
    try:
        meta = pq.read_schema(path).metadata or {}
    except Exception:  # not Parquet at all: not ours
        return None
    raw = meta.get(METADATA_KEY)
    if raw is None:
        return None
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def assemble(chunks: Iterable[Path], out: Path, metadata: dict[str, Any]) -> int:
    """Copy the chunks, in order, into `out` (atomically); returns the number of rows."""
    body = json.dumps(
        {"schema_version": AUDIT_SCHEMA_VERSION, "complete": True, **metadata},
        ensure_ascii=False,
        sort_keys=True,
    )
    schema = AUDIT_SCHEMA.with_metadata({METADATA_KEY: body.encode("utf-8")})
    rows = 0
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp, pq.ParquetWriter(tmp, schema) as writer:
        for chunk in chunks:
            table = pq.read_table(chunk, schema=AUDIT_SCHEMA)
            writer.write_table(table.replace_schema_metadata(schema.metadata))
            rows += table.num_rows
    return rows
