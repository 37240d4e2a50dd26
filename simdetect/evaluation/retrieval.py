"""Artist retrieval in the CSD protocol: held-out works query the rest, hits are same-artist.

Protocol (seeded, documented so others can reproduce it): within each artist, works
are shuffled with numpy's default_rng(seed) in metadata order and the first
round(query_fraction × n) (at least 1) become queries; all other works of all artists
form the database. A retrieved work is relevant if it has the query's artist.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from simdetect.evaluation.metrics import average_precision_at_k, recall_at_k
from simdetect.scoring.discriminant import DiscriminantParams, fit_discriminant
from simdetect.scoring.hubness import DEFAULT_HUBNESS_K, csls, neighbourhood_radius
from simdetect.scoring.ranking import RankingParams, fit_ranking

RANKING_METHOD = "scan ranking"  # the order `scan` lists nearest works in

KS = (1, 10, 100)


@dataclass
class RetrievalResult:
    overall: dict[str, dict[str, float]]  # method -> metric -> value (percent)
    per_artist: pd.DataFrame
    n_queries: int
    n_database: int
    seed: int
    query_fraction: float
    methods: list[str] = field(default_factory=list)


def split_queries(codes: np.ndarray, query_fraction: float, seed: int) -> np.ndarray:
    """Boolean mask of query rows, per the protocol above."""
    rng = np.random.default_rng(seed)
    mask = np.zeros(len(codes), dtype=bool)
    for a in np.unique(codes):
        idx = np.flatnonzero(codes == a)
        if len(idx) < 2:
            continue
        rng.shuffle(idx)
        n_q = max(1, round(query_fraction * len(idx)))
        mask[idx[: min(n_q, len(idx) - 1)]] = True
    return mask


def _ranked_relevance(
    sims: np.ndarray, q_codes: np.ndarray, d_codes: np.ndarray, depth: int
) -> np.ndarray:
    depth = min(depth, sims.shape[1])
    top = np.argpartition(-sims, depth - 1, axis=1)[:, :depth]
    order = np.take_along_axis(sims, top, axis=1).argsort(axis=1)[:, ::-1]
    ranked = np.take_along_axis(top, order, axis=1)
    return d_codes[ranked] == q_codes[:, None]


def evaluate_retrieval(
    vectors: np.ndarray,
    codes: np.ndarray,
    names: list[str],
    query_fraction: float = 0.2,
    seed: int = 0,
    hubness_k: int = DEFAULT_HUBNESS_K,
    discriminant: DiscriminantParams | None = None,
    ranking: RankingParams | None = None,
) -> RetrievalResult:
    qmask = split_queries(codes, query_fraction, seed)
    q, d = vectors[qmask].astype(np.float64), vectors[~qmask].astype(np.float64)
    qc, dc = codes[qmask], codes[~qmask]
    n_relevant = np.array([(dc == c).sum() for c in qc])
    sims = q @ d.T
    dd = d @ d.T
    np.fill_diagonal(dd, -np.inf)
    methods = {
        "cosine": sims,
        f"csls{hubness_k}": csls(
            sims, neighbourhood_radius(sims, hubness_k), neighbourhood_radius(dd, hubness_k)
        ),
    }
    if discriminant is not None:
        # Learned from the database works only: the queries' labels never reach the fit.
        disc = fit_discriminant(d, dc, discriminant)
        pq, pd_ = disc.transform(q), disc.transform(d)
        ps = pq @ pd_.T
        pdd = pd_ @ pd_.T
        np.fill_diagonal(pdd, -np.inf)
        methods["discriminant"] = ps
        methods[f"discriminant+csls{hubness_k}"] = csls(
            ps, neighbourhood_radius(ps, hubness_k), neighbourhood_radius(pdd, hubness_k)
        )
    if ranking is not None:
        # The space `scan` orders nearest works in, fitted on the database works only.
        methods[RANKING_METHOD] = fit_ranking(d, dc, ranking).scores(q)
    overall: dict[str, dict[str, float]] = {}
    rows = []
    for method, scores in methods.items():
        rel = _ranked_relevance(scores, qc, dc, max(KS))
        metrics = {}
        for k in KS:
            metrics[f"mAP@{k}"] = average_precision_at_k(rel, n_relevant, k)
            metrics[f"Recall@{k}"] = recall_at_k(rel, k)
        overall[method] = {m: 100.0 * float(v.mean()) for m, v in metrics.items()}
        for a, name in enumerate(names):
            sel = qc == a
            if not sel.any():
                continue
            row: dict[str, object] = {"method": method, "artist": name, "queries": int(sel.sum())}
            row.update({m: 100.0 * float(v[sel].mean()) for m, v in metrics.items()})
            rows.append(row)
    return RetrievalResult(
        overall=overall,
        per_artist=pd.DataFrame(rows),
        n_queries=int(qmask.sum()),
        n_database=int((~qmask).sum()),
        seed=seed,
        query_fraction=query_fraction,
        methods=list(methods),
    )
