"""Generator reference sets: outputs of one generator, kept beside an index, never ranked.

A reference set holds vectors of images made by one generator (a platform's own model,
or a dozen unrelated images an artist made with the suspect app). Scoring uses them to
remove that generator's offset and as the null for its outputs (`scoring.alignment`,
`scoring.contrastive`). They are not works: they are never searched, listed or ranked.

Storage: `<index>/references/<NAME>.npz` (vectors, file hashes and paths, and a JSON
header naming the backbone fingerprint they were embedded with) plus
`<index>/references/references.json`, the list of sets with their sizes and content
digests. Both are written atomically; a set embedded with another backbone is refused
when read, exactly like querying an index with the wrong backbone.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from simdetect.backbones.base import Fingerprint
from simdetect.defaults import BATCH_REFERENCE
from simdetect.errors import ReferenceSetError
from simdetect.index.store import utc_now
from simdetect.io.atomic import atomic_write_bytes, atomic_write_text
from simdetect.io.images import LoadLimits
from simdetect.io.walk import SkipRecord

REFERENCES_DIR = "references"
REFERENCES_LIST = "references.json"
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
RESERVED_NAMES = frozenset({BATCH_REFERENCE, "none"})


@dataclass
class ReferenceSet:
    name: str
    vectors: np.ndarray  # (n, d) float32, L2-normalised like indexed works
    sha256: list[str]
    paths: list[str]
    fingerprint_digest: str
    backbone: str
    created_at: str

    @property
    def count(self) -> int:
        return len(self.vectors)

    def digest(self) -> str:
        """Names exactly these vectors (part of every row's record of the reference)."""
        h = hashlib.sha256(self.name.encode("utf-8"))
        h.update(self.fingerprint_digest.encode())
        h.update(np.ascontiguousarray(self.vectors, dtype=np.float32).tobytes())
        return h.hexdigest()


def is_batch(name: str | None) -> bool:
    """Whether a reference name means an audit's own inputs rather than a stored set."""
    return name is not None and name.lower() == BATCH_REFERENCE


def check_name(name: str) -> str:
    if not NAME_PATTERN.match(name) or name.lower() in RESERVED_NAMES:
        raise ReferenceSetError(
            f"reference name {name!r} is not allowed: use 1-64 letters, digits, '.', '_' "
            f"or '-', starting with a letter or digit, and not {sorted(RESERVED_NAMES)}"
        )
    return name


def references_dir(index_root: Path) -> Path:
    return Path(index_root) / REFERENCES_DIR


def _set_path(index_root: Path, name: str) -> Path:
    return references_dir(index_root) / f"{check_name(name)}.npz"


def list_references(index_root: Path) -> dict[str, dict[str, Any]]:
    """name → {count, digest, backbone, created_at} for every stored set."""
    path = references_dir(index_root) / REFERENCES_LIST
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ReferenceSetError(f"{path}: unreadable list of reference sets ({exc})") from None
    return {str(k): dict(v) for k, v in data.get("references", {}).items()}


def _write_list(index_root: Path, entries: dict[str, dict[str, Any]]) -> None:
    text = json.dumps({"references": entries}, indent=2, sort_keys=True, ensure_ascii=False)
    atomic_write_text(references_dir(index_root) / REFERENCES_LIST, text + "\n")


def reference_to_bytes(ref: ReferenceSet) -> bytes:
    """The stored form of a set: its vectors and a JSON header, in one .npz."""
    header = {
        "name": ref.name,
        "fingerprint_digest": ref.fingerprint_digest,
        "backbone": ref.backbone,
        "created_at": ref.created_at,
        "sha256": ref.sha256,
        "paths": ref.paths,
    }
    buf = io.BytesIO()
    np.savez(
        buf,
        vectors=ref.vectors,
        header=np.frombuffer(json.dumps(header, ensure_ascii=False).encode("utf-8"), np.uint8),
    )
    return buf.getvalue()


def read_reference_file(path: Path) -> ReferenceSet:
    """A set read back from `reference_to_bytes`'s form; ReferenceSetError names the file."""
    try:
        with np.load(path, allow_pickle=False) as data:
            header = json.loads(bytes(data["header"]).decode("utf-8"))
            vectors = data["vectors"].astype(np.float32)
        return ReferenceSet(
            name=str(header["name"]),
            vectors=vectors,
            sha256=list(header["sha256"]),
            paths=list(header["paths"]),
            fingerprint_digest=str(header["fingerprint_digest"]),
            backbone=str(header["backbone"]),
            created_at=str(header["created_at"]),
        )
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as exc:
        # A header without the fields (another program's .npz, a truncated write) is as
        # unreadable as a broken archive: one error naming the file, not a traceback.
        raise ReferenceSetError(f"{path}: unreadable reference set ({exc})") from None


def save_reference(
    index_root: Path,
    name: str,
    fingerprint: Fingerprint,
    vectors: np.ndarray,
    sha256: list[str],
    paths: list[str],
) -> ReferenceSet:
    """Store (or replace) a named set; identical files are kept once."""
    check_name(name)
    if len(vectors) == 0:
        raise ReferenceSetError(f"reference {name!r}: no readable images to store")
    seen: set[str] = set()
    keep = []
    for i, digest in enumerate(sha256):
        if digest not in seen:
            seen.add(digest)
            keep.append(i)
    ref = ReferenceSet(
        name=name,
        vectors=np.asarray(vectors, dtype=np.float32)[keep],
        sha256=[sha256[i] for i in keep],
        paths=[paths[i] for i in keep],
        fingerprint_digest=fingerprint.digest(),
        backbone=fingerprint.name,
        created_at=utc_now(),
    )
    references_dir(index_root).mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(_set_path(index_root, name), reference_to_bytes(ref))
    entries = list_references(index_root)
    entries[name] = {
        "count": ref.count,
        "digest": ref.digest(),
        "backbone": ref.backbone,
        "created_at": ref.created_at,
    }
    _write_list(index_root, entries)
    return ref


def load_reference(index_root: Path, name: str, fingerprint: Fingerprint) -> ReferenceSet:
    path = _set_path(index_root, name)
    if not path.is_file():
        known = sorted(list_references(index_root))
        raise ReferenceSetError(
            f"index {index_root} holds no reference set {name!r} "
            f"(known: {', '.join(known) if known else 'none'})"
        )
    ref = read_reference_file(path)
    if ref.fingerprint_digest != fingerprint.digest():
        raise ReferenceSetError(
            f"reference set {name!r} in {index_root} was embedded with {ref.backbone} "
            f"({ref.fingerprint_digest[:12]}), not with this index's backbone "
            f"{fingerprint.name} ({fingerprint.digest()[:12]}); add it again"
        )
    return ref


def remove_reference(index_root: Path, name: str) -> bool:
    path = _set_path(index_root, name)
    entries = list_references(index_root)
    existed = path.is_file() or name in entries
    entries.pop(name, None)
    if path.is_file():
        path.unlink()
    if existed:
        _write_list(index_root, entries)
    return existed


def add_reference(
    index_root: Path,
    name: str,
    paths: list[str],
    *,
    batch_size: int = 32,
    limits: LoadLimits | None = None,
    on_total: Callable[[int], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> tuple[ReferenceSet, list[SkipRecord]]:
    """Embed `paths` with the index's backbone and store them as reference set `name`.

    Returns the stored set and the files skipped (unreadable), which the caller reports.
    The index itself is not changed: its works, manifest and calibration stay as they are.
    """
    from simdetect.embed import embed_files
    from simdetect.index.build import backbone_for_index, expand_paths
    from simdetect.index.store import open_index

    check_name(name)
    snap = open_index(index_root)
    backbone = backbone_for_index(index_root, None)
    snap.require_fingerprint(backbone.fingerprint)
    skipped: list[SkipRecord] = []
    files = expand_paths(paths, skipped)
    if on_total is not None:
        on_total(len(files))
    vectors: list[np.ndarray] = []
    shas: list[str] = []
    kept: list[str] = []
    for batch in embed_files(
        files, backbone, batch_size=batch_size, limits=limits, on_progress=on_progress
    ):
        skipped.extend(batch.skipped)
        if len(batch.records):
            vectors.append(batch.vectors)
            shas.extend(r.sha256 for r in batch.records)
            kept.extend(r.path for r in batch.records)
    if not vectors:
        raise ReferenceSetError(f"reference {name!r}: none of the {len(files)} files could be read")
    ref = save_reference(
        index_root, name, backbone.fingerprint, np.concatenate(vectors), shas, kept
    )
    return ref, skipped
