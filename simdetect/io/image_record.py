"""Records that flow between stages; plain data so every stage can be tested alone."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class ImageRecord:
    """What we know about one decoded image file, independent of any backbone."""

    path: str
    sha256: str
    size_bytes: int
    format: str
    width: int
    height: int
    phash: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
