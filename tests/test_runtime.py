"""The allocator tuning the CLI applies: freed activation-sized buffers stay in the heap.

Runs in a subprocess because mallopt changes the whole process. The script mallocs
and touches 4 x 200 MiB (each below the raised mmap threshold, 800 MiB in all, more
than glibc's old 512 MiB trim threshold here), frees them and reports how much
resident memory went back to the kernel.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

SCRIPT = r"""
import ctypes, ctypes.util, json, os, sys
from simdetect.runtime import tune_allocator

applied = tune_allocator() if sys.argv[1] == "tuned" else False
libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
page = os.sysconf("SC_PAGE_SIZE")
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]

def rss_mb():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * page / 2**20

block = 200 * 2**20
ptrs = []
for _ in range(4):
    p = libc.malloc(block)
    ctypes.memset(p, 1, block)
    ptrs.append(p)
before = rss_mb()
for p in reversed(ptrs):
    libc.free(p)
print(json.dumps({"applied": applied, "released_mb": before - rss_mb()}))
"""


def _run(mode: str) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc mallopt is Linux-only")
def test_tuned_allocator_keeps_freed_buffers() -> None:
    tuned = _run("tuned")
    default = _run("default")
    assert tuned["applied"] is True
    # Untuned, glibc mmaps 200 MiB blocks and unmaps them on free: all of it goes back.
    assert float(default["released_mb"]) > 700  # type: ignore[arg-type]
    # Tuned, they come from the heap and stay there for the next batch to reuse.
    assert float(tuned["released_mb"]) < 50  # type: ignore[arg-type]
