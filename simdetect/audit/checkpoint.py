"""The audit's progress on disk, laid out so that every state a SIGKILL can leave resumes.

A run works in `<out>.parts/`: numbered chunk files, each written atomically, and a
`checkpoint.json` (also atomic) that counts the chunks and inputs that are done. The
checkpoint is only advanced after its chunk is on disk, so at any instant:

- a chunk file beyond the checkpoint's count is an orphan from a kill between the two
  writes: it is deleted, and its inputs are redone (same inputs, same rows);
- hidden temporary files are half-written chunks or checkpoints: they are deleted;
- `finished: true` means every chunk is there and only the assembly of the final
  Parquet (itself atomic) and the clean-up remain.

Clean-up removes the checkpoint before anything else, so a parts folder without a
checkpoint next to a complete output is leftover rubbish, never a run to continue.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from simdetect.errors import AuditStateError
from simdetect.io.atomic import atomic_write_text, fsync_dir

log = logging.getLogger(__name__)

CHECKPOINT_FORMAT = "simdetect-audit-checkpoint"
CHECKPOINT_VERSION = 1
CHECKPOINT_NAME = "checkpoint.json"
CHUNK_PREFIX = "chunk-"
# An audit using its own batch as generator reference keeps the embedded sample here
# (simdetect.audit.batch_reference), so a resumed run judges against the same one.
BATCH_REFERENCE_NAME = "batch-reference.npz"
KEPT = frozenset({CHECKPOINT_NAME, "LOCK", BATCH_REFERENCE_NAME})


@dataclass
class Checkpoint:
    """How far a run got; `settings` must match exactly for a resume to be allowed."""

    settings: dict[str, Any]
    chunks: int = 0
    inputs_done: int = 0
    last_path: str | None = None
    finished: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        body = {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, **asdict(self)}
        return json.dumps(body, ensure_ascii=False, indent=1, sort_keys=True) + "\n"

    @classmethod
    def from_file(cls, path: Path) -> Checkpoint:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("format") != CHECKPOINT_FORMAT or data.get("version") != (
                CHECKPOINT_VERSION
            ):
                raise ValueError(f"not a version-{CHECKPOINT_VERSION} audit checkpoint")
            return cls(
                settings=dict(data["settings"]),
                chunks=int(data["chunks"]),
                inputs_done=int(data["inputs_done"]),
                last_path=data.get("last_path"),
                finished=bool(data.get("finished", False)),
                extra=dict(data.get("extra") or {}),
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise AuditStateError(
                f"{path}: unreadable audit checkpoint ({exc}); start again with --overwrite"
            ) from None


def parts_dir(out: Path) -> Path:
    return out.with_name(out.name + ".parts")


def chunk_path(parts: Path, number: int) -> Path:
    return parts / f"{CHUNK_PREFIX}{number:06d}.parquet"


def chunk_number(path: Path) -> int | None:
    stem = path.name.removesuffix(".parquet")
    if not stem.startswith(CHUNK_PREFIX) or not path.name.endswith(".parquet"):
        return None
    digits = stem[len(CHUNK_PREFIX) :]
    return int(digits) if digits.isdigit() else None


def save(parts: Path, checkpoint: Checkpoint) -> None:
    atomic_write_text(parts / CHECKPOINT_NAME, checkpoint.to_json())


def load(parts: Path) -> Checkpoint | None:
    path = parts / CHECKPOINT_NAME
    return Checkpoint.from_file(path) if path.exists() else None


def settings_differences(stored: dict[str, Any], current: dict[str, Any]) -> list[str]:
    keys = sorted(set(stored) | set(current))
    return [
        f"{k}: {stored.get(k)!r} then, {current.get(k)!r} now"
        for k in keys
        if stored.get(k) != current.get(k)
    ]


def tidy(parts: Path, checkpoint: Checkpoint) -> int:
    """Delete what a kill left behind beyond the checkpoint; returns files removed."""
    removed = 0
    for entry in parts.iterdir():
        if entry.name in KEPT:
            continue
        number = chunk_number(entry)
        if entry.name.startswith(".") or number is None or number >= checkpoint.chunks:
            log.info("removing leftover %s", entry)
            entry.unlink(missing_ok=True)
            removed += 1
    missing = [
        str(chunk_path(parts, i))
        for i in range(checkpoint.chunks)
        if not chunk_path(parts, i).exists()
    ]
    if missing:
        raise AuditStateError(
            f"{parts}: checkpoint lists {checkpoint.chunks} chunks but {len(missing)} are "
            f"missing (first: {missing[0]}); start again with --overwrite"
        )
    return removed


def remove_parts(parts: Path) -> None:
    """Checkpoint first: a kill during the rest leaves rubbish, never a false resume point."""
    if not parts.exists():
        return
    (parts / CHECKPOINT_NAME).unlink(missing_ok=True)
    fsync_dir(parts)
    shutil.rmtree(parts, ignore_errors=True)
