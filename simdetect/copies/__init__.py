"""Copy detection: find the specific indexed work an edited image was copied from.

``edits`` reproduces the laundering edits, ``regions`` describes images (regional and
local CNN features), ``geometry`` verifies a candidate's layout, ``calibration`` turns
the index's own leave-one-out scores into thresholds and ``matcher`` puts them together.
"""

from simdetect.copies.edits import EDIT_NAMES, apply_edit
from simdetect.copies.matcher import CopyIndex, CopyMatch, MatcherConfig
from simdetect.copies.regions import RegionConfig, RegionDescriber, RegionSet

__all__ = [
    "EDIT_NAMES",
    "CopyIndex",
    "CopyMatch",
    "MatcherConfig",
    "RegionConfig",
    "RegionDescriber",
    "RegionSet",
    "apply_edit",
]
