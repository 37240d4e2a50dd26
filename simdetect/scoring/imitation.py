"""The imitation score: contrastive, in a learned space, aligned to the suspect's generator.

Pipeline for one suspect vector q (pure: vectors, labels and parameters in, numbers out):

1. centre: q − c, where c is the generator reference's mean (`alignment`), or the index
   mean when no reference is given; indexed works are centred on the index mean;
2. project with the discriminant learned from the index's works (`discriminant`) and
   L2-normalise;
3. per artist, the mean cosine of its k most similar works in that space (`aggregate`);
4. contrastive score: that value minus the best other artist's or background's
   (`contrastive.contrastive_margin`).

The same pipeline scores the nulls: reference outputs centred on the reference mean
without themselves, or indexed works with their own artist left out.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from simdetect.scoring.aggregate import DEFAULT_K, ArtistTable, per_artist_topk
from simdetect.scoring.alignment import leave_one_out_means
from simdetect.scoring.contrastive import Null, contrastive_margin
from simdetect.scoring.discriminant import (
    DEFAULT_SHRINKAGE,
    Discriminant,
    DiscriminantParams,
    fit_discriminant,
    identity,
)

ROW_CHUNK = 1024


@dataclass(frozen=True)
class ImitationParams:
    """Knobs of the imitation score; recorded with every row that uses it."""

    k: int = DEFAULT_K
    shrinkage: float | None = DEFAULT_SHRINKAGE  # None: no learned projection
    dim: int | None = None

    def discriminant(self) -> DiscriminantParams | None:
        if self.shrinkage is None:
            return None
        return DiscriminantParams(shrinkage=self.shrinkage, dim=self.dim)

    def describe(self) -> str:
        d = self.discriminant()
        space = d.describe() if d is not None else "centred cosine (no learned projection)"
        return (
            f"contrastive = mean cosine of the artist's {self.k} most similar works minus the "
            f"same for the best other artist or background set, in a space of {space}; "
            "suspects centred on their generator reference's mean when one is given"
        )

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


class ImitationScorer:
    """Holds the projected index so each suspect costs one matrix product."""

    def __init__(
        self,
        vectors: np.ndarray,
        table: ArtistTable,
        params: ImitationParams | None = None,
        discriminant: Discriminant | None = None,
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
        self.library = discriminant.transform(x) if len(x) else x

    def per_artist(self, vectors: np.ndarray, centres: np.ndarray | None = None) -> np.ndarray:
        """(m, d) suspects → (m, A) top-k mean cosine per artist in the learned space."""
        q = self.discriminant.transform(vectors, centres)
        out = np.empty((len(q), self.table.n_artists))
        for start in range(0, len(q), ROW_CHUNK):
            rows = slice(start, start + ROW_CHUNK)
            out[rows] = per_artist_topk(q[rows] @ self.library.T, self.table, self.params.k)
        return out

    def scores(self, vectors: np.ndarray, centres: np.ndarray | None = None) -> np.ndarray:
        """(m, d) suspects → (m, A) contrastive scores (background columns included)."""
        return contrastive_margin(self.per_artist(vectors, centres))

    def reference_null(self, name: str, reference: np.ndarray) -> Null:
        """The generator's outputs, each centred on the reference mean without itself."""
        ref = np.asarray(reference, dtype=np.float64)
        centres = leave_one_out_means(ref)
        s = self.scores(ref, centres)
        s[:, self.table.background] = np.nan
        return Null.from_matrix("reference", name, s)

    def index_null(self) -> Null:
        """Indexed works scored with their own artist (and themselves) left out."""
        n, a = len(self.library), self.table.n_artists
        s = np.full((n, a), np.nan)
        codes = self.table.codes
        for start in range(0, n, ROW_CHUNK):
            rows = np.arange(start, min(n, start + ROW_CHUNK))
            sims = self.library[rows] @ self.library.T
            own = codes[rows][:, None] == codes[None, :]
            sims[own] = -np.inf
            per = per_artist_topk(sims, self.table, self.params.k)
            per[np.arange(len(rows)), codes[rows]] = np.nan
            s[rows] = contrastive_margin(per)
        s[:, self.table.background] = np.nan
        return Null.from_matrix("index", None, s)
