"""`simdetect demo`: the whole flow on the bundled, self-generated corpus in `seeds/`."""

from __future__ import annotations

import csv
import json
import logging
import platform
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simdetect import __version__
from simdetect.backbones import load_backbone
from simdetect.index.store import open_index, utc_now
from simdetect.indexing import add_tree, expand_paths
from simdetect.io.atomic import atomic_write_text
from simdetect.outputs import write_results
from simdetect.scan import Scanner, ScanParams, ScanResult

log = logging.getLogger(__name__)


@dataclass
class DemoResult:
    index_dir: Path
    results_path: Path
    report_path: Path
    results: list[ScanResult]
    correct: int
    judged: int


def find_seeds(explicit: Path | None = None) -> Path:
    """The demo corpus: an explicit path, ./seeds, or the seeds/ beside the package source."""
    candidates = (
        [explicit]
        if explicit
        else [Path("seeds"), Path(__file__).resolve().parent.parent / "seeds"]
    )
    for c in candidates:
        if c is not None and (c / "artists").is_dir() and (c / "suspects").is_dir():
            return c
    raise FileNotFoundError(
        "demo corpus not found (looked for seeds/artists and seeds/suspects in "
        + ", ".join(str(c) for c in candidates if c)
        + "); pass --seeds DIR or regenerate it with: python seeds/make_seeds.py"
    )


def read_truth(seeds: Path) -> dict[str, dict[str, str]]:
    path = seeds / "suspects.csv"
    if not path.is_file():
        return {}
    with path.open(encoding="utf-8", newline="") as fh:
        return {Path(row["file"]).name: row for row in csv.DictReader(fh)}


def run_demo(
    out: Path,
    seeds: Path | None = None,
    on_total: Callable[[int], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> DemoResult:
    seeds_dir = find_seeds(seeds)
    out.mkdir(parents=True, exist_ok=True)
    index_dir = out / "index"
    backbone = load_backbone("effnet-style")
    skipped: list = []
    suspects = expand_paths([seeds_dir / "suspects"], skipped)
    n_artist_files = sum(1 for _ in (seeds_dir / "artists").rglob("*") if _.is_file())
    if on_total is not None:
        on_total(n_artist_files + len(suspects))
    add_tree(index_dir, seeds_dir / "artists", backbone=backbone, on_progress=on_progress)
    snapshot = open_index(index_dir)
    scanner = Scanner(snapshot, ScanParams(top_k=5))
    results = list(scanner.scan_files(suspects, backbone, on_progress=on_progress))
    context = scanner.context()
    rows = [r.to_json(context) for r in results]
    results_path = write_results(rows, out / "scan.jsonl")

    truth = read_truth(seeds_dir)
    correct = judged = 0
    for r in results:
        expected = truth.get(Path(r.suspect).name, {}).get("artist", "")
        if expected and r.ranking:
            judged += 1
            correct += int(r.ranking[0].artist == expected)
    report_path = write_demo_evidence(out / "report", snapshot, rows, seeds_dir)
    return DemoResult(index_dir, results_path, report_path, results, correct, judged)


def write_demo_evidence(
    report_dir: Path, snapshot: Any, rows: list[dict[str, Any]], seeds_dir: Path
) -> Path:
    """A plain evidence record: inputs with hashes, method, index snapshot, scores, limits."""
    import faiss
    import torch

    report_dir.mkdir(parents=True, exist_ok=True)
    m = snapshot.manifest
    record = {
        "kind": "simdetect-demo-evidence",
        "created_at": utc_now(),
        "software": {
            "simdetect": __version__,
            "python": platform.python_version(),
            "torch": torch.__version__,
            "faiss": getattr(faiss, "__version__", "unknown"),
        },
        "method": {
            "backbone": m.backbone_spec,
            "fingerprint": m.fingerprint.to_dict(),
            "score": rows[0]["score_method"] if rows else None,
        },
        "index": {
            "generation": m.generation,
            "snapshot_digest": snapshot.snapshot_digest(),
            "works": m.count,
            "artists": m.artists,
        },
        "suspects": rows,
        "limitations": [
            "The demo corpus is procedurally drawn; results on it say nothing about real artists.",
            "Scores are relative to the other artists in this index only; they are not calibrated "
            "false-positive rates.",
            "A high score means stylistic similarity, not proof of copying or of AI generation.",
        ],
    }
    path = report_dir / "evidence.json"
    atomic_write_text(path, json.dumps(record, ensure_ascii=False, indent=2) + "\n")
    return path
