"""Which ranking space a scan orders nearest works in: stored beside the index, or fresh.

Fitted by `simdetect.scoring.ranking` (pure) on every indexed vector, so, like the
calibration, it is keyed by the snapshot digest and its parameters and read back from
disk for reproducible scans.
"""

from __future__ import annotations

import logging
import zipfile

import numpy as np

from simdetect.index.sidecar import read_sidecar, write_sidecar
from simdetect.index.store import IndexSnapshot
from simdetect.scoring.aggregate import ArtistTable
from simdetect.scoring.ranking import RANKING_VERSION, RankingParams, RankingSpace, fit_ranking

log = logging.getLogger(__name__)

RANKING_NAME = "ranking.npz"


def stored_ranking(
    snapshot: IndexSnapshot, params: RankingParams, vectors: np.ndarray
) -> RankingSpace | None:
    blob = read_sidecar(snapshot, RANKING_NAME)
    if blob is None:
        return None
    try:
        space = RankingSpace.from_bytes(blob, vectors)
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as exc:
        log.warning("%s: unreadable ranking state, recomputing (%s)", snapshot.directory, exc)
        return None
    if (
        space.snapshot_digest != snapshot.snapshot_digest()
        or space.params != params
        or space.version != RANKING_VERSION
    ):
        return None
    return space


def ranking_for(
    snapshot: IndexSnapshot, table: ArtistTable, params: RankingParams, *, reproducible: bool
) -> RankingSpace:
    """The ranking space a scan uses; `reproducible` prefers the copy read back from disk."""
    vectors = snapshot.vectors().astype(np.float64)
    space = stored_ranking(snapshot, params, vectors)
    if space is not None:
        return space
    space = fit_ranking(vectors, table.codes, params, snapshot.snapshot_digest())
    write_sidecar(snapshot, RANKING_NAME, space.to_bytes())
    if reproducible:
        return stored_ranking(snapshot, params, vectors) or space
    return space
