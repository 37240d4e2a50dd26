"""Can an index decide at a false-positive rate? Answered from its counts alone.

A decision at rate f needs a threshold that at most f of the impostor works exceed;
with n impostor works the smallest non-trivial threshold needs n + 1 >= 1/f, i.e.
about 1/f − 1 works by *other* artists (99 at the default 1%). An artist's impostors
are every indexed work that is not theirs, background included, so the shortfall is
per artist and known as soon as works are added, long before a suspect is scanned.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["Shortfall", "impostors_needed", "shortfalls"]


def impostors_needed(target_fpr: float) -> int:
    """Fewest impostor works that allow a decision at ``target_fpr`` (99 at 1%)."""
    if not 0.0 < target_fpr < 1.0:
        raise ValueError(f"target false-positive rate must be in (0, 1), got {target_fpr}")
    return math.ceil(1.0 / target_fpr - 1e-9) - 1


@dataclass(frozen=True)
class Shortfall:
    """One artist whose suspects would all be undecided."""

    artist: str
    impostors: int
    needed: int

    @property
    def missing(self) -> int:
        return self.needed - self.impostors


def shortfalls(
    artist_counts: Mapping[str, int], background_count: int, target_fpr: float
) -> list[Shortfall]:
    """Artists (not background sets) with too few other works to decide, in name order.

    A single artist with no background is short by definition: there is no other
    style to compare with at all.
    """
    needed = impostors_needed(target_fpr)
    total = sum(artist_counts.values()) + background_count
    out = []
    for artist in sorted(artist_counts):
        impostors = total - artist_counts[artist]
        if impostors < needed:
            out.append(Shortfall(artist, impostors, needed))
    return out
