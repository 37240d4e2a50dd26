"""Which calibration a scan scores against: the copy stored beside the index, or a fresh one.

The statistics are computed by `simdetect.scoring.calibration` (pure) and kept by
`simdetect.index.sidecar`; this is the glue, keyed by the snapshot digest, the scoring
parameters and the calibration version, so a stored copy is never used for another state.
"""

from __future__ import annotations

from simdetect.index.sidecar import CALIBRATION_NAME, read_state, write_sidecar
from simdetect.index.store import IndexSnapshot
from simdetect.scoring.aggregate import ArtistTable
from simdetect.scoring.calibration import (
    CALIBRATION_VERSION,
    Calibration,
    ScoringParams,
    compute_calibration,
)

__all__ = ["CALIBRATION_NAME", "calibration_for", "load_or_compute", "stored_calibration"]


def artist_table(snapshot: IndexSnapshot) -> ArtistTable:
    meta = snapshot.metadata
    return ArtistTable.build(meta["artist"].tolist(), meta["role"].tolist())


def stored_calibration(snapshot: IndexSnapshot, params: ScoringParams) -> Calibration | None:
    """The stored calibration if it was computed for exactly this snapshot and these params."""
    cal = read_state(snapshot, CALIBRATION_NAME, Calibration.from_bytes, "calibration")
    if (
        cal is None
        or cal.snapshot_digest != snapshot.snapshot_digest()
        or cal.params != params
        or cal.version != CALIBRATION_VERSION
    ):
        return None
    return cal


def load_or_compute(
    snapshot: IndexSnapshot, table: ArtistTable, params: ScoringParams | None = None
) -> Calibration:
    """Reuse the stored calibration for this snapshot, or compute and store it."""
    params = params or ScoringParams()
    cal = stored_calibration(snapshot, params)
    if cal is not None:
        return cal
    cal = compute_calibration(snapshot, table, params)
    write_sidecar(snapshot, CALIBRATION_NAME, cal.to_bytes())
    return cal


def calibration_for(
    snapshot: IndexSnapshot, table: ArtistTable, params: ScoringParams, *, reproducible: bool
) -> Calibration:
    """The calibration a scan uses; `reproducible` prefers the copy read back from disk.

    Evidence is re-checked later against what is on disk, so a reproducible scan scores
    against the stored copy (computing and storing it first if needed), never against
    the in-memory one. Only a read-only index, where nothing can be stored, scores
    against a fresh computation, which is then equally fresh on every re-check.
    """
    computed = load_or_compute(snapshot, table, params)
    if not reproducible:
        return computed
    return stored_calibration(snapshot, params) or computed
