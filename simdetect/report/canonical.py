"""Canonical JSON and the record digest.

A digest is only useful if anyone can recompute it from the record alone, with any
JSON library, years later. So the bytes hashed are defined here once (and in
SCHEMA.md): the record without its ``digest`` member, serialised as Python's
``json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"),
allow_nan=False)`` and encoded as UTF-8. Keys are sorted by Unicode code point; floats
are written as Python's shortest round-trip repr (``0.1`` → ``0.1``, ``1.0`` → ``1.0``,
``1e-05`` → ``1e-05``); NaN and infinities are not allowed (the record uses ``null``).

Besides the whole-record digest, every *section* of the record gets its own digest
(each member of a top-level object, each element of a top-level array, each top-level
scalar), so that when a record was altered `simdetect verify` can say *where*.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

DIGEST_KEY = "digest"
SECTIONS_KEY = "section_digests"
ALGORITHM = "sha256 over canonical JSON (sorted keys, UTF-8, no whitespace), v1"


def canonical_json(value: Any) -> bytes:
    """The exact bytes that are hashed; see the module docstring."""
    return json.dumps(
        value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False
    ).encode("utf-8")


def sha256_canonical(value: Any) -> str:
    return hashlib.sha256(canonical_json(value)).hexdigest()


def record_digest(record: dict[str, Any]) -> str:
    """Digest of everything in the record except the ``digest`` member itself."""
    return sha256_canonical({k: v for k, v in record.items() if k != DIGEST_KEY})


def sections(record: dict[str, Any]) -> dict[str, Any]:
    """Named parts of a record: ``case.claimant``, ``suspects[0]``, ``created_at``, …"""
    out: dict[str, Any] = {}
    for key, value in record.items():
        if key in (DIGEST_KEY, SECTIONS_KEY):
            continue
        if isinstance(value, dict) and value:
            for sub, item in value.items():
                out[f"{key}.{sub}"] = item
        elif isinstance(value, list) and value:
            for i, item in enumerate(value):
                out[f"{key}[{i}]"] = item
        else:
            out[key] = value
    return out


def section_digests(record: dict[str, Any]) -> dict[str, str]:
    return {name: sha256_canonical(value) for name, value in sections(record).items()}


def seal(record: dict[str, Any]) -> dict[str, Any]:
    """The record with its section digests and, last, its digest."""
    body = {k: v for k, v in record.items() if k not in (DIGEST_KEY, SECTIONS_KEY)}
    body[SECTIONS_KEY] = section_digests(body)
    body[DIGEST_KEY] = record_digest(body)
    return body
