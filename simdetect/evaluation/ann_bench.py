"""Benchmark of the approximate index at platform scale, on vectors that cluster like embeddings.

How the vectors are drawn (seeded, 512-d by default), modelled on real style embeddings,
which share a large common direction (every image is "an image"), then an artist's
style, then variation along a few directions within the artist's work:

    x = normalise( sqrt(G)·μ + sqrt(B)·c_a + sqrt(W_a)·U_a z + sqrt(E)·e / sqrt(d) )

- μ: one global unit direction; G = 0.70 (between-artist cosine about 0.70);
- c_a: artist a's unit centre, uniform on the sphere; B = 0.18;
- U_a: a random orthonormal basis of a 16-dimensional subspace per artist, z ~ N(0, I/16);
  W_a = 0.09·f_a with f_a uniform in [0.5, 1.5] (some artists are more varied than others);
- e ~ N(0, I): isotropic noise, E = 0.03;
- artists: n // 300 of them (3,333 at a million), works assigned uniformly at random.

The demo seeds' effnet-style vectors have within-artist cosine ≈ 0.96, between-artist
≈ 0.72 and nearest-neighbour ≈ 0.975; these draws give within ≈ 0.88, between ≈ 0.70
and nearest-neighbour ≈ 0.93 (printed by the command), i.e. real-looking but harder,
and with neighbours confined to a low-dimensional spread as real embeddings are.

Queries are indexed vectors outside the training sample; recall@10 excludes the query
itself from both lists (a query finding itself earns nothing).
"""

from __future__ import annotations

import gc
import logging
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from simdetect.index import ann

log = logging.getLogger(__name__)

SUBSPACE_DIM = 16
WORKS_PER_ARTIST = 300


@dataclass(frozen=True)
class DrawWeights:
    """The variance shares of the draw; lower `artist` and higher `within`/`noise` make
    artists overlap more, so neighbours spread over more IVF cells (a harder index)."""

    shared: float = 0.70
    artist: float = 0.18
    within: float = 0.09
    noise: float = 0.03


def draw_vectors(
    n: int, dim: int, seed: int = 0, weights: DrawWeights | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(n, dim) float32 unit vectors and their artist codes, drawn as the module says."""
    w = weights or DrawWeights()
    rng = np.random.default_rng(seed)
    n_artists = max(2, n // WORKS_PER_ARTIST)
    mu = rng.standard_normal(dim)
    mu /= np.linalg.norm(mu)
    centres = rng.standard_normal((n_artists, dim))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    spread = rng.uniform(0.5, 1.5, n_artists)
    codes = rng.integers(0, n_artists, n)
    out = np.empty((n, dim), dtype=np.float32)
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(n_artists + 1))
    for a in range(n_artists):
        rows = order[bounds[a] : bounds[a + 1]]
        if not len(rows):
            continue
        basis, _ = np.linalg.qr(rng.standard_normal((dim, SUBSPACE_DIM)))
        z = rng.standard_normal((len(rows), SUBSPACE_DIM)) / np.sqrt(SUBSPACE_DIM)
        e = rng.standard_normal((len(rows), dim)) / np.sqrt(dim)
        x = (
            np.sqrt(w.shared) * mu
            + np.sqrt(w.artist) * centres[a]
            + np.sqrt(w.within * spread[a]) * (z @ basis.T)
            + np.sqrt(w.noise) * e
        )
        out[rows] = x.astype(np.float32)
    faiss.normalize_L2(out)
    return out, codes


@dataclass
class Statistics:
    nn1: float
    within: float
    between: float


def statistics(
    vectors: np.ndarray, codes: np.ndarray, sample: int = 500, seed: int = 0
) -> Statistics:
    """Mean nearest-neighbour, within-artist and between-artist cosine on a sample."""
    rng = np.random.default_rng(seed)
    ids = rng.choice(len(vectors), size=min(sample, len(vectors)), replace=False)
    sims, _ = faiss.knn(vectors[ids], vectors, 2, metric=faiss.METRIC_INNER_PRODUCT)
    pairs = rng.choice(len(vectors), size=(20000, 2))
    cos = np.einsum("ij,ij->i", vectors[pairs[:, 0]], vectors[pairs[:, 1]])
    within_ids = [
        (i, j) for i in ids[:500] for j in np.flatnonzero(codes == codes[i])[:5] if j != i
    ]
    within = np.mean([float(vectors[i] @ vectors[j]) for i, j in within_ids])
    return Statistics(nn1=float(sims[:, 1].mean()), within=float(within), between=float(cos.mean()))


def rss_bytes() -> int:
    with open("/proc/self/statm", encoding="ascii") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


_RSS_CHILD = """
import json, sys, numpy as np
from simdetect.evaluation.ann_bench import rss_bytes
from simdetect.index import ann
path, kind, params, dim = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), int(sys.argv[4])
before = rss_bytes()
index = ann.load(path, kind, params, mmap=True)
q = np.random.default_rng(0).standard_normal((500, dim)).astype("float32")
for row in q:
    index.search(row[None, :], 10)
