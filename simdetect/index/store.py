"""The on-disk index: immutable generations switched by an atomic pointer.

Layout of an index directory:

    CURRENT            name of the committed generation ("gen-000012")
    LOCK               flock target for the single writer
    gen-000012/        vectors.faiss, metadata.parquet, manifest.json

A commit writes a complete new generation into a temporary directory, fsyncs it,
renames it into place and only then swaps CURRENT (write-temp, fsync, rename).
A process killed at any point leaves CURRENT naming a complete generation, so the
last committed state always loads. Row i of the metadata is vector i of the FAISS
index; search labels are row positions.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType

import faiss
import numpy as np
import pandas as pd

from simdetect import __version__
from simdetect.backbones.base import Fingerprint
from simdetect.errors import FingerprintMismatch, IndexNotFound, UserError
from simdetect.index import ann as ann_mod
from simdetect.index import integrity
from simdetect.index.lock import IndexLock
from simdetect.index.manifest import MANIFEST_NAME, IndexCorrupt, Manifest
from simdetect.io.atomic import atomic_write_text, fsync_dir
from simdetect.io.hashing import sha256_file
from simdetect.io.image_record import ImageRecord
from simdetect.io.names import text_name
from simdetect.io.walk import safe_resolve

log = logging.getLogger(__name__)

CURRENT_NAME = "CURRENT"
VECTORS_NAME = "vectors.faiss"
METADATA_NAME = "metadata.parquet"
ROLE_ARTIST = "artist"
ROLE_BACKGROUND = "background"
METADATA_COLUMNS = [
    "id",
    "artist",
    "role",
    "path",
    "sha256",
    "size_bytes",
    "format",
    "width",
    "height",
    "phash",
    "added_at",
]
GENERATIONS_KEPT = 2
# Files up to this size are re-hashed on every open; larger ones (the vectors of a big
# index) once per (size, mtime, inode), remembered in VERIFIED_NAME, so opening a
# million-vector index does not read gigabytes each time.
VERIFY_ALWAYS_BYTES = 256 * 1024 * 1024
VERIFIED_NAME = ".verified.json"


def utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def generation_name(number: int) -> str:
    """The folder name of generation ``number`` ("gen-000012")."""
    return f"gen-{number:06d}"


def _empty_metadata() -> pd.DataFrame:
    frame = pd.DataFrame({col: pd.Series(dtype="object") for col in METADATA_COLUMNS})
    for col in ("id", "size_bytes", "width", "height"):
        frame[col] = frame[col].astype("int64")
    return frame


def read_current(root: Path) -> str | None:
    try:
        name = (root / CURRENT_NAME).read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None
    except (UnicodeDecodeError, OSError) as exc:
        raise IndexCorrupt(f"{root / CURRENT_NAME}: unreadable ({exc})") from None
    return name or None


@dataclass
class IndexSnapshot:
    """One committed generation, loaded read-only."""

    root: Path
    directory: Path
    manifest: Manifest
    index: faiss.Index
    metadata: pd.DataFrame
    ann: faiss.Index | None = None  # the approximate index serving searches, if any
    _vectors: np.ndarray | None = field(default=None, repr=False)

    @property
    def approximate(self) -> bool:
        return self.ann is not None and self.manifest.ann is not None

    @property
    def fingerprint(self) -> Fingerprint:
        return self.manifest.fingerprint

    @property
    def count(self) -> int:
        return int(self.index.ntotal)

    def snapshot_digest(self) -> str:
        """Digest naming exactly this generation's contents (used in evidence records)."""
        import hashlib

        blob = "\n".join(f"{k}={v}" for k, v in sorted(self.manifest.files.items()))
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def vectors(self) -> np.ndarray:
        if self.approximate:  # zero-copy over the memory-mapped exact vectors
            return ann_mod.flat_view(self.index)
        if self._vectors is None:
            n = self.count
            self._vectors = (
                self.index.reconstruct_n(0, n).astype(np.float32, copy=False)
                if n
                else np.zeros((0, self.manifest.dim), dtype=np.float32)
            )
        return self._vectors

    def require_fingerprint(self, fingerprint: Fingerprint) -> None:
        if fingerprint != self.fingerprint:
            diffs = "; ".join(self.fingerprint.differences(fingerprint))
            raise FingerprintMismatch(
                f"index {self.root} was built with {self.fingerprint.name} and cannot be "
                f"queried with {fingerprint.name}: {diffs}. Re-index with the same backbone, "
                "or query with the backbone the index was built with."
            )

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        k = max(1, min(k, self.count))
        if self.approximate:
            assert self.ann is not None and self.manifest.ann is not None
            refine = int(self.manifest.ann.params.get("refine", 1))
            return ann_mod.search_refined(self.ann, self.vectors(), queries, k, refine)
        sims, labels = self.index.search(np.ascontiguousarray(queries, dtype=np.float32), k)
        return sims, labels


