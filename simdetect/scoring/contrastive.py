"""Contrastive per-artist scores, the nulls that calibrate them, and the family-wise flag.

Contrastive score. `relative` (CSLS) subtracts what a suspect shares with everything; it
never asks the question an artist asks: "is this closer to *me* than to the others?".
The contrastive score of artist A is A's top-k mean similarity minus the best top-k mean
of every other indexed artist and background set (margin over the best other). It is
positive for at most one artist, the one the suspect is closest to, and its size says by
how much that artist wins.

Nulls. A p-value needs images known not to imitate the artist, scored exactly like the
suspect. Two are available: the index's own works scored with their own artist left out
(paintings by artists nobody indexed), and, with a generator reference, that
generator's outputs in other styles, each centred on the reference mean without itself
(AI images that imitate none of the artists). A suspect from that generator is
exchangeable with the second, not with the first, which is why the row says which null
it was calibrated against and how many images it holds.

Family-wise flag. A platform asks "does this output imitate *anyone* in the registry?".
Deciding each of A artists at α and flagging on any decision flags about 1 − (1 − α)^A
of innocent outputs (55% at 1% with 49 artists, issue 11). The family statistic is the
largest per-artist standardised score z_A = (s_A − mean_A) / sd_A, mean and sd taken over
that artist's null; its threshold is the order statistic of the same statistic over the
null images (each standardised without itself), so the share of null images flagged for
any artist is at most the family rate. A continuous statistic is needed here: the smallest
p-value over 49 artists is almost always the smallest p-value the null can express (1/401
with 400 images), so a min-p threshold cannot resolve a 5% family rate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


def contrastive_margin(per_artist: np.ndarray) -> np.ndarray:
    """(m, A) top-k means → (m, A): each column minus the best *other* column (NaN-aware).

    Background columns take part as competitors; the caller drops them from rankings.
    """
    vals = np.where(np.isnan(per_artist), -np.inf, np.asarray(per_artist, dtype=np.float64))
    m, a = vals.shape
    if a < 2:
        return np.full((m, a), np.nan)
    order = np.argsort(-vals, axis=1, kind="stable")
    rows = np.arange(m)
    best = vals[rows, order[:, 0]]
    second = vals[rows, order[:, 1]]
    best_other = np.where(np.arange(a)[None, :] == order[:, :1], second[:, None], best[:, None])
    with np.errstate(invalid="ignore"):
        out = vals - best_other
    out[~np.isfinite(out)] = np.nan
    return out


def order_statistic_threshold(null: np.ndarray, fpr: float) -> float | None:
    """Smallest threshold t with P(null > t) ≤ fpr for an exchangeable new score.

    t is the (m+1)-th largest null score with m = ⌊fpr·(n+1)⌋ − 1; None when the null
    is too small for that rate (m < 0).
    """
    s = np.sort(np.asarray(null, dtype=np.float64)[np.isfinite(null)])
    n = len(s)
    m = math.floor(fpr * (n + 1) - 1 + 1e-9)
    if m < 0 or n == 0:
        return None
    return float(s[n - 1 - m])


def min_null_size(fpr: float) -> int:
    """How many null images a decision at `fpr` needs (see order_statistic_threshold)."""
    return math.ceil(1 / fpr) - 1


@dataclass
class ArtistNull:
    """One artist's null scores, sorted, and where they came from."""

    scores: np.ndarray  # sorted ascending, finite

    def p_value(self, score: float) -> float | None:
        n = len(self.scores)
        if n == 0 or not math.isfinite(score):
            return None
        at_or_above = n - int(np.searchsorted(self.scores, score, side="left"))
        return (1 + at_or_above) / (1 + n)

    def threshold(self, fpr: float) -> float | None:
        return order_statistic_threshold(self.scores, fpr)

    def decision_threshold(self, fpr: float) -> float | None:
        """The threshold a per-pair decision uses: `threshold`, never below 0.

        Deciding for an artist the image is not closest to would answer another question
        than "closer to this artist than to the others" (a positive margin).
        """
        t = self.threshold(fpr)
        return None if t is None else max(t, 0.0)


