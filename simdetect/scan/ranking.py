"""Which ranking space a scan orders nearest works in: stored beside the index, or fresh.

Fitted by `simdetect.scoring.ranking` (pure) on every indexed vector, so, like the
calibration, it is keyed by the snapshot digest and its parameters and read back from
disk for reproducible scans.
"""

from __future__ import annotations

import numpy as np

from simdetect.index.sidecar import read_state, write_sidecar
from simdetect.index.store import IndexSnapshot
from simdetect.scoring.aggregate import ArtistTable
from simdetect.scoring.ranking import RANKING_VERSION, RankingParams, RankingSpace, fit_ranking

RANKING_NAME = "ranking.npz"


def stored_ranking(
    snapshot: IndexSnapshot, params: RankingParams, vectors: np.ndarray
) -> RankingSpace | None:
    space = read_state(
        snapshot, RANKING_NAME, lambda blob: RankingSpace.from_bytes(blob, vectors), "ranking state"
    )
    if (
        space is None
        or space.snapshot_digest != snapshot.snapshot_digest()
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
