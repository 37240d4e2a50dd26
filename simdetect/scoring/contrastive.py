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

Standardisation. Some artists are close to nearly everything a generator makes (a smooth
palette, a portrait format); their raw similarity is high for every output, so a margin
over raw similarities favours them and a margin *against* them costs every other artist.
Each artist's similarity is therefore first put on its own scale, (s − μ_A) / σ_A with μ_A
and σ_A the mean and standard deviation of that artist's similarity over the null images,
so the margin asks "closer to A, *as unusual for A*, than to anyone else". Null images are
standardised without themselves, exactly like a new suspect.

Pooled tails. One artist's null of a few hundred images holds four images above its 1%
point, so an order statistic per artist is a noisy threshold. With a tail fraction set,
each artist's scores are standardised by the mean and spread of the top of its own null
(the part a decision is about), and one threshold is read off the standardised null scores
of *all* artists pooled; a decision is still made on the artist's own scale, and its p-value
is the share of pooled (null image, artist) pairs at least as high. The per-pair error rate
is then held on the pool, from forty-nine times as many images.

Family-wise flag. A platform asks "does this output imitate *anyone* in the registry?".
Deciding each of A artists at α and flagging on any decision flags about 1 − (1 − α)^A
of innocent outputs (55% at 1% with 49 artists, issue 11). The family statistic is the
largest per-artist standardised score z_A = (s_A − mean_A) / sd_A, mean and sd taken over
that artist's null; its threshold is the order statistic of the same statistic over the
null images (each standardised without itself), so the share of null images flagged for
any artist is at most the family rate. A continuous statistic is needed here: the smallest
p-value over 49 artists is almost always the smallest p-value the null can express (1/401
with 400 images), so a min-p threshold cannot resolve a 5% family rate.

When similarities are standardised (a generator reference), the family statistic is the
closest artist's standardised closeness plus its margin, max_A (c_A + m_A) = 2·c_top −
c_second: how unusual the image's closeness to that artist is for the generator, and by
how much that artist beats the runner-up. Standardising the margin again by its null
spread (the statistic above) throws away the first part; on sd15-styles it flags 4–5
points fewer imitations at the same rate (BENCHMARKS.md).
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


@dataclass(frozen=True)
class Standardisation:
    """Per-artist location and scale of the raw similarity over a null population."""

    mean: np.ndarray  # (A,), NaN where the artist could not be standardised
    sd: np.ndarray  # (A,)

    def apply(self, per_artist: np.ndarray) -> np.ndarray:
        """(m, A) raw per-artist similarities → the same on each artist's null scale."""
        with np.errstate(invalid="ignore", divide="ignore"):
            out = (np.asarray(per_artist, dtype=np.float64) - self.mean) / self.sd
        out[~np.isfinite(out)] = np.nan
        return out

    @classmethod
    def of_population(cls, raw: np.ndarray) -> Standardisation:
        """Column mean and standard deviation over the finite entries of (n, A) `raw`."""
        mean, sd = _column_stats(np.asarray(raw, dtype=np.float64))
        return cls(mean, sd)


def leave_one_out_standardised(raw: np.ndarray) -> np.ndarray:
    """(n, A) null similarities, each standardised by its column *without itself*.

    An image standardised by statistics it took part in is pulled towards the middle; left
    out, it is read exactly as a new suspect would be.
    """
    s = np.asarray(raw, dtype=np.float64)
    ok = np.isfinite(s)
    filled = np.where(ok, s, 0.0)
    n = ok.sum(axis=0)[None, :] - ok
    total = filled.sum(axis=0)[None, :] - filled
    sq = (filled**2).sum(axis=0)[None, :] - filled**2
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / n
        var = (sq - n * mean**2) / (n - 1)
        z = (s - mean) / np.sqrt(var)
    z[~ok | (n < 2) | ~(var > 0)] = np.nan
    return z


