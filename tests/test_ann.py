"""Approximate indexes: choice by size, real FAISS IVF/HNSW on disk, measured recall, optimize.

Synthetic clustered vectors (the benchmark's generator, small) in a real index on disk,
the real CLI in-process and as a subprocess, and the demo seeds scanned through a flat
and an approximate index.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import invoke

from simdetect.backbones import Backbone
from simdetect.backbones.base import Fingerprint
from simdetect.evaluation.ann_bench import draw_vectors
from simdetect.index import IndexWriter, ann, open_index
from simdetect.index.store import AnnRequest
from simdetect.io.image_record import ImageRecord
from simdetect.scan import Scanner
from simdetect.scan.scanner import PLAIN_RANKING, ScanParams

SIMDETECT = Path(sys.executable).parent / "simdetect"
N = 12_000
DIM = 64
THRESHOLD = 5_000


@pytest.fixture(autouse=True)
def _wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "400")


def records(start: int, n: int) -> list[ImageRecord]:
    return [
        ImageRecord(
            path=f"/synthetic/{i}.png",
            sha256=f"{i:064x}",
            size_bytes=1,
            format="PNG",
            width=1,
            height=1,
            phash="0" * 16,
        )
        for i in range(start, start + n)
    ]


FINGERPRINT = Fingerprint("synthetic", "0" * 64, "none", "test", DIM)


def build_synthetic(root: Path, vectors: np.ndarray, codes: np.ndarray, request: AnnRequest):
    with IndexWriter(root, FINGERPRINT, "synthetic", ann=request) as writer:
        for a in np.unique(codes):
            rows = np.flatnonzero(codes == a)
            recs = records(0, len(vectors))
            writer.add([recs[i] for i in rows], vectors[rows], artist=f"artist-{a:03d}")
        return writer.commit()


@pytest.fixture(scope="module")
def synthetic() -> tuple[np.ndarray, np.ndarray]:
    return draw_vectors(N + 500, DIM, seed=1)


@pytest.fixture(scope="module")
def auto_index(tmp_path_factory: pytest.TempPathFactory, synthetic) -> Path:
    """Crossing the threshold on commit builds the auto-chosen approximate index."""
    vectors, codes = synthetic
    root = tmp_path_factory.mktemp("ann") / "index"
    build_synthetic(root, vectors[:N], codes[:N], AnnRequest(threshold=THRESHOLD, n_queries=300))
    return root


def test_choice_by_count_and_memory_budget() -> None:
    assert ann.choose_plan(50_000, 512, threshold=100_000).type == "flat"
    assert ann.choose_plan(200_000, 512, threshold=100_000).type == "hnsw"
    plan = ann.choose_plan(1_000_000, 512)  # beyond HNSW's build limit: fast-scan IVF-PQ
    assert plan.type == "ivf-pq" and plan.factory == "IVF2048,PQ128x4fs" and plan.refine > 1
    assert plan.estimated_bytes <= 100 * 2**20  # 64-byte codes + ids, not 2 GB of floats
    assert ann.choose_plan(1_000_000, 512, memory_budget_mb=700).type == "ivf-pq"
    assert ann.choose_plan(200_000, 512, memory_budget_mb=300).type == "ivf-pq"  # HNSW too big
    assert ann.plan_for("ivf-sq8", 1_000_000, 512).factory == "IVF2048,SQ8"
    assert ann.plan_for("ivf-pq", 1000, 768).factory.endswith("PQ192x4fs")
    assert ann.pq_m_for(6) == 2 and ann.pq_m_for(1024) == 256
    with pytest.raises(ValueError, match="unknown index type"):
        ann.plan_for("lsh", 10, 8)


def test_auto_build_on_commit_measures_recall(auto_index: Path) -> None:
    snap = open_index(auto_index)
    info = snap.manifest.ann
    assert info is not None and snap.approximate
    assert snap.manifest.index_type == info.type == "hnsw"  # small: HNSW fits any budget
    assert info.recall_at_k >= 0.95 and info.recall_k == 10
    assert info.measured_at_count == N == snap.count and info.n_queries == 300
    assert "efSearch" in info.params
    assert (snap.directory / "ann.faiss").is_file() and "ann.faiss" in snap.manifest.files
    # the recall stored is what the served index gives, measured again independently
    vectors = np.array(snap.vectors())  # row order is the index's, not the draw's
    qids = np.arange(0, N, 40)
    truth = ann.exact_knn(vectors[qids], vectors, 11)
    _, found = snap.search(vectors[qids], 11)
    assert ann.recall_at(found, truth, qids, 10) >= 0.93
    sims, _ = snap.search(vectors[qids[:5]], 3)  # similarities are exact cosines
    np.testing.assert_allclose(sims[:, 0], 1.0, atol=1e-5)


def test_optimize_ivf_cli_info_and_mmap(auto_index: Path, tmp_path: Path) -> None:
    import shutil

    root = tmp_path / "index"
    shutil.copytree(auto_index, root)
    before = open_index(root)
    result = invoke("index", "optimize", "--index", root, "--type", "ivf-flat", "--queries", 300)
    assert result.exit_code == 0, result.output
    assert "recall@10" in result.output
    snap = open_index(root)
    assert snap.manifest.generation == before.manifest.generation + 1
    assert snap.manifest.index_type == "ivf-flat" and snap.manifest.ann is not None
    assert snap.manifest.ann.recall_at_k >= 0.95 and snap.manifest.ann.n_train > 0
    assert (root / f"gen-{before.manifest.generation:06d}").is_dir()  # old one intact
    # memory-mapped: both the exact vectors and the IVF lists are mapped files
    maps = Path(f"/proc/{os.getpid()}/maps").read_text()
    assert str(snap.directory / "ann.faiss") in maps
    assert str(snap.directory / "vectors.faiss") in maps
    info = invoke("index", "info", "--index", root)
    assert info.exit_code == 0, info.output
    assert "ivf-flat" in info.output and "nprobe=" in info.output
    recall = f"{snap.manifest.ann.recall_at_k:.4f}"
    assert f"recall@10 {recall}" in info.output and "measured at 12000 vectors" in info.output
    # once as a real process
    proc = subprocess.run(
        [str(SIMDETECT), "index", "info", "--index", str(root)],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "400", "OMP_NUM_THREADS": "1"},
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert f"recall@10 {recall}" in proc.stdout
    # back to exact, still a new generation
    assert invoke("index", "optimize", "--index", root, "--type", "flat").exit_code == 0
    flat = open_index(root)
    assert flat.manifest.ann is None and not flat.approximate
    assert "ann" not in json.loads((flat.directory / "manifest.json").read_text())
    bad = invoke("index", "optimize", "--index", root, "--type", "lsh")
    assert bad.exit_code == 1 and "unknown --type" in bad.output


@pytest.mark.parametrize("kind", ["ivf-sq8", "ivf-pq"])
def test_add_after_optimize_keeps_working(
    kind: str, auto_index: Path, tmp_path: Path, synthetic
) -> None:
    import shutil

    root = tmp_path / "index"
    shutil.copytree(auto_index, root)
    optimized = invoke("index", "optimize", "--index", root, "--type", kind)
    assert optimized.exit_code == 0, optimized.output
    assert open_index(root).manifest.ann.recall_at_k >= 0.95  # type: ignore[union-attr]
    new = synthetic[0][N:]
    with IndexWriter(root) as writer:
        assert writer.add(records(N, len(new)), new, artist="newcomer") == len(new)
        m = writer.commit()
    assert m.ann is not None and m.ann.type == kind
    assert m.count == N + len(new) and m.ann.measured_at_count == N  # no retraining
    snap = open_index(root)
    assert snap.ann is not None and snap.ann.ntotal == snap.count
    _, labels = snap.search(new[:20], 1)
    assert (labels[:, 0] == np.arange(N, N + 20)).all()
    info = invoke("index", "info", "--index", root)
    assert f"measured at {N} vectors; the index now holds {N + len(new)}" in info.output
    auto = invoke("index", "optimize", "--index", root, "--threshold", THRESHOLD)
    assert auto.exit_code == 0, auto.output
    assert open_index(root).manifest.ann.measured_at_count == N + len(new)  # type: ignore[union-attr]
    with IndexWriter(root) as writer:  # removal keeps labels = row positions
        assert writer.remove_artist("newcomer") == len(new)
        writer.commit()
    snap = open_index(root)
    assert snap.ann is not None and snap.ann.ntotal == snap.count == N


def test_scan_same_schema_flat_and_approximate(
    index_copy: Path, backbone: Backbone, seeds_dir: Path
) -> None:
    suspects = sorted(p for p in (seeds_dir / "suspects").iterdir() if p.is_file())

    def scan(params: ScanParams | None = None) -> list[dict]:
        scanner = Scanner(open_index(index_copy), params)
        results = list(scanner.scan_files(suspects, backbone, workers=1))
        return [r.to_json(scanner.context()) for r in results]

    # An approximate index lists nearest works by plain cosine (the learned ranking space
    # needs every vector): compare with a flat scan ordered the same way.
    flat = scan(ScanParams(ranking=None))
    result = invoke("index", "optimize", "--index", index_copy, "--type", "hnsw", "--queries", 64)
    assert result.exit_code == 0, result.output
    assert open_index(index_copy).approximate
    approx = scan()
    assert len(flat) == len(approx) == len(suspects)
    for f, a in zip(flat, approx, strict=True):
        assert f.keys() == a.keys()
        assert f["suspect"] == a["suspect"]
        if f["error"]:
            continue
        assert f["ranking"][0].keys() == a["ranking"][0].keys()
        assert f["matches"][0].keys() == a["matches"][0].keys()
        assert f["ranking"][0]["artist"] == a["ranking"][0]["artist"]
        assert a["matches"][0]["path"] == f["matches"][0]["path"]
        assert a["nearest_works"] == f["nearest_works"] == PLAIN_RANKING
        assert a["ranking_state"] is None
        assert a["ranking"][0]["n_impostors"] > 0


def test_benchmark_ann_command_reports_recall_latency_and_memory() -> None:
    result = invoke(
        "benchmark", "ann", "--n", 6000, "--dim", 32, "--queries", 200,
        "--artist-weight", 0.08, "--within-weight", 0.16, "--noise-weight", 0.06,
        "--type", "ivf-pq", "--type", "hnsw",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "global direction (weight 0.70)" in result.output
    assert "artist centres (0.08)" in result.output
    rows = [line for line in result.output.splitlines() if "│ ivf-pq" in line or "│ hnsw" in line]
    assert len(rows) == 2
    for row in rows:
        cells = [c.strip() for c in row.strip("│ ").split("│")]
        assert float(cells[-2]) >= 0.95  # recall@10 reached the default target
        assert float(cells[6]) > 0  # p50 ms
    bad = invoke("benchmark", "ann", "--n", 100, "--artist-weight", 0.9, "--within-weight", 0.5)
    assert bad.exit_code == 1 and "add up to at most 1" in bad.output
