"""Approximate nearest-neighbour indexes: which FAISS type to use, training, tuning, loading.

An exact (flat) index answers a query by reading every vector: fine for thousands of
works, too slow and too large at a platform's millions. Beyond a size threshold the
index is also served by an approximate FAISS index chosen by vector count and a memory
budget, and its search parameter (nprobe or efSearch) is tuned until recall@10 against
exact search reaches a target on a held-out query sample. The measured recall, the
sample sizes and the vector count it was measured at are stored in the manifest, so a
reader can see how approximate the answers are.

The exact vectors stay on disk (vectors.faiss, memory-mapped when served approximately):
every candidate the approximate index returns is re-scored exactly, so similarities
reported to users are exact cosines whichever type found them.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from simdetect.defaults import (
    ANN_AUTO,
    ANN_TYPES,
    DEFAULT_APPROX_THRESHOLD,
    DEFAULT_MIN_RECALL,
    DEFAULT_QUERIES,
)
from simdetect.errors import AnnError
from simdetect.index.manifest import AnnInfo

log = logging.getLogger(__name__)

ANN_NAME = "ann.faiss"
DEFAULT_MEMORY_BUDGET_MB = 2048.0
RECALL_K = 10
HNSW_MAX_COUNT = 500_000  # beyond this, HNSW graph construction takes too long on few cores
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
TRAIN_POINTS_PER_LIST = 64
KMEANS_ITERATIONS = 12
# PQ codes are coarse: fetch 10x the candidates and re-rank them exactly. Measured at
# 1M x 512 (BENCHMARKS.md): 4x left recall@10 short of 0.95 at any nprobe on the harder
# draws; 10x reached 0.96 at nprobe 32 for 1 ms.
PQ_REFINE = 10
REFINE_STEPS = (10, 25, 50, 100)
ID_BYTES = 8

TYPES = ANN_TYPES
AUTO = ANN_AUTO
NPROBE_STEPS = (1, 2, 4, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512)
EF_STEPS = (16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024)


@dataclass(frozen=True)
class AnnPlan:
    """One candidate index type for a given size, with its estimated memory."""

    type: str
    factory: str
    estimated_bytes: int
    nlist: int = 0
    refine: int = 1

    @property
    def approximate(self) -> bool:
        return self.type != "flat"


def nlist_for(n: int) -> int:
    """Inverted lists: a power of two near 2·sqrt(n), at least 16, with >= 39 points each."""
    target = 2 * math.sqrt(max(n, 1))
    nlist = 2 ** max(4, round(math.log2(target)))
    while nlist > 16 and n < 39 * nlist:
        nlist //= 2
    return nlist


def pq_m_for(dim: int) -> int:
    """PQ sub-quantizers of 4 bits each for FAISS fast-scan: one per 4 dimensions
    (128 for 512-d, 64 bytes a vector), an even divisor of dim (fast-scan packs pairs)."""
    m = max(2, dim // 4)
    while m > 2 and (dim % m or m % 2):
        m -= 1
    return m


def plan_for(kind: str, n: int, dim: int) -> AnnPlan:
    """The factory string and memory estimate of one index type at n vectors."""
    nlist = nlist_for(n)
    if kind == "flat":
        return AnnPlan("flat", "Flat", n * dim * 4)
    if kind == "hnsw":
        graph = int(n * HNSW_M * 2 * 4 * 1.1)  # level-0 links dominate
        return AnnPlan("hnsw", f"HNSW{HNSW_M},Flat", n * dim * 4 + graph)
    quantizer = nlist * dim * 4
    if kind == "ivf-flat":
        return AnnPlan(kind, f"IVF{nlist},Flat", n * (dim * 4 + ID_BYTES) + quantizer, nlist)
    if kind == "ivf-sq8":
        return AnnPlan(kind, f"IVF{nlist},SQ8", n * (dim + ID_BYTES) + quantizer, nlist)
    if kind == "ivf-pq":
        # 4-bit fast-scan codes: distances come from SIMD table look-ups, several times
        # faster per vector than SQ8 or 8-bit PQ; the exact re-ranking restores precision.
        m = pq_m_for(dim)
        codebooks = 16 * dim * 4
        return AnnPlan(
            kind,
            f"IVF{nlist},PQ{m}x4fs",
            n * (m // 2 + ID_BYTES) + quantizer + codebooks,
            nlist,
            refine=PQ_REFINE,
        )
    raise AnnError(f"unknown index type {kind!r}; choose one of {', '.join((AUTO, *TYPES))}")


def choose_plan(
    n: int,
    dim: int,
    memory_budget_mb: float | None = None,
    threshold: int = DEFAULT_APPROX_THRESHOLD,
) -> AnnPlan:
    """Exact below the threshold; above it the fastest type that fits the budget.

    Every type is tuned to the same recall target and its candidates are re-scored
    exactly, so they differ in speed, memory and build time, not in the answers' quality.
    Preference: HNSW (fastest at high recall, but slow to build, so only up to
    HNSW_MAX_COUNT), then IVF-PQ with 4-bit fast-scan codes re-ranked exactly from the
    vectors on disk (at 1M x 512: 64 bytes a vector and about 1 ms a query, where IVF-SQ8
    took 500 MB and 17 ms for the same recall; BENCHMARKS.md). IVF-Flat and IVF-SQ8 stay
    available by name (`index optimize --type`).
    """
    budget = (memory_budget_mb or DEFAULT_MEMORY_BUDGET_MB) * 1024 * 1024
    if n < threshold:
        return plan_for("flat", n, dim)
    order = ["hnsw", "ivf-pq"] if n <= HNSW_MAX_COUNT else ["ivf-pq"]
    plans = [plan_for(kind, n, dim) for kind in order]
    for plan in plans:
        if plan.estimated_bytes <= budget:
            return plan
    smallest = plans[-1]
    log.warning(
        "no index type fits %.0f MB at %d vectors; using %s (about %.0f MB)",
        budget / 2**20,
        n,
        smallest.type,
        smallest.estimated_bytes / 2**20,
    )
    return smallest


def _ivf(index: faiss.Index) -> faiss.IndexIVF | None:
    try:
        return faiss.extract_index_ivf(index)
    except RuntimeError:
        return None


def set_params(index: faiss.Index, params: dict[str, int]) -> None:
    """Apply stored search parameters (nprobe for IVF types, efSearch for HNSW)."""
    ivf = _ivf(index)
    if ivf is not None and "nprobe" in params:
        ivf.nprobe = int(params["nprobe"])
    hnsw: Any = faiss.downcast_index(index)
    if isinstance(hnsw, faiss.IndexHNSW) and "efSearch" in params:
        hnsw.hnsw.efSearch = int(params["efSearch"])


def exact_knn(queries: np.ndarray, vectors: np.ndarray, k: int) -> np.ndarray:
    """Ground truth: exact inner-product top-k labels (BLAS, in row blocks of the base)."""
    _, labels = faiss.knn(
        np.ascontiguousarray(queries, dtype=np.float32),
        np.ascontiguousarray(vectors, dtype=np.float32),
        k,
        metric=faiss.METRIC_INNER_PRODUCT,
    )
    return labels


def search_refined(
    index: faiss.Index, vectors: np.ndarray | None, queries: np.ndarray, k: int, refine: int
) -> tuple[np.ndarray, np.ndarray]:
    """Approximate candidates, re-scored exactly against `vectors` (when given), best first."""
    q = np.ascontiguousarray(queries, dtype=np.float32)
    # Never fewer candidates than tuning re-ranked (refine x 11), so a search for the top 1
    # is as exact as the recall@10 measured for the index.
    kk = max(k, refine * max(k, RECALL_K + 1)) if refine > 1 else k
    sims, labels = index.search(q, kk)
    if vectors is None:
        return sims[:, :k], labels[:, :k]
    out_s = np.full((len(q), k), -np.inf, dtype=np.float32)
    out_l = np.full((len(q), k), -1, dtype=np.int64)
    for i in range(len(q)):
        lab = labels[i][labels[i] >= 0]
        if not len(lab):
            continue
        exact = vectors[lab] @ q[i]
        order = np.argsort(-exact, kind="stable")[:k]
        out_s[i, : len(order)] = exact[order]
        out_l[i, : len(order)] = lab[order]
    return out_s, out_l


def recall_at(found: np.ndarray, truth: np.ndarray, self_ids: np.ndarray, k: int) -> float:
    """Share of each query's k true neighbours (itself excluded) that the search found."""
    hits = 0
    for row, (f, t) in enumerate(zip(found, truth, strict=True)):
        want = [x for x in t.tolist() if x != self_ids[row]][:k]
        got = {x for x in f.tolist() if x != self_ids[row]}
        hits += sum(1 for x in want if x in got)
    return hits / max(1, k * len(truth))


