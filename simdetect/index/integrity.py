"""Cross-checks at index load: CURRENT, the generation folders, the manifest and the metadata.

Checksums prove each file is the one the manifest lists, but not that the pieces agree
with each other or that CURRENT names the state last committed. A hostile test found a
fake artist added to the manifest (shown by `index info` without a word), CURRENT set
back to an older generation, and CURRENT pointing outside the index folder
(``../other/gen-000004``). Each of these is refused here, naming what disagrees.

A generation is marked committed (``COMMITTED`` inside it) after CURRENT names it.
A newer generation without the mark is what a writer killed between renaming the
folder and switching CURRENT leaves: not committed, so not a reason to refuse (the next
writer removes it). A newer generation *with* the mark means CURRENT was moved back.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pandas as pd

from simdetect.index.manifest import IndexCorrupt, Manifest

__all__ = [
    "COMMITTED_NAME",
    "check_counts",
    "committed_newer",
    "generation_dir",
    "mark_committed",
]

COMMITTED_NAME = "COMMITTED"
GENERATION_RE = re.compile(r"gen-(\d{6})")
_ROLE_ARTIST = "artist"


def generation_dir(root: Path, name: str, source: str = "CURRENT") -> Path:
    """The folder a generation name designates; IndexCorrupt unless it is one inside ``root``."""
    if not GENERATION_RE.fullmatch(name):
        raise IndexCorrupt(
            f"{root / 'CURRENT'}: {source} names {name!r}, which is not a generation of this "
            "index (expected gen-NNNNNN inside the index folder)"
        )
    gen = root / name
    if gen.is_symlink():
        raise IndexCorrupt(f"{gen}: generation is a symbolic link; refusing to follow it")
    if not gen.is_dir():
        raise IndexCorrupt(f"{gen}: {source} names a generation that does not exist")
    if gen.resolve().parent != root.resolve():
        raise IndexCorrupt(f"{gen}: generation is not inside the index folder {root}")
    return gen


def committed_newer(root: Path, current: str) -> list[str]:
    """Generations newer than ``current`` that were committed (CURRENT once named them)."""
    newer = []
    for path in root.glob("gen-*"):
        if (
            GENERATION_RE.fullmatch(path.name)
            and path.name > current
            and (path / COMMITTED_NAME).is_file()
            and not path.is_symlink()
        ):
            newer.append(path.name)
    return sorted(newer)


def check_latest(root: Path, current: str) -> None:
    """Refuse when CURRENT names an older generation than the newest committed one."""
    newer = committed_newer(root, current)
    if newer:
        raise IndexCorrupt(
            f"{root / 'CURRENT'}: names {current}, but {newer[-1]} is newer and was committed: "
            "CURRENT was moved back or edited. Open that generation explicitly if it is "
            "the state you want, or restore CURRENT"
        )


def mark_committed(gen: Path) -> None:
    """Record that CURRENT named ``gen`` (written after the switch; see module docstring)."""
    (gen / COMMITTED_NAME).write_text(gen.name + "\n", encoding="ascii")


def check_counts(gen: Path, name: str, manifest: Manifest, metadata: pd.DataFrame) -> None:
    """The manifest's generation number and per-artist counts must match the metadata."""
    match = GENERATION_RE.fullmatch(name)
    if match is not None and manifest.generation != int(match.group(1)):
        raise IndexCorrupt(
            f"{gen}: manifest says generation {manifest.generation}, the folder is {name}"
        )
    missing = [c for c in ("artist", "role", "path", "sha256") if c not in metadata.columns]
    if missing:
        raise IndexCorrupt(f"{gen}: metadata lacks the columns {', '.join(missing)}")
    actual: dict[str, Counter[str]] = {"artist": Counter(), "background": Counter()}
    for role, artist in zip(metadata["role"].tolist(), metadata["artist"].tolist(), strict=True):
        actual["artist" if role == _ROLE_ARTIST else "background"][str(artist)] += 1
    for label, listed in (("artist", manifest.artists), ("background", manifest.background)):
        found = actual[label]
        if dict(found) != dict(listed):
            diffs = [
                f"{a!r}: manifest {listed.get(a, 0)}, metadata {found.get(a, 0)}"
                for a in sorted(set(found) | set(listed))
                if listed.get(a, 0) != found.get(a, 0)
            ]
            shown = "; ".join(diffs[:5]) + (
                f"; and {len(diffs) - 5} more" if len(diffs) > 5 else ""
            )
            raise IndexCorrupt(
                f"{gen}: the manifest's works per {label} do not match the metadata ({shown})"
            )
