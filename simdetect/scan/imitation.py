"""Which imitation state and which null a scan uses: stored beside the index, or fresh.

The projection and the index null depend on every indexed vector; they are computed by
`simdetect.scoring.imitation` (pure), kept by `simdetect.index.sidecar` keyed by the
snapshot digest and the parameters (never used for another state), and read back from
disk for reproducible scans, exactly like the calibration. A generator reference comes
from `simdetect.index.references`; its null is cheap (one product per reference output)
and is recomputed on every open, so it can never be stale.
"""

from __future__ import annotations

import logging
import zipfile
from dataclasses import dataclass
from typing import Any

import numpy as np

from simdetect.errors import UserError
from simdetect.index.references import ReferenceSet, is_batch, load_reference
from simdetect.index.sidecar import read_sidecar, write_sidecar
from simdetect.index.store import IndexSnapshot
from simdetect.scoring.aggregate import ArtistTable
from simdetect.scoring.alignment import MIN_REFERENCE, reference_stats
from simdetect.scoring.contrastive import FamilyVerdict
from simdetect.scoring.imitation import (
    IMITATION_STATE_VERSION,
    ImitationJudge,
    ImitationParams,
    ImitationScorer,
    ImitationState,
    compute_state,
    genuine_by_artist,
)

log = logging.getLogger(__name__)

IMITATION_NAME = "imitation.npz"


def stored_state(snapshot: IndexSnapshot, params: ImitationParams) -> ImitationState | None:
    blob = read_sidecar(snapshot, IMITATION_NAME)
    if blob is None:
        return None
    try:
        state = ImitationState.from_bytes(blob)
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as exc:
        log.warning("%s: unreadable imitation state, recomputing (%s)", snapshot.directory, exc)
        return None
    if (
        state.snapshot_digest != snapshot.snapshot_digest()
        or state.params != params
        or state.version != IMITATION_STATE_VERSION
    ):
        return None
    return state


def imitation_state_for(
    snapshot: IndexSnapshot, table: ArtistTable, params: ImitationParams, *, reproducible: bool
) -> tuple[ImitationState, ImitationScorer]:
    """The state a scan scores with; `reproducible` prefers the copy read back from disk."""
    vectors = snapshot.vectors().astype(np.float64)
    state = stored_state(snapshot, params)
    if state is None:
        state, scorer = compute_state(snapshot.snapshot_digest(), vectors, table, params)
        write_sidecar(snapshot, IMITATION_NAME, state.to_bytes())
        if not reproducible:
            return state, scorer
        state = stored_state(snapshot, params) or state
    return state, ImitationScorer(
        vectors, table, state.params, state.discriminant, state.subspace, state.radius
    )


def open_reference(snapshot: IndexSnapshot, name: str) -> ReferenceSet:
    if is_batch(name):
        raise UserError(
            f"the reference {name!r} means a batch audit's own inputs; only an audit can use "
            "it (store a reference set with the index for anything else)"
        )
    return _usable(load_reference(snapshot.root, name, snapshot.fingerprint))


def _usable(ref: ReferenceSet) -> ReferenceSet:
    if ref.count < MIN_REFERENCE:
        raise UserError(
            f"reference set {ref.name!r} holds {ref.count} images; at least {MIN_REFERENCE} "
            "are needed to estimate a generator's offset"
        )
    return ref


def judge_for(
    state: ImitationState,
    scorer: ImitationScorer,
    reference: ReferenceSet | None,
) -> ImitationJudge:
    """The judge: with a reference, its outputs are the null; without, the index's works."""
    if reference is None:
        null = scorer.null_from_raw("index", None, state.index_null_raw)
        return ImitationJudge(scorer, null, genuine_by_artist(state, scorer, null.population))
    stats = reference_stats(reference.name, reference.vectors)
    alignment = scorer.alignment_for(reference.vectors)
    null = scorer.reference_null(reference.name, reference.vectors, alignment)
    genuine = genuine_by_artist(state, scorer, null.population, reference=True)
    return ImitationJudge(scorer, null, genuine, stats.mean, alignment)


@dataclass
class ImitationScoring:
    """Everything a scanner needs for the contrastive fields, opened once per scan."""

    state: ImitationState
    judge: ImitationJudge
    table: ArtistTable
    reference: ReferenceSet | None
    family_fpr: float

    @classmethod
    def open(
        cls,
        snapshot: IndexSnapshot,
        table: ArtistTable,
        params: ImitationParams,
        reference: str | None,
        family_fpr: float,
        *,
        reproducible: bool,
    ) -> ImitationScoring:
        state, scorer = imitation_state_for(snapshot, table, params, reproducible=reproducible)
        ref = open_reference(snapshot, reference) if reference else None
        return cls(state, judge_for(state, scorer, ref), table, ref, family_fpr)

    def with_reference(self, reference: ReferenceSet) -> ImitationScoring:
        """The same state and scorer judged against a reference the caller built."""
        ref = _usable(reference)
        judge = judge_for(self.state, self.judge.scorer, ref)
        return ImitationScoring(self.state, judge, self.table, ref, self.family_fpr)

    def context(self) -> dict[str, Any]:
        """Row fields naming the reference, the null and the method (same for every row)."""
        null = self.judge.null
        ref = self.reference
        return {
            "reference": (
                None
                if ref is None
                else {
                    "name": ref.name,
                    "size": ref.count,
                    "digest": ref.digest(),
                    "created_at": ref.created_at,
                }
            ),
            "null": {
                "kind": null.kind,
                "name": null.name,
                "size": null.size,
                "description": null.describe(),
            },
            "contrastive_method": self.state.params.describe(),
            "imitation_state": self.state.digest(),
            "family_fpr": self.family_fpr,
            "family_threshold": _round(self.judge.null.family_threshold(self.family_fpr)),
        }

    def standing(self, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        return self.judge.standing(vectors)

    def family(self, scores: np.ndarray, closeness: np.ndarray | None = None) -> FamilyVerdict:
        return self.judge.family(scores, self.family_fpr, closeness)


def _round(x: float | None) -> float | None:
    return None if x is None else round(float(x), 6)