@dataclass
class Tuning:
    params: dict[str, int]
    recall: float
    reached: bool


def tune(
    index: faiss.Index,
    plan: AnnPlan,
    vectors: np.ndarray,
    query_ids: np.ndarray,
    min_recall: float,
    k: int = RECALL_K,
) -> Tuning:
    """The cheapest search parameter whose recall@k on the query sample reaches min_recall."""
    queries = np.ascontiguousarray(vectors[query_ids], dtype=np.float32)
    truth = exact_knn(queries, vectors, k + 1)
    if plan.type == "hnsw":
        name, steps = "efSearch", [s for s in EF_STEPS if s >= k]
    else:
        name, steps = "nprobe", [s for s in NPROBE_STEPS if s < plan.nlist] + [plan.nlist]
    # Coarse codes can miss the target at every nprobe when too few candidates are
    # re-ranked (low dimensions: few sub-quantizers); then re-rank more of them.
    refines = [r for r in REFINE_STEPS if r >= plan.refine] if plan.refine > 1 else [1]
    best = Tuning({name: steps[-1]}, 0.0, False)
    for refine in refines:
        for value in steps:
            params = {name: value}
            if refine > 1:
                params["refine"] = refine
            set_params(index, params)
            _, found = search_refined(index, vectors, queries, k + 1, refine)
            recall = recall_at(found, truth, query_ids, k)
            log.info(
                "%s %s=%d refine=%d: recall@%d %.4f", plan.type, name, value, refine, k, recall
            )
            best = Tuning(params, recall, recall >= min_recall)
            if best.reached:
                set_params(index, best.params)
                return best
    set_params(index, best.params)
    return best


