"""Backbones turn images into vectors; see `registry` for the names users type."""

from simdetect.backbones.base import (
    Backbone,
    BackboneError,
    BackboneUnavailable,
    Fingerprint,
    statistics_view,
)
from simdetect.backbones.registry import (
    DEFAULT_BACKBONE,
    BackboneInfo,
    backbone_for_fingerprint,
    list_backbones,
    load_backbone,
    statistics_columns,
)

__all__ = [
    "DEFAULT_BACKBONE",
    "Backbone",
    "BackboneError",
    "BackboneInfo",
    "BackboneUnavailable",
    "Fingerprint",
    "backbone_for_fingerprint",
    "list_backbones",
    "load_backbone",
    "statistics_columns",
    "statistics_view",
]
