"""How long a person waits on the workbench: adding a portfolio, and checking a suspect.

The corpus is the bundled demo seeds: the other artists are indexed first (they are
what calibrates the scores), then a portfolio of `works` images is added through the
page's own upload route, and every demo suspect is checked `rounds` times through the
check route (scan, provenance and chart data: everything the page shows), each
request timed from send to the last byte of the answer.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from simdetect.backbones import load_backbone
from simdetect.demo import find_seeds
from simdetect.errors import UserError
from simdetect.index.build import AddSummary, add_labelled, expand_paths
from simdetect.index.store import IndexWriter
from simdetect.serve.client import ServeClient
from simdetect.ui.local import LocalWorkbench

PORTFOLIO_ARTIST = "portfolio"


@dataclass
class UiBenchResult:
    works: int
    others: int
    add_seconds: float
    first_check: float
    checks: list[float]

    def summary(self) -> str:
        c = sorted(self.checks)
        p95 = c[min(len(c) - 1, round(0.95 * (len(c) - 1)))]
        return (
            f"portfolio of {self.works} works added through the page in {self.add_seconds:.1f} s "
            f"(index holds {self.others} other works); "
            f"suspect check: first {self.first_check:.2f} s, "
            f"then median {statistics.median(c):.2f} s, p95 {p95:.2f} s, max {c[-1]:.2f} s "
            f"over {len(c)} checks"
        )


def _post(
    client: ServeClient, path: str, fields: dict[str, str], files: list[tuple[str, str, bytes]]
) -> float:
    start = time.perf_counter()
    reply = client.post_form(path, fields, files, auth=False)
    took = time.perf_counter() - start
    if reply.status != 200:
        raise RuntimeError(f"{path} answered {reply.status}: {reply.body[:300]!r}")
    return took


def run_ui_benchmark(
    works: int, rounds: int, on_status: Callable[[str], None] = lambda _: None
) -> UiBenchResult:
    if works < 1 or rounds < 1:
        raise UserError("{} and {} must be at least 1", "works", "rounds")
    seeds = find_seeds()
    folders = sorted(p for p in (seeds / "artists").iterdir() if p.is_dir())
    skipped: list = []
    pool = [f for folder in folders for f in expand_paths([folder], skipped)]
    if works > len(pool) // 2:
        raise UserError(
            f"the demo seeds hold {len(pool)} images; use at most {len(pool) // 2} works"
        )
    portfolio = pool[:works]
    chosen = {Path(p).parent for p in portfolio}
    others = [(p, Path(p).parent.name) for p in pool if Path(p).parent not in chosen]
    suspects = expand_paths([seeds / "suspects"], skipped)
    with tempfile.TemporaryDirectory(prefix="simdetect-ui-bench-") as tmp:
        index = Path(tmp) / "index"
        on_status(f"indexing {len(others)} works of the other demo artists")
        backbone = load_backbone("effnet-style")
        with IndexWriter(index, backbone.fingerprint, backbone.name) as writer:
            add_labelled(writer, others, backbone, summary=AddSummary())
        on_status("starting simdetect ui")
        with LocalWorkbench(index, Path(tmp) / "evidence") as server:
            client = server.client()
            files = [("files", Path(p).name, Path(p).read_bytes()) for p in portfolio]
            on_status(f"adding a portfolio of {works} works through the page")
            add_seconds = _post(client, "/ui/api/works", {"artist": PORTFOLIO_ARTIST}, files)
            times: list[float] = []
            first = 0.0
            for r in range(rounds):
                on_status(f"round {r + 1} of {rounds}: checking {len(suspects)} suspects")
                for s in suspects:
                    took = _post(
                        client, "/ui/api/check", {}, [("file", Path(s).name, Path(s).read_bytes())]
                    )
                    if r == 0 and not first:
                        first = took
                    else:
                        times.append(took)
            client.close()
    return UiBenchResult(works, len(others), add_seconds, first, times)
