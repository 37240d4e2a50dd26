"""Load test of `simdetect serve`: concurrent clients posting real images over loopback.

The server runs as its own process, started exactly as a user starts it, once with
micro-batching off and once with it on. Clients are threads in this process, each
with one keep-alive connection, posting the next image as soon as the previous answer
arrived (a closed loop, so the offered load adapts to the server and nothing queues
without bound). Only requests that finished inside the measured window, after the
warm-up, count (throughput = answers completed per second). On a small machine the
clients share the CPU with the server; their cost (multipart encoding, one socket
each) measured at under 2% of one core, small next to the forward passes.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from simdetect.errors import UserError
from simdetect.io.images import ImageLoadError, load_image_bytes
from simdetect.io.walk import iter_image_files
from simdetect.serve.local import LocalServer

MAX_IMAGES = 256
OK_STATUSES = frozenset({200, 429})


def default_images() -> Path:
    """The bundled demo corpus (seeds/ beside the package in a source checkout)."""
    return Path(__file__).resolve().parents[2] / "seeds"


def load_images(folder: Path, limit: int = MAX_IMAGES) -> list[tuple[str, bytes]]:
    """Up to `limit` images from `folder`, keeping only files that decode: the benchmark
    measures serving, and a file the server must refuse would count as an error."""
    if not folder.is_dir():
        raise NotADirectoryError(f"{folder}: not a folder of images")
    images = []
    for path in sorted(iter_image_files(folder), key=str):
        data = Path(path).read_bytes()
        try:
            load_image_bytes(data, str(path))
        except ImageLoadError:
            continue
        images.append((Path(path).name, data))
        if len(images) >= limit:
            break
    if not images:
        raise FileNotFoundError(f"{folder}: no usable images found")
    return images


@dataclass(frozen=True)
class BenchSettings:
    index: Path
    images: Path
    clients: int = 32
    seconds: float = 60.0
    warmup: float = 3.0
    max_batch: int = 8
    batch_wait_ms: float = 5.0
    queue_size: int = 64
    startup_timeout: float = 180.0

    def __post_init__(self) -> None:
        if self.clients < 1 or self.seconds <= 0 or self.warmup < 0:
            raise UserError("{} must be >= 1, {} > 0 and {} >= 0", "clients", "seconds", "warmup")


@dataclass
class ModeRun:
    """One server configuration under load."""

    mode: str
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    statuses: dict[int, int]
    client_errors: dict[str, int]
    mean_batch: float | None
    largest_batch: int

    @property
    def unexpected(self) -> int:
        bad = sum(n for status, n in self.statuses.items() if status not in OK_STATUSES)
        return bad + sum(self.client_errors.values())


@dataclass
class ServeBenchResult:
    runs: list[ModeRun] = field(default_factory=list)
    n_images: int = 0
    seconds: float = 0.0

    @property
    def unexpected_errors(self) -> int:
        return sum(r.unexpected for r in self.runs)


@dataclass
class _Sample:
    start: float
    end: float
    status: int | None
    error: str | None = None


def _client_loop(
    server: LocalServer,
    images: list[tuple[str, bytes]],
    offset: int,
    stop_at: float,
    out: list[_Sample],
) -> None:
    client = server.client(timeout=120.0)
    i = offset
    while time.perf_counter() < stop_at:
        name, data = images[i % len(images)]
        i += 1
        start = time.perf_counter()
        try:
            status: int | None = client.scan(data, name).status
            error = None
        except OSError as exc:
            status, error = None, type(exc).__name__
        out.append(_Sample(start, time.perf_counter(), status, error))
    client.close()


def _batch_delta(before: dict[str, Any], after: dict[str, Any]) -> tuple[float | None, int]:
    b, a = before["batching"], after["batching"]
    batches = a["batches"] - b["batches"]
    items = a["items"] - b["items"]
    grown = [int(size) for size, n in a["batch_sizes"].items() if n > b["batch_sizes"].get(size, 0)]
    return (items / batches if batches else None), max(grown, default=0)


def measure_mode(
    server: LocalServer,
    mode: str,
    images: list[tuple[str, bytes]],
    settings: BenchSettings,
) -> ModeRun:
    """Run the clients against a started server and summarise the measured window."""
    probe = server.client()
    begin = time.perf_counter()
    measure_from = begin + settings.warmup
    stop_at = measure_from + settings.seconds
    samples: list[list[_Sample]] = [[] for _ in range(settings.clients)]
    threads = [
        threading.Thread(
            target=_client_loop,
            args=(server, images, c * 7, stop_at, samples[c]),
            name=f"bench-client-{c}",
            daemon=True,
        )
        for c in range(settings.clients)
    ]
    for t in threads:
        t.start()
    time.sleep(max(0.0, measure_from - time.perf_counter()))
    before = probe.request("GET", "/v1/stats").json()
    time.sleep(max(0.0, stop_at - time.perf_counter()))
    after = probe.request("GET", "/v1/stats").json()
    for t in threads:
        t.join()
    probe.close()
    window = [s for per in samples for s in per if measure_from <= s.end <= stop_at]
    latencies = np.array([s.end - s.start for s in window if s.status == 200]) * 1000.0
    statuses = Counter(s.status for s in window if s.status is not None)
    errors = Counter(s.error for s in window if s.error is not None)
    mean_batch, largest = _batch_delta(before, after)
    return ModeRun(
        mode=mode,
        requests=len(window),
        seconds=settings.seconds,
        rps=statuses.get(200, 0) / settings.seconds,
        p50_ms=float(np.percentile(latencies, 50)) if len(latencies) else float("nan"),
        p99_ms=float(np.percentile(latencies, 99)) if len(latencies) else float("nan"),
        statuses=dict(statuses),
        client_errors=dict(errors),
        mean_batch=mean_batch,
        largest_batch=largest,
    )


def run_serve_benchmark(
    settings: BenchSettings, on_status: Callable[[str], None] | None = None
) -> ServeBenchResult:
    """Batching off, then on: requests/s, latency, statuses, and the batch sizes served."""
    say = on_status or (lambda _: None)
    started = time.perf_counter()
    images = load_images(settings.images)
    result = ServeBenchResult(n_images=len(images))
    common = ["--queue-size", str(settings.queue_size)]
    modes = {
        "off": ["--no-batching"],
        "on": [
            "--max-batch",
            str(settings.max_batch),
            "--batch-wait-ms",
            f"{settings.batch_wait_ms:g}",
        ],
    }
    for mode, args in modes.items():
        say(f"micro-batching {mode}: starting the server")
        with LocalServer(
            settings.index, [*common, *args], startup_timeout=settings.startup_timeout
        ) as server:
            say(
                f"micro-batching {mode}: {settings.clients} clients, "
                f"{settings.warmup:g} s warm-up + {settings.seconds:g} s measured"
            )
            result.runs.append(measure_mode(server, mode, images, settings))
    result.seconds = time.perf_counter() - started
    return result
