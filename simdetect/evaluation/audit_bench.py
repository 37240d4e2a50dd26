"""Audit throughput against the forward-only rate, and peak memory as the input grows 10x.

The audit adds decoding, hashing, search, scoring and Parquet writing to the model's
forward pass; the ratio of the two rates says whether any of that is a bottleneck
(target >= 90%). Memory is measured in fresh `simdetect audit` processes (each child's own
peak resident size, VmHWM) for N inputs and for 10N (the same files listed ten times),
because a streaming audit's peak must not grow with its input.
"""

from __future__ import annotations

import logging
import math
import os
import random
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from simdetect.audit.job import AuditOptions, run_audit
from simdetect.backbones import load_backbone
from simdetect.backbones.base import Backbone
from simdetect.errors import UserError
from simdetect.evaluation.throughput import forward_rate, sample_files
from simdetect.index.build import AddSummary, add_files, add_tree, backbone_for_index
from simdetect.index.store import IndexWriter, open_index
from simdetect.io.walk import iter_image_files, list_artist_folders
from simdetect.scan import Scanner, ScanParams

log = logging.getLogger(__name__)

FORWARD_SAMPLE = 512  # pre-decoded tensors held in memory for the forward-only rate
SEED = 0


@dataclass
class AuditBenchResult:
    corpus: str
    backbone: str
    index_source: str
    index_works: int
    audited: int
    batch_size: int
    forward_ips: float
    audit_ips: float  # steady state: the chunk loop (read, decode, embed, score, write)
    audit_whole_ips: float  # whole run, with opening the index and writing the summary
    n: int
    peak_rss_n_mb: float | None
    peak_rss_10n_mb: float | None

    @property
    def ratio(self) -> float:
        return self.audit_ips / self.forward_ips if self.forward_ips else math.nan

    @property
    def whole_ratio(self) -> float:
        return self.audit_whole_ips / self.forward_ips if self.forward_ips else math.nan

    @property
    def memory_growth(self) -> float:
        if not self.peak_rss_n_mb or not self.peak_rss_10n_mb:
            return math.nan
        return self.peak_rss_10n_mb / self.peak_rss_n_mb

    def describe(self) -> str:
        mem = (
            f"; peak RSS {self.peak_rss_n_mb:.0f} MB for {self.n} inputs, "
            f"{self.peak_rss_10n_mb:.0f} MB for {10 * self.n} inputs "
            f"(x{self.memory_growth:.2f})"
            if self.peak_rss_n_mb and self.peak_rss_10n_mb
            else ""
        )
        return (
            f"{self.corpus}: {self.backbone}, index of {self.index_works} works "
            f"({self.index_source}); audit {self.audit_ips:.1f} img/s over {self.audited} "
            f"images = {100 * self.ratio:.0f}% of forward-only {self.forward_ips:.1f} img/s "
            f"(batch {self.batch_size}; whole run with start-up and summary "
            f"{self.audit_whole_ips:.1f} img/s = {100 * self.whole_ratio:.0f}%){mem}"
        )


def split_corpus(
    corpus: Path, fraction: float, seed: int = SEED
) -> tuple[dict[str, list[str]], list[str]]:
    """Per artist folder, a seeded `fraction` of the works to index; the rest to audit."""
    rng = random.Random(seed)
    indexed: dict[str, list[str]] = {}
    rest: list[str] = []
    for name, folder in list_artist_folders(corpus):
        files = [str(p) for p in iter_image_files(folder)]
        rng.shuffle(files)
        k = max(1, math.ceil(fraction * len(files)))
        indexed[name] = files[:k]
        rest.extend(files[k:])
    rng.shuffle(rest)
    return indexed, rest


def _build_index(
    target: Path, corpus: Path, fraction: float, backbone: Backbone, batch_size: int
) -> tuple[list[str], str]:
    """Index part of the corpus (artist folders) or the demo seeds; return files to audit."""
    try:
        indexed, rest = split_corpus(corpus, fraction)
    except ValueError:  # no artist folders: a flat corpus is audited against the seeds
        from simdetect.demo import find_seeds

        seeds = find_seeds()
        add_tree(target, seeds / "artists", backbone=backbone, batch_size=batch_size)
        return [str(p) for p in iter_image_files(corpus)], f"demo seeds {seeds}"
    with IndexWriter(target, backbone.fingerprint, backbone.name) as writer:
        summary = AddSummary()
        for name, files in indexed.items():
            add_files(
                writer,
                files,
                backbone,
                name,
                summary=summary,
                batch_size=batch_size,
                commit_every=10**9,
            )
    return rest, f"{fraction:.0%} of each artist's works"


