"""Memory of `simdetect serve` under a burst of huge uploads, and after it.

The server runs as its own process, started as a user starts it. The benchmark reads
its resident memory (VmRSS from /proc) when idle after one warm-up scan, samples it
every few milliseconds while `uploads` clients each post one `megapixels`-megapixel
PNG at the same moment, then watches it settle once the burst is answered. A PNG of
smooth gradients is a few MB on the wire but decodes to 4 bytes per pixel in PIL, so
the burst exercises decoding memory, not the network. Linux only (/proc).
"""

from __future__ import annotations

import io
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from simdetect.serve.local import LocalServer

SAMPLE_SECONDS = 0.02
SETTLE_SECONDS = 30.0


@dataclass
class MemoryRun:
    uploads: int
    megapixels: float
    png_bytes: list[int]
    idle_mb: float
    peak_mb: float
    after_mb: float
    settled_after_s: float
    burst_seconds: float
    statuses: Counter[int] = field(default_factory=Counter)
    decode_budget_mb: float = 0.0
    decode_peak_mb: float = 0.0
    decode_waits: int = 0

    @property
    def after_vs_idle(self) -> float:
        return self.after_mb / self.idle_mb if self.idle_mb else float("nan")


def huge_png(megapixels: float, variant: int) -> bytes:
    """A smooth RGB gradient (`variant` changes it), PNG-encoded: small file, huge image."""
    side = round((megapixels * 1e6) ** 0.5)
    ramp = (np.arange(side, dtype=np.uint32) * 255 // max(1, side - 1)).astype(np.uint8)
    rows = np.broadcast_to(ramp[None, :], (side, side))
    cols = np.broadcast_to(ramp[:, None], (side, side))
    rgb = np.stack([rows, cols, np.full((side, side), (variant * 37) % 256, np.uint8)], axis=-1)
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb)).save(buf, "PNG", compress_level=1)
    return buf.getvalue()


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def run_serve_memory(
    index: Path,
    warmup_image: bytes,
    *,
    uploads: int = 32,
    megapixels: float = 100.0,
    variants: int = 2,
    decode_memory_mb: float | None = None,
    on_status: Callable[[str], None] | None = None,
) -> MemoryRun:
    say = on_status or (lambda _m: None)
    say(f"encoding {variants} PNGs of {megapixels:g} megapixels")
    pngs = [huge_png(megapixels, v) for v in range(variants)]
    request_mb = max(32, int(max(len(p) for p in pngs) / 2**20) + 8)
    args = ["--max-request-mb", str(request_mb), "--timeout", "900"]
    args += ["--queue-size", str(max(64, uploads * 2))]
    if decode_memory_mb is not None:
        args += ["--decode-memory-mb", str(decode_memory_mb)]
    with LocalServer(index, args) as server:
        assert server.process is not None
        pid = server.process.pid
        client = server.client(timeout=900)
        say("warm-up scan")
        warm = client.scan(warmup_image, "warmup.png")
        if warm.status != 200:
            raise RuntimeError(f"warm-up scan failed: {warm.status} {warm.body[:200]!r}")
        time.sleep(2.0)
        idle = rss_mb(pid)
        say(f"idle: {idle:.0f} MiB; posting {uploads} uploads at once")
        peak = idle
        stop = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not stop.is_set():
                peak = max(peak, rss_mb(pid))
                time.sleep(SAMPLE_SECONDS)

        statuses: Counter[int] = Counter()
        lock = threading.Lock()
        barrier = threading.Barrier(uploads)

        def post(i: int) -> None:
            c = server.client(timeout=900)
            barrier.wait()
            reply = c.scan(pngs[i % len(pngs)], f"huge-{i:02d}.png")
            with lock:
                statuses[reply.status] += 1

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        start = time.monotonic()
        threads = [threading.Thread(target=post, args=(i,)) for i in range(uploads)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        burst = time.monotonic() - start
        settle_start = time.monotonic()
        after = rss_mb(pid)
        while time.monotonic() - settle_start < SETTLE_SECONDS:
            after = rss_mb(pid)
            if after <= idle * 1.2:
                break
            time.sleep(0.5)
        settled = time.monotonic() - settle_start
        stop.set()
        sampler.join()
        stats = client.request("GET", "/v1/stats").json().get("decode_memory", {})
    return MemoryRun(
        uploads=uploads,
        megapixels=megapixels,
        png_bytes=[len(p) for p in pngs],
        idle_mb=idle,
        peak_mb=peak,
        after_mb=after,
        settled_after_s=settled,
        burst_seconds=burst,
        statuses=statuses,
        decode_budget_mb=stats.get("budget_bytes", 0) / 2**20,
        decode_peak_mb=stats.get("peak_bytes", 0) / 2**20,
        decode_waits=int(stats.get("waits", 0)),
    )
