"""Images per second for the forward pass alone and for the whole indexing path.

The ratio of the two says whether decoding and I/O are hidden behind compute (the
target is >= 80%): forward-only feeds pre-decoded tensors to the model; the whole
path goes file → decode → embed → index add → commit, exactly as `index add` does.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from simdetect.backbones.base import Backbone
from simdetect.errors import UserError
from simdetect.index.build import AddSummary, add_files
from simdetect.index.store import IndexWriter
from simdetect.io.images import load_image
from simdetect.io.walk import iter_image_files


@dataclass
class ThroughputResult:
    backbone: str
    corpus: str
    images: int
    batch_size: int
    torch_threads: int
    forward_ips: float
    pipeline_ips: float
    rounds: int = 1

    @property
    def ratio(self) -> float:
        return self.pipeline_ips / self.forward_ips if self.forward_ips else float("nan")


def sample_files(corpus: Path, limit: int, seed: int = 0) -> list[str]:
    files = [str(p) for p in iter_image_files(corpus)]
    random.Random(seed).shuffle(files)
    return files[:limit]


def forward_rate(backbone: Backbone, files: list[str], batch_size: int) -> float:
    """Images/s of `backbone.embed` alone, on tensors decoded beforehand."""
    tensors = [
        backbone.preprocess(load_image(f, min_side=backbone.decode_min_side).image) for f in files
    ]
    batches = [torch.stack(tensors[i : i + batch_size]) for i in range(0, len(tensors), batch_size)]
    # Warm-up: the first calls allocate, pick kernels and spin up the thread pool; one
    # batch was not enough to make the timed loop steady.
    for b in batches[:3]:
        backbone.embed(b)
    start = time.perf_counter()
    for b in batches:
        backbone.embed(b)
    return len(tensors) / (time.perf_counter() - start)


def pipeline_rate(backbone: Backbone, files: list[str], batch_size: int, workers: int) -> float:
    """Images/s from file paths to a committed index, in a throw-away directory."""
    backbone.embed(torch.stack([backbone.preprocess(load_image(files[0]).image)]))
    with tempfile.TemporaryDirectory(prefix="simdetect-bench-") as tmp:
        start = time.perf_counter()
        with IndexWriter(Path(tmp) / "index", backbone.fingerprint, backbone.name) as writer:
            summary = AddSummary()
            add_files(
                writer,
                files,
                backbone,
                "bench",
                summary=summary,
                batch_size=batch_size,
                workers=workers,
                commit_every=len(files) + 1,
            )
        elapsed = time.perf_counter() - start
    return summary.added / elapsed


def measure(
    backbone: Backbone,
    corpus: Path,
    limit: int,
    batch_size: int = 32,
    workers: int = 2,
    rounds: int = 3,
) -> ThroughputResult:
    """Median of `rounds` alternating forward-only and whole-path runs.

    On a small shared machine one run of a few seconds swings by 20% or more (seen
    here: forward-only 55 to 83 images/s on the same files); alternating the two and
    taking medians keeps a slow moment from landing on one side of the ratio only.
    """
    files = sample_files(corpus, limit)
    if not files:
        raise FileNotFoundError(f"{corpus}: no files to measure on")
    if rounds < 1:
        raise UserError("{} must be at least 1", "rounds")
    forward, pipeline = [], []
    for _ in range(rounds):
        forward.append(forward_rate(backbone, files, batch_size))
        pipeline.append(pipeline_rate(backbone, files, batch_size, workers))
    return ThroughputResult(
        backbone=backbone.name,
        corpus=str(corpus),
        images=len(files),
        batch_size=batch_size,
        torch_threads=torch.get_num_threads(),
        forward_ips=statistics.median(forward),
        pipeline_ips=statistics.median(pipeline),
        rounds=rounds,
    )
