"""The hostile corpus as a regression suite: `index add`, `scan` and `audit` over 300+ entries.

The corpus is built by tests/hostile/make_corpus.py (no third-party images). Each
command runs as a real subprocess under a deadline and must finish with exit 0 and
account for every entry: indexed (or a byte-for-byte duplicate of one), or skipped with
a one-line reason. Each entry's preparation is also timed on its own (no entry may take
more than ENTRY_DEADLINE_S), and each command's peak memory (VmHWM) is measured.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from simdetect.backbones import Backbone
from simdetect.embed import _Prepared, prepare_file
from simdetect.io.images import LoadLimits
from simdetect.io.names import fs_name
from simdetect.io.walk import SkipRecord

REPO = Path(__file__).resolve().parent.parent
MAKE_CORPUS = REPO / "tests" / "hostile" / "make_corpus.py"
COMMAND_DEADLINE_S = 420
ENTRY_DEADLINE_S = 20.0
PEAK_LIMIT_MB = 3072  # documented bound (README, "Hostile input"); measured in BENCHMARKS.md

# Runs the console entry point and writes the process's peak resident memory on exit.
_RUN = """
import atexit, os, re, sys
def _peak():
    status = open("/proc/self/status").read()
    open(os.environ["SIMDETECT_HWM_FILE"], "w").write(re.search(r"VmHWM:\\s+(\\d+)", status)[1])
atexit.register(_peak)
from simdetect.cli import main
sys.argv = ["simdetect", *sys.argv[1:]]
main()
"""


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    root = (tmp_path_factory.mktemp("hostile") / "corpus").resolve()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    subprocess.run([sys.executable, str(MAKE_CORPUS), str(root)], check=True, timeout=300, env=env)
    entries = json.loads((root.parent / "entries.json").read_text(encoding="utf-8"))["entries"]
    assert len(entries) >= 300
    yield root, entries
    for dirpath, _dirs, filenames in os.walk(root):  # let pytest clean it up
        for name in filenames:
            path = os.path.join(dirpath, name)
            if not os.path.islink(path):
                os.chmod(path, 0o600)


def _simdetect(tmp: Path, *args: object) -> tuple[subprocess.CompletedProcess[str], int, float]:
    hwm = tmp / f"hwm-{time.monotonic_ns()}"
    env = {**os.environ, "PYTHONPATH": str(REPO), "SIMDETECT_HWM_FILE": str(hwm)}
    env["COLUMNS"] = "200"
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", _RUN, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=COMMAND_DEADLINE_S,
        env=env,
        cwd=tmp,
    )
    elapsed = time.monotonic() - start
    peak_mb = int(hwm.read_text()) // 1024 if hwm.exists() else -1
    return done, peak_mb, elapsed


def _sha(path: str) -> str | None:
    try:
        with open(fs_name(path), "rb") as fh:
            return hashlib.sha256(fh.read()).hexdigest()
    except OSError:
        return None


def test_every_entry_prepares_within_its_deadline(
    corpus: tuple[Path, list[str]], backbone: Backbone
) -> None:
    root, entries = corpus
    slowest = (0.0, "")
    for rel in entries:
        path = fs_name(str(root / rel))
        box: dict[str, Any] = {}
        start = time.monotonic()
        thread = threading.Thread(
            target=lambda p=path, b=box: b.update(r=prepare_file(p, backbone, LoadLimits())),
            daemon=True,
        )
        thread.start()
        thread.join(ENTRY_DEADLINE_S)
        elapsed = time.monotonic() - start
        assert not thread.is_alive(), f"{rel}: still running after {ENTRY_DEADLINE_S} s"
        result = box["r"]
        assert isinstance(result, _Prepared | SkipRecord), (rel, result)
        if isinstance(result, SkipRecord):
            assert result.reason and "\n" not in result.reason, (rel, result.reason)
            assert not result.reason.startswith("unexpected error"), (rel, result.reason)
        slowest = max(slowest, (elapsed, rel))
    print(f"slowest entry: {slowest[1]} in {slowest[0]:.2f} s")


def test_index_add_scan_and_audit_account_for_every_entry(
    corpus: tuple[Path, list[str]], tmp_path: Path
) -> None:
    root, entries = corpus
    expected = {str(root / rel) for rel in entries}
    index = tmp_path / "index"
    figures = {}

    done, peak, secs = _simdetect(
        tmp_path, "index", "add", root, "--artist", "hostile", "--index", index,
        "--skipped-csv", tmp_path / "skips.csv",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    figures["index add"] = (peak, secs)
    assert "Traceback" not in done.stderr
    from simdetect.index.store import open_index

    meta = open_index(index).metadata
    indexed = set(meta["path"])
    skips = pd.read_csv(tmp_path / "skips.csv", keep_default_na=False)
    skipped = dict(zip(skips["path"], skips["reason"], strict=True))
    assert all(reason.strip() for reason in skipped.values())
    assert not indexed & set(skipped)
    missing = expected - indexed - set(skipped)
    duplicates = int(re.search(r"already indexed (\d+)", done.stdout)[1])  # type: ignore[index]
    assert len(missing) == duplicates, sorted(missing)[:20]
    known = set(meta["sha256"])
    assert all(_sha(p) in known for p in missing), "unaccounted entries that are not duplicates"
    assert (indexed | set(skipped)) <= expected | {str(root)}
    assert len(indexed) >= 100  # the corpus is not all junk: what decodes is indexed

    out = tmp_path / "scan.jsonl"
    done, peak, secs = _simdetect(tmp_path, "scan", root, "--index", index, "--out", out)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    figures["scan"] = (peak, secs)
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert sorted(r["suspect"] for r in rows) == sorted(expected)
    assert all((r["error"] is None) == bool(r["ranking"]) for r in rows)
    assert {r["suspect"] for r in rows if r["error"] is None} == indexed | missing

    out = tmp_path / "audit.parquet"
    done, peak, secs = _simdetect(tmp_path, "audit", root, "--index", index, "--out", out)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    figures["audit"] = (peak, secs)
    table = pd.read_parquet(out)
    assert sorted(table["path"]) == sorted(expected)
    assert list(table["seq"]) == list(range(len(expected)))
    errors = dict(zip(table["path"], table["error"], strict=True))
    assert {p for p, e in errors.items() if pd.isna(e)} == indexed | missing

    print("figures (peak MiB, seconds):", figures)
    for command, (peak_mb, _) in figures.items():
        assert 0 < peak_mb < PEAK_LIMIT_MB, (command, peak_mb)