# The child reports its own high-water mark at exit. Not wait4's ru_maxrss: Linux
# carries the parent's resident size at fork into the child's maximum, so that figure
# would measure this benchmark process (which holds decoded tensors), not the audit.
_CHILD = """
import atexit, os, sys

def _peak():
    with open("/proc/self/status", encoding="ascii") as fh:
        kb = next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:"))
    with open(os.environ["SIMDETECT_PEAK_FILE"], "w", encoding="ascii") as out:
        out.write(str(kb))

atexit.register(_peak)
sys.argv = ["simdetect", *sys.argv[1:]]
from simdetect.cli import main
main()
"""


def _peak_rss_mb(args: list[str], scratch: Path) -> float:
    """Peak resident memory of one `simdetect` run in a fresh process, in MB."""
    peak_file = scratch / f"peak-{os.getpid()}-{len(list(scratch.iterdir()))}.txt"
    env = {**os.environ, "SIMDETECT_PEAK_FILE": str(peak_file)}
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        check=False,
    )
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip()[-500:]
        raise RuntimeError(f"audit subprocess failed ({proc.returncode}): {err}")
    return int(peak_file.read_text(encoding="ascii")) / 1024.0


def _write_list(path: Path, files: list[str], total: int) -> Path:
    """A list source; absolute paths, since a list's relative paths are read from its folder."""
    absolute = [os.path.abspath(f) for f in files]
    with path.open("w", encoding="utf-8") as fh:
        for i in range(total):
            fh.write(absolute[i % len(absolute)] + "\n")
    return path


def measure_audit(
    corpus: Path,
    limit: int,
    *,
    index: Path | None = None,
    index_fraction: float = 0.2,
    batch_size: int = 32,
    workers: int = 2,
    memory: bool = True,
) -> AuditBenchResult:
    if not corpus.is_dir():
        raise NotADirectoryError(f"{corpus}: not a folder")
    with tempfile.TemporaryDirectory(prefix="simdetect-audit-bench-") as tmp_name:
        tmp = Path(tmp_name)
        if index is not None:
            backbone = backbone_for_index(index, None)
            pool = sample_files(corpus, 10**9, seed=SEED)
            index_dir, index_source = index, f"given index {index}"
        else:
            backbone = load_backbone("effnet-style")
            index_dir = tmp / "index"
            pool, index_source = _build_index(
                index_dir, corpus, index_fraction, backbone, batch_size
            )
            random.Random(SEED).shuffle(pool)
        files = pool[:limit]
        if not files:
            raise FileNotFoundError(f"{corpus}: no files left to audit")
        snap = open_index(index_dir)
        Scanner(snap, ScanParams())  # calibrates once, outside the timed run
        forward = forward_rate(backbone, files[:FORWARD_SAMPLE], batch_size)
        listing = _write_list(tmp / "inputs.txt", files, len(files))
        outcome = run_audit(
            listing,
            index_dir,
            tmp / "timed.parquet",
            options=AuditOptions(batch_size=batch_size, workers=workers),
            backbone=backbone,
        )
        if outcome.errors:  # error rows cost no inference: the rate would mean nothing
            raise UserError(
                f"{corpus}: {outcome.errors} of {outcome.rows} audited files gave error rows; "
                "the benchmark needs readable images"
            )
        peak_n = peak_10n = None
        if memory:
            runs = []
            for mult in (1, 10):
                lst = _write_list(tmp / f"inputs-{mult}.txt", files, mult * len(files))
                cmd = [
                    "audit",
                    str(lst),
                    "--index",
                    str(index_dir),
                    "--out",
                    str(tmp / f"mem-{mult}.parquet"),
                    "--batch-size",
                    str(batch_size),
                    "--workers",
                    str(workers),
                ]
                runs.append(_peak_rss_mb(cmd, tmp))
            peak_n, peak_10n = runs
        return AuditBenchResult(
            corpus=str(corpus),
            backbone=backbone.name,
            index_source=index_source,
            index_works=snap.count,
            audited=outcome.rows,
            batch_size=batch_size,
            forward_ips=forward,
            audit_ips=outcome.rows / outcome.stream_seconds,
            audit_whole_ips=outcome.rows / outcome.seconds,
            n=len(files),
            peak_rss_n_mb=peak_n,
            peak_rss_10n_mb=peak_10n,
        )
