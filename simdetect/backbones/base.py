"""The contract every backbone honours, so the index and scanner never care which one runs."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch
from PIL import Image

from simdetect.errors import BackboneError, BackboneUnavailable  # noqa: F401 (re-exported)


@dataclass(frozen=True)
class Fingerprint:
    """Everything that changes the vectors a backbone produces.

    Two indexes are comparable only if their fingerprints are equal: a different
    checkpoint, resize rule or descriptor layout silently changes every similarity.
    """

    name: str
    weights_sha256: str
    preprocessing: str
    descriptor_version: str
    dim: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Fingerprint:
        return cls(
            name=str(data["name"]),
            weights_sha256=str(data["weights_sha256"]),
            preprocessing=str(data["preprocessing"]),
            descriptor_version=str(data["descriptor_version"]),
            dim=int(data["dim"]),
        )

    def digest(self) -> str:
        import hashlib

        blob = json.dumps(self.to_dict(), sort_keys=True, ensure_ascii=False).encode("utf-8")
        return hashlib.sha256(blob).hexdigest()

    def differences(self, other: Fingerprint) -> list[str]:
        """Human-readable list of the fields that differ, for refusal messages."""
        mine, theirs = self.to_dict(), other.to_dict()
        return [
            f"{key}: {mine[key]!r} != {theirs[key]!r}" for key in mine if mine[key] != theirs[key]
        ]


@runtime_checkable
class Backbone(Protocol):
    """Turns RGB images into L2-normalised float32 vectors.

    `preprocess` is split from `embed` so decoding and resizing can run in worker
    threads while the model runs on the main thread.
    """

    name: str
    dim: int
    fingerprint: Fingerprint
    # JPEGs may be decoded at a reduced DCT scale as long as both sides stay this long.
    decode_min_side: int | None

    def preprocess(self, image: Image.Image) -> torch.Tensor: ...

    def embed(self, batch: torch.Tensor) -> np.ndarray: ...


def l2_normalise(x: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    return x / x.norm(dim=-1, keepdim=True).clamp_min(eps)