def sample_ids(n: int, size: int, rng: np.random.Generator, exclude: np.ndarray | None = None):
    pool = np.arange(n) if exclude is None else np.setdiff1d(np.arange(n), exclude)
    size = min(size, len(pool))
    return np.sort(rng.choice(pool, size=size, replace=False))


def build(
    vectors: np.ndarray,
    plan: AnnPlan,
    *,
    min_recall: float = DEFAULT_MIN_RECALL,
    n_queries: int = DEFAULT_QUERIES,
    seed: int = 0,
    built_at: str = "",
) -> tuple[faiss.Index, AnnInfo]:
    """Train on a seeded sample, add every vector, tune on held-out queries, measure recall.

    Queries are indexed vectors outside the training sample; each query's own vector is
    excluded from both the exact and the approximate neighbour lists, so a query finding
    itself earns nothing.
    """
    if not plan.approximate:
        raise AnnError("a flat index needs no approximate build")
    n, dim = vectors.shape
    if n < 2 * RECALL_K:
        raise AnnError(f"{n} vectors are too few for an approximate index")
    start = time.perf_counter()
    rng = np.random.default_rng(seed)
    index = faiss.index_factory(dim, plan.factory, faiss.METRIC_INNER_PRODUCT)
    n_train = 0
    if plan.type == "hnsw":
        graph: Any = faiss.downcast_index(index)
        graph.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        train_ids = np.zeros(0, dtype=np.int64)
    else:
        ivf = _ivf(index)
        assert ivf is not None
        ivf.cp.niter = KMEANS_ITERATIONS
        ivf.cp.seed = seed
        train_ids = sample_ids(n, plan.nlist * TRAIN_POINTS_PER_LIST, rng)
        n_train = len(train_ids)
        index.train(np.ascontiguousarray(vectors[train_ids], dtype=np.float32))
    for lo in range(0, n, 65536):  # in blocks: a memory-mapped base is never copied whole
        index.add(np.ascontiguousarray(vectors[lo : lo + 65536], dtype=np.float32))
    query_ids = sample_ids(n, n_queries, rng, exclude=train_ids if n_train < n else None)
    tuning = tune(index, plan, vectors, query_ids, min_recall)
    if not tuning.reached:
        log.warning(
            "%s reached recall@%d %.3f < %.2f at its widest search setting",
            plan.type,
            RECALL_K,
            tuning.recall,
            min_recall,
        )
    seconds = time.perf_counter() - start
    info = AnnInfo(
        type=plan.type,
        factory=plan.factory,
        params=tuning.params,
        recall_at_k=round(tuning.recall, 6),
        recall_k=RECALL_K,
        min_recall=min_recall,
        n_train=n_train,
        n_queries=len(query_ids),
        measured_at_count=n,
        memory_bytes=serialized_size(index),
        build_seconds=round(seconds, 3),
        built_at=built_at,
        seed=seed,
    )
    return index, info


def serialized_size(index: faiss.Index) -> int:
    """Bytes the index occupies once written (what it holds in memory, give or take)."""
    writer = faiss.VectorIOWriter()
    faiss.write_index(index, writer)
    return int(writer.data.size())


def is_ivf(index_type: str) -> bool:
    return index_type.startswith("ivf")


def load(path: Path, index_type: str, params: dict[str, int], mmap: bool) -> faiss.Index:
    """Read a stored approximate index; IVF lists and HNSW storage memory-mapped when asked.

    Memory-mapped IVF lists are read-only: writers load without mmap so they can add.
    """
    flags = 0
    if mmap:
        flags = faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY if is_ivf(index_type) else 0
        if not is_ivf(index_type):
            flags = faiss.IO_FLAG_MMAP_IFC
    index = faiss.read_index(str(path), flags)
    set_params(index, params)
    return index


def flat_view(index: faiss.Index) -> np.ndarray:
    """The vectors of a flat index as a zero-copy (n, d) array (memory-mapped if it is)."""
    flat: Any = faiss.downcast_index(index)
    n, d = int(flat.ntotal), int(flat.d)
    if n == 0:
        return np.zeros((0, d), dtype=np.float32)
    return faiss.rev_swig_ptr(flat.get_xb(), n * d).reshape(n, d)
