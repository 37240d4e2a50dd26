"""Process-level tuning that the command line applies once, before any model runs.

glibc serves allocations above its mmap threshold (128 KiB at start) with fresh mmap
calls and returns them to the kernel on free. A CNN forward pass allocates and frees
tens of megabytes of activations per layer, so every batch page-faults its buffers in
again: on the development machine two thirds of the CPU time of an EfficientNet
forward pass went to the kernel, and the model ran at 27 images/s instead of 72.
Raising the threshold keeps those buffers in the heap between batches.

The trim threshold matters as much: when the freed top of the heap grows past it, glibc
hands it back with brk and the next batch faults it in again. A batch of 32 at 224 px
frees more than 512 MiB at once; with the trim threshold at 512 MiB the forward pass
still spent a third of its time in the kernel (17 s of system time in 46 s, 31-47
images/s), with it at 2 GiB the same run took 1.1 s of system time and ran at 41-53
images/s on the same machine (BENCHMARKS.md, throughput). 2 GiB - 1 is the most
mallopt's int argument can say.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys

log = logging.getLogger(__name__)

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 256 * 1024 * 1024
TRIM_THRESHOLD_BYTES = 2**31 - 1


def tune_allocator() -> bool:
    """Raise glibc's mmap and trim thresholds; True when applied.

    Safe to call more than once, and a no-op (False) off Linux or on another C library
    (musl has no mallopt). The cost is memory: up to TRIM_THRESHOLD_BYTES of freed
    heap may stay mapped to the process instead of going back to the kernel.
    """
    if not sys.platform.startswith("linux"):
        return False
    name = ctypes.util.find_library("c") or "libc.so.6"
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        log.debug("no mallopt in %s; allocator left as it is", name)
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    mmap_ok = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))
    trim_ok = bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES))
    ok = mmap_ok and trim_ok
    log.debug("glibc mmap/trim thresholds raised: %s", ok)
    return ok
