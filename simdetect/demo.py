"""`simdetect demo`: the whole flow on the bundled, self-generated corpus in `seeds/`."""

from __future__ import annotations

import csv
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from simdetect.backbones import Backbone, load_backbone
from simdetect.index.build import add_tree, expand_paths
from simdetect.outputs import write_results
from simdetect.scan import Scanner, ScanParams, ScanResult, open_scanner

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
    scanner = open_scanner(index_dir, ScanParams(top_k=5))
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
    report_path = write_demo_evidence(out / "report", scanner, backbone, results, truth)
    return DemoResult(index_dir, results_path, report_path, results, correct, judged)


def pick_demo_suspect(
    results: list[ScanResult], truth: dict[str, dict[str, str]], artists: dict[str, int]
) -> tuple[ScanResult, str]:
    """The first imitation in suspects.csv whose true artist is indexed and that scanned."""
    by_name = {Path(r.suspect).name: r for r in results if not r.error}
    for name, row in truth.items():
        if row.get("kind") == "imitation" and row.get("artist") in artists and name in by_name:
            return by_name[name], row["artist"]
    raise FileNotFoundError("no demo imitation with an indexed true artist in seeds/suspects.csv")


def write_demo_evidence(
    report_dir: Path,
    scanner: Scanner,
    backbone: Backbone,
    results: list[ScanResult],
    truth: dict[str, dict[str, str]],
) -> Path:
    """The full evidence report (JSON, HTML, PDF where Chromium exists) for one demo suspect.

    Returns the HTML report. Without Chromium the PDF is left out with a warning rather
    than failing the demo: the HTML and the record are the evidence, the PDF a rendering.
    """
    from simdetect.report.case import make_report
    from simdetect.report.pdf import INSTALL_HINT, find_chromium
    from simdetect.report.record import CaseInfo

    suspect, artist = pick_demo_suspect(results, truth, scanner.snapshot.manifest.artists)
    formats = ["json", "html"]
    if find_chromium() is not None:
        formats.append("pdf")
    else:
        log.warning(
            "demo report: PDF not written because Chromium is not installed; %s", INSTALL_HINT
        )
    outputs = make_report(
        [suspect.suspect],
        scanner.snapshot.root,
        CaseInfo(
            artist=artist,
            case_id=f"DEMO-{Path(suspect.suspect).stem}",
            claimant=f"{artist} (demo artist)",
            notes=(
                "Demo corpus: the artists are procedurally drawn by seeds/make_seeds.py; "
                "this report says nothing about any real artist.",
            ),
        ),
        report_dir,
        formats=formats,
        target_fpr=scanner.params.target_fpr,
        top_k=scanner.params.top_k,
        backbone=backbone,
    )
    assert outputs.html_path is not None
    return outputs.html_path
