"""The index-add warning agrees with what a scan would decide."""

from __future__ import annotations

import numpy as np
import pytest

from simdetect.scoring.calibration import Calibration, ScoringParams
from simdetect.scoring.readiness import impostors_needed, shortfalls


@pytest.mark.parametrize("fpr", [0.01, 0.05, 0.1, 0.2, 0.003])
def test_needed_is_the_first_count_that_decides(fpr: float) -> None:
    needed = impostors_needed(fpr)

    def decides(n: int) -> bool:
        cal = Calibration(
            snapshot_digest="x",
            params=ScoringParams(),
            artist_names=["a", "b"],
            work_radius=np.zeros(n),
            impostor=[np.linspace(-1, 0, n), np.linspace(-1, 0, n)],
            genuine=[np.zeros(1), np.zeros(1)],
        )
        return cal.verdict(0, 0.5, fpr).decision is not None

    assert decides(needed) and not decides(needed - 1)


def test_shortfall_per_artist_counts_background() -> None:
    counts = {"雪鱼": 40, "other": 50}
    short = shortfalls(counts, background_count=0, target_fpr=0.01)
    assert [(s.artist, s.impostors, s.missing) for s in short] == [
        ("other", 40, 59),
        ("雪鱼", 50, 49),
    ]
    assert shortfalls(counts, background_count=60, target_fpr=0.01) == []
    lone = shortfalls({"雪鱼": 40}, background_count=0, target_fpr=0.01)
    assert [(s.impostors, s.needed) for s in lone] == [(0, 99)]
    with pytest.raises(ValueError):
        impostors_needed(0.0)