@dataclass
class Null:
    """Per-artist nulls for one scoring space, plus the family-wise threshold.

    `kind` is "reference" (a generator's outputs) or "index" (indexed works with their
    own artist left out); `name` names the reference set when there is one.
    """

    kind: str
    name: str | None
    size: int  # images in the null (the same images for every artist)
    artists: list[ArtistNull]
    mean: np.ndarray  # (A,) per-artist null mean (NaN where the artist has no null)
    sd: np.ndarray  # (A,) per-artist null standard deviation
    family_statistic: np.ndarray  # sorted max-z of each null image (leave-one-out)

    @classmethod
    def from_matrix(cls, kind: str, name: str | None, scores: np.ndarray) -> Null:
        """(n, A) scores of null images (NaN where an image may not count for an artist)."""
        s = np.asarray(scores, dtype=np.float64)
        artists = [ArtistNull(np.sort(col[np.isfinite(col)])) for col in s.T]
        mean, sd = _column_stats(s)
        loo = _loo_max_z(s)
        return cls(
            kind=kind,
            name=name,
            size=int(s.shape[0]),
            artists=artists,
            mean=mean,
            sd=sd,
            family_statistic=np.sort(loo[np.isfinite(loo)]),
        )

    def describe(self) -> str:
        if self.kind == "reference":
            return (
                f"{self.size} outputs of the generator reference {self.name!r}, each scored "
                "against every artist, centred on the reference mean without itself"
            )
        return (
            f"{self.size} indexed works scored against every other artist with their own "
            "artist left out of the index"
        )

    def p_values(self, scores: np.ndarray) -> np.ndarray:
        """(m, A) suspect scores → (m, A) p-values (+1 corrected; NaN where undefined)."""
        s = np.asarray(scores, dtype=np.float64)
        out = np.full(s.shape, np.nan)
        for a, null in enumerate(self.artists):
            n = len(null.scores)
            if n == 0:
                continue
            col = s[:, a]
            ok = np.isfinite(col)
            below = np.searchsorted(null.scores, col[ok], side="left")
            out[ok, a] = (1 + n - below) / (1 + n)
        return out

    def z_scores(self, scores: np.ndarray) -> np.ndarray:
        """(m, A) scores standardised by each artist's null (NaN where undefined)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            z = (np.asarray(scores, dtype=np.float64) - self.mean) / self.sd
        z[~np.isfinite(z)] = np.nan
        return z

    def family_threshold(self, fpr: float) -> float | None:
        """Flag when a suspect's largest z is *above* this (None: null too small)."""
        return order_statistic_threshold(self.family_statistic, fpr)

    def decision_thresholds(self, fpr: float) -> np.ndarray:
        """(A,) per-pair decision thresholds; +inf where the artist's null is too small."""
        return np.array(
            [np.inf if (t := a.decision_threshold(fpr)) is None else t for a in self.artists],
            dtype=np.float64,
        )

    def family_flags(self, scores: np.ndarray, fpr: float) -> tuple[np.ndarray, np.ndarray]:
        """(m, A) scores → (flagged (m,), artist with the largest z (m,)) at family rate `fpr`.

        Nothing is flagged when the null is too small for `fpr` (see `family_verdict`
        for the single-suspect reading that says why).
        """
        threshold = self.family_threshold(fpr)
        z = self.z_scores(scores)
        zz = np.where(np.isfinite(z), z, -np.inf)
        flagged = zz.max(axis=1) > (np.inf if threshold is None else threshold)
        return np.asarray(flagged), zz.argmax(axis=1)


def _column_stats(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ok = np.isfinite(scores)
    n = ok.sum(axis=0)
    filled = np.where(ok, scores, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = filled.sum(axis=0) / n
        var = np.where(ok, (scores - mean) ** 2, 0.0).sum(axis=0) / (n - 1)
    sd = np.sqrt(var)
    bad = (n < 2) | ~(sd > 0)
    mean[bad], sd[bad] = np.nan, np.nan
    return mean, sd


def _loo_max_z(scores: np.ndarray) -> np.ndarray:
    """Each null image's largest z over artists, with mean and sd computed without it.

    Standardising an image by statistics it took part in would pull its own z towards
    zero and set the threshold too low; leaving it out scores it exactly as a suspect.
    """
    s = np.asarray(scores, dtype=np.float64)
    ok = np.isfinite(s)
    filled = np.where(ok, s, 0.0)
    n = ok.sum(axis=0)[None, :] - ok
    total = filled.sum(axis=0)[None, :] - filled
    sq = (filled**2).sum(axis=0)[None, :] - filled**2
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / n
        var = (sq - n * mean**2) / (n - 1)
        z = (s - mean) / np.sqrt(var)
    z[~ok | (n < 2) | ~(var > 0)] = -np.inf
    out = z.max(axis=1)
    out[~np.isfinite(out)] = np.nan
    return out


@dataclass
class FamilyVerdict:
    flagged: bool | None
    flagged_artist: str | None
    max_z: float | None
    threshold: float | None
    reason: str | None = None


def family_verdict(scores: np.ndarray, names: list[str], null: Null, fpr: float) -> FamilyVerdict:
    """One suspect's per-artist scores (A,) → flagged for any artist at family rate `fpr`."""
    threshold = null.family_threshold(fpr)
    if threshold is None:
        return FamilyVerdict(
            None,
            None,
            None,
            None,
            reason=(
                f"the null holds {null.size} images, too few for a {fpr:.0%} family-wise "
                f"rate (at least {min_null_size(fpr)} are needed)"
            ),
        )
    z = null.z_scores(np.asarray(scores, dtype=np.float64)[None, :])[0]
    if not np.isfinite(z).any():
        return FamilyVerdict(None, None, None, threshold, reason="no artist could be scored")
    best = int(np.nanargmax(z))
    max_z = float(z[best])
    flagged = max_z > threshold
    return FamilyVerdict(flagged, names[best] if flagged else None, max_z, threshold)
