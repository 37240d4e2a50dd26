"""Micro-batching: concurrent requests share one forward pass.

A CNN forward pass on a batch of 16 costs far less than 16 passes of one, so under
load the service gathers what is waiting (up to `max_batch` items, or whatever
arrives within `wait` of the first) and runs it as one batch on the single inference
thread, off the event loop. While a batch runs, new requests queue, so the next batch
forms by itself: a short `wait` is enough, and an idle server answers a lone request
after at most `wait`. The queue is bounded: when it is full the caller is told at once
(429) instead of being left to wait without limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from simdetect.errors import Overloaded, Unavailable

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

POLL_SECONDS = 0.0005


@dataclass
class BatchStats:
    """Batch sizes actually run; read by `/v1/stats` to show batching is happening."""

    batches: int = 0
    items: int = 0
    largest: int = 0
    busy_seconds: float = 0.0
    sizes: Counter[int] = field(default_factory=Counter)

    def add(self, size: int, seconds: float) -> None:
        self.batches += 1
        self.items += size
        self.largest = max(self.largest, size)
        self.busy_seconds += seconds
        self.sizes[size] += 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "batches": self.batches,
            "items": self.items,
            "mean_batch_size": round(self.items / self.batches, 3) if self.batches else None,
            "largest_batch": self.largest,
            "busy_seconds": round(self.busy_seconds, 3),
            "batch_sizes": {str(k): v for k, v in sorted(self.sizes.items())},
        }


@dataclass
class _Job(Generic[T, R]):
    item: T
    future: asyncio.Future[R]


class MicroBatcher(Generic[T, R]):
    """Collects submitted items into batches for `run_batch`, run on `executor`.

    `run_batch` gets a list of items and returns one result per item, in order. It must
    be safe to run on the executor's thread; with a one-thread executor (the service's
    inference thread) batches never overlap.
    """

    def __init__(
        self,
        run_batch: Callable[[Sequence[T]], Sequence[R]],
        executor: Executor,
        *,
        max_batch: int,
        wait_seconds: float,
        queue_size: int,
    ) -> None:
        if max_batch < 1 or queue_size < 1 or wait_seconds < 0:
            raise ValueError("max_batch and queue_size must be >= 1 and the wait >= 0")
        self.run_batch = run_batch
        self.executor = executor
        self.max_batch = max_batch
        self.wait_seconds = wait_seconds
        self.queue_size = queue_size
        self.stats = BatchStats()
        self._queue: asyncio.Queue[_Job[T, R]] | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    async def start(self) -> None:
        self._queue = asyncio.Queue(maxsize=self.queue_size)
        self._task = asyncio.create_task(self._collect(), name="micro-batcher")

    async def stop(self) -> None:
        """Refuse new work and fail whatever is still queued (503), then stop collecting."""
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        while self._queue is not None and not self._queue.empty():
            job = self._queue.get_nowait()
            if not job.future.done():
                job.future.set_exception(Unavailable("the server is shutting down"))

    @property
    def queued(self) -> int:
        return self._queue.qsize() if self._queue is not None else 0

    async def submit(self, item: T, timeout: float) -> R:
        if self._stopping or self._queue is None:
            raise Unavailable("the server is not accepting work (starting or shutting down)")
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        try:
            self._queue.put_nowait(_Job(item, future))
        except asyncio.QueueFull:
            raise Overloaded(
                f"inference queue full ({self.queue_size} waiting); retry shortly"
            ) from None
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout)
        except asyncio.TimeoutError:
            future.cancel()  # the collector skips it if it has not run yet
            raise Unavailable(f"no inference result within {timeout:g} s; retry later") from None

    async def _gather(self, first: _Job[T, R]) -> list[_Job[T, R]]:
        assert self._queue is not None
        batch = [first]
        deadline = time.monotonic() + self.wait_seconds
        while len(batch) < self.max_batch:
            try:
                batch.append(self._queue.get_nowait())
                continue
            except asyncio.QueueEmpty:
                pass
            if time.monotonic() >= deadline:
                break
            # Polling rather than wait_for(queue.get()): a get cancelled by its timeout
            # can lose the item it had just taken on some Python versions.
            await asyncio.sleep(POLL_SECONDS)
        return [job for job in batch if not job.future.done()]

    async def _collect(self) -> None:
        assert self._queue is not None
        loop = asyncio.get_running_loop()
        while True:
            first = await self._queue.get()
            batch = await self._gather(first)
            if not batch:
                continue
            started = time.perf_counter()
            try:
                results = await loop.run_in_executor(
                    self.executor, self.run_batch, [job.item for job in batch]
                )
            except asyncio.CancelledError:
                for job in batch:
                    if not job.future.done():
                        job.future.set_exception(Unavailable("the server is shutting down"))
                raise
            except Exception as exc:
                log.exception("inference batch of %d failed", len(batch))
                for job in batch:
                    if not job.future.done():
                        job.future.set_exception(exc)
                continue
            self.stats.add(len(batch), time.perf_counter() - started)
            for job, result in zip(batch, results, strict=True):
                if not job.future.done():
                    job.future.set_result(result)
