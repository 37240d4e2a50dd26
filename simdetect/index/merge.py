"""Merging index shards built on several machines into one index, in one atomic commit.

A platform embeds a large registry in parallel (one shard per machine or per Ray job)
and then needs a single index to scan against. Vectors are only comparable when made
by the same backbone, so every shard's fingerprint must equal the target's (or the
first shard's, for a new target). Works are identified by the SHA-256 of their bytes:
a work already in the target, or in an earlier shard, is not added twice, and the same
bytes under another artist are reported as a conflict, never silently relabelled.
Everything is staged in one writer and committed once, so a failure at any point
leaves the target exactly as it was.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from simdetect.errors import UserError
from simdetect.index.manifest import Manifest
from simdetect.index.store import (
    FingerprintMismatch,
    IndexSnapshot,
    IndexWriter,
    open_index,
    read_current,
)
from simdetect.io.image_record import ImageRecord

log = logging.getLogger(__name__)


@dataclass
class ShardReport:
    """What one shard contributed."""

    shard: Path
    works: int
    added: int = 0
    duplicates: int = 0  # same bytes already present under the same artist
    conflicts: list[tuple[str, str, str]] = field(default_factory=list)  # (path, artist, owner)


@dataclass
class MergeSummary:
    target: Path
    shards: list[ShardReport]
    manifest: Manifest

    @property
    def added(self) -> int:
        return sum(s.added for s in self.shards)

    @property
    def duplicates(self) -> int:
        return sum(s.duplicates for s in self.shards)

    @property
    def conflicts(self) -> list[tuple[str, str, str, str]]:
        """(shard, path, artist in the shard, artist already holding the bytes)."""
        return [(str(s.shard), *c) for s in self.shards for c in s.conflicts]


def _same_place(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return a.resolve() == b.resolve()


def _open_shards(target: Path, shards: Sequence[Path]) -> list[tuple[Path, IndexSnapshot]]:
    """Load and check every shard before the target is touched."""
    if not shards:
        raise UserError("give at least one shard to merge")
    opened: list[tuple[Path, IndexSnapshot]] = []
    for shard in shards:
        shard = Path(shard)
        if target.exists() and _same_place(shard, target):
            raise UserError(f"shard {shard} is the target index itself; nothing was changed")
        if any(_same_place(shard, seen) for seen, _ in opened):
            raise UserError(f"shard {shard} is given twice; nothing was changed")
        opened.append((shard, open_index(shard, verify=True)))  # names the shard on failure
    if read_current(target) is not None:
        ref_name, ref = f"target index {target}", open_index(target, verify=False).manifest
    else:
        ref_name, ref = f"shard {opened[0][0]}", opened[0][1].manifest
    for shard, snap in opened:
        if snap.fingerprint != ref.fingerprint:
            diffs = "; ".join(ref.fingerprint.differences(snap.fingerprint))
            raise FingerprintMismatch(
                f"shard {shard} was built with {snap.fingerprint.name} "
                f"({snap.manifest.backbone_spec}), {ref_name} with {ref.fingerprint.name} "
                f"({ref.backbone_spec}): {diffs}. Only shards embedded by the same backbone "
                "can be merged; nothing was changed."
            )
    return opened


def merge_shards(
    target: str | os.PathLike[str],
    shards: Sequence[str | os.PathLike[str]],
    *,
    on_total: Callable[[int], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> MergeSummary:
    """Add every shard's works to `target` (created if absent), in shard order, one commit."""
    target = Path(target)
    opened = _open_shards(target, [Path(s) for s in shards])
    if on_total is not None:
        on_total(sum(snap.count for _, snap in opened))
    first = opened[0][1].manifest
    reports: list[ShardReport] = []
    with IndexWriter(target, first.fingerprint, first.backbone_spec) as writer:
        for shard, snap in opened:
            report = ShardReport(shard=shard, works=snap.count)
            reports.append(report)
            _merge_one(writer, snap, report)
            if on_progress is not None:
                on_progress(snap.count)
        manifest = writer.commit()
    log.info("merged %d shards into %s: %d works", len(reports), target, manifest.count)
    return MergeSummary(target=target, shards=reports, manifest=manifest)


def _merge_one(writer: IndexWriter, snap: IndexSnapshot, report: ShardReport) -> None:
    """Stage one shard's rows in their order, one `add` per run of (artist, role)."""
    meta = snap.metadata
    vectors = snap.vectors()
    rows = meta.to_dict("records")
    start = 0
    while start < len(rows):
        artist, role = str(rows[start]["artist"]), str(rows[start]["role"])
        end = start
        while (
            end < len(rows)
            and str(rows[end]["artist"]) == artist
            and str(rows[end]["role"]) == role
        ):
            end += 1
        keep: list[int] = []
        seen: set[str] = set()
        for i in range(start, end):
            sha = str(rows[i]["sha256"])
            owner = writer.indexed_artist(sha)
            if owner is None and sha not in seen:
                seen.add(sha)
                keep.append(i)
            elif (owner or artist) == artist:
                report.duplicates += 1
            else:
                report.conflicts.append((str(rows[i]["path"]), artist, owner or "?"))
        if keep:
            records = [
                ImageRecord(
                    path=str(rows[i]["path"]),
                    sha256=str(rows[i]["sha256"]),
                    size_bytes=int(rows[i]["size_bytes"]),
                    format=str(rows[i]["format"]),
                    width=int(rows[i]["width"]),
                    height=int(rows[i]["height"]),
                    phash=str(rows[i]["phash"]),
                )
                for i in keep
            ]
            report.added += writer.add(
                records,
                vectors[keep],
                artist,
                role,
                added_at=[str(rows[i]["added_at"]) for i in keep],
            )
        start = end
