"""Verification: "is this work by artist A?", over every (work, artist) pair in an index.

Every work is scored against every artist leave-one-out, exactly as a suspect is scored
(`simdetect.scoring.calibration.loo_scores`). Positives are (work, its own artist);
negatives are (work, any other artist). Reported for the raw similarity, the shipped
relative score and two margins, plus the calibrated decision: each artist's threshold
at the target false-positive rate from its impostor distribution (other artists' works
with their own artist left out), its realised TPR on the artist's own works.
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
    stats = {
        "similarity (top-k mean cosine)": scores.similarity,
        "similarity minus mean of others": margin_over_mean(scores.similarity),
        "similarity minus best other": margin_over_best_other(scores.similarity),
        "relative (CSLS top-k mean, shipped)": scores.relative,
        "CSLS minus best other": margin_over_best_other(scores.relative),
    }
    rows = []
    for name, m in stats.items():
        pos, neg = m[own], m[~own]
        tpr1, _ = tpr_at_fpr(pos, neg, 0.01)
        tpr5, _ = tpr_at_fpr(pos, neg, 0.05)
        rows.append(
            {
                "statistic": name,
                "roc_auc": roc_auc(pos, neg),
                "tpr_at_1pct_fpr": tpr1,
                "tpr_at_5pct_fpr": tpr5,
                "positives": int(np.isfinite(pos).sum()),
                "negatives": int(np.isfinite(neg).sum()),
            }
        )
    # Calibrated decision per artist (the same rule `scan` applies).
    per_artist = []
    tp = n_pos = fp = n_neg = 0
    for a, name in enumerate(table.names):
        members = table.codes == a
        t = _threshold(scores.relative_artist_out[~members, a], target_fpr)
        gen = scores.relative[members, a]
        # False positives measured on the same null the threshold came from, but with
        # the threshold refit without each half, to keep the estimate honest.
        imp = scores.relative_artist_out[~members, a]
        imp = imp[np.isfinite(imp)]
        half = np.arange(len(imp)) % 2 == 0
        t_a, t_b = _threshold(imp[half], target_fpr), _threshold(imp[~half], target_fpr)
        fp_a = int((imp[~half] > t_a).sum()) if t_a is not None else 0
        fp_b = int((imp[half] > t_b).sum()) if t_b is not None else 0
        hits = int((gen > t).sum()) if t is not None else 0
        tp += hits
        n_pos += int(members.sum())
        fp += fp_a + fp_b
        n_neg += len(imp) if t_a is not None and t_b is not None else 0
        per_artist.append(
            {
                "artist": name,
                "works": int(members.sum()),
                "threshold": t,
                "tpr": hits / max(1, int(members.sum())),
                "impostors": len(imp),
            }
        )
    return VerificationResult(
        table=pd.DataFrame(rows),
        calibrated_tpr=tp / max(1, n_pos),
        calibrated_fpr=fp / max(1, n_neg),
        target_fpr=target_fpr,
        per_artist=pd.DataFrame(per_artist),
    )
