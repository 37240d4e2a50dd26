"""Measure the imitation score on AI output: attribution, the artist's and the platform's question.

Inputs are vectors (so the same code serves `simdetect eval`, benchmarks and tests):
an index (vectors + artist table), suspects with their true artist, and a generator
reference (vectors grouped by source file: the tiles of one grid share a prompt and
must leave together).

Figures:
- attribution: top-1 / top-5 rank of the true artist among the indexed artists;
- the artist's question: share of suspects whose true artist is decided at the target
  FPR, and share of (held-out reference output, artist) pairs decided (should be ≤ FPR);
- the platform's question: share of held-out reference outputs flagged for any artist at
  the family rate, and share of suspects flagged for their true artist (and ranked
  first);
- with no separate held-out set, each reference group is held out in turn and judged
  against a null of the other groups (leave-one-group-out). Centring of the other
  groups still includes the held-out group's tiles: with 200 groups that moves the
  mean by 1/200 of a tile, which we accept instead of rescoring everything per group.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from simdetect.defaults import DEFAULT_FAMILY_FPR
from simdetect.scoring.aggregate import ArtistTable
from simdetect.scoring.contrastive import Null
from simdetect.scoring.imitation import ImitationParams, ImitationScorer


@dataclass
class ImitationResult:
    n_suspects: int
    n_artists: int
    n_reference: int
    n_held_out: int
    held_out: str  # "split" or "leave-one-group-out"
    target_fpr: float
    family_fpr: float
    figures: dict[str, float]  # percent
    per_artist: pd.DataFrame = field(default_factory=pd.DataFrame)


@dataclass
class TruthReading:
    """Suspects whose true artist is known, read against a null, one entry per suspect."""

    rank: np.ndarray  # how many usable artists score above the true one
    decided: np.ndarray  # the true artist's per-pair decision at the target FPR
    flagged: np.ndarray  # flagged for some artist at the family rate
    flagged_true: np.ndarray  # ... and for the true artist


def read_against(
    null: Null,
    scores: np.ndarray,
    truth: np.ndarray,
    usable: np.ndarray,
    target_fpr: float,
    family_fpr: float,
    closeness: np.ndarray | None = None,
) -> TruthReading:
    """(m, A) suspect scores (on `null`'s scale) → their `TruthReading`."""
    s = np.where(usable[None, :] & np.isfinite(scores), scores, -np.inf)
    own = s[np.arange(len(truth)), truth]
    decided = scores[np.arange(len(truth)), truth] > null.decision_thresholds(target_fpr)[truth]
    flagged, flagged_for = null.family_flags(scores, family_fpr, closeness)
    return TruthReading(
        (s > own[:, None]).sum(axis=1), decided, flagged, flagged & (flagged_for == truth)
    )


def _group_means(vectors: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Each row's centre: the mean of every row outside its group."""
    total = vectors.sum(axis=0)
    out = np.empty_like(vectors)
    for g in np.unique(groups):
        sel = groups == g
        rest = len(vectors) - int(sel.sum())
        if rest < 1:
            raise ValueError("the reference needs at least two groups (source files)")
        out[sel] = (total - vectors[sel].sum(axis=0)) / rest
    return out


def _held_out_rates(
    scores_out: np.ndarray,
    null: Null,
    target_fpr: float,
    family_fpr: float,
    closeness: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per held-out row: per-pair decisions (m, A), any-pair decided (m,), family flag (m,)."""
    decided = scores_out > null.decision_thresholds(target_fpr)[None, :]
    flagged, _ = null.family_flags(scores_out, family_fpr, closeness)
    return decided, np.asarray(decided.any(axis=1)), flagged


def held_out_mask(groups: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Reference rows held out for false flags: whole source files, a seeded share of them.

    The split `simdetect eval --imitations --held-out-fraction F --seed S` documents: the
    sorted distinct groups are permuted with numpy's default_rng(S) and the first
    round(F × n) (at least one) are held out.
    """
    names = np.unique(groups)
    n_out = max(1, round(fraction * len(names)))
    out_names = set(np.random.default_rng(seed).permutation(names)[:n_out].tolist())
    return np.array([g in out_names for g in groups])


def figures_line(figures: dict[str, float]) -> str:
    """top-1 / top-5 / decided @ held-out pairs decided / flagged @ held-out flagged."""
    f = figures
    return (
        f"{f['top1']:.1f}/{f['top5']:.1f}/{f['true_artist_decided']:.1f}"
        f"@{f['held_out_pairs_decided']:.2f}/{f['true_artist_flagged']:.1f}"
        f"@{f['held_out_flagged']:.1f}"
    )


def evaluate_imitations(
    scorer: ImitationScorer,
    suspects: np.ndarray,
    truth: list[str],
    reference: np.ndarray,
    reference_groups: np.ndarray,
    *,
    held_out: np.ndarray | None = None,
    held_out_groups: np.ndarray | None = None,
    target_fpr: float = 0.01,
    family_fpr: float = DEFAULT_FAMILY_FPR,
    reference_name: str = "reference",
) -> ImitationResult:
    table = scorer.table
    names = table.names
    unknown = sorted({t for t in truth if t not in names})
    if unknown:
        raise ValueError(f"suspects name artists the index does not hold: {unknown}")
    y = np.array([names.index(t) for t in truth])
    usable = ~table.background
    ref = np.asarray(reference, dtype=np.float64)
    alignment = scorer.alignment_for(ref)
    groups = np.asarray(reference_groups)
    null = scorer.reference_null(reference_name, ref, alignment, groups)
    s_imi, c_imi = scorer.standing(suspects, ref.mean(axis=0), alignment, null.population)
    reading = read_against(null, s_imi, y, usable, target_fpr, family_fpr, c_imi)
    ranks, decided_true, flagged = reading.rank, reading.decided, reading.flagged
    flag_true = reading.flagged_true
    flag_true_first = flag_true & (ranks == 0)

    if held_out is not None:
        out = np.asarray(held_out, dtype=np.float64)
        s_out, c_out = scorer.standing(out, ref.mean(axis=0), alignment, null.population)
        dec, any_dec, fam = _held_out_rates(s_out, null, target_fpr, family_fpr, c_out)
        pairs = dec[:, usable]
        mode, n_out = "split", len(out)
    else:
        raw_ref = (
            scorer.per_artist(ref, _group_means(ref, groups), None)
            if alignment is None
            else scorer.reference_raw(ref, alignment, groups)
        )
        pair_rows, any_rows, fam_rows = [], [], []
        for g in np.unique(groups):
            sel = groups == g
            sub = scorer.null_from_raw("reference", reference_name, raw_ref[~sel])
            # the held-out group is aligned by the rest only, as a new suspect would be
            rest = ref[~sel]
            held, c_held = scorer.standing(
                ref[sel], rest.mean(axis=0), scorer.alignment_for(rest), sub.population
            )
            dec, any_dec, fam = _held_out_rates(held, sub, target_fpr, family_fpr, c_held)
            pair_rows.append(dec[:, usable])
            any_rows.append(any_dec)
            fam_rows.append(fam)
        pairs = np.vstack(pair_rows)
        any_dec, fam = np.concatenate(any_rows), np.concatenate(fam_rows)
        mode, n_out = "leave-one-group-out", len(ref)

    figures = {
        "top1": 100.0 * float(np.mean(ranks == 0)),
        "top5": 100.0 * float(np.mean(ranks < 5)),
        "true_artist_decided": 100.0 * float(np.mean(decided_true)),
        "held_out_pairs_decided": 100.0 * float(np.mean(pairs)),
        "held_out_any_pair_decided": 100.0 * float(np.mean(any_dec)),
        "true_artist_flagged": 100.0 * float(np.mean(flag_true)),
        "true_artist_flagged_and_first": 100.0 * float(np.mean(flag_true_first)),
        "held_out_flagged": 100.0 * float(np.mean(fam)),
        "suspects_flagged_any": 100.0 * float(np.mean(flagged)),
    }
    rows = []
    for a in sorted(set(y.tolist())):
        sel = y == a
        rows.append(
            {
                "artist": names[a],
                "suspects": int(sel.sum()),
                "top1_pct": 100.0 * float(np.mean(ranks[sel] == 0)),
                "top5_pct": 100.0 * float(np.mean(ranks[sel] < 5)),
                "decided_pct": 100.0 * float(np.mean(decided_true[sel])),
                "flagged_pct": 100.0 * float(np.mean(flag_true[sel])),
                "median_rank": float(np.median(ranks[sel]) + 1),
            }
        )
    return ImitationResult(
        n_suspects=len(y),
        n_artists=int(usable.sum()),
        n_reference=len(ref),
        n_held_out=n_out,
        held_out=mode,
        target_fpr=target_fpr,
        family_fpr=family_fpr,
        figures=figures,
        per_artist=pd.DataFrame(rows),
    )


@dataclass
class LeaveArtistsOutResult:
    folds: int
    target_fpr: float
    family_fpr: float
    pairs_decided: float  # percent of (held-out work, indexed artist) pairs decided
    works_any_decided: float  # percent of held-out works decided for some artist
    works_flagged: float  # percent flagged at the family rate
    per_fold: pd.DataFrame


def evaluate_leave_artists_out(
    vectors: np.ndarray,
    artists: list[str],
    params: ImitationParams | None = None,
    *,
    folds: int = 5,
    seed: int = 0,
    target_fpr: float = 0.01,
    family_fpr: float = DEFAULT_FAMILY_FPR,
) -> LeaveArtistsOutResult:
    """Index all but a fold of artists, scan the fold's works: every decision is false."""
    names = sorted(set(artists))
    if folds < 2 or len(names) < folds + 2:
        raise ValueError(f"need at least {folds + 2} artists for {folds} folds")
    order = np.random.default_rng(seed).permutation(len(names))
    fold_of = {names[i]: f for f, chunk in enumerate(np.array_split(order, folds)) for i in chunk}
    art = np.array(artists)
    x = np.asarray(vectors, dtype=np.float64)
    rows = []
    all_pairs, all_any, all_flag = [], [], []
    for f in range(folds):
        out = np.array([fold_of[a] == f for a in artists])
        table = ArtistTable.build(art[~out].tolist(), ["artist"] * int((~out).sum()))
        scorer = ImitationScorer(x[~out], table, params)
        null = scorer.index_null()
        s = scorer.scores(x[out], population=null.population)
        dec, any_dec, fam = _held_out_rates(s, null, target_fpr, family_fpr)
        all_pairs.append(dec)
        all_any.append(any_dec)
        all_flag.append(fam)
        rows.append(
            {
                "fold": f,
                "indexed_artists": table.n_artists,
                "held_out_works": int(out.sum()),
                "pairs_decided_pct": 100.0 * float(dec.mean()),
                "works_any_decided_pct": 100.0 * float(any_dec.mean()),
                "works_flagged_pct": 100.0 * float(fam.mean()),
            }
        )
    return LeaveArtistsOutResult(
        folds=folds,
        target_fpr=target_fpr,
        family_fpr=family_fpr,
        pairs_decided=100.0 * float(np.concatenate([p.ravel() for p in all_pairs]).mean()),
        works_any_decided=100.0 * float(np.concatenate(all_any).mean()),
        works_flagged=100.0 * float(np.concatenate(all_flag).mean()),
        per_fold=pd.DataFrame(rows),
    )
