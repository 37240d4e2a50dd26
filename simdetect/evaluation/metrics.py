"""Ranking and detection metrics, written out so their exact definitions are on record."""

from __future__ import annotations

import numpy as np


def average_precision_at_k(relevant: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    """AP@k per query: sum over ranks i <= k of precision@i at relevant ranks, / min(k, R).

    `relevant` is (Q, >=k) booleans in rank order; `n_relevant` is R, the number of
    relevant items in the database for each query. Dividing by min(k, R) (not by the
    number retrieved) means a query scores 1 only if its first min(k, R) results are
    all relevant.
    """
    rel = relevant[:, :k].astype(np.float64)  # fewer than k columns when the database is small
    precision = np.cumsum(rel, axis=1) / np.arange(1, rel.shape[1] + 1)
    denom = np.minimum(k, n_relevant).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        ap = (precision * rel).sum(axis=1) / denom
    return np.asarray(np.where(denom > 0, ap, 0.0))


def recall_at_k(relevant: np.ndarray, k: int) -> np.ndarray:
    """1 if any of the first k results is relevant (the CSD / retrieval convention)."""
    return np.asarray(np.any(relevant[:, :k], axis=1), dtype=np.float64)


def roc_auc(positives: np.ndarray, negatives: np.ndarray) -> float:
    """Probability that a random positive outscores a random negative (ties count half)."""
    pos = positives[np.isfinite(positives)]
    neg = negatives[np.isfinite(negatives)]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    values = np.concatenate([pos, neg])
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    average_rank = np.cumsum(counts) - (counts - 1) / 2.0  # ties share their mean rank
    ranks = average_rank[inverse]
    rank_sum = ranks[: len(pos)].sum()
    return float((rank_sum - len(pos) * (len(pos) + 1) / 2.0) / (len(pos) * len(neg)))


def tpr_at_fpr(positives: np.ndarray, negatives: np.ndarray, fpr: float) -> tuple[float, float]:
    """TPR at the lowest threshold whose false-positive rate is <= fpr: (tpr, threshold)."""
    pos = positives[np.isfinite(positives)]
    neg = np.sort(negatives[np.isfinite(negatives)])
    if len(pos) == 0 or len(neg) == 0:
        return float("nan"), float("nan")
    allowed = int(np.floor(fpr * len(neg) + 1e-9))
    threshold = float(neg[len(neg) - 1 - allowed]) if allowed < len(neg) else float("-inf")
    return float(np.mean(pos > threshold)), threshold