@dataclass
class PooledTail:
    """One per-pair threshold for every artist, read off their standardised null tails.

    `location`/`scale` (A,) are the mean and standard deviation of the top `fraction` of
    each artist's null scores; `pooled` holds every null pair's score on that scale (each
    tail image standardised without itself), sorted.
    """

    fraction: float
    location: np.ndarray
    scale: np.ndarray
    pooled: np.ndarray

    @classmethod
    def fit(cls, scores: np.ndarray, fraction: float) -> PooledTail:
        s = np.asarray(scores, dtype=np.float64)
        a = s.shape[1]
        location, scale = np.full(a, np.nan), np.full(a, np.nan)
        pooled: list[np.ndarray] = []
        for j in range(a):
            col = s[:, j][np.isfinite(s[:, j])]
            k = max(2, round(fraction * len(col)))
            if len(col) < k + 1:
                continue
            desc = np.sort(col)[::-1]
            top, top_plus = desc[:k], desc[: k + 1]
            sd = float(top.std())
            if not sd > 0:
                continue
            location[j], scale[j] = float(top.mean()), sd
            w = (col - location[j]) / sd
            # a tail image leaves its own tail: the next image takes its place
            inside = col >= desc[k - 1]
            mu_loo = (top_plus.sum() - col[inside]) / k
            sq_loo = ((top_plus**2).sum() - col[inside] ** 2) / k
            sd_loo = np.sqrt(np.maximum(sq_loo - mu_loo**2, 0.0))
            with np.errstate(invalid="ignore", divide="ignore"):
                w[inside] = (col[inside] - mu_loo) / sd_loo
            pooled.append(w[np.isfinite(w)])
        flat = np.sort(np.concatenate(pooled)) if pooled else np.zeros(0)
        return cls(fraction, location, scale, flat)

    def standardise(self, artist: int, scores: np.ndarray) -> np.ndarray:
        """Scores of one artist on the pooled scale."""
        return (np.asarray(scores, dtype=np.float64) - self.location[artist]) / self.scale[artist]

    def usable(self, artist: int) -> bool:
        return bool(np.isfinite(self.location[artist]) and len(self.pooled))

    def threshold(self, artist: int, fpr: float) -> float | None:
        t = order_statistic_threshold(self.pooled, fpr)
        if t is None or not self.usable(artist):
            return None
        return float(self.location[artist] + self.scale[artist] * t)

    def rate_above(self, artist: int, threshold: float) -> float:
        w = self.standardise(artist, np.array([threshold]))[0]
        return float(np.count_nonzero(self.pooled > w)) / len(self.pooled)


@dataclass
class ArtistNull:
    """One artist's null scores, sorted, and where they came from."""

    scores: np.ndarray  # sorted ascending, finite

    def threshold(self, fpr: float) -> float | None:
        return order_statistic_threshold(self.scores, fpr)