print(rss_bytes() - before)
"""


def served_rss_delta(path: Path, kind: str, params: dict[str, int], dim: int) -> int:
    """RSS growth of a fresh process that loads the index as served (mmap) and queries it.

    Measured in a child: in this process, freed build memory would be reused and hide it.
    """
    import json
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-c", _RSS_CHILD, str(path), kind, json.dumps(params), str(dim)],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(out.stdout.strip().splitlines()[-1])


@dataclass
class AnnBenchResult:
    type: str
    factory: str
    n: int
    dim: int
    params: dict[str, int]
    build_seconds: float
    index_bytes: int
    rss_delta_bytes: int
    p50_ms: float
    p99_ms: float
    batch_qps: float
    recall_at_10: float
    n_queries: int
    threads: int


def bench_one(
    vectors: np.ndarray,
    plan: ann.AnnPlan,
    *,
    n_queries: int,
    min_recall: float,
    seed: int,
    workdir: Path,
) -> AnnBenchResult:
    """Build, tune, write, reload memory-mapped (as served), then time and measure it."""
    n, dim = vectors.shape
    start = time.perf_counter()
    index, info = ann.build(vectors, plan, min_recall=min_recall, n_queries=n_queries, seed=seed)
    build_seconds = time.perf_counter() - start
    path = workdir / f"{plan.type}.faiss"
    faiss.write_index(index, str(path))
    del index
    gc.collect()
    rss_delta = served_rss_delta(path, plan.type, info.params, dim)
    served = ann.load(path, plan.type, info.params, mmap=False)
    rng = np.random.default_rng(seed + 1)
    qids = np.sort(rng.choice(n, size=min(n_queries, n), replace=False))
    queries = np.ascontiguousarray(vectors[qids])
    refine = int(info.params.get("refine", 1))  # what tuning chose, as the store serves it
    truth = ann.exact_knn(queries, vectors, 11)
    for q in queries[:20]:  # warm up caches and threads
        ann.search_refined(served, vectors, q[None, :], 11, refine)
    times = []
    for q in queries:
        t0 = time.perf_counter()
        ann.search_refined(served, vectors, q[None, :], 11, refine)
        times.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    _, found = ann.search_refined(served, vectors, queries, 11, refine)
    qps = len(queries) / (time.perf_counter() - t0)
    return AnnBenchResult(
        type=plan.type,
        factory=plan.factory,
        n=n,
        dim=dim,
        params=info.params,
        build_seconds=build_seconds,
        index_bytes=path.stat().st_size,
        rss_delta_bytes=rss_delta,
        p50_ms=1000 * float(np.percentile(times, 50)),
        p99_ms=1000 * float(np.percentile(times, 99)),
        batch_qps=qps,
        recall_at_10=ann.recall_at(found, truth, qids, 10),
        n_queries=len(queries),
        threads=faiss.omp_get_max_threads(),
    )


def run(
    n: int,
    dim: int,
    *,
    n_queries: int = 1000,
    seed: int = 0,
    memory_budget_mb: float | None = None,
    types: list[str] | None = None,
    min_recall: float = ann.DEFAULT_MIN_RECALL,
    weights: DrawWeights | None = None,
) -> tuple[Statistics, list[AnnBenchResult], float]:
    """Draw the vectors, then benchmark the auto-chosen type (and any others named)."""
    t0 = time.perf_counter()
    vectors, codes = draw_vectors(n, dim, seed, weights)
    draw_seconds = time.perf_counter() - t0
    stats = statistics(vectors, codes, seed=seed)
    kinds = types or [ann.AUTO]
    results = []
    with tempfile.TemporaryDirectory(prefix="simdetect-ann-bench-") as tmp:
        for kind in kinds:
            plan = (
                ann.choose_plan(n, dim, memory_budget_mb, threshold=0)
                if kind == ann.AUTO
                else ann.plan_for(kind, n, dim)
            )
            results.append(
                bench_one(
                    vectors,
                    plan,
                    n_queries=n_queries,
                    min_recall=min_recall,
                    seed=seed,
                    workdir=Path(tmp),
                )
            )
    return stats, results, draw_seconds
