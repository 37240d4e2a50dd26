"""The manifest: what an index generation contains and how to check it is intact."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from simdetect.backbones.base import Fingerprint
from simdetect.errors import IndexCorrupt

MANIFEST_NAME = "manifest.json"
FORMAT_VERSION = 1


@dataclass
class AnnInfo:
    """How an approximate index serves this generation, and how good it was measured to be.

    Recall is measured when the index is built or re-tuned; vectors added later go in
    without retraining, so `measured_at_count` says how many vectors the number was
    measured at (`simdetect index optimize` measures again).
    """

    type: str
    factory: str
    params: dict[str, int]
    recall_at_k: float
    recall_k: int
    min_recall: float
    n_train: int
    n_queries: int
    measured_at_count: int
    memory_bytes: int
    build_seconds: float
    built_at: str
    seed: int = 0
    file: str = "ann.faiss"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AnnInfo:
        return cls(
            type=str(data["type"]),
            factory=str(data["factory"]),
            params={str(k): int(v) for k, v in data.get("params", {}).items()},
            recall_at_k=float(data["recall_at_k"]),
            recall_k=int(data["recall_k"]),
            min_recall=float(data["min_recall"]),
            n_train=int(data["n_train"]),
            n_queries=int(data["n_queries"]),
            measured_at_count=int(data["measured_at_count"]),
            memory_bytes=int(data["memory_bytes"]),
            build_seconds=float(data["build_seconds"]),
            built_at=str(data["built_at"]),
            seed=int(data.get("seed", 0)),
            file=str(data.get("file", "ann.faiss")),
        )


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
    ann: AnnInfo | None = None  # None: served exactly by the flat vectors.faiss
    simdetect_version: str = ""
    format_version: int = FORMAT_VERSION

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["fingerprint"] = self.fingerprint.to_dict()
        data["fingerprint_digest"] = self.fingerprint.digest()
        if self.ann is None:  # flat indexes keep exactly the manifest they always had
            del data["ann"]
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
            ann=AnnInfo.from_dict(data["ann"]) if data.get("ann") else None,
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
