"""The manifest: what an index generation contains and how to check it is intact."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from simdetect.backbones.base import Fingerprint

MANIFEST_NAME = "manifest.json"
FORMAT_VERSION = 1


class IndexCorrupt(Exception):
    """An index generation on disk does not match its manifest."""


@dataclass
class Manifest:
    fingerprint: Fingerprint
    backbone_spec: str
    dim: int
    count: int
    generation: int
    next_id: int
    created_at: str
    updated_at: str
    files: dict[str, str] = field(default_factory=dict)
    artists: dict[str, int] = field(default_factory=dict)
    background: dict[str, int] = field(default_factory=dict)
    index_type: str = "flat-ip"
    simdetect_version: str = ""
    format_version: int = FORMAT_VERSION

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["fingerprint"] = self.fingerprint.to_dict()
        data["fingerprint_digest"] = self.fingerprint.digest()
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False, sort_keys=True) + "\n"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Manifest:
        version = int(data.get("format_version", 0))
        if version > FORMAT_VERSION:
            raise IndexCorrupt(
                f"index format {version} is newer than this simdetect understands "
                f"({FORMAT_VERSION})"
            )
        return cls(
            fingerprint=Fingerprint.from_dict(data["fingerprint"]),
            backbone_spec=str(data["backbone_spec"]),
            dim=int(data["dim"]),
            count=int(data["count"]),
            generation=int(data["generation"]),
            next_id=int(data["next_id"]),
            created_at=str(data["created_at"]),
            updated_at=str(data["updated_at"]),
            files={str(k): str(v) for k, v in data.get("files", {}).items()},
            artists={str(k): int(v) for k, v in data.get("artists", {}).items()},
            background={str(k): int(v) for k, v in data.get("background", {}).items()},
            index_type=str(data.get("index_type", "flat-ip")),
            simdetect_version=str(data.get("simdetect_version", "")),
            format_version=version,
        )

    @classmethod
    def read(cls, path: Path) -> Manifest:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls.from_dict(data)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise IndexCorrupt(f"{path}: unreadable manifest ({exc})") from exc
