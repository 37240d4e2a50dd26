"""The copy verdict inside a scan: one detector per scanner, built on first use.

A scan asks two separate questions of every suspect: does it imitate an artist's style
(the ranking) and is it an edited copy of one indexed work (``copy``). The second needs
the suspect's pixels again only when the cheap gate opens, so files are re-read lazily
and an upload's bytes are handed in by the caller.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from simdetect.backbones import statistics_columns, statistics_view
from simdetect.copies.indexed import CopyUnavailable, open_detector
from simdetect.copies.verdict import MAX_SIDE, CopyCheck, CopyDetector
from simdetect.index.store import IndexSnapshot
from simdetect.io.image_record import ImageRecord
from simdetect.io.images import ImageLoadError, LoadLimits, load_image
from simdetect.io.names import fs_name

__all__ = ["CopyStep", "ImageSource", "file_loader"]

log = logging.getLogger(__name__)

ImageSource = Callable[[], Image.Image]


def file_loader(rec: ImageRecord, limits: LoadLimits | None = None) -> ImageSource:
    """Decode a scanned file again, refusing it if its bytes changed since it was hashed."""

    def load() -> Image.Image:
        # Records name files as text; a name that is not UTF-8 is escaped there.
        path = fs_name(rec.path)
        loaded = load_image(path, limits or LoadLimits(), min_side=MAX_SIDE // 2)
        if loaded.sha256 != rec.sha256:
            raise ImageLoadError(rec.path, "the file changed while it was being scanned")
        return loaded.image

    return load


class CopyStep:
    """Builds the index's copy detector once, then checks suspects one by one."""

    def __init__(self, snapshot: IndexSnapshot, target_fpr: float) -> None:
        self.snapshot = snapshot
        self.target_fpr = target_fpr
        self._detector: CopyDetector | None = None
        self._vectors: np.ndarray | None = None
        self._unavailable: str | None = None
        # The gate's cosine (and the style short list) is the statistics block's: that is
        # the cosine the gate was measured in (BENCHMARKS.md, "Copy verdict").
        self._columns = statistics_columns(snapshot.fingerprint)

    def warm(self) -> str | None:
        """Build (or load) the detector now; the reason it is unavailable, if it is."""
        self._open()
        return self._unavailable

    @property
    def stored_at(self) -> Path | None:
        """The folder of the calibrated copy index in use, once the detector is open."""
        return None if self._detector is None else self._detector.stored_at

    def _open(self) -> CopyDetector | None:
        if self._detector is None and self._unavailable is None:
            try:
                detector, rows = open_detector(
                    self.snapshot.root,
                    self.snapshot.metadata,
                    self.snapshot.fingerprint,
                    target_fpr=self.target_fpr,
                )
            except CopyUnavailable as exc:
                self._unavailable = str(exc)
                return None
            self._detector = detector
            works = self.snapshot.vectors()[np.asarray(rows, dtype=np.int64)]
            self._vectors = statistics_view(works, self._columns).astype(np.float32)
        return self._detector

    def check(
        self, rec: ImageRecord, vector: np.ndarray, image: ImageSource
    ) -> tuple[dict[str, Any] | None, dict[str, Any]]:
        """(copy object or None, copy_check object) as the scan row carries them."""
        detector = self._open()
        if detector is None or self._vectors is None:
            reason = self._unavailable or "copy detection is not available"
            return None, CopyCheck.not_checked(reason, self.target_fpr).to_json()
        suspect = statistics_view(np.asarray(vector, dtype=np.float32)[None, :], self._columns)
        cosines = self._vectors @ suspect[0].astype(np.float32)
        hashes = [rec.phash] if rec.phash else None
        try:
            check, finding = detector.check(
                image, cosines, size=(rec.width, rec.height), hashes=hashes, sha256=rec.sha256
            )
        except ImageLoadError as exc:
            return None, CopyCheck.not_checked(exc.reason, self.target_fpr).to_json()
        return (finding.to_json() if finding else None), check.to_json()
