"""One registry of named backbones, in the manner of open_clip's factory.

Named entries are fixed configurations; `clip:` specs are resolved on demand,
because open_clip knows hundreds of (model, tag) pairs and we should not copy them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from simdetect.backbones.base import Backbone, BackboneError, BackboneUnavailable
from simdetect.backbones.clip import ClipBackbone, parse_clip_spec, resolve_pretrained_file
from simdetect.backbones.effnet import EffnetStyleBackbone, EffnetStyleConfig, lite0_weights_path

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


def _lite0_present() -> bool:
    try:
        return lite0_weights_path().is_file()
    except BackboneUnavailable:
        return False


_NAMED: dict[str, _Entry] = {
    "effnet-style": _Entry(
        description="EfficientNet-Lite0 (ImageNet) style statistics; the offline default",
        dim=EffnetStyleConfig().dim,
        factory=lambda device: EffnetStyleBackbone(EffnetStyleConfig(), "effnet-style", device),
        offline_check=_lite0_present,
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


def load_backbone(name: str = DEFAULT_BACKBONE, device: str = "cpu") -> Backbone:
    """Build a backbone by registry name or `clip:` spec."""
    if name in _NAMED:
        return _NAMED[name].factory(device)
    if name.startswith("clip:"):
        return ClipBackbone(name, device=device)
    known = ", ".join([*_NAMED, "clip:MODEL/TAG", "clip:MODEL@PATH"])
    raise BackboneError(f"unknown backbone {name!r}; known: {known}")
