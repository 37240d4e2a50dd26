"""Adding works to an index: walk → embed → stage → commit in chunks.

Chunked commits mean a run killed half-way keeps everything up to its last commit,
and a re-run skips those files by hash instead of embedding them again.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from simdetect.backbones import Backbone, load_backbone
from simdetect.embed import embed_files
from simdetect.index.manifest import Manifest
from simdetect.index.store import ROLE_ARTIST, IndexWriter, open_index, read_current
from simdetect.io.images import LoadLimits
from simdetect.io.walk import SkipRecord, iter_image_files, list_artist_folders

log = logging.getLogger(__name__)

DEFAULT_COMMIT_EVERY = 256


@dataclass
class AddSummary:
    added: int = 0
    already_indexed: int = 0
    conflicts: list[tuple[str, str]] = field(default_factory=list)  # (path, artist it is under)
    skipped: list[SkipRecord] = field(default_factory=list)
    manifest: Manifest | None = None


def backbone_for_index(index_dir: Path, requested: str | None, device: str = "cpu") -> Backbone:
    """The backbone an existing index was built with, or the requested one for a new index."""
    if read_current(index_dir) is not None:
        snap = open_index(index_dir, verify=False)
        spec = snap.manifest.backbone_spec
        if requested is not None and requested != spec:
            backbone = load_backbone(requested, device)
            snap.require_fingerprint(backbone.fingerprint)
            return backbone
        return load_backbone(spec, device)
    return load_backbone(requested or "effnet-style", device)


def expand_paths(paths: Sequence[str | os.PathLike[str]], skipped: list[SkipRecord]) -> list[str]:
    """Files and folders (walked) into a flat, de-duplicated list of file paths."""
    out: list[str] = []
    seen: set[str] = set()
    for p in paths:
        path = Path(p)
        if not path.exists() and not path.is_symlink():
            skipped.append(SkipRecord(str(path), "no such file or directory"))
            continue
        files = iter_image_files(path, on_skip=skipped.append) if path.is_dir() else [path]
        for f in files:
            key = str(Path(f).resolve())
            if key not in seen:
                seen.add(key)
                out.append(key)
    return out


def add_files(
    writer: IndexWriter,
    files: Iterable[str],
    backbone: Backbone,
    artist: str,
    role: str = ROLE_ARTIST,
    *,
    summary: AddSummary,
    limits: LoadLimits | None = None,
    batch_size: int = 32,
    workers: int = 2,
    commit_every: int = DEFAULT_COMMIT_EVERY,
    on_progress: Callable[[int], None] | None = None,
) -> None:
    """Embed new files for one artist into an open writer, committing every `commit_every` adds."""
    since_commit = 0

    def known(sha: str) -> bool:
        return writer.indexed_artist(sha) is not None

    for batch in embed_files(
        files,
        backbone,
        batch_size=batch_size,
        workers=workers,
        limits=limits,
        is_known=known,
        on_progress=on_progress,
    ):
        summary.skipped.extend(batch.skipped)
        for path, sha in batch.known:
            owner = writer.indexed_artist(sha)
            if owner == artist:
                summary.already_indexed += 1
            else:
                summary.conflicts.append((path, owner or "?"))
        if batch.records:
            n = writer.add(batch.records, batch.vectors, artist, role)
            summary.added += n
            summary.already_indexed += len(batch.records) - n
            since_commit += n
        if since_commit >= commit_every:
            summary.manifest = writer.commit()
            since_commit = 0
    summary.manifest = writer.commit()


def add_paths(
    index_dir: Path,
    paths: Sequence[str | os.PathLike[str]],
    artist: str,
    *,
    backbone: Backbone,
    role: str = ROLE_ARTIST,
    limits: LoadLimits | None = None,
    batch_size: int = 32,
    commit_every: int = DEFAULT_COMMIT_EVERY,
    on_total: Callable[[int], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> AddSummary:
    summary = AddSummary()
    files = expand_paths(paths, summary.skipped)
    if on_total is not None:
        on_total(len(files))
    with IndexWriter(index_dir, backbone.fingerprint, backbone.name) as writer:
        add_files(
            writer,
            files,
            backbone,
            artist,
            role,
            summary=summary,
            limits=limits,
            batch_size=batch_size,
            commit_every=commit_every,
            on_progress=on_progress,
        )
    return summary


def add_tree(
    index_dir: Path,
    root: Path,
    *,
    backbone: Backbone,
    role: str = ROLE_ARTIST,
    limits: LoadLimits | None = None,
    batch_size: int = 32,
    commit_every: int = DEFAULT_COMMIT_EVERY,
    on_total: Callable[[int], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> AddSummary:
    """Each sub-folder of `root` is one artist, named by the folder."""
    summary = AddSummary()
    artists = list_artist_folders(root)
    per_artist = [(name, expand_paths([folder], summary.skipped)) for name, folder in artists]
    if on_total is not None:
        on_total(sum(len(files) for _, files in per_artist))
    with IndexWriter(index_dir, backbone.fingerprint, backbone.name) as writer:
        for name, files in per_artist:
            add_files(
                writer,
                files,
                backbone,
                name,
                role,
                summary=summary,
                limits=limits,
                batch_size=batch_size,
                commit_every=commit_every,
                on_progress=on_progress,
            )
    return summary
