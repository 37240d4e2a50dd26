"""Adding works to an index: walk → embed → stage → commit in chunks.

Chunked commits mean a run killed half-way keeps everything up to its last commit,
and a re-run skips those files by hash instead of embedding them again.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from simdetect.backbones import Backbone, backbone_for_fingerprint, load_backbone
from simdetect.defaults import DEFAULT_COMMIT_EVERY
from simdetect.embed import EmbeddedBatch, embed_files
from simdetect.index.manifest import Manifest
from simdetect.index.store import ROLE_ARTIST, IndexWriter, open_index, read_current
from simdetect.io.images import LoadLimits
from simdetect.io.names import text_name
from simdetect.io.walk import SkipRecord, iter_image_files, list_artist_folders, safe_resolve

log = logging.getLogger(__name__)


# embed(paths, backbone, *, batch_size, workers, limits, is_known, on_progress) with
# embed_files' contract; the Ray engine (simdetect.distributed) is the other one.
EmbedFn = Callable[..., Iterator[EmbeddedBatch]]


@dataclass
class AddSummary:
    added: int = 0
    already_indexed: int = 0
    conflicts: list[tuple[str, str]] = field(default_factory=list)  # (path, artist it is under)
    skipped: list[SkipRecord] = field(default_factory=list)
    manifest: Manifest | None = None


def backbone_for_index(index_dir: Path, requested: str | None, device: str = "cpu") -> Backbone:
    """The backbone an existing index was built with (the very descriptor, even where its
    name now stands for a newer one), or the requested one for a new index."""
    if read_current(index_dir) is not None:
        snap = open_index(index_dir, verify=False)
        spec = snap.manifest.backbone_spec
        if requested is not None and requested != spec:
            backbone = load_backbone(requested, device)
            snap.require_fingerprint(backbone.fingerprint)
            return backbone
        return backbone_for_fingerprint(spec, snap.fingerprint, device)
    return load_backbone(requested or "effnet-style", device)


def expand_paths(paths: Sequence[str | os.PathLike[str]], skipped: list[SkipRecord]) -> list[str]:
    """Files and folders (walked) into a flat, de-duplicated list of file paths."""
    out: list[str] = []
    seen: set[str] = set()
    for p in paths:
        path = Path(p)
        if not os.path.lexists(path):
            skipped.append(SkipRecord(text_name(path), "no such file or directory"))
            continue
        files = iter_image_files(path, on_skip=skipped.append) if path.is_dir() else [path]
        for f in files:
            key, problem = safe_resolve(Path(f))
            if problem is not None:  # a link loop named on the command line
                skipped.append(SkipRecord(text_name(f), problem))
                continue
            if key not in seen:
                seen.add(key)
                out.append(key)
    return out


@dataclass(frozen=True)
class KnownHashes:
    """Whether a writer already holds some bytes; `snapshot()` lets a remote engine ask once."""

    writer: IndexWriter

    def __call__(self, sha256: str) -> bool:
        return self.writer.indexed_artist(sha256) is not None

    def snapshot(self) -> frozenset[str]:
        return frozenset(self.writer.metadata["sha256"].tolist())


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
    embed: EmbedFn = embed_files,
) -> None:
    """Embed new files for one artist into an open writer, committing every `commit_every` adds."""
    add_labelled(
        writer,
        [(f, artist) for f in files],
        backbone,
        role,
        summary=summary,
        limits=limits,
        batch_size=batch_size,
        workers=workers,
        commit_every=commit_every,
        on_progress=on_progress,
        embed=embed,
    )


def add_labelled(
    writer: IndexWriter,
    labelled: Sequence[tuple[str, str]],
    backbone: Backbone,
    role: str = ROLE_ARTIST,
    *,
    summary: AddSummary,
    limits: LoadLimits | None = None,
    batch_size: int = 32,
    workers: int = 2,
    commit_every: int = DEFAULT_COMMIT_EVERY,
    on_progress: Callable[[int], None] | None = None,
    embed: EmbedFn = embed_files,
) -> None:
    """Embed (path, artist) pairs in one pass, committing every `commit_every` adds.

    One pass over all artists keeps a remote engine's start-up cost to one per run;
    each artist's works are still committed when the next artist's begin.
    A file whose bytes were indexed after it was read (a duplicate earlier in the
    same run) counts as known, exactly as if it had been known when it was read.
    """
    artist_of = {text_name(path): artist for path, artist in labelled}  # records name as text
    since_commit = 0
    last_artist: str | None = None

    def account(path: str, sha: str) -> None:
        owner = writer.indexed_artist(sha)
        if owner == artist_of[path]:
            summary.already_indexed += 1
        else:
            summary.conflicts.append((path, owner or "?"))

    for batch in embed(
        [path for path, _ in labelled],
        backbone,
        batch_size=batch_size,
        workers=workers,
        limits=limits,
        is_known=KnownHashes(writer),
        on_progress=on_progress,
    ):
        summary.skipped.extend(batch.skipped)
        for path, sha in batch.known:
            account(path, sha)
        start = 0
        records = batch.records
        while start < len(records):  # one writer.add per run of one artist's records
            artist = artist_of[records[start].path]
            if last_artist is not None and artist != last_artist:
                summary.manifest = writer.commit()
                since_commit = 0
            last_artist = artist
            end = start
            while end < len(records) and artist_of[records[end].path] == artist:
                end += 1
            fresh = []
            for i in range(start, end):
                if writer.indexed_artist(records[i].sha256) is None:
                    fresh.append(i)
                else:
                    account(records[i].path, records[i].sha256)
            if fresh:
                n = writer.add([records[i] for i in fresh], batch.vectors[fresh], artist, role)
                summary.added += n
                summary.already_indexed += len(fresh) - n
                since_commit += n
            start = end
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
    embed: EmbedFn = embed_files,
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
            embed=embed,
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
    embed: EmbedFn = embed_files,
) -> AddSummary:
    """Each sub-folder of `root` is one artist, named by the folder; one embedding pass."""
    summary = AddSummary()
    artists = list_artist_folders(root)
    labelled = [
        (path, name) for name, folder in artists for path in expand_paths([folder], summary.skipped)
    ]
    if on_total is not None:
        on_total(len(labelled))
    with IndexWriter(index_dir, backbone.fingerprint, backbone.name) as writer:
        add_labelled(
            writer,
            labelled,
            backbone,
            role,
            summary=summary,
            limits=limits,
            batch_size=batch_size,
            commit_every=commit_every,
            on_progress=on_progress,
            embed=embed,
        )
    return summary
