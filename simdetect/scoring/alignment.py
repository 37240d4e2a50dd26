"""Generator-domain alignment: move a generator's outputs back onto the paintings' origin.

Why: every image a generator makes shares its rendering texture, so in descriptor space
all of its outputs sit offset from all real paintings, and plain similarity reads that
offset as "unlike anyone". The offset is a property of the generator, not of the style
asked for, so it can be estimated from *other* outputs of the same generator (a
reference set) and removed: suspects are centred on the reference mean, indexed works
on the index mean. A reference from a different generator removes the wrong offset
(DESIGN.md: 31% → 33% top-5 instead of 48%), which is why every row names its reference.

`leave_one_out_means` lets the reference's own outputs be scored exactly as a suspect
would be (centred on a mean they are not part of), which is what makes them a fair null.

Second order (CORAL, Sun et al. 2016): a generator also spreads its outputs differently
from paintings — some directions of the descriptor it barely varies along, others it
exaggerates. Within the index's leading principal directions, centred suspects are
whitened by the reference's covariance and re-coloured by the index's, so distances
between an output and the works mean what they mean between works. Both covariances are
shrunk towards a multiple of the identity; below `CORAL_MIN_REFERENCE` images a
reference's covariance is too noisy and only its mean is removed. Measured on
sd15-styles (BENCHMARKS.md, "AI imitations"): top-1 50.8 → 55.8 and 57.5 on the two
reference splits, flags for the true artist 20.8 → 25.0 and 26.7.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from simdetect.scoring.discriminant import clamped_eigh, shrink_to_identity

MIN_REFERENCE = 20
CORAL_MIN_REFERENCE = 100
SUBSPACE_MAX_ROWS = 20_000  # rows the index's principal directions are estimated from


@dataclass
class ReferenceStats:
    """What scoring needs from a reference set: its size and its mean vector."""

    name: str
    n: int
    mean: np.ndarray  # (d,)

    def digest(self) -> str:
        h = hashlib.sha256(self.name.encode("utf-8"))
        h.update(str(self.n).encode())
        h.update(np.ascontiguousarray(self.mean, dtype=np.float64).tobytes())
        return h.hexdigest()


def reference_stats(name: str, vectors: np.ndarray) -> ReferenceStats:
    x = np.asarray(vectors, dtype=np.float64)
    if x.ndim != 2 or len(x) == 0:
        raise ValueError(f"reference {name!r} holds no vectors")
    return ReferenceStats(name=name, n=len(x), mean=x.mean(axis=0))


def leave_one_out_means(vectors: np.ndarray) -> np.ndarray:
    """Row i: the mean of every other row (needs at least two rows)."""
    x = np.asarray(vectors, dtype=np.float64)
    n = len(x)
    if n < 2:
        raise ValueError("a leave-one-out mean needs at least two vectors")
    return (x.sum(axis=0)[None, :] - x) / (n - 1)


def _matrix_power(sym: np.ndarray, power: float) -> np.ndarray:
    w, u = clamped_eigh(sym)
    return (u * w**power) @ u.T


@dataclass
class Subspace:
    """The index's leading principal directions and its works' covariance within them."""

    basis: np.ndarray  # (d, r), orthonormal columns, strongest direction first
    covariance: np.ndarray  # (r, r), of the index's centred works in the basis

    @property
    def rank(self) -> int:
        return int(self.basis.shape[1])


def index_subspace(vectors: np.ndarray, rank: int) -> Subspace | None:
    """Principal directions of the indexed works (an evenly spaced sample of a large index)."""
    x = np.asarray(vectors, dtype=np.float64)
    if len(x) < 3:
        return None
    step = max(1, len(x) // SUBSPACE_MAX_ROWS)
    sample = x[::step] - x.mean(axis=0)
    _, _, vt = np.linalg.svd(sample, full_matrices=False)
    basis = vt[: min(rank, len(vt))].T
    z = sample @ basis
    return Subspace(basis=basis, covariance=z.T @ z / (len(z) - 1))


@dataclass
class SecondOrderAlignment:
    """Maps vectors centred on a generator's mean onto the index's spread (see above)."""

    basis: np.ndarray  # (d, r)
    matrix: np.ndarray  # (r, r): reference covariance^(-1/2) · index covariance^(1/2)

    def apply(self, centred: np.ndarray) -> np.ndarray:
        z = np.asarray(centred, dtype=np.float64) @ self.basis
        return centred + (z @ self.matrix - z) @ self.basis.T


def second_order_alignment(
    subspace: Subspace | None,
    reference: np.ndarray,
    shrinkage: float,
    minimum: int = CORAL_MIN_REFERENCE,
) -> SecondOrderAlignment | None:
    """None when the reference is too small to estimate its spread (mean only, then).

    `minimum` is lowered only to re-estimate an alignment already granted on a whole
    reference from most of it (cross-fitting its null, `ImitationScorer.reference_raw`).
    """
    ref = np.asarray(reference, dtype=np.float64)
    if subspace is None or len(ref) < max(minimum, 3):
        return None
    r = min(subspace.rank, len(ref) - 1)
    basis = subspace.basis[:, :r]
    z = (ref - ref.mean(axis=0)) @ basis
    c_ref = shrink_to_identity(z.T @ z / (len(z) - 1), shrinkage)
    c_idx = shrink_to_identity(subspace.covariance[:r, :r], shrinkage)
    return SecondOrderAlignment(
        basis=basis, matrix=_matrix_power(c_ref, -0.5) @ _matrix_power(c_idx, 0.5)
    )
