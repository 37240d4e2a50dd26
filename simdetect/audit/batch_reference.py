"""An audit's own batch as its generator reference (`reference="batch"`).

Why: a platform auditing its generator's output often has no curated reference set, but
it has the batch itself — thousands of outputs of that very generator, nearly all in
styles nobody indexed. Their mean is the generator's offset (`scoring.alignment`), and
their scores against each artist are a null of the right domain. The price is that
imitations inside the batch also enter the null, which can only raise thresholds: a
batch reference is conservative, and weakest when a large share of the batch imitates
one artist.

The sample is the first `size` readable inputs in source order, so it depends only on
the source and the settings. It is embedded once, stored in the audit's work folder
(`BATCH_REFERENCE_NAME`, written atomically) and its digest kept in the checkpoint, so a
resumed audit scores against exactly the same reference, or refuses.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from itertools import islice
from pathlib import Path

import numpy as np

from simdetect.audit.checkpoint import BATCH_REFERENCE_NAME
from simdetect.audit.sources import iter_source
from simdetect.backbones.base import Backbone
from simdetect.defaults import (
    BATCH_REFERENCE,
    BATCH_REFERENCE_MIN,
    DEFAULT_BATCH_REFERENCE_SIZE,
)
from simdetect.embed import EmbeddedBatch
from simdetect.errors import AuditStateError, ReferenceSetError, UserError
from simdetect.index.references import (
    ReferenceSet,
    read_reference_file,
    reference_to_bytes,
)
from simdetect.index.store import utc_now
from simdetect.io.atomic import atomic_write_bytes
from simdetect.io.images import LoadLimits
from simdetect.scoring.contrastive import min_null_size

__all__ = [
    "BATCH_REFERENCE",
    "BATCH_REFERENCE_MIN",
    "DEFAULT_BATCH_REFERENCE_SIZE",
    "batch_reference_for",
    "minimum_batch",
]

log = logging.getLogger(__name__)


EmbedFn = Callable[..., Iterator[EmbeddedBatch]]


def minimum_batch(target_fpr: float, family_fpr: float) -> int:
    """Readable images a batch must hold to serve as reference at these rates."""
    return max(BATCH_REFERENCE_MIN, min_null_size(target_fpr), min_null_size(family_fpr))


def _embed_sample(
    source: Path,
    backbone: Backbone,
    embed: EmbedFn,
    size: int,
    batch_size: int,
    workers: int,
    limits: LoadLimits,
) -> tuple[np.ndarray, list[str], list[str], int]:
    paths = [it.path for it in islice(iter_source(source), size) if it.error is None]
    vectors: list[np.ndarray] = []
    shas: list[str] = []
    names: list[str] = []
    if paths:
        for batch in embed(paths, backbone, batch_size=batch_size, workers=workers, limits=limits):
            if batch.records:
                vectors.append(np.asarray(batch.vectors, dtype=np.float32))
                shas.extend(r.sha256 for r in batch.records)
                names.extend(r.path for r in batch.records)
    dim = int(backbone.dim)
    stacked = np.concatenate(vectors) if vectors else np.zeros((0, dim), dtype=np.float32)
    return stacked, shas, names, len(paths)


def _stored(path: Path) -> ReferenceSet | None:
    try:
        return read_reference_file(path)
    except ReferenceSetError as exc:
        log.warning("unreadable batch reference, embedding it again (%s)", exc)
        return None


def batch_reference_for(
    source: Path,
    parts: Path,
    backbone: Backbone,
    embed: EmbedFn,
    *,
    size: int,
    minimum: int,
    expected_digest: str | None,
    batch_size: int = 32,
    workers: int = 2,
    limits: LoadLimits | None = None,
) -> ReferenceSet:
    """The batch reference of an audit working in `parts`: stored one, or embedded now.

    `expected_digest` is the checkpoint's record of the reference a resumed run used;
    a reference that differs from it (the source changed under the audit) is refused.
    """
    stored_path = parts / BATCH_REFERENCE_NAME
    ref = _stored(stored_path) if stored_path.is_file() else None
    if ref is not None and ref.fingerprint_digest != backbone.fingerprint.digest():
        ref = None
    if ref is None:
        vectors, shas, names, asked = _embed_sample(
            source, backbone, embed, size, batch_size, workers, limits or LoadLimits()
        )
        if len(vectors) < minimum:
            raise UserError(
                f"{source}: only {len(vectors)} of its first {asked} inputs could be read; "
                f"its own batch needs at least {minimum} readable images to serve as the "
                "generator reference (store a reference set with the index instead)"
            )
        ref = ReferenceSet(
            name=BATCH_REFERENCE,
            vectors=vectors,
            sha256=shas,
            paths=names,
            fingerprint_digest=backbone.fingerprint.digest(),
            backbone=backbone.fingerprint.name,
            created_at=utc_now(),
        )
        if expected_digest is None or ref.digest() == expected_digest:
            atomic_write_bytes(stored_path, reference_to_bytes(ref))
    if expected_digest is not None and ref.digest() != expected_digest:
        raise AuditStateError(
            f"cannot resume: the batch reference made from {source} is not the one the "
            "interrupted audit used (its first inputs changed); start again from scratch"
        )
    log.info("batch reference: %d images from %s", ref.count, source)
    return ref
