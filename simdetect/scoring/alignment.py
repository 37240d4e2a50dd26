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
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

MIN_REFERENCE = 20


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
