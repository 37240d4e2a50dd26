"""Verification: "is this work by artist A?", over every (work, artist) pair in an index.

Every work is scored against every artist leave-one-out, exactly as a suspect is scored
(`simdetect.scoring.calibration.loo_scores`). Positives are (work, its own artist);
negatives are (work, any other artist). Reported for the raw similarity, the shipped
relative score and margins, each also as a calibrated decision: every artist's
threshold at the target false-positive rate from its impostor distribution (other
artists' works scored with their own artist left out, as `scan` does), its TPR on the
artist's own works, and the false-positive rate on held-out impostors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from simdetect.evaluation.metrics import roc_auc, tpr_at_fpr
from simdetect.scoring.aggregate import ArtistTable
from simdetect.scoring.calibration import ScoringParams, loo_scores, work_radii
from simdetect.scoring.relative import margin_over_best_other, margin_over_mean


@dataclass
class VerificationResult:
    table: pd.DataFrame  # one row per statistic
    calibrated_tpr: float
    calibrated_fpr: float
    target_fpr: float
    per_artist: pd.DataFrame


def _threshold(impostors: np.ndarray, target_fpr: float) -> float | None:
    imp = np.sort(impostors[np.isfinite(impostors)])
    m = math.floor(target_fpr * (len(imp) + 1) - 1 + 1e-9)
    if m < 0 or len(imp) == 0:
        return None
    return float(imp[len(imp) - 1 - m])


def calibrated_rates(
    genuine: np.ndarray, impostor: np.ndarray, codes: np.ndarray, target_fpr: float
) -> tuple[float, float, list[dict[str, object]]]:
    """The decision rule `scan` applies, measured: per-artist thresholds at `target_fpr`.

    Returns (TPR over every work's own artist, false-positive rate, per-artist rows).
    The false-positive rate is measured split-half: thresholds fitted on one half of
    each artist's impostors are applied to the other half, and vice versa, so the
    estimate is not flattered by scoring the sample the threshold came from.
    """
    per_artist: list[dict[str, object]] = []
    tp = n_pos = fp = n_neg = 0
    for a in range(genuine.shape[1]):
        members = codes == a
        imp = impostor[~members, a]
        imp = imp[np.isfinite(imp)]
        t = _threshold(imp, target_fpr)
        gen = genuine[members, a]
        hits = int((gen > t).sum()) if t is not None else 0
        half = np.arange(len(imp)) % 2 == 0
        t_a, t_b = _threshold(imp[half], target_fpr), _threshold(imp[~half], target_fpr)
        if t_a is not None and t_b is not None:
            fp += int((imp[~half] > t_a).sum()) + int((imp[half] > t_b).sum())
            n_neg += len(imp)
        tp += hits
        n_pos += int(members.sum())
        per_artist.append(
            {"works": int(members.sum()), "threshold": t, "tpr": hits / max(1, int(members.sum()))}
        )
    return tp / max(1, n_pos), fp / max(1, n_neg), per_artist


def evaluate_verification(
    vectors: np.ndarray,
    table: ArtistTable,
    params: ScoringParams | None = None,
    target_fpr: float = 0.01,
) -> VerificationResult:
    params = params or ScoringParams()
    vecs = vectors.astype(np.float64)
    scores = loo_scores(vecs, table, work_radii(vecs, params.hubness_k), params)
    own = table.codes[:, None] == np.arange(table.n_artists)[None, :]
    sim_out = np.where(own, np.nan, scores.similarity)
    # (genuine and "is it A's?" matrix with the work left out,
    #  impostor matrix with the work's own artist left out)
    stats = {
        "similarity (top-k mean cosine)": (scores.similarity, sim_out),
        "similarity minus mean of others": (
            margin_over_mean(scores.similarity),
            margin_over_mean(sim_out),
        ),
        "similarity minus best other": (
            margin_over_best_other(scores.similarity),
            margin_over_best_other(sim_out),
        ),
        "relative (CSLS top-k mean, shipped)": (scores.relative, scores.relative_artist_out),
        "CSLS minus best other": (
            margin_over_best_other(scores.relative),
            margin_over_best_other(scores.relative_artist_out),
        ),
    }
    rows = []
    for name, (m, m_out) in stats.items():
        pos, neg = m[own], m[~own]
        tpr1, _ = tpr_at_fpr(pos, neg, 0.01)
        tpr5, _ = tpr_at_fpr(pos, neg, 0.05)
        cal_tpr, cal_fpr, _ = calibrated_rates(m, m_out, table.codes, target_fpr)
        rows.append(
            {
                "statistic": name,
                "roc_auc": roc_auc(pos, neg),
                "tpr_at_1pct_fpr": tpr1,
                "tpr_at_5pct_fpr": tpr5,
                "calibrated_tpr": cal_tpr,
                "calibrated_fpr": cal_fpr,
                "positives": int(np.isfinite(pos).sum()),
                "negatives": int(np.isfinite(neg).sum()),
            }
        )
    tpr, fpr, per_artist = calibrated_rates(
        scores.relative, scores.relative_artist_out, table.codes, target_fpr
    )
    for row, name in zip(per_artist, table.names, strict=True):
        row["artist"] = name
    return VerificationResult(
        table=pd.DataFrame(rows),
        calibrated_tpr=tpr,
        calibrated_fpr=fpr,
        target_fpr=target_fpr,
        per_artist=pd.DataFrame(per_artist)[["artist", "works", "threshold", "tpr"]],
    )
