"""The on-disk store of indexed works: FAISS vectors, metadata table, manifest."""

from simdetect.index.lock import IndexLock, IndexLocked
from simdetect.index.manifest import IndexCorrupt, Manifest
from simdetect.index.store import (
    ROLE_ARTIST,
    ROLE_BACKGROUND,
    FingerprintMismatch,
    IndexNotFound,
    IndexSnapshot,
    IndexWriter,
    open_index,
)

__all__ = [
    "ROLE_ARTIST",
    "ROLE_BACKGROUND",
    "FingerprintMismatch",
    "IndexCorrupt",
    "IndexLock",
    "IndexLocked",
    "IndexNotFound",
    "IndexSnapshot",
    "IndexWriter",
    "Manifest",
    "open_index",
]