def _verify_files(gen: Path, manifest: Manifest) -> None:
    stamps_path = gen / VERIFIED_NAME
    try:
        stamps = json.loads(stamps_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        stamps = {}
    changed = False
    for fname, expected in manifest.files.items():
        path = gen / fname
        if not path.is_file():
            raise IndexCorrupt(f"{path}: missing file listed in the manifest")
        st = path.stat()
        stamp = [st.st_size, st.st_mtime_ns, st.st_ino, expected]
        if st.st_size > VERIFY_ALWAYS_BYTES and stamps.get(fname) == stamp:
            continue
        actual = sha256_file(path)
        if actual != expected:
            raise IndexCorrupt(f"{path}: checksum {actual[:12]}… does not match manifest")
        if st.st_size > VERIFY_ALWAYS_BYTES:
            stamps[fname], changed = stamp, True
    if changed:
        try:
            atomic_write_text(stamps_path, json.dumps(stamps))
        except OSError as exc:  # read-only index: verify again next time
            log.debug("cannot record verification in %s: %s", gen, exc)


def open_index(
    root: str | os.PathLike[str],
    verify: bool = True,
    mmap: bool = True,
    generation: str | None = None,
) -> IndexSnapshot:
    """Load the committed generation; with `verify`, check file checksums against the manifest.

    A generation served by an approximate index keeps its exact vectors memory-mapped
    (with `mmap`), so only the approximate index's own structures sit in memory.
    CURRENT must name a generation inside `root` and the newest committed one, and the
    manifest's counts must match the metadata (simdetect.index.integrity); `generation`
    ("gen-NNNNNN") opens an older generation on purpose.
    """
    root = Path(root)
    name = read_current(root)
    if generation is not None:
        name = generation
    if name is None:
        raise IndexNotFound(
            f"no index at {root} (create one with: simdetect index add PATH --artist NAME "
            f"--index {root})"
        )
    gen = integrity.generation_dir(root, name, "CURRENT" if generation is None else "the request")
    if generation is None:
        integrity.check_latest(root, name)
    manifest = Manifest.read(gen / MANIFEST_NAME)
    if verify:
        _verify_files(gen, manifest)
    info = manifest.ann
    approximate = info is not None
    try:
        flags = faiss.IO_FLAG_MMAP_IFC if approximate and mmap else 0
        index = faiss.read_index(str(gen / VECTORS_NAME), flags)
        metadata = pd.read_parquet(gen / METADATA_NAME)
        ann_index = None
        if info is not None:
            ann_index = ann_mod.load(gen / info.file, info.type, info.params, mmap)
    except Exception as exc:
        raise IndexCorrupt(f"{gen}: cannot load index files ({exc})") from exc
    if ann_index is not None and ann_index.ntotal != index.ntotal:
        raise IndexCorrupt(
            f"{gen}: approximate index holds {ann_index.ntotal} vectors, exact {index.ntotal}"
        )
    if index.ntotal != len(metadata) or index.ntotal != manifest.count:
        raise IndexCorrupt(
            f"{gen}: {index.ntotal} vectors, {len(metadata)} metadata rows, "
            f"manifest says {manifest.count}"
        )
    integrity.check_counts(gen, name, manifest, metadata)
    return IndexSnapshot(
        root=root, directory=gen, manifest=manifest, index=index, metadata=metadata, ann=ann_index
    )


@dataclass(frozen=True)
class AnnRequest:
    """What `IndexWriter` does about an approximate index when it commits.

    `kind` None keeps the policy: flat below `threshold`, the auto-chosen type once the
    index grows past it, and adding without retraining to an existing approximate
    index. A kind ("auto", "flat", "hnsw", ...) given explicitly rebuilds and re-tunes.
    """

    kind: str | None = None
    threshold: int = ann_mod.DEFAULT_APPROX_THRESHOLD
    memory_budget_mb: float | None = None
    min_recall: float = ann_mod.DEFAULT_MIN_RECALL
    n_queries: int = ann_mod.DEFAULT_QUERIES
    seed: int = 0


class IndexWriter:
    """The single writer of an index: stage changes in memory, then `commit()` a generation.

    Use as a context manager; it holds the index lock for its whole life.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        fingerprint: Fingerprint | None = None,
        backbone_spec: str | None = None,
        ann: AnnRequest | None = None,
    ) -> None:
        self.root = Path(root)
        self.ann_request = ann or AnnRequest()
        self.ann: faiss.Index | None = None
        self._rebuild_ann = self.ann_request.kind is not None
        self._lock = IndexLock(self.root)
        self._new_fingerprint = fingerprint
        self._new_spec = backbone_spec
        self._dirty = False

    def __enter__(self) -> IndexWriter:
        self._lock.acquire()
        try:
            self._load()
        except BaseException:
            self._lock.release()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._lock.release()

    def _load(self) -> None:
        self._clean_stale_temporaries()
        if read_current(self.root) is None:
            if self._new_fingerprint is None or self._new_spec is None:
                raise IndexNotFound(f"no index at {self.root} and no backbone given to create one")
            now = utc_now()
            self.manifest = Manifest(
                fingerprint=self._new_fingerprint,
                backbone_spec=self._new_spec,
                dim=self._new_fingerprint.dim,
                count=0,
                generation=0,
                next_id=0,
                created_at=now,
                updated_at=now,
            )
            self.index: faiss.Index = faiss.IndexFlatIP(self._new_fingerprint.dim)
            self.metadata = _empty_metadata()
        else:
            snap = open_index(self.root, mmap=False)  # writers add to both indexes
            if self._new_fingerprint is not None:
                snap.require_fingerprint(self._new_fingerprint)
            self.manifest = snap.manifest
            self.index = snap.index
            self.metadata = snap.metadata
            self.ann = snap.ann
        self._sha_to_artist = dict(
            zip(self.metadata["sha256"].tolist(), self.metadata["artist"].tolist(), strict=True)
        )

    @property
    def fingerprint(self) -> Fingerprint:
        return self.manifest.fingerprint

    def indexed_artist(self, sha256: str) -> str | None:
        """The artist a file with these bytes is already indexed under, if any."""
        return self._sha_to_artist.get(sha256)

    def add(
        self,
        records: list[ImageRecord],
        vectors: np.ndarray,
        artist: str,
        role: str = ROLE_ARTIST,
        added_at: list[str] | None = None,
    ) -> int:
        """Stage new works; files whose bytes are already indexed are ignored. Returns the count.

        `added_at` (one per record) keeps the original times when works move between
        indexes (merging shards); by default they are added now.
        """
        if role not in (ROLE_ARTIST, ROLE_BACKGROUND):
            raise ValueError(f"role must be {ROLE_ARTIST!r} or {ROLE_BACKGROUND!r}, not {role!r}")
        if not artist.strip():
            raise UserError("artist name must not be empty")
        if len(records) != len(vectors):
            raise ValueError(f"{len(records)} records but {len(vectors)} vectors")
        keep = []
        seen: set[str] = set()
        for i, rec in enumerate(records):
            if rec.sha256 in self._sha_to_artist or rec.sha256 in seen:
                continue
            seen.add(rec.sha256)
            keep.append(i)
        if not keep:
            return 0
        vecs = np.ascontiguousarray(vectors[keep], dtype=np.float32)
        if vecs.shape[1] != self.manifest.dim:
            raise ValueError(
                f"vectors have dimension {vecs.shape[1]}, index has {self.manifest.dim}"
            )
        now = utc_now()
        start = self.manifest.next_id
        rows = []
        for offset, i in enumerate(keep):
            rec = records[i]
            rows.append(
                {
                    "id": start + offset,
                    "artist": artist,
                    "role": role,
                    "path": rec.path,
                    "sha256": rec.sha256,
                    "size_bytes": rec.size_bytes,
                    "format": rec.format,
                    "width": rec.width,
                    "height": rec.height,
                    "phash": rec.phash,
                    "added_at": now if added_at is None else added_at[i],
                }
            )
            self._sha_to_artist[rec.sha256] = artist
        self.index.add(vecs)
        if self.ann is not None:  # no retraining; the manifest keeps the count it was tuned at
            self.ann.add(vecs)
        new = pd.DataFrame(rows, columns=METADATA_COLUMNS)
        self.metadata = (
            new if self.metadata.empty else pd.concat([self.metadata, new], ignore_index=True)
        )
        self.manifest.next_id = start + len(keep)
        self._dirty = True
        return len(keep)

    def _remove_rows(self, mask: np.ndarray) -> int:
        removed = int(mask.sum())
        if removed == 0:
            return 0
        keep = np.flatnonzero(~mask)
        vectors = self.index.reconstruct_n(0, self.index.ntotal)[keep]
        index = faiss.IndexFlatIP(self.manifest.dim)
        if len(keep):
            index.add(np.ascontiguousarray(vectors))
        self.index = index
        if self.ann is not None:  # labels are row positions: re-add the kept rows, same training
            self.ann.reset()
            if len(keep):
                self.ann.add(np.ascontiguousarray(vectors))
        self.metadata = self.metadata.iloc[keep].reset_index(drop=True)
        self._sha_to_artist = dict(
            zip(self.metadata["sha256"].tolist(), self.metadata["artist"].tolist(), strict=True)
        )
        self._dirty = True
        return removed

    def remove_artist(self, artist: str) -> int:
        return self._remove_rows((self.metadata["artist"] == artist).to_numpy())

    def remove_files(self, paths: list[str]) -> int:
        """Remove by path as indexed, or by the SHA-256 of a file given by path."""
        # Stored paths are text (simdetect.io.names): compare names in that form too.
        given = [str(p) for p in paths]
        wanted_paths = {text_name(p) for p in given}
        for p in given:
            resolved, problem = safe_resolve(Path(p))
            if problem is None:
                wanted_paths.add(text_name(resolved))
        shas = set()
        for p in paths:
            if Path(p).is_file():
                shas.add(sha256_file(p))
        mask = self.metadata["path"].isin(wanted_paths) | self.metadata["sha256"].isin(shas)
        return self._remove_rows(mask.to_numpy())

    def _plan_ann(self) -> None:
        """Build, rebuild or drop the approximate index as the request and the size say."""
        req, n, dim = self.ann_request, int(self.index.ntotal), self.manifest.dim
        if req.kind is None and (self.ann is not None or n < req.threshold):
            return
        kind = req.kind or ann_mod.AUTO
        if kind == ann_mod.AUTO:
            plan = ann_mod.choose_plan(n, dim, req.memory_budget_mb, req.threshold)
        else:
            plan = ann_mod.plan_for(kind, n, dim)
        if not plan.approximate:
            self.ann, self.manifest.ann = None, None
            return
        log.info("building %s (%s) over %d vectors", plan.type, plan.factory, n)
        self.ann, self.manifest.ann = ann_mod.build(
            ann_mod.flat_view(self.index),
            plan,
            min_recall=req.min_recall,
            n_queries=req.n_queries,
            seed=req.seed,
            built_at=utc_now(),
        )

    def rebuild(self) -> None:
        """Mark the index for a rebuild of its search structure at the next commit."""
        self._rebuild_ann = True
        self._dirty = True

    def commit(self) -> Manifest:
        """Write a new generation and switch CURRENT to it; a no-op when nothing changed."""
        if not self._dirty:
            return self.manifest
        if self._rebuild_ann or self.ann is None:
            self._plan_ann()
            self._rebuild_ann = False
        manifest = self.manifest
        manifest.index_type = manifest.ann.type if manifest.ann is not None else "flat-ip"
        manifest.generation += 1
        manifest.count = int(self.index.ntotal)
        manifest.updated_at = utc_now()
        manifest.simdetect_version = __version__
        pairs = zip(self.metadata["role"].tolist(), self.metadata["artist"].tolist(), strict=True)
        manifest.artists, manifest.background = {}, {}
        for role, artist in pairs:
            bucket = manifest.artists if role == ROLE_ARTIST else manifest.background
            bucket[str(artist)] = bucket.get(str(artist), 0) + 1
        name = generation_name(manifest.generation)
        tmp = self.root / f".{name}.tmp-{os.getpid()}"
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir(parents=True)
        faiss.write_index(self.index, str(tmp / VECTORS_NAME))
        self.metadata.to_parquet(tmp / METADATA_NAME, index=False)
        manifest.files = {
            VECTORS_NAME: sha256_file(tmp / VECTORS_NAME),
            METADATA_NAME: sha256_file(tmp / METADATA_NAME),
        }
        written = [VECTORS_NAME, METADATA_NAME, MANIFEST_NAME]
        if self.ann is not None and manifest.ann is not None:
            faiss.write_index(self.ann, str(tmp / manifest.ann.file))
            manifest.files[manifest.ann.file] = sha256_file(tmp / manifest.ann.file)
            written.append(manifest.ann.file)
        (tmp / MANIFEST_NAME).write_text(manifest.to_json(), encoding="utf-8")
        for fname in written:
            fd = os.open(tmp / fname, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(tmp)
        final = self.root / name
        if final.exists():  # left by a writer killed between rename and CURRENT swap
            shutil.rmtree(final)
        os.rename(tmp, final)
        fsync_dir(self.root)
        atomic_write_text(self.root / CURRENT_NAME, name + "\n")
        integrity.mark_committed(final)
        self._dirty = False
        self._prune_generations(keep_latest=GENERATIONS_KEPT)
        log.info("committed %s with %d vectors", name, manifest.count)
        return manifest

    def _prune_generations(self, keep_latest: int) -> None:
        current = read_current(self.root)
        gens = sorted(p for p in self.root.glob("gen-*") if p.is_dir())
        for old in gens[:-keep_latest]:
            if old.name != current:
                shutil.rmtree(old, ignore_errors=True)

    def _clean_stale_temporaries(self) -> None:
        if not self.root.is_dir():
            return
        for tmp in self.root.glob(".gen-*.tmp-*"):
            shutil.rmtree(tmp, ignore_errors=True)
        current = read_current(self.root)
        for gen in self.root.glob("gen-*"):
            # Newer than CURRENT and never committed: left by a writer killed before the
            # switch. A committed one means CURRENT was moved back: keep it (loading refuses).
            committed = (gen / integrity.COMMITTED_NAME).is_file()
            if current is not None and gen.is_dir() and gen.name > current and not committed:
                shutil.rmtree(gen, ignore_errors=True)
