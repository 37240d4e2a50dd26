"""File → vectors, with decoding overlapped with inference.

Decoding, hashing and resizing run in a small thread pool (PIL and hashlib release
the GIL) while the main thread runs the model, so on a two-core machine the whole
path costs little more than the forward pass alone. Output order always follows
input order, which keeps indexes and audit outputs deterministic.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import torch

from simdetect.backbones.base import Backbone
from simdetect.io.hashing import phash, sha256_bytes
from simdetect.io.image_record import ImageRecord
from simdetect.io.images import ImageLoadError, LoadLimits, load_image_bytes
from simdetect.io.names import text_name
from simdetect.io.reader import read_input
from simdetect.io.walk import SkipRecord

log = logging.getLogger(__name__)


@dataclass
class EmbeddedBatch:
    """One batch of results: embedded records, plus files skipped or already known."""

    records: list[ImageRecord] = field(default_factory=list)
    vectors: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))
    skipped: list[SkipRecord] = field(default_factory=list)
    known: list[tuple[str, str]] = field(default_factory=list)  # (path, sha256)


@dataclass
class _Prepared:
    record: ImageRecord
    tensor: torch.Tensor


@dataclass
class _Known:
    path: str
    sha256: str


def prepare_file(
    path: str,
    backbone: Backbone,
    limits: LoadLimits,
    is_known: Callable[[str], bool] | None = None,
) -> _Prepared | _Known | SkipRecord:
    """Everything per file that does not need the model; safe to run in a worker thread.

    Records and skips name the file as text (:func:`simdetect.io.names.text_name`), so a
    name that is not UTF-8 is written to every output instead of aborting the run.
    """
    name = text_name(path)
    try:
        data = read_input(path, limits.max_file_bytes)
        if not data:
            raise ImageLoadError(name, "zero-byte file")
        digest = sha256_bytes(data)
        if is_known is not None and is_known(digest):
            return _Known(name, digest)
        loaded = load_image_bytes(data, name, limits, backbone.decode_min_side, digest)
        record = ImageRecord(
            path=name,
            sha256=digest,
            size_bytes=len(data),
            format=loaded.format,
            width=loaded.width,
            height=loaded.height,
            phash=phash(loaded.image),
        )
        return _Prepared(record, backbone.preprocess(loaded.image))
    except ImageLoadError as exc:
        return SkipRecord(path=exc.path, reason=exc.reason)
    except Exception as exc:
        log.exception("unexpected failure preparing %s", name)
        return SkipRecord(path=name, reason=f"unexpected error: {type(exc).__name__}: {exc}")


def embed_files(
    paths: Iterable[str | os.PathLike[str]],
    backbone: Backbone,
    *,
    batch_size: int = 32,
    workers: int = 2,
    limits: LoadLimits | None = None,
    is_known: Callable[[str], bool] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> Iterator[EmbeddedBatch]:
    """Yield batches of embedded images in input order.

    `is_known` lets an index skip files whose bytes it already holds before they are
    decoded, so re-adding a folder costs one read and hash per file.
    `on_progress(n)` is called with the number of files finished.
    """
    limits = limits or LoadLimits()
    window = max(batch_size * 2, workers * 4)
    batch = EmbeddedBatch()
    tensors: list[torch.Tensor] = []

    def flush() -> EmbeddedBatch:
        nonlocal batch, tensors
        out = batch
        if tensors:
            out.vectors = backbone.embed(torch.stack(tensors))
        else:
            out.vectors = np.zeros((0, backbone.dim), dtype=np.float32)
        batch, tensors = EmbeddedBatch(), []
        return out

    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="decode") as pool:
        pending: deque[Future[_Prepared | _Known | SkipRecord]] = deque()
        source = iter(paths)
        exhausted = False
        while True:
            while not exhausted and len(pending) < window:
                try:
                    path = os.fspath(next(source))
                except StopIteration:
                    exhausted = True
                    break
                pending.append(pool.submit(prepare_file, path, backbone, limits, is_known))
            if not pending:
                break
            result = pending.popleft().result()
            if isinstance(result, _Prepared):
                batch.records.append(result.record)
                tensors.append(result.tensor)
            elif isinstance(result, _Known):
                batch.known.append((result.path, result.sha256))
            else:
                batch.skipped.append(result)
            if on_progress is not None:
                on_progress(1)
            if len(tensors) >= batch_size:
                yield flush()
        if tensors or batch.skipped or batch.known:
            yield flush()
