"""The Ray engine: embed files on a Ray cluster, yielding exactly what `embed_files` yields.

Paths go into a Ray Data dataset (the files themselves are read where the work runs,
so a cluster reads from shared storage in parallel, and bytes never travel through the
driver). A pool of actors, each holding one backbone loaded by its spec, decodes its
batch with the same `prepare_file` as the local engine (so bad files are skipped with
the same reasons) and runs the forward pass. Ray Data may hand results back in any
order; every row carries its input position and the driver restores input order and
the local engine's batch boundaries, so an index or an audit built this way is the same
as one built locally.

A backbone is never pickled: only its spec travels, and each actor checks that the
backbone it loaded has the driver's fingerprint, because vectors from a worker with
other weights would silently corrupt an index.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from simdetect.backbones.base import Backbone, BackboneError
from simdetect.embed import EmbeddedBatch, _Known, _Prepared, prepare_file
from simdetect.errors import RayEngineError
from simdetect.io.image_record import ImageRecord
from simdetect.io.images import LoadLimits
from simdetect.io.walk import SkipRecord

log = logging.getLogger(__name__)

KIND_OK = "ok"
KIND_SKIP = "skip"
KIND_KNOWN = "known"


def _import_ray() -> Any:
    try:
        import ray
        import ray.data  # Ray Data comes with the `ray[data]` extra, not plain `ray`
    except ImportError as exc:
        raise RayEngineError(
            f"--engine ray needs Ray Data ({exc}); install it with: "
            'pip install "simdetect[distributed]"'
        ) from None
    return ray


def connect(address: str | None) -> None:
    """Join the Ray cluster at `address` unless this process is already connected.

    `address` None joins the cluster named by RAY_ADDRESS, or else starts a local
    instance; "auto" joins the cluster this machine is a node of.
    """
    ray = _import_ray()
    if ray.is_initialized():
        return
    try:
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
    except Exception as exc:  # ConnectionError, RuntimeError, ValueError: Ray varies
        where = address or os.environ.get("RAY_ADDRESS") or "a new local instance"
        raise RayEngineError(f"cannot start or join the Ray cluster at {where}: {exc}") from None


class EmbedActor:
    """One Ray Data actor: a backbone loaded by spec, and a decode thread pool.

    Called with a batch of `{pos, path}` rows; returns one row per input with the
    record fields, the skip reason or the vector.
    """

    def __init__(
        self,
        spec: str,
        fingerprint: dict[str, Any],
        device: str,
        limits: LoadLimits,
        workers: int,
        threads: int,
        known: Any = None,
    ) -> None:
        import torch

        from simdetect.backbones import Fingerprint, backbone_for_fingerprint
        from simdetect.runtime import tune_allocator

        tune_allocator()
        if threads > 0:
            torch.set_num_threads(threads)
        # The driver's descriptor, not the name's newest: an index built before a new
        # default keeps getting the vectors it holds.
        wanted = Fingerprint.from_dict(fingerprint)
        self.backbone = backbone_for_fingerprint(spec, wanted, device)
        actual, expected = self.backbone.fingerprint.digest(), wanted.digest()
        if actual != expected:
            raise BackboneError(
                f"backbone {spec!r} on Ray worker {os.uname().nodename} has fingerprint "
                f"{actual[:12]}…, the driver's has {expected[:12]}…: install the same "
                "weights and simdetect version on every node"
            )
        if known is not None and not isinstance(known, frozenset):
            import ray

            known = ray.get(known)
        self.known: frozenset[str] = known or frozenset()
        self.limits = limits
        self.pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="decode")

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        import torch

        paths = [str(p) for p in batch["path"]]
        is_known = self.known.__contains__ if self.known else None
        results = list(
            self.pool.map(lambda p: prepare_file(p, self.backbone, self.limits, is_known), paths)
        )
        n = len(paths)
        kind = np.empty(n, dtype=object)
        text: dict[str, np.ndarray] = {
            c: np.full(n, "", dtype=object) for c in ("reason", "sha256", "format", "phash")
        }
        ints = {c: np.zeros(n, dtype=np.int64) for c in ("size_bytes", "width", "height")}
        tensors, rows = [], []
        for i, res in enumerate(results):
            if isinstance(res, _Prepared):
                kind[i] = KIND_OK
                rec = res.record
                text["sha256"][i], text["format"][i], text["phash"][i] = (
                    rec.sha256,
                    rec.format,
                    rec.phash,
                )
                ints["size_bytes"][i], ints["width"][i], ints["height"][i] = (
                    rec.size_bytes,
                    rec.width,
                    rec.height,
                )
                tensors.append(res.tensor)
                rows.append(i)
            elif isinstance(res, _Known):
                kind[i], text["sha256"][i] = KIND_KNOWN, res.sha256
            else:
                kind[i], text["reason"][i] = KIND_SKIP, res.reason
                paths[i] = res.path  # the local engine reports the path the loader named
        vectors = np.zeros((n, self.backbone.dim), dtype=np.float32)
        if tensors:
            vectors[rows] = self.backbone.embed(torch.stack(tensors))
        return {
            "pos": np.asarray(batch["pos"], dtype=np.int64),
            "path": np.asarray(paths, dtype=object),
            "kind": kind,
            **text,
            **ints,
            "vector": vectors,
        }


@dataclass(frozen=True)
class RayEngine:
    """Embeds files on a Ray cluster; called exactly like `simdetect.embed.embed_files`.

    `actors` None starts one actor per CPU of the cluster (per `gpus_per_actor` GPUs
    when actors use GPUs), never more than there are batches.
    """

    address: str | None = None
    actors: int | None = None
    cpus_per_actor: float = 1.0
    gpus_per_actor: float = 0.0

    def __post_init__(self) -> None:
        if self.actors is not None and self.actors < 1:
            raise RayEngineError("{} must be at least 1", "actors")
        if self.cpus_per_actor <= 0 or self.gpus_per_actor < 0:
            raise RayEngineError("CPUs per actor must be positive and GPUs not negative")

    def _pool_size(self, ray: Any, batches: int) -> int:
        if self.actors is not None:
            return max(1, min(self.actors, batches))
        res = ray.cluster_resources()
        if self.gpus_per_actor > 0:
            fit = int(res.get("GPU", 0) // self.gpus_per_actor)
        else:
            fit = int(res.get("CPU", 1) // self.cpus_per_actor)
        return max(1, min(fit, batches))

    def __call__(
        self,
        paths: Iterable[str | os.PathLike[str]],
        backbone: Backbone,
        *,
        batch_size: int = 32,
        workers: int = 2,
        limits: LoadLimits | None = None,
        is_known: Callable[[str], bool] | None = None,
        on_progress: Callable[[int], None] | None = None,
    ) -> Iterator[EmbeddedBatch]:
        """Yield batches in input order, with `embed_files`' batch boundaries.

        `is_known` is asked on the driver for every embedded file. When it also has a
        `snapshot()` of the hashes known now (the index writer's does), that set is
        shipped to the actors once, so files already indexed are not decoded again.
        """
        items = [os.fspath(p) for p in paths]
        if not items:
            return
        ray = _import_ray()
        connect(self.address)
        limits = limits or LoadLimits()
        snapshot = getattr(is_known, "snapshot", None)
        known = ray.put(frozenset(snapshot())) if callable(snapshot) else None
        batches = math.ceil(len(items) / batch_size)
        ds = ray.data.from_items(
            [{"pos": i, "path": p} for i, p in enumerate(items)],
            override_num_blocks=batches,
        )
        ds = ds.map_batches(
            EmbedActor,
            fn_constructor_kwargs={
                "spec": backbone.name,
                "fingerprint": backbone.fingerprint.to_dict(),
                "device": "cuda" if self.gpus_per_actor > 0 else "cpu",
                "limits": limits,
                "workers": workers,
                "threads": max(1, int(self.cpus_per_actor)),
                "known": known,
            },
            batch_size=batch_size,
            batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=self._pool_size(ray, batches)),
            num_cpus=self.cpus_per_actor,
            num_gpus=self.gpus_per_actor,
        )
        yield from _in_order(
            _rows(ray, ds, items), len(items), backbone.dim, batch_size, is_known, on_progress
        )


def _rows(ray: Any, ds: Any, items: list[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    """(position, row) pairs as the cluster finishes them; Ray failures become one line."""
    try:
        for block in ds.iter_batches(batch_size=None, batch_format="numpy"):
            for j, pos in enumerate(block["pos"]):
                yield int(pos), {k: v[j] for k, v in block.items()}
    except ray.exceptions.RayError as exc:
        cause = exc.cause if isinstance(exc, ray.exceptions.RayTaskError) else exc
        first = str(cause).strip().splitlines()
        raise RayEngineError(
            f"Ray engine failed while embedding {len(items)} files: "
            f"{type(cause).__name__}: {first[-1] if first else ''}"
        ) from None


def _in_order(
    rows: Iterator[tuple[int, dict[str, Any]]],
    total: int,
    dim: int,
    batch_size: int,
    is_known: Callable[[str], bool] | None,
    on_progress: Callable[[int], None] | None,
) -> Iterator[EmbeddedBatch]:
    """Restore input order and cut batches where `embed_files` cuts them."""
    waiting: dict[int, dict[str, Any]] = {}
    next_pos = 0
    batch = EmbeddedBatch()
    vectors: list[np.ndarray] = []

    def flush() -> EmbeddedBatch:
        nonlocal batch, vectors
        out = batch
        out.vectors = (
            np.ascontiguousarray(np.stack(vectors), dtype=np.float32)
            if vectors
            else np.zeros((0, dim), dtype=np.float32)
        )
        batch, vectors = EmbeddedBatch(), []
        return out

    for pos, row in rows:
        if pos in waiting or pos < next_pos or not 0 <= pos < total:
            raise RayEngineError(f"Ray engine returned input position {pos} twice or out of range")
        waiting[pos] = row
        while next_pos in waiting:
            row = waiting.pop(next_pos)
            next_pos += 1
            path, kind, sha = str(row["path"]), row["kind"], str(row["sha256"])
            if kind == KIND_SKIP:
                batch.skipped.append(SkipRecord(path=path, reason=str(row["reason"])))
            elif kind == KIND_KNOWN or (is_known is not None and is_known(sha)):
                batch.known.append((path, sha))
            else:
                batch.records.append(
                    ImageRecord(
                        path=path,
                        sha256=sha,
                        size_bytes=int(row["size_bytes"]),
                        format=str(row["format"]),
                        width=int(row["width"]),
                        height=int(row["height"]),
                        phash=str(row["phash"]),
                    )
                )
                vectors.append(row["vector"])
            if on_progress is not None:
                on_progress(1)
            if len(batch.records) >= batch_size:
                yield flush()
    if next_pos != total:
        raise RayEngineError(f"Ray engine returned {next_pos} of {total} inputs")
    if batch.records or batch.skipped or batch.known:
        yield flush()
