"""Scan results to files: JSONL (the stable interface), CSV and Parquet.

CSV and Parquet hold one row per (suspect, ranked artist).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from simdetect.errors import OutputFormatError
from simdetect.io.atomic import atomic_path

SUPPORTED_SUFFIXES = (".jsonl", ".csv", ".parquet")


def check_output_path(path: Path) -> None:
    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        raise OutputFormatError(
            f"{path}: output must end in {', '.join(SUPPORTED_SUFFIXES)} "
            f"(got {path.suffix or 'no suffix'!r})"
        )


def copy_columns(copy: dict[str, Any] | None, check: dict[str, Any] | None) -> dict[str, Any]:
    """The copy verdict as flat columns (the same names in scan CSV/Parquet and audits)."""
    return {
        "copy_state": check["state"] if check else None,
        "copy_source_path": copy["source"]["path"] if copy else None,
        "copy_source_sha256": copy["source"]["sha256"] if copy else None,
        "copy_source_artist": copy["source"]["artist"] if copy else None,
        "copy_decided_by": copy["decided_by"] if copy else None,
        "copy_confidence": copy["confidence"] if copy else None,
        "copy_p_value": copy["p_value"] if copy else None,
    }


def flatten_rows(rows: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """One row per (suspect, ranked artist); suspects that failed keep one row with the error."""
    flat = []
    for row in rows:
        base = {
            "suspect": row["suspect"],
            "sha256": row["sha256"],
            "error": row.get("error"),
            "best_match_path": row["matches"][0]["path"] if row["matches"] else None,
            "best_match_artist": row["matches"][0]["artist"] if row["matches"] else None,
            "best_match_similarity": row["matches"][0]["similarity"] if row["matches"] else None,
            "backbone": row.get("backbone"),
            "index_snapshot": row.get("index_snapshot"),
            # The copy verdict, flattened as audit rows name it.
            **copy_columns(row.get("copy"), row.get("copy_check")),
        }
        if not row["ranking"]:
            flat.append({**base, "rank": None, "artist": None})
            continue
        for rank, entry in enumerate(row["ranking"], start=1):
            flat.append({**base, "rank": rank, **entry})
    return pd.DataFrame(flat)


def jsonl_line(row: dict[str, Any]) -> str:
    """One result row as its JSONL line (without the newline).

    The one serialisation of a row: `--out rows.jsonl` and `scan --json` both use it,
    so what a pipeline reads from stdout is byte for byte what the file holds.
    """
    return json.dumps(row, ensure_ascii=False, sort_keys=False)


def write_results(rows: list[dict[str, Any]], path: Path) -> Path:
    """Write all rows atomically in the format the suffix names."""
    check_output_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix.lower()
    with atomic_path(path) as tmp:
        if suffix == ".jsonl":
            with tmp.open("w", encoding="utf-8") as fh:
                for row in rows:
                    fh.write(jsonl_line(row) + "\n")
        elif suffix == ".csv":
            flatten_rows(rows).to_csv(tmp, index=False, encoding="utf-8")
        else:
            flatten_rows(rows).to_parquet(tmp, index=False)
    return path