@dataclass
class Null:
    """Per-artist nulls for one scoring space, plus the family-wise threshold.

    `kind` is "reference" (a generator's outputs) or "index" (indexed works with their
    own artist left out); `name` names the reference set when there is one. `population`
    is the scale suspects' similarities are put on before the margin (None: raw), `tail`
    the pooled per-pair threshold (None: each artist's own order statistic).
    """

    kind: str
    name: str | None
    size: int  # images in the null (the same images for every artist)
    artists: list[ArtistNull]
    mean: np.ndarray  # (A,) per-artist null mean (NaN where the artist has no null)
    sd: np.ndarray  # (A,) per-artist null standard deviation
    family_statistic: np.ndarray  # sorted max-z of each null image (leave-one-out)
    population: Standardisation | None = None
    tail: PooledTail | None = None
    # "margin_z": largest null-standardised margin; "closeness": largest closeness + margin
    family_kind: str = "margin_z"
    scored_as: str | None = None  # how each null image was held out, when not the default
    # "margin_z" only: the image's value is its closest artist's (positive margin), as a
    # per-pair decision needs; closest to no artist (a background set) is never flagged.
    closest_only: bool = False

    @classmethod
    def from_matrix(
        cls,
        kind: str,
        name: str | None,
        scores: np.ndarray,
        *,
        population: Standardisation | None = None,
        tail_fraction: float | None = None,
        closeness: np.ndarray | None = None,
        scored_as: str | None = None,
        closest_only: bool = False,
    ) -> Null:
        """(n, A) scores of null images (NaN where an image may not count for an artist).

        `closeness` (n, A): the images' standardised similarities, each without itself;
        given, the family statistic is closeness plus margin (see the module docstring).
        Without it, each image's largest margin z, or with `closest_only` its closest
        artist's (an image closest to no artist counts as -inf: never flagged).
        """
        s = np.asarray(scores, dtype=np.float64)
        artists = [ArtistNull(np.sort(col[np.isfinite(col)])) for col in s.T]
        mean, sd = _column_stats(s)
        if closeness is None:
            z = leave_one_out_standardised(s)
            family = _row_max(_closest_only(z, s)) if closest_only else _nan_max(z)
        else:
            family = _nan_max(np.asarray(closeness, dtype=np.float64) + s)
        return cls(
            kind=kind,
            name=name,
            size=int(s.shape[0]),
            artists=artists,
            mean=mean,
            sd=sd,
            family_statistic=np.sort(family[~np.isnan(family)]),
            population=population,
            tail=None if tail_fraction is None else PooledTail.fit(s, tail_fraction),
            family_kind="margin_z" if closeness is None else "closeness",
            scored_as=scored_as,
            closest_only=closest_only and closeness is None,
        )

    def describe(self) -> str:
        if self.kind == "reference":
            text = (
                f"{self.size} outputs of the generator reference {self.name!r}, each scored "
                "against every artist, "
                + (self.scored_as or "centred on the reference mean without itself")
            )
        else:
            text = (
                f"{self.size} indexed works scored against every other artist with their own "
                "artist left out of the index"
            )
        if self.tail is not None:
            text += (
                f"; per-pair thresholds read off all artists' null scores pooled, each "
                f"artist's standardised by the top {self.tail.fraction:.0%} of its own"
            )
        if self.closest_only:
            text += "; flagged only for the artist an image is closest to"
        return text

    def p_value(self, artist: int, score: float) -> float | None:
        if not math.isfinite(score) or not len(self.artists[artist].scores):
            return None
        return float(self._p_values(artist, np.array([score]))[0])

    def _p_values(self, artist: int, scores: np.ndarray) -> np.ndarray:
        """Finite scores of one artist → p-values (+1 corrected), pooled when thresholds are."""
        if self.tail is not None and self.tail.usable(artist):
            ranked, null = self.tail.standardise(artist, scores), self.tail.pooled
        else:
            ranked, null = scores, self.artists[artist].scores
        n = len(null)
        return (1 + n - np.searchsorted(null, ranked, side="left")) / (1 + n)

    def threshold(self, artist: int, fpr: float) -> float | None:
        """The per-pair threshold before the never-below-0 rule (None: null too small).

        Pooled or not, an artist whose own null is too small for `fpr` is not decided:
        its tail could not be estimated either.
        """
        own = self.artists[artist]
        if own.threshold(fpr) is None:
            return None
        if self.tail is not None and self.tail.usable(artist):
            return self.tail.threshold(artist, fpr)
        return own.threshold(fpr)

    def decision_threshold(self, artist: int, fpr: float) -> float | None:
        """The threshold a per-pair decision uses: `threshold`, never below 0.

        Deciding for an artist the image is not closest to would answer another question
        than "closer to this artist than to the others" (a positive margin).
        """
        t = self.threshold(artist, fpr)
        return None if t is None else max(t, 0.0)

    def rate_above(self, artist: int, threshold: float) -> float:
        """The null's false-positive rate at `threshold`: pooled when thresholds are."""
        if self.tail is not None and self.tail.usable(artist):
            return self.tail.rate_above(artist, threshold)
        own = self.artists[artist].scores
        return float(np.count_nonzero(own > threshold)) / len(own)

    def p_values(self, scores: np.ndarray) -> np.ndarray:
        """(m, A) suspect scores → (m, A) p-values (+1 corrected; NaN where undefined)."""
        s = np.asarray(scores, dtype=np.float64)
        out = np.full(s.shape, np.nan)
        for a, null in enumerate(self.artists):
            ok = np.isfinite(s[:, a])
            if len(null.scores) and ok.any():
                out[ok, a] = self._p_values(a, s[ok, a])
        return out

    def z_scores(self, scores: np.ndarray) -> np.ndarray:
        """(m, A) scores standardised by each artist's null (NaN where undefined)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            z = (np.asarray(scores, dtype=np.float64) - self.mean) / self.sd
        z[~np.isfinite(z)] = np.nan
        return z

    def family_threshold(self, fpr: float) -> float | None:
        """Flag when a suspect's family statistic is *above* this (None: null too small)."""
        return order_statistic_threshold(self.family_statistic, fpr)

    def family_values(self, scores: np.ndarray, closeness: np.ndarray | None = None) -> np.ndarray:
        """(m, A) per-artist family values; a suspect's statistic is its row's largest."""
        if self.family_kind == "closeness":
            if closeness is None:
                raise ValueError("this null's family statistic needs the suspects' closeness")
            v = np.asarray(closeness, dtype=np.float64) + np.asarray(scores, dtype=np.float64)
            v[~np.isfinite(v)] = np.nan
            return v
        z = self.z_scores(scores)
        return _closest_only(z, np.asarray(scores, dtype=np.float64)) if self.closest_only else z

    def decision_thresholds(self, fpr: float) -> np.ndarray:
        """(A,) per-pair decision thresholds; +inf where the artist's null is too small."""
        return np.array(
            [
                np.inf if (t := self.decision_threshold(a, fpr)) is None else t
                for a in range(len(self.artists))
            ],
            dtype=np.float64,
        )

    def family_flags(
        self, scores: np.ndarray, fpr: float, closeness: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(m, A) scores → (flagged (m,), artist with the largest value (m,)) at rate `fpr`.

        Nothing is flagged when the null is too small for `fpr` (see `family_verdict`
        for the single-suspect reading that says why).
        """
        threshold = self.family_threshold(fpr)
        z = self.family_values(scores, closeness)
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


def _nan_max(values: np.ndarray) -> np.ndarray:
    """Row maxima over finite entries; NaN for a row with none."""
    v = np.where(np.isfinite(values), values, -np.inf).max(axis=1)
    v[~np.isfinite(v)] = np.nan
    return v


def _row_max(values: np.ndarray) -> np.ndarray:
    """Row maxima ignoring NaN (-inf counts); NaN for a row with nothing else."""
    return np.fmax.reduce(values, axis=1)


def _closest_only(z: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """z only where the margin is positive (the closest artist); -inf where an image was
    scored but is closest to no artist; NaN where it was not scored.

    Null images get the same treatment as suspects (each scored without itself, by
    `leave_one_out_standardised`), so the family threshold keeps its rate.
    """
    out = np.where(scores > 0, z, -np.inf)
    out[np.isnan(z)] = np.nan
    return out


@dataclass
class FamilyVerdict:
    flagged: bool | None
    flagged_artist: str | None
    statistic: float | None  # the largest family value (Null.family_values)
    threshold: float | None
    reason: str | None = None


def family_verdict(
    scores: np.ndarray,
    names: list[str],
    null: Null,
    fpr: float,
    closeness: np.ndarray | None = None,
) -> FamilyVerdict:
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
    z = null.family_values(
        np.asarray(scores, dtype=np.float64)[None, :],
        None if closeness is None else np.asarray(closeness, dtype=np.float64)[None, :],
    )[0]
    if np.isnan(z).all():
        return FamilyVerdict(None, None, None, threshold, reason="no artist could be scored")
    best = int(np.nanargmax(z))
    statistic = float(z[best])
    flagged = statistic > threshold
    return FamilyVerdict(flagged, names[best] if flagged else None, statistic, threshold)
