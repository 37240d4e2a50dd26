"""One registry of named backbones, in the manner of open_clip's factory.

Named entries are fixed configurations; `clip:` specs are resolved on demand,
because open_clip knows hundreds of (model, tag) pairs and we should not copy them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from simdetect.backbones.base import Backbone, BackboneError, BackboneUnavailable, Fingerprint
from simdetect.backbones.clip import ClipBackbone, parse_clip_spec, resolve_pretrained_file
from simdetect.backbones.effnet import (
    EFFNET_STYLE_V1,
    EffnetStyleBackbone,
    EffnetStyleConfig,
    lite0_weights_path,
)

log = logging.getLogger(__name__)

DEFAULT_BACKBONE = "effnet-style"


@dataclass(frozen=True)
class BackboneInfo:
    name: str
    dim: int | None
    offline: bool
    description: str


@dataclass(frozen=True)
class _Entry:
    description: str
    dim: int
    factory: Callable[[str], Backbone]
    offline_check: Callable[[], bool]
    # Every descriptor this name has stood for, by its fingerprint's descriptor string: an
    # index keeps being read with the descriptor it was built with, so its evidence still
    # verifies after the default moves on.
    descriptors: Mapping[str, Callable[[str], Backbone]] = field(default_factory=dict)
    # Per descriptor string, how many leading columns are the statistics block (a vector
    # of their own, up to scale) when more follow; see `statistics_columns`.
    statistics: Mapping[str, int] = field(default_factory=dict)


def _lite0_present() -> bool:
    try:
        return lite0_weights_path().is_file()
    except BackboneUnavailable:
        return False


def _effnet_style(config: EffnetStyleConfig) -> Callable[[str], Backbone]:
    return lambda device: EffnetStyleBackbone(config, "effnet-style", device)


_EFFNET_STYLE_DESCRIPTORS = (EffnetStyleConfig(), EFFNET_STYLE_V1)

_NAMED: dict[str, _Entry] = {
    "effnet-style": _Entry(
        description=(
            "EfficientNet-Lite0 (ImageNet) style statistics and channel correlations; "
            "the offline default"
        ),
        dim=EffnetStyleConfig().dim,
        factory=_effnet_style(EffnetStyleConfig()),
        offline_check=_lite0_present,
        descriptors={c.describe_descriptor(): _effnet_style(c) for c in _EFFNET_STYLE_DESCRIPTORS},
        statistics={
            c.describe_descriptor(): c.statistics_dim
            for c in _EFFNET_STYLE_DESCRIPTORS
            if c.dim > c.statistics_dim
        },
    ),
}


def _clip_cached(spec: str) -> bool:
    parsed = parse_clip_spec(spec)
    if parsed.checkpoint is not None:
        return parsed.checkpoint.is_file()
    if parsed.is_random:
        return True
    try:
        resolve_pretrained_file(parsed, allow_download=False)
        return True
    except (BackboneError, ImportError):
        return False


def list_backbones(clip_examples: tuple[str, ...] = ()) -> list[BackboneInfo]:
    """Named backbones plus any `clip:` specs the caller wants checked for offline use."""
    infos = [
        BackboneInfo(name, entry.dim, entry.offline_check(), entry.description)
        for name, entry in _NAMED.items()
    ]
    for spec in clip_examples:
        infos.append(
            BackboneInfo(
                spec, None, _clip_cached(spec), "open_clip image tower (dimension on load)"
            )
        )
    return infos


def backbone_for_fingerprint(spec: str, fingerprint: Fingerprint, device: str = "cpu") -> Backbone:
    """The backbone that makes `fingerprint`'s vectors: `spec`'s descriptor of the day, or
    the earlier one an index was built with. The caller still compares fingerprints (the
    weights or the preprocessing may differ too)."""
    entry = _NAMED.get(spec)
    if entry is not None and fingerprint.descriptor_version in entry.descriptors:
        return entry.descriptors[fingerprint.descriptor_version](device)
    return load_backbone(spec, device)


def statistics_columns(fingerprint: Fingerprint) -> int | None:
    """How many leading columns of this fingerprint's vectors are its statistics block, or
    None when the whole vector is one block.

    effnet-style v2 puts channel correlations after v1's per-channel statistics, which
    stay v1's vector up to one constant. What was measured to judge better on the
    statistics alone (a generator's outputs against a reference; the copy gate's cosine)
    reads them renormalised (`statistics_view`), and so reads exactly v1's numbers.
    """
    entry = _NAMED.get(fingerprint.name)
    return None if entry is None else entry.statistics.get(fingerprint.descriptor_version)


def load_backbone(name: str = DEFAULT_BACKBONE, device: str = "cpu") -> Backbone:
    """Build a backbone by registry name or `clip:` spec."""
    if name in _NAMED:
        return _NAMED[name].factory(device)
    if name.startswith("clip:"):
        return ClipBackbone(name, device=device)
    known = ", ".join([*_NAMED, "clip:MODEL/TAG", "clip:MODEL@PATH"])
    raise BackboneError(f"unknown backbone {name!r}; known: {known}")
