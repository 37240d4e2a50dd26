"""Copy detection for an on-disk index: which works can be sources, and their gate.

The copy index is derived from the index's artist works (background works are never
reported as matches, so they are never copy sources either) and kept next to the
index under ``copies/``: region sets by SHA-256 and the calibrated copy index keyed by
the exact set of works. Both are caches, content-addressed, outside the generations,
so they need no writer's lock and can never disagree with a generation. They are built
on the first copy check of an index state, from the works' files: a work whose file
is gone or has changed since it was indexed is left out, and the check says so.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pandas as pd
from PIL import Image

from simdetect.backbones.base import Fingerprint
from simdetect.copies.regions import RegionDescriber
from simdetect.copies.verdict import MAX_SIDE, CopyDetector, CopyGate, CopyWork, RegionCache
from simdetect.io.images import load_image

__all__ = [
    "COPIES_DIR",
    "CopyUnavailable",
    "gate_for",
    "load_work",
    "open_detector",
    "works_from_metadata",
]

log = logging.getLogger(__name__)

COPIES_DIR = "copies"
CACHE_ENV = "SIMDETECT_COPY_CACHE"
# The style-cosine gate, per backbone: measured on titian-fullres (BENCHMARKS.md, "Copy
# verdict"). With effnet-style, 99% of edited copies (crop + 7° turn + JPEG 35, 50%
# crops, 2x2 collages) keep a cosine of 0.857 or more to their source.
_COSINE_GATE = {"effnet-style": 0.85}
PHASH_GATE = 22


class CopyUnavailable(Exception):
    """Copy detection cannot run on this index (the reason is for the reader)."""


def gate_for(fingerprint: Fingerprint) -> CopyGate:
    """The gate measured for this backbone; a backbone nobody measured gets the hash only
    plus region matching of every suspect (safe, slower)."""
    cosine = _COSINE_GATE.get(fingerprint.name)
    if cosine is None:
        return CopyGate(phash_max=None, cosine_min=None)
    return CopyGate(phash_max=PHASH_GATE, cosine_min=cosine)


def works_from_metadata(metadata: pd.DataFrame) -> tuple[list[CopyWork], list[int]]:
    """Artist works (not background) and their row numbers in the index."""
    roles = metadata["role"].tolist()
    paths, shas = metadata["path"].tolist(), metadata["sha256"].tolist()
    # In SHA-256 order, not row order: two indexes holding the same works (one built in
    # one go, one merged from shards) then get the very same copy index and verdicts.
    rows = sorted((i for i, role in enumerate(roles) if role != "background"), key=shas.__getitem__)
    artists = metadata["artist"].tolist()
    widths, heights = metadata["width"].tolist(), metadata["height"].tolist()
    works = [
        CopyWork(str(paths[i]), str(shas[i]), str(artists[i]), int(widths[i]), int(heights[i]))
        for i in rows
    ]
    return works, rows


def load_work(work: CopyWork) -> Image.Image:
    """A work's pixels, refused if its bytes are no longer the ones indexed."""
    loaded = load_image(work.path, min_side=MAX_SIDE // 2)
    if loaded.sha256 != work.sha256:
        raise ValueError("the file has changed since it was indexed (SHA-256 differs)")
    return loaded.image


def open_detector(
    index_dir: Path,
    metadata: pd.DataFrame,
    fingerprint: Fingerprint,
    *,
    target_fpr: float = 0.01,
    describer: RegionDescriber | None = None,
    max_works: int = 5000,
) -> tuple[CopyDetector, list[int]]:
    """The copy detector of an index state and the index row of each of its works.

    Raises :class:`CopyUnavailable` when there is nothing to detect copies of.
    """
    works, rows = works_from_metadata(metadata)
    if len(works) < 2:
        raise CopyUnavailable(
            f"copy detection needs at least two indexed artist works; the index has {len(works)}"
        )
    if len(works) > max_works:
        raise CopyUnavailable(
            f"the index has {len(works):,} artist works; copy detection describes each one "
            f"and is limited to {max_works:,}"
        )
    describer = describer or RegionDescriber()
    # Everything cached is keyed by content, so indexes over the same works may share
    # one cache (SIMDETECT_COPY_CACHE); by default each index keeps its own.
    shared = os.environ.get(CACHE_ENV)
    base = Path(shared) if shared else Path(index_dir) / COPIES_DIR
    try:
        detector = CopyDetector.build(
            works,
            load_work,
            describer,
            target_fpr=target_fpr,
            gate=gate_for(fingerprint),
            cache=RegionCache(base / "regions", describer.fingerprint),
            index_dir=base,
        )
    except ValueError as exc:
        raise CopyUnavailable(str(exc)) from None
    if shared:
        # Only a cache the user configured also keeps suspects (about 230 KB each), so
        # a platform's millions of scanned images never fill an index folder.
        detector.query_cache = RegionCache(base / "queries", describer.fingerprint)
    kept = {w.sha256 for w in detector.works}
    by_sha = {w.sha256: r for w, r in zip(works, rows, strict=True) if w.sha256 in kept}
    return detector, [by_sha[w.sha256] for w in detector.works]
