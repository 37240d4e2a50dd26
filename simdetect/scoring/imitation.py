"""The imitation score: contrastive, in a learned space, aligned to the suspect's generator.

Pipeline for one suspect vector q (pure: vectors, labels and parameters in, numbers out):

1. centre: q − c, where c is the generator reference's mean (`alignment`), or the index
   mean when no reference is given; indexed works are centred on the index mean; with a
   reference of at least `CORAL_MIN_REFERENCE` images, also whiten by the reference's
   spread and re-colour by the index's within its leading directions (`alignment`);
2. project with the discriminant learned from the index's works (`discriminant`) and
   L2-normalise;
3. per artist, the mean cosine of its k most similar works in that space (`aggregate`),
   blended with the cosine to the artist's mean direction;
4. with a generator reference, per artist, standardised by the mean and spread of the
   same value over the reference's outputs (`contrastive.Standardisation`), so an artist
   the generator is close to anyway does not win by default;
5. contrastive score: that value minus the best other artist's or background's
   (`contrastive.contrastive_margin`).

The same pipeline scores the nulls: reference outputs centred on the reference mean
without themselves (each standardised without itself), or indexed works with their own
artist left out.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from simdetect.defaults import DEFAULT_HUBNESS_K
from simdetect.scoring.aggregate import DEFAULT_K, ArtistTable, per_artist_topk
from simdetect.scoring.alignment import (
    CORAL_MIN_REFERENCE,
    SecondOrderAlignment,
    Subspace,
    index_subspace,
    leave_one_out_means,
    second_order_alignment,
)
from simdetect.scoring.contrastive import (
    FamilyVerdict,
    Null,
    Standardisation,
    contrastive_margin,
    family_verdict,
    leave_one_out_standardised,
    min_null_size,
)
from simdetect.scoring.discriminant import (
    Discriminant,
    DiscriminantParams,
    fit_discriminant,
    identity,
)
from simdetect.scoring.hubness import neighbourhood_radius

ROW_CHUNK = 1024
SECOND_ORDER_KNOBS = ("coral_rank", "coral_shrinkage")
# What each knob was before it existed: a record that does not name a knob was made without it.
KNOBS_OFF: dict[str, object] = {
    "coral_rank": None,
    "standardise": False,
    "tail_fraction": None,
    "null_folds": None,
    "genuine_on_null_scale": False,
    "index_centroid_weight": None,
    "flag_closest_only": False,
    "index_hubness_k": None,
}


@dataclass(frozen=True)
class ImitationParams:
    """Knobs of the imitation score; recorded with every row that uses it."""

    k: int = DEFAULT_K
    # Defaults chosen on sd15-styles (two reference splits) and best-artworks-128; see
    # BENCHMARKS.md "AI imitations" for the grid that was measured.
    shrinkage: float | None = 0.5  # None: no learned projection
    dim: int | None = None
    statistic: str = "margin"  # "margin" (contrastive) or "similarity" (top-k mean only)
    centroid_weight: float = 0.8  # weight of the cosine to the artist's mean direction
    # The same weight for a suspect with no generator reference, judged among paintings
    # (None: `centroid_weight`). A generator's outputs sit off the paintings' manifold, where
    # an artist's mean direction is the steadier guide; a painting sits on it, where its
    # nearest works say more. BENCHMARKS.md "The index path's centroid weight".
    index_centroid_weight: float | None = 0.3
    # Also without a reference, each work's cosine to the suspect less half the mean cosine
    # of the work to its `index_hubness_k` nearest works: CSLS (`scoring.hubness`), whose
    # suspect term is the same for every artist and cancels in the margin. A work near
    # everything no longer makes its artist every painting's neighbour (None: plain cosine).
    index_hubness_k: int | None = DEFAULT_HUBNESS_K
    # Second-order alignment to a generator reference (None: its mean only); measured on
    # sd15-styles with ranks 64-512 and shrinkages 0.3-0.7, BENCHMARKS.md "AI imitations".
    coral_rank: int | None = 256
    coral_shrinkage: float = 0.5
    # With a generator reference: each artist's similarity on the reference's scale before
    # the margin (and the family statistic that reads it), and per-pair thresholds pooled
    # over artists' standardised null tails (None: per-artist order statistics);
    # BENCHMARKS.md "Standardised margins, pooled tails, a cross-fitted null".
    standardise: bool = True
    tail_fraction: float | None = 0.1
    # A reference's own outputs, as its null, are centred and aligned by the outputs
    # outside their fold, as a new output would be (None: by the whole reference).
    null_folds: int | None = 10
    # The artist's own works, for the genuine percentile, on the scale of the null the
    # suspect is read against (False: raw margins, as records made before it were).
    genuine_on_null_scale: bool = True
    # Without a reference, an image is flagged only for the artist it is closest to (its
    # positive margin), as a per-pair decision needs; False: for the artist whose margin
    # is most unusual among the null's, even one it is not closest to.
    flag_closest_only: bool = True

    def __post_init__(self) -> None:
        if self.statistic not in ("margin", "similarity"):
            raise ValueError(f"statistic must be 'margin' or 'similarity', got {self.statistic!r}")
        if self.k < 1:
            raise ValueError(f"k must be at least 1, got {self.k}")
        if self.index_hubness_k is not None and self.index_hubness_k < 1:
            raise ValueError(f"index_hubness_k must be at least 1, got {self.index_hubness_k}")
        for knob in ("centroid_weight", "index_centroid_weight"):
            w = getattr(self, knob)
            if w is not None and not 0.0 <= w <= 1.0:
                raise ValueError(f"{knob} must be in [0, 1], got {w}")
        if self.coral_rank is not None and self.coral_rank < 1:
            raise ValueError(f"coral_rank must be at least 1, got {self.coral_rank}")
        if not 0.0 < self.coral_shrinkage <= 1.0:
            raise ValueError(f"coral_shrinkage must be in (0, 1], got {self.coral_shrinkage}")
        if self.tail_fraction is not None and not 0.0 < self.tail_fraction <= 0.5:
            raise ValueError(f"tail_fraction must be in (0, 0.5], got {self.tail_fraction}")
        if self.null_folds is not None and self.null_folds < 2:
            raise ValueError(f"null_folds must be at least 2, got {self.null_folds}")

    def centroid_weight_for(self, reference: bool) -> float:
        """The weight of the artist's mean direction for a suspect with or without a
        generator reference."""
        if reference or self.index_centroid_weight is None:
            return self.centroid_weight
        return self.index_centroid_weight

    def discriminant(self) -> DiscriminantParams | None:
        if self.shrinkage is None:
            return None
        return DiscriminantParams(shrinkage=self.shrinkage, dim=self.dim)

    def describe(self) -> str:
        d = self.discriminant()
        space = d.describe() if d is not None else "centred cosine (no learned projection)"
        per = _blend_words(self.centroid_weight, self.k)
        index_per = _blend_words(self.centroid_weight_for(reference=False), self.k)
        if self.index_hubness_k is not None:
            index_per += (
                f", each work's cosine less half its mean cosine to its {self.index_hubness_k} "
                "nearest works (hubness correction)"
            )
        if index_per != per:
            per = f"with a generator reference {per}; without one {index_per}"
        coral = (
            f"; with a reference of at least {CORAL_MIN_REFERENCE} images, also whitened by "
            f"its covariance and re-coloured by the index's in the index's top "
            f"{self.coral_rank} principal directions (shrinkage {self.coral_shrinkage:g})"
            if self.coral_rank
            else ""
        )
        scale = (
            ", with a reference each artist's value first standardised by its mean and "
            "standard deviation over the reference's outputs"
            if self.standardise
            else ""
        )
        pooled = (
            f"; with a reference, per-pair thresholds from all artists' null scores pooled "
            f"after standardising each artist's by the top {self.tail_fraction:.0%} of its own"
            if self.tail_fraction is not None
            else ""
        )
        folds = (
            f"; the reference's own outputs, as its null, centred and aligned by the outputs "
            f"outside their fold of {self.null_folds}"
            if self.null_folds is not None and self.coral_rank
            else ""
        )
        return (
            f"contrastive = ({per}) minus the same for the best other artist or background "
            f"set{scale}, in a space of {space}; suspects centred on their generator "
            f"reference's mean when one is given, otherwise on the index mean{coral}{pooled}"
            f"{folds}"
        )

    def as_dict(self) -> dict[str, object]:
        return asdict(self)

    def record(self) -> dict[str, object]:
        """What an evidence record names: without the second-order knobs when they are off,
        which is exactly what records made before those knobs existed hold."""
        out = self.as_dict()
        if self.coral_rank is None:
            for key in SECOND_ORDER_KNOBS:
                out.pop(key, None)
        for key, off in KNOBS_OFF.items():
            if key in out and out[key] == off:
                out.pop(key)
        return out

    @classmethod
    def from_record(cls, recorded: Mapping[str, Any]) -> ImitationParams:
        """The parameters a record names; knobs it does not name did not exist (off)."""
        return cls(**{**KNOBS_OFF, **recorded})


def _blend_words(w: float, k: int) -> str:
    if not w:
        return f"mean cosine of the artist's {k} most similar works"
    return (
        f"{w:g} x cosine to the artist's mean direction + {1 - w:g} x mean cosine of its "
        f"{k} most similar works"
    )


class ImitationScorer:
    """Holds the projected index so each suspect costs one matrix product."""

    def __init__(
        self,
        vectors: np.ndarray,
        table: ArtistTable,
        params: ImitationParams | None = None,
        discriminant: Discriminant | None = None,
        subspace: Subspace | None = None,
        radius: np.ndarray | None = None,
    ) -> None:
        self.params = params or ImitationParams()
        self.table = table
        x = np.asarray(vectors, dtype=np.float64)
        if discriminant is None:
            dp = self.params.discriminant()
            if dp is None or len(x) == 0:
                discriminant = identity(x.shape[1], x.mean(axis=0) if len(x) else None)
            else:
                discriminant = fit_discriminant(x, table.codes, dp)
        self.discriminant = discriminant
        if subspace is None and self.params.coral_rank:
            subspace = index_subspace(x, self.params.coral_rank)
        self.subspace = subspace
        self.library = discriminant.transform(x) if len(x) else x
        cents = np.zeros((table.n_artists, self.library.shape[1]))
        for a, rows in enumerate(table.members):
            if len(rows):
                c = self.library[rows].mean(axis=0)
                cents[a] = c / max(float(np.linalg.norm(c)), 1e-12)
        self.centroids = cents
        h = self.params.index_hubness_k
        if radius is None and h is not None and len(x):
            radius = self.library_radius(h)
        # each work's neighbourhood radius r(x) (None: no hubness correction)
        self.radius = None if h is None else radius

    def library_radius(self, h: int) -> np.ndarray:
        """(N,) each work's mean cosine to its h nearest other works, in the learned space."""
        out = np.empty(len(self.library))
        for rows, sims in self._among_works():
            out[rows] = neighbourhood_radius(sims, h)
        return out

    def _among_works(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """The indexed works in chunks: (rows, their cosines to every work, itself -inf)."""
        n = len(self.library)
        for start in range(0, n, ROW_CHUNK):
            rows = np.arange(start, min(n, start + ROW_CHUNK))
            sims = self.library[rows] @ self.library.T
            sims[np.arange(len(rows)), rows] = -np.inf
            yield rows, sims

    def _corrected(self, sims: np.ndarray) -> np.ndarray:
        """Cosines to every work as the index path reads them: hubness-corrected (CSLS up
        to the row's own term, which every artist shares), or as they are."""
        return sims if self.radius is None else sims - 0.5 * self.radius[None, :]

    def alignment_for(self, reference: np.ndarray) -> SecondOrderAlignment | None:
        """The second-order alignment to this generator reference (None: mean only)."""
        return second_order_alignment(self.subspace, reference, self.params.coral_shrinkage)

    def per_artist(
        self,
        vectors: np.ndarray,
        centres: np.ndarray | None = None,
        alignment: SecondOrderAlignment | None = None,
    ) -> np.ndarray:
        """(m, d) suspects → (m, A) per-artist similarity in the learned space.

        `centres` given means the suspects come with a generator reference (centred on its
        mean), which sets the weight of the artist's mean direction
        (`ImitationParams.centroid_weight_for`); None means the index's own domain.
        """
        q = self.discriminant.transform(vectors, centres, alignment)
        reference = centres is not None
        out = np.empty((len(q), self.table.n_artists))
        for start in range(0, len(q), ROW_CHUNK):
            rows = slice(start, start + ROW_CHUNK)
            sims = q[rows] @ self.library.T
            out[rows] = per_artist_topk(
                sims if reference else self._corrected(sims), self.table, self.params.k
            )
        weight = self.params.centroid_weight_for(reference)
        return blend_centroid(out, q @ self.centroids.T, weight)

    def scores(
        self,
        vectors: np.ndarray,
        centres: np.ndarray | None = None,
        alignment: SecondOrderAlignment | None = None,
        population: Standardisation | None = None,
    ) -> np.ndarray:
        """(m, d) suspects → (m, A) contrastive scores (background columns included).

        `population` is the null's scale (`Null.population`); None scores raw similarities.
        """
        return self._statistic(_on_scale(self.per_artist(vectors, centres, alignment), population))

    def standing(
        self,
        vectors: np.ndarray,
        centres: np.ndarray | None = None,
        alignment: SecondOrderAlignment | None = None,
        population: Standardisation | None = None,
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """(contrastive scores, standardised closeness or None): what a family verdict reads.

        Background columns are NaN in both (they compete in the margin, never rank).
        """
        scaled = _on_scale(self.per_artist(vectors, centres, alignment), population)
        scores = self._statistic(scaled)
        scores[:, self.table.background] = np.nan
        if population is None:
            return scores, None
        scaled[:, self.table.background] = np.nan
        return scores, scaled

    def _statistic(self, per_artist: np.ndarray) -> np.ndarray:
        if self.params.statistic == "similarity":
            return per_artist
        return contrastive_margin(per_artist)

    def null_from_raw(
        self, kind: str, name: str | None, raw: np.ndarray, scored_as: str | None = None
    ) -> Null:
        """A null from its images' raw per-artist similarities (NaN where one may not count).

        For a generator reference, the population scale is estimated on its outputs and
        each is standardised without itself; suspects are later put on the same scale
        (`Null.population`), and per-pair thresholds come from pooled tails. The index
        null (paintings judged against paintings) is left as it was measured: with the
        per-artist scale, held-out best-artworks-128 paintings lost attribution in a
        real-corpus test, and what the scale answers (a generator's pull towards some
        artists, its own texture) belongs to generator references.
        """
        raw = np.asarray(raw, dtype=np.float64)
        adapt = kind == "reference"
        population = None
        per = raw
        if adapt and self.params.standardise:
            # background sets are standardised too: they compete in the margin
            population = Standardisation.of_population(raw)
            per = leave_one_out_standardised(raw)
        s = self._statistic(per)
        s[:, self.table.background] = np.nan
        tail = self.params.tail_fraction if adapt else None
        closeness = None
        if population is not None:
            closeness = per.copy()
            closeness[:, self.table.background] = np.nan
        return Null.from_matrix(
            kind,
            name,
            s,
            population=population,
            tail_fraction=tail,
            closeness=closeness,
            scored_as=scored_as,
            closest_only=self.params.flag_closest_only,
        )

    def reference_null(
        self,
        name: str,
        reference: np.ndarray,
        alignment: SecondOrderAlignment | None = None,
        groups: np.ndarray | None = None,
    ) -> Null:
        """The generator's outputs scored as new outputs of it would be (`reference_raw`).

        `alignment` is the one its suspects get (estimated on the whole reference).
        """
        raw = self.reference_raw(reference, alignment, groups)
        folds = self.params.null_folds
        scored_as = (
            f"centred on and aligned by the outputs outside its fold (one of {folds})"
            if alignment is not None and folds is not None
            else None
        )
        return self.null_from_raw("reference", name, raw, scored_as)

    def reference_raw(
        self,
        reference: np.ndarray,
        alignment: SecondOrderAlignment | None = None,
        groups: np.ndarray | None = None,
    ) -> np.ndarray:
        """(n, A) raw similarities of a reference's own outputs, each scored like a suspect.

        A suspect is centred on, and aligned by, outputs that do not include it. Centring
        each output on the mean of the others is exact and cheap; an alignment estimated
        with the output in it makes it look more typical of the generator than a new one,
        so the null sits too low and lets through more than the promised rate (on
        sd15-styles 6.5-8.8% of held-out outputs flagged at 5%). With `null_folds`, each
        fold of outputs is centred and aligned by the others. `groups` keeps outputs that
        belong together (tiles of one grid) in one fold; by default each output is its own.
        """
        ref = np.asarray(reference, dtype=np.float64)
        folds = self.params.null_folds
        if alignment is None or folds is None:
            return self.per_artist(ref, leave_one_out_means(ref), alignment)
        keys = np.arange(len(ref)) if groups is None else np.asarray(groups)
        _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        order = np.argsort(np.argsort(first))  # groups numbered by first appearance
        fold = order[inverse] % folds
        out = np.empty((len(ref), self.table.n_artists))
        for f in np.unique(fold):
            held = fold == f
            rest = ref[~held]
            fold_alignment = second_order_alignment(
                self.subspace, rest, self.params.coral_shrinkage, minimum=0
            )
            out[held] = self.per_artist(ref[held], rest.mean(axis=0), fold_alignment)
        return out

    def index_null(self) -> Null:
        """Indexed works scored with their own artist (and themselves) left out."""
        return self.null_from_raw("index", None, self.index_null_raw())

    def index_null_raw(self) -> np.ndarray:
        """(N, A): each work's raw similarity to every other artist; own artist NaN."""
        n, a = len(self.library), self.table.n_artists
        raw = np.full((n, a), np.nan)
        codes = self.table.codes
        weight = self.params.centroid_weight_for(reference=False)
        for rows, plain in self._among_works():
            sims = self._corrected(plain)
            own = codes[rows][:, None] == codes[None, :]
            sims[own] = -np.inf
            per = blend_centroid(
                per_artist_topk(sims, self.table, self.params.k),
                self.library[rows] @ self.centroids.T,
                weight,
            )
            per[np.arange(len(rows)), codes[rows]] = np.nan
            raw[rows] = per
        return raw

    def genuine_parts(self) -> GenuineParts:
        """Each indexed work's per-artist similarities, only itself left out.

        Kept apart, not blended and not a score: which blend and which scale a suspect's
        score is on depend on the null it is read against (`genuine_by_artist`), so the
        works are put on them when a judge is opened.
        """
        n = len(self.library)
        topk = np.full((n, self.table.n_artists), np.nan)
        topk_index = topk.copy() if self.radius is not None else None
        for rows, sims in self._among_works():
            topk[rows] = per_artist_topk(sims, self.table, self.params.k)
            if topk_index is not None:
                corrected = self._corrected(sims)
                topk_index[rows] = per_artist_topk(corrected, self.table, self.params.k)
        return GenuineParts(topk, self.library @ self.centroids.T, topk_index)

    def genuine_scores(
        self,
        parts: GenuineParts,
        population: Standardisation | None = None,
        reference: bool = False,
    ) -> np.ndarray:
        """(N,): each work's score for its own artist, blended as a suspect with (or
        without) a generator reference is, on the scale of `population`."""
        codes = self.table.codes
        raw = parts.blended(self.params.centroid_weight_for(reference), reference)
        return self._statistic(_on_scale(raw, population))[np.arange(len(codes)), codes]


@dataclass
class GenuineParts:
    """(N, A) each: the top-k mean cosine, the cosine to each artist's mean direction, and
    the top-k mean of hubness-corrected cosines (the index path's; None: not corrected)."""

    topk: np.ndarray
    centroid: np.ndarray
    topk_index: np.ndarray | None = None

    def blended(self, weight: float, reference: bool) -> np.ndarray:
        topk = self.topk if reference or self.topk_index is None else self.topk_index
        return blend_centroid(topk, self.centroid, weight)


def blend_centroid(topk: np.ndarray, centroid: np.ndarray, weight: float) -> np.ndarray:
    """(1 − w) × top-k mean cosine + w × cosine to the artist's mean direction."""
    if not weight:
        return topk
    return (1.0 - weight) * topk + weight * centroid


def _on_scale(per_artist: np.ndarray, population: Standardisation | None) -> np.ndarray:
    """Raw per-artist similarities on a null's scale (unchanged when it has none)."""
    return per_artist if population is None else population.apply(per_artist)


# 2: the index's principal subspace for second-order alignment; 3: the index null kept as
# raw similarities (the margin is taken when it is opened); 4: the genuine works kept as
# raw similarities too (a generator reference's scale is applied when a judge is opened);
# 5: the genuine works' two similarities kept apart (the blend depends on the null too);
# 6: each work's neighbourhood radius, and the works' hubness-corrected similarities
IMITATION_STATE_VERSION = 6


@dataclass
class ImitationState:
    """What the imitation score stores beside an index state: projection and index null.

    Both depend on every indexed vector, so they are keyed by the snapshot digest and
    recomputed whenever the index changes, like the calibration. `digest()` enters the
    rows' record of the method, so a changed projection is visible in every result.
    """

    snapshot_digest: str
    params: ImitationParams
    discriminant: Discriminant
    index_null_raw: np.ndarray  # (N, A) raw similarities, NaN where a work may not count
    genuine: GenuineParts  # each work's similarities to every artist, only itself left out
    subspace: Subspace | None = None  # for second-order alignment to a reference
    radius: np.ndarray | None = None  # (N,) each work's neighbourhood radius (hubness)
    version: int = IMITATION_STATE_VERSION

    def digest(self) -> str:
        h = hashlib.sha256(self.discriminant.digest().encode())
        h.update(repr(sorted(self.params.as_dict().items())).encode())
        h.update(self.snapshot_digest.encode())
        if self.subspace is not None:
            h.update(np.ascontiguousarray(self.subspace.basis, dtype=np.float64).tobytes())
            h.update(np.ascontiguousarray(self.subspace.covariance, dtype=np.float64).tobytes())
        if self.radius is not None:
            h.update(np.ascontiguousarray(self.radius, dtype=np.float64).tobytes())
        return h.hexdigest()

    def to_bytes(self) -> bytes:
        d = self.discriminant
        meta = {
            "version": self.version,
            "snapshot_digest": self.snapshot_digest,
            "params": self.params.as_dict(),
            "discriminant_params": asdict(d.params),
            "n_works": d.n_works,
            "n_artists": d.n_artists,
        }
        sub = self.subspace
        d_dim = len(d.mean)
        buf = io.BytesIO()
        np.savez(
            buf,
            meta=np.frombuffer(json.dumps(meta).encode("utf-8"), np.uint8),
            mean=d.mean.astype(np.float64),
            projection=d.projection.astype(np.float64),
            index_null=self.index_null_raw.astype(np.float64),
            genuine_topk=self.genuine.topk.astype(np.float64),
            genuine_centroid=self.genuine.centroid.astype(np.float64),
            genuine_topk_index=_or_empty(self.genuine.topk_index, 2),
            radius=_or_empty(self.radius, 1),
            subspace_basis=(sub.basis if sub else np.zeros((d_dim, 0))).astype(np.float64),
            subspace_covariance=(sub.covariance if sub else np.zeros((0, 0))).astype(np.float64),
        )
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, blob: bytes) -> ImitationState:
        with np.load(io.BytesIO(blob), allow_pickle=False) as data:
            meta = json.loads(bytes(data["meta"]).decode("utf-8"))
            disc = Discriminant(
                params=DiscriminantParams(**meta["discriminant_params"]),
                mean=data["mean"].astype(np.float64),
                projection=data["projection"].astype(np.float64),
                n_works=int(meta["n_works"]),
                n_artists=int(meta["n_artists"]),
            )
            basis = data["subspace_basis"].astype(np.float64)
            subspace = (
                Subspace(basis=basis, covariance=data["subspace_covariance"].astype(np.float64))
                if basis.shape[1]
                else None
            )
            return cls(
                snapshot_digest=str(meta["snapshot_digest"]),
                params=ImitationParams(**meta["params"]),
                discriminant=disc,
                index_null_raw=data["index_null"].astype(np.float64),
                genuine=GenuineParts(
                    data["genuine_topk"].astype(np.float64),
                    data["genuine_centroid"].astype(np.float64),
                    _or_none(data["genuine_topk_index"]),
                ),
                radius=_or_none(data["radius"]),
                subspace=subspace,
                version=int(meta["version"]),
            )


def _or_empty(a: np.ndarray | None, ndim: int) -> np.ndarray:
    return np.zeros((0,) * ndim) if a is None else np.asarray(a, dtype=np.float64)


def _or_none(a: np.ndarray) -> np.ndarray | None:
    return None if a.size == 0 else a.astype(np.float64)


def compute_state(
    snapshot_digest: str, vectors: np.ndarray, table: ArtistTable, params: ImitationParams
) -> tuple[ImitationState, ImitationScorer]:
    scorer = ImitationScorer(vectors, table, params)
    state = ImitationState(
        snapshot_digest,
        params,
        scorer.discriminant,
        scorer.index_null_raw(),
        scorer.genuine_parts(),
        scorer.subspace,
        scorer.radius,
    )
    return state, scorer


@dataclass
class ArtistJudgement:
    """One artist's contrastive reading for one suspect (fields mirror the scan row)."""

    contrastive: float | None
    p_value: float | None
    percentile: float | None
    genuine_percentile: float | None
    decision: bool | None
    threshold: float | None
    fpr_at_threshold: float | None
    reason: str | None = None


class ImitationJudge:
    """Scores suspects contrastively and reads the scores against one null.

    `centre` is the generator reference's mean when the suspects come with a reference
    (None: the index mean); `null` is that reference's outputs or, without one, the
    index's works with their own artist left out.
    """

    def __init__(
        self,
        scorer: ImitationScorer,
        null: Null,
        genuine: list[np.ndarray],
        centre: np.ndarray | None = None,
        alignment: SecondOrderAlignment | None = None,
    ) -> None:
        self.scorer = scorer
        self.null = null
        self.genuine = [np.sort(g[np.isfinite(g)]) for g in genuine]
        self.centre = centre
        self.alignment = alignment

    def scores(self, vectors: np.ndarray, centres: np.ndarray | None = None) -> np.ndarray:
        return self.standing(vectors, centres)[0]

    def standing(
        self, vectors: np.ndarray, centres: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """(contrastive scores, closeness or None) on this judge's null's scale."""
        return self.scorer.standing(
            vectors,
            self.centre if centres is None else centres,
            self.alignment,
            self.null.population,
        )

    def judge(self, scores: np.ndarray, artist: int, target_fpr: float) -> ArtistJudgement:
        value = float(scores[artist])
        if not np.isfinite(value):
            return ArtistJudgement(None, None, None, None, None, None, None, "not scored")
        null = self.null.artists[artist]
        n = len(null.scores)
        gen = self.genuine[artist] if artist < len(self.genuine) else np.zeros(0)
        genuine_pct = (
            100.0 * float(np.searchsorted(gen, value, side="left")) / len(gen) if len(gen) else None
        )
        if n == 0:
            return ArtistJudgement(
                value, None, None, genuine_pct, None, None, None, "the null holds no images"
            )
        below = int(np.searchsorted(null.scores, value, side="left"))
        p = self.null.p_value(artist, value)
        t = self.null.decision_threshold(artist, target_fpr)
        if t is None:
            return ArtistJudgement(
                value,
                p,
                100.0 * below / n,
                genuine_pct,
                None,
                None,
                None,
                f"the null holds {n} images, too few to decide at a {target_fpr:.2%} "
                f"false-positive rate (at least {min_null_size(target_fpr)} are needed)",
            )
        fpr = self.null.rate_above(artist, t)
        return ArtistJudgement(value, p, 100.0 * below / n, genuine_pct, value > t, t, fpr)

    def family(
        self, scores: np.ndarray, family_fpr: float, closeness: np.ndarray | None = None
    ) -> FamilyVerdict:
        return family_verdict(scores, self.scorer.table.names, self.null, family_fpr, closeness)


def genuine_by_artist(
    state: ImitationState,
    scorer: ImitationScorer,
    population: Standardisation | None = None,
    reference: bool = False,
) -> list[np.ndarray]:
    """Each artist's own works scored against the index, blended as a suspect with (or
    without) a generator `reference` is and on the scale of the null it is read against
    (`Null.population`; None, or the knob off: raw margins).

    The works are paintings judged in their own domain whichever null is used, but the
    genuine percentile compares a suspect's score with theirs, so both must be on one
    scale: a margin of similarities standardised by a generator's outputs is in units of
    their spread, a raw margin in units of cosine.
    """
    scale = population if scorer.params.genuine_on_null_scale else None
    g = scorer.genuine_scores(state.genuine, scale, reference)
    return [g[rows] for rows in scorer.table.members]
