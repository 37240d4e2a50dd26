"""Paintings judged among paintings, as `scan` judges a suspect with no generator reference.

The CSD protocol (`retrieval`) ranks single works; a scan answers other questions: which
indexed artist a suspect is closest to (the contrastive score's ranking), whether it is
decided for that artist at the target FPR (the artist's question), and whether it is
flagged for any artist at the family rate (the platform's). This measures those on the
same split: the works that are not queries form the index (projection, centroids and
the index null are learned from them only), each query is scored as a new suspect.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from simdetect.defaults import DEFAULT_FAMILY_FPR
from simdetect.evaluation.imitations import TruthReading, read_against
from simdetect.evaluation.retrieval import split_queries
from simdetect.scoring.aggregate import ArtistTable
from simdetect.scoring.contrastive import Null
from simdetect.scoring.imitation import ImitationParams, ImitationScorer


@dataclass
class AttributionResult:
    n_queries: int
    n_database: int
    seed: int
    query_fraction: float
    target_fpr: float
    family_fpr: float
    figures: dict[str, float]  # percent
    per_artist: pd.DataFrame = field(default_factory=pd.DataFrame)


def judged_figures(
    scores: np.ndarray, null: Null, truth: np.ndarray, target_fpr: float, family_fpr: float
) -> tuple[dict[str, float], TruthReading]:
    """Suspects' (m, A) scores read against `null` → figures (percent) and the reading."""
    usable = np.ones(scores.shape[1], dtype=bool)  # background columns are NaN already
    r = read_against(null, scores, truth, usable, target_fpr, family_fpr)
    figures = {
        "top1": 100.0 * float(np.mean(r.rank == 0)),
        "top5": 100.0 * float(np.mean(r.rank < 5)),
        "true_artist_decided": 100.0 * float(np.mean(r.decided)),
        "true_artist_flagged": 100.0 * float(np.mean(r.flagged_true)),
        "flagged_for_another": 100.0 * float(np.mean(r.flagged & ~r.flagged_true)),
    }
    return figures, r


def evaluate_attribution(
    vectors: np.ndarray,
    table: ArtistTable,
    params: ImitationParams | None = None,
    *,
    query_fraction: float = 0.2,
    seed: int = 0,
    target_fpr: float = 0.01,
    family_fpr: float = DEFAULT_FAMILY_FPR,
) -> AttributionResult:
    """Top-1 / top-5 of the true artist, its per-pair decision and its family-wise flag
    (ranked first), for the CSD protocol's queries against the rest of the works."""
    x = np.asarray(vectors, dtype=np.float64)
    usable = ~table.background[table.codes]
    qmask = split_queries(table.codes, query_fraction, seed) & usable
    db_names = [table.names[c] for c in table.codes[~qmask]]
    db_roles = ["background" if table.background[c] else "artist" for c in table.codes[~qmask]]
    db = ArtistTable.build(db_names, db_roles)
    lookup = {name: i for i, name in enumerate(db.names)}
    truth = np.array([lookup[table.names[c]] for c in table.codes[qmask]], dtype=np.int64)
    scorer = ImitationScorer(x[~qmask], db, params)
    null = scorer.index_null()
    scores = scorer.scores(x[qmask], population=null.population)
    figures, reading = judged_figures(scores, null, truth, target_fpr, family_fpr)
    rows = []
    for a, name in enumerate(db.names):
        sel = truth == a
        if not sel.any():
            continue
        rows.append(
            {
                "artist": name,
                "queries": int(sel.sum()),
                "top1_pct": 100.0 * float(np.mean(reading.rank[sel] == 0)),
                "decided_pct": 100.0 * float(np.mean(reading.decided[sel])),
                "flagged_pct": 100.0 * float(np.mean(reading.flagged_true[sel])),
            }
        )
    return AttributionResult(
        n_queries=int(qmask.sum()),
        n_database=int((~qmask).sum()),
        seed=seed,
        query_fraction=query_fraction,
        target_fpr=target_fpr,
        family_fpr=family_fpr,
        figures=figures,
        per_artist=pd.DataFrame(rows),
    )
