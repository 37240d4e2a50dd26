"""A semaphore of bytes: decoding shares one memory budget across concurrent requests.

Each decode first estimates what it will allocate (see :func:`simdetect.io.images.
decode_plan`) and holds that many bytes of the budget while it runs, so however many
uploads arrive at once, the decoded pixels in memory never exceed the budget. A job
larger than the whole budget waits until nothing else is decoding and then runs alone.

glibc keeps freed heap pages mapped (all the more with the raised trim threshold of
:mod:`simdetect.runtime`), so a burst of big decodes would leave the process at its
peak size for good. When the budget becomes idle after large jobs, the free pages are
handed back to the kernel with ``malloc_trim(0)``.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import logging
import sys
import threading
from collections.abc import Iterator
from typing import Any

from simdetect.defaults import DEFAULT_DECODE_MEMORY_MB

__all__ = ["DEFAULT_DECODE_MEMORY_MB", "BudgetTimeout", "MemoryBudget", "release_free_memory"]

log = logging.getLogger(__name__)

# DEFAULT_DECODE_MEMORY_MB: what all of a service's concurrent decodes may hold together.
# A 100-megapixel RGB PNG is planned at about 390 MiB once reduced for the model, so the
# default lets two such images, or many ordinary ones, decode at once (BENCHMARKS.md).

# Below this many bytes released since the last trim, trimming is not worth its cost.
TRIM_AFTER_BYTES = 64 * 1024 * 1024


class BudgetTimeout(Exception):
    """The budget stayed full for longer than the caller was willing to wait."""


_libc: Any = None


def release_free_memory() -> bool:
    """Return free heap pages to the kernel (glibc ``malloc_trim``); False where unavailable."""
    global _libc
    if not sys.platform.startswith("linux"):
        return False
    if _libc is None:
        try:
            _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            _libc.malloc_trim.argtypes = [ctypes.c_size_t]
            _libc.malloc_trim.restype = ctypes.c_int
        except (OSError, AttributeError):
            _libc = False
    if not _libc:
        return False
    return bool(_libc.malloc_trim(0))


class MemoryBudget:
    """At most ``capacity`` bytes held at once; thread-safe."""

    def __init__(self, capacity: int, *, trim: bool = True) -> None:
        if capacity <= 0:
            raise ValueError(f"memory budget must be positive, got {capacity}")
        self.capacity = capacity
        self.trim = trim
        self.in_use = 0
        self.peak = 0
        self.waits = 0
        self._released = 0
        self._cond = threading.Condition()

    @contextlib.contextmanager
    def hold(self, nbytes: int, timeout: float | None = None) -> Iterator[int]:
        """Hold ``nbytes`` (capped at the capacity) for the block; BudgetTimeout if never."""
        amount = max(0, min(int(nbytes), self.capacity))
        with self._cond:
            if self.in_use + amount > self.capacity:
                self.waits += 1
                ok = self._cond.wait_for(
                    lambda: self.in_use + amount <= self.capacity, timeout=timeout
                )
                if not ok:
                    raise BudgetTimeout(
                        f"decoding memory budget ({self.capacity / 2**20:.0f} MiB) stayed full "
                        f"for {timeout:g} s"
                    )
            self.in_use += amount
            self.peak = max(self.peak, self.in_use)
        try:
            yield amount
        finally:
            with self._cond:
                self.in_use -= amount
                self._released += amount
                idle = self.in_use == 0
                trim_now = self.trim and idle and self._released >= TRIM_AFTER_BYTES
                if trim_now:
                    self._released = 0
                self._cond.notify_all()
            if trim_now:
                release_free_memory()
