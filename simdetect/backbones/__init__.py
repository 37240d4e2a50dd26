"""Backbones turn images into vectors; see `registry` for the names users type."""

from simdetect.backbones.base import (
    Backbone,
    BackboneError,
    BackboneUnavailable,
    Fingerprint,
)
from simdetect.backbones.registry import (
    DEFAULT_BACKBONE,
    BackboneInfo,
    list_backbones,
    load_backbone,
)

__all__ = [
    "DEFAULT_BACKBONE",
    "Backbone",
    "BackboneError",
    "BackboneInfo",
    "BackboneUnavailable",
    "Fingerprint",
    "list_backbones",
    "load_backbone",
]
