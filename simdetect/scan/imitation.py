"""Which imitation state and which null a scan uses: stored beside the index, or fresh.

The projection and the index null depend on every indexed vector; they are computed by
`simdetect.scoring.imitation` (pure), kept by `simdetect.index.sidecar` keyed by the
snapshot digest and the parameters (never used for another state), and read back from
disk for reproducible scans, exactly like the calibration. A generator reference comes
from `simdetect.index.references`; its null is cheap (one product per reference output)
and is recomputed on every open, so it can never be stale.

Two spaces: without a reference the score reads the whole vector; with one, it reads the
descriptor's statistics block where the descriptor has one (`backbones.statistics_columns`:
effnet-style v2's first 1536 columns, v1's vector). Channel correlations judge paintings
better but a generator's outputs against its reference worse (BENCHMARKS.md, "Descriptor
v2"), so each question is asked in the space measured best for it, each with its own
stored state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from simdetect.backbones import statistics_columns, statistics_view
from simdetect.errors import UserError
from simdetect.index.references import ReferenceSet, is_batch, load_reference
from simdetect.index.sidecar import read_state, write_sidecar
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

IMITATION_NAME = "imitation.npz"
STATISTICS_IMITATION_NAME = "imitation-statistics.npz"  # the statistics block's state


def _state_name(columns: int | None) -> str:
    return IMITATION_NAME if columns is None else STATISTICS_IMITATION_NAME


def stored_state(
    snapshot: IndexSnapshot, params: ImitationParams, columns: int | None = None
) -> ImitationState | None:
    state = read_state(snapshot, _state_name(columns), ImitationState.from_bytes, "imitation state")
    dim = snapshot.fingerprint.dim if columns is None else columns
    if (
        state is None
        or state.snapshot_digest != snapshot.snapshot_digest()
        or state.params != params
        or state.version != IMITATION_STATE_VERSION
        or len(state.discriminant.mean) != dim
    ):
        return None
    return state


def imitation_state_for(
    snapshot: IndexSnapshot,
    table: ArtistTable,
    params: ImitationParams,
    *,
    reproducible: bool,
    columns: int | None = None,
) -> tuple[ImitationState, ImitationScorer]:
    """The state a scan scores with, over the whole vectors or (`columns`) their statistics
    block; `reproducible` prefers the copy read back from disk."""
    vectors = statistics_view(snapshot.vectors().astype(np.float64), columns)
    state = stored_state(snapshot, params, columns)
    if state is None:
        state, scorer = compute_state(snapshot.snapshot_digest(), vectors, table, params)
        write_sidecar(snapshot, _state_name(columns), state.to_bytes())
        if not reproducible:
            return state, scorer
        state = stored_state(snapshot, params, columns) or state
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


def reference_columns(snapshot: IndexSnapshot) -> int | None:
    """The leading columns a suspect with a generator reference is judged on (None: all)."""
    return statistics_columns(snapshot.fingerprint)


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
    columns: int | None = None,
) -> ImitationJudge:
    """The judge: with a reference, its outputs are the null; without, the index's works.

    `columns`: the reference's outputs are read on their statistics block, as the scorer
    (built on the index's statistics block) reads everything."""
    if reference is None:
        null = scorer.null_from_raw("index", None, state.index_null_raw)
        return ImitationJudge(scorer, null, genuine_by_artist(state, scorer, null.population))
    outputs = statistics_view(reference.vectors, columns)
    stats = reference_stats(reference.name, outputs)
    alignment = scorer.alignment_for(outputs)
    null = scorer.reference_null(reference.name, outputs, alignment)
    genuine = genuine_by_artist(state, scorer, null.population, reference=True)
    return ImitationJudge(scorer, null, genuine, stats.mean, alignment)


@dataclass
class ImitationScoring:
    """Everything a scanner needs for the contrastive fields, opened once per scan.

    `state` and the judge's scorer are the index path's (whole vectors) until a reference
    is used; then both are the reference path's, over the first `columns` (None: all).
    """

    state: ImitationState
    judge: ImitationJudge
    table: ArtistTable
    reference: ReferenceSet | None
    family_fpr: float
    snapshot: IndexSnapshot
    reproducible: bool
    columns: int | None = None

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
        ref = open_reference(snapshot, reference) if reference else None
        columns = reference_columns(snapshot) if ref is not None else None
        state, scorer = imitation_state_for(
            snapshot, table, params, reproducible=reproducible, columns=columns
        )
        judge = judge_for(state, scorer, ref, columns)
        return cls(state, judge, table, ref, family_fpr, snapshot, reproducible, columns)

    def with_reference(self, reference: ReferenceSet) -> ImitationScoring:
        """Judged from now on against a reference the caller built, in the reference
        path's space (the same state and scorer when that is the space in use)."""
        ref = _usable(reference)
        columns = reference_columns(self.snapshot)
        state, scorer = self.state, self.judge.scorer
        if columns != self.columns:
            state, scorer = imitation_state_for(
                self.snapshot,
                self.table,
                self.state.params,
                reproducible=self.reproducible,
                columns=columns,
            )
        judge = judge_for(state, scorer, ref, columns)
        return ImitationScoring(
            state,
            judge,
            self.table,
            ref,
            self.family_fpr,
            self.snapshot,
            self.reproducible,
            columns,
        )

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
            "contrastive_method": self.state.params.describe() + self._space(),
            "imitation_state": self.state.digest(),
            "family_fpr": self.family_fpr,
            "family_threshold": _round(self.judge.null.family_threshold(self.family_fpr)),
        }

    def _space(self) -> str:
        if self.columns is None:
            return ""
        return (
            f"; with this generator reference, read on the descriptor's statistics block (its "
            f"first {self.columns} of {self.snapshot.fingerprint.dim} dimensions, "
            "L2-normalised again)"
        )

    def standing(self, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        return self.judge.standing(statistics_view(vectors, self.columns))

    def family(self, scores: np.ndarray, closeness: np.ndarray | None = None) -> FamilyVerdict:
        return self.judge.family(scores, self.family_fpr, closeness)


def _round(x: float | None) -> float | None:
    return None if x is None else round(float(x), 6)
