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


def statistics_view(vectors: np.ndarray, columns: int | None) -> np.ndarray:
    """The leading `columns` of each row, L2-normalised again (None: the rows as they are).

    With `registry.statistics_columns` this reads a descriptor's statistics block as the
    vector it is on its own (effnet-style v2's first 1536 columns are v1's vector).
    """
    if columns is None:
        return vectors
    block = np.asarray(vectors)[:, :columns]
    norms = np.linalg.norm(block, axis=1, keepdims=True)
    return block / np.maximum(norms, np.asarray(1e-12, dtype=block.dtype))
