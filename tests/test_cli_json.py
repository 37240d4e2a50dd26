"""`--json` on `scan` and `index info`, and the CLI polish around it.

stdout in --json mode carries JSON and nothing else: `scan --json` prints exactly the
lines `--out rows.jsonl` writes, `index info --json` the facts its tables show, as typed
values. Everything for people (progress, summary, errors) goes to stderr. The index is
the session's seeds index (copied: scans store their calibration in it); the suspects
are the real seeds files.
"""

from __future__ import annotations

import dataclasses
import io
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import cli_env, invoke, read_jsonl
from rich.console import Console

import simdetect.cli.common as common
from simdetect.backbones import Backbone
from simdetect.cli.common import plural
from simdetect.cli.scan import scan_counts
from simdetect.index import IndexWriter, open_index
from simdetect.io.image_record import ImageRecord
from simdetect.scan import ScanResult

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def by_name(rows: list[dict]) -> dict[str, dict]:
    return {Path(r["suspect"]).name: r for r in rows}


def suspect_files(seeds_dir: Path) -> list[Path]:
    return sorted(p for p in (seeds_dir / "suspects").iterdir() if p.suffix in IMAGE_SUFFIXES)


def one_line_error(stderr: str) -> str:
    """The single stderr line of an expected failure (never a traceback)."""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: ") and "Traceback" not in stderr
    return lines[0]


@pytest.fixture(scope="module")
def json_index(module_index: Path) -> Path:
    return module_index


@pytest.fixture(scope="module")
def scanned(json_index: Path, seeds_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """`simdetect scan seeds/suspects --json --out r.jsonl`, once for the module."""
    out = tmp_path_factory.mktemp("json-out") / "r.jsonl"
    result = invoke("scan", seeds_dir / "suspects", "--index", json_index, "--json", "--out", out)
    assert result.exit_code == 0, result.output
    return result, out


# --------------------------------------------------------------------------- scan --json


def test_scan_json_prints_the_rows_the_jsonl_file_holds(
    scanned, json_index: Path, seeds_dir: Path
) -> None:
    result, out = scanned
    index = json_index
    lines = result.stdout.splitlines()
    rows = [json.loads(line) for line in lines]  # every stdout line is one JSON object
    suspects = suspect_files(seeds_dir)
    assert len(rows) == len(suspects)
    assert sorted(Path(r["suspect"]).name for r in rows) == [p.name for p in suspects]

    assert lines == out.read_text(encoding="utf-8").splitlines()  # the same bytes, in order
    for mine, theirs in zip(rows, read_jsonl(out), strict=True):
        assert mine["suspect"] == theirs["suspect"]
        assert mine["ranking"] == theirs["ranking"]
        assert [m["path"] for m in mine["matches"]] == [m["path"] for m in theirs["matches"]]
    artists = set(open_index(index).manifest.artists)
    for row in rows:
        assert row["error"] is None and row["matches"]
        assert {r["artist"] for r in row["ranking"]} == artists  # every artist ranked
        assert Path(row["matches"][0]["path"]).is_file()  # a real indexed work

    # People still get the summary, on stderr; stdout holds no table.
    assert "Scan results" not in result.stdout and "Scan results" not in result.stderr
    assert f"{len(suspects)} scanned: " in result.stderr
    assert f"results written to {out}" in result.stderr


def test_scan_json_alone_as_a_process(scanned, json_index: Path, seeds_dir: Path) -> None:
    """A real process: nothing but JSON reaches stdout (no logs, no bar, no library noise),
    and without --out the rows are those the file run wrote."""
    file_rows = by_name(read_jsonl(scanned[1]))
    picks = suspect_files(seeds_dir)[:2]
    args = ["scan", *map(str, picks), "--index", str(json_index), "--json", "--top-k", "2"]
    proc = subprocess.run(
        [sys.executable, "-m", "simdetect", *args],
        capture_output=True,
        text=True,
        env=cli_env(),
        stdin=subprocess.DEVNULL,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    rows = by_name([json.loads(line) for line in proc.stdout.splitlines()])
    assert set(rows) == {p.name for p in picks}
    for name, row in rows.items():
        theirs = file_rows[name]
        assert row["suspect"] == theirs["suspect"]
        assert [m["path"] for m in row["matches"]] == [m["path"] for m in theirs["matches"][:2]]
        for mine, other in zip(row["ranking"], theirs["ranking"], strict=True):
            assert mine["artist"] == other["artist"]
            assert mine["score"] == pytest.approx(other["score"], abs=1e-5)
    assert "2 scanned: " in proc.stderr


def test_scan_json_errors_keep_their_exit_codes(json_index: Path, tmp_path: Path) -> None:
    suspect = tmp_path / "x.png"
    suspect.write_bytes(b"")
    bad = invoke("scan", suspect, "--index", json_index, "--json", "--top-k", "0")
    assert bad.exit_code == 1 and bad.stdout == ""
    assert "--top-k must be at least 1" in one_line_error(bad.stderr)

    none = invoke("scan", suspect, "--index", tmp_path / "none", "--json")
    assert none.exit_code == 1 and none.stdout == ""
    assert "no index at" in one_line_error(none.stderr)

    # Nothing readable: the error rows (what --out would hold) and still exit code 1.
    unread = invoke("scan", suspect, tmp_path / "gone.jpg", "--index", json_index, "--json")
    assert unread.exit_code == 1
    rows = [json.loads(line) for line in unread.stdout.splitlines()]
    assert {Path(r["suspect"]).name: r["error"] for r in rows} == {
        "x.png": "zero-byte file",
        "gone.jpg": "no such file or directory",
    }
    assert "no suspect could be read" in unread.stderr


# --------------------------------------------------------------------------- index info --json


def test_index_info_json(json_index: Path, scanned, seeds_dir: Path, backbone: Backbone) -> None:
    result = invoke("index", "info", "--index", json_index, "--json")
    assert result.exit_code == 0, result.output
    assert len(result.stdout.strip().splitlines()) == 1
    info = json.loads(result.stdout)

    per_folder = {
        folder.name: sum(1 for f in folder.iterdir() if f.suffix in IMAGE_SUFFIXES)
        for folder in (seeds_dir / "artists").iterdir()
        if folder.is_dir()
    }
    snap = open_index(json_index)
    m = snap.manifest
    assert info["artists"] == per_folder == m.artists
    assert info["works"] == sum(per_folder.values()) == m.count
    assert info["background"] == {}
    assert info["path"] == str(json_index.resolve())
    assert info["dim"] == backbone.dim == 2560
    assert info["backbone"] == {
        "spec": "effnet-style",
        "name": "effnet-style",
        "fingerprint": backbone.fingerprint.digest(),
        "weights_sha256": backbone.fingerprint.weights_sha256,
        "preprocessing": backbone.fingerprint.preprocessing,
        "descriptor_version": backbone.fingerprint.descriptor_version,
    }
    # The same index the scan rows name.
    row = read_jsonl(scanned[1])[0]
    assert info["backbone"]["fingerprint"] == row["fingerprint"]
    assert info["generation"] == row["index_generation"] == m.generation
    assert info["snapshot_digest"] == row["index_snapshot"]
    assert info["index_type"] == m.index_type
    assert info["search"] == "exact" and info["ann"] is None
    cal = info["calibration"]
    assert cal["state"] == "calibrated" and cal["reason"] is None  # stored by the scan
    assert cal["computed_at"] == row["calibration"]["computed_at"]
    assert isinstance(cal["seconds"], float) and cal["seconds"] >= 0
    assert info["reference_sets"] == {}
    assert (info["created_at"], info["updated_at"]) == (m.created_at, m.updated_at)


def test_index_info_json_reference_set_and_approximate_search(
    index_copy: Path, seeds_dir: Path
) -> None:
    suspect = suspect_files(seeds_dir)[0]
    added = invoke("index", "add-reference", "gen", suspect, "--index", index_copy)
    assert added.exit_code == 0, added.output
    assert "reference set gen: 1 image stored" in added.stdout  # not "1 images"
    optimized = invoke("index", "optimize", "--index", index_copy, "--type", "hnsw")
    assert optimized.exit_code == 0, optimized.output

    result = invoke("index", "info", "--index", index_copy, "--json")
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    m = open_index(index_copy).manifest
    assert m.ann is not None
    assert info["search"] == "approximate" and info["index_type"] == m.index_type
    ann = info["ann"]
    assert ann["type"] == "hnsw" and ann["params"] == m.ann.params
    assert ann["recall_at_k"] == m.ann.recall_at_k and ann["recall_k"] == m.ann.recall_k
    assert ann["measured_at_count"] == m.count and ann["stale"] is False
    assert ann["memory_bytes"] == m.ann.memory_bytes > 0
    ref = info["reference_sets"]["gen"]
    assert ref["images"] == 1 and ref["backbone"] == "effnet-style"
    assert isinstance(ref["digest"], str) and isinstance(ref["created_at"], str)
    assert info["generation"] == m.generation


def test_index_info_json_without_an_index_is_one_line(tmp_path: Path) -> None:
    result = invoke("index", "info", "--index", tmp_path / "none", "--json")
    assert result.exit_code == 1 and result.stdout == ""
    assert "no index at" in one_line_error(result.stderr)


# --------------------------------------------------------------------------- polish


def test_counts_say_1_artist_not_1_artists() -> None:
    assert plural(1, "artist") == "1 artist"
    assert plural(2, "artist") == "2 artists"
    assert plural(0, "work") == "0 works"
    assert plural(12_000, "vector") == "12,000 vectors"
    assert plural(1, "edited copy", "edited copies") == "1 edited copy"
    assert plural(3, "edited copy", "edited copies") == "3 edited copies"
    copy = ScanResult(suspect="a.png", sha256="0" * 64, copy={"source": {}})
    plain = ScanResult(suspect="b.png", sha256="1" * 64)
    assert "; 1 edited copy; 0 skipped" in scan_counts([copy, plain])
    assert "; 0 edited copies; 0 skipped" in scan_counts([plain])


def test_folder_progress_bars_show_a_total(
    monkeypatch: pytest.MonkeyPatch, json_index: Path, seeds_dir: Path, tmp_path: Path
) -> None:
    """Drawn on a (forced) terminal: the bar counts up to the number of files found."""
    bar = io.StringIO()
    terminal = Console(file=bar, force_terminal=True, width=150, soft_wrap=True)
    monkeypatch.setattr(common, "err_console", terminal)
    folder = tmp_path / "three"
    folder.mkdir()
    for f in suspect_files(seeds_dir)[:3]:
        shutil.copyfile(f, folder / f.name)

    def drawn() -> str:
        text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", bar.getvalue())
        bar.seek(0)
        bar.truncate()
        return text

    result = invoke("scan", folder, "--index", json_index, "--json")
    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == 3  # the bar never reaches stdout
    assert re.search(r"scanning .* 3/3", drawn())

    new = tmp_path / "new"
    result = invoke("index", "add", folder, "--artist", "solo", "--index", new)
    assert result.exit_code == 0, result.output
    assert re.search(r"indexing solo .* 3/3", drawn())
    # One artist, no background: the warning counts "1 artist" too.
    text = " ".join(result.stdout.split())
    assert "by 1 artist" in text and "1 artist has fewer" in text and "1 artists" not in text


def test_backbone_mismatch_is_one_line(tmp_path: Path, seeds_dir: Path, backbone: Backbone) -> None:
    """An index whose vectors came from other weights of the same backbone name."""
    foreign = dataclasses.replace(backbone.fingerprint, weights_sha256="0" * 64)
    root = tmp_path / "foreign"
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((4, backbone.dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    records = [ImageRecord(f"/x/{i}.png", f"{i:064x}", 1, "PNG", 1, 1, "0" * 16) for i in range(4)]
    with IndexWriter(root, foreign, "effnet-style") as writer:
        writer.add(records[:2], vectors[:2], "a")
        writer.add(records[2:], vectors[2:], "b")
        writer.commit()
    suspect = suspect_files(seeds_dir)[0]
    for extra in ([], ["--json"]):
        result = invoke("scan", suspect, "--index", root, *extra)
        assert result.exit_code == 1
        assert isinstance(result.exception, SystemExit), repr(result.exception)
        assert result.stdout == ""
        line = one_line_error(result.stderr)
        assert "cannot be queried with effnet-style" in line and "weights_sha256" in line


def test_index_add_with_nothing_readable_exits_non_zero(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.jpg").write_bytes(b"not an image at all")
    (tmp_path / "in" / "b.png").write_bytes(b"")
    result = invoke("index", "add", tmp_path / "in", "--artist", "x", "--index", tmp_path / "idx")
    assert result.exit_code == 1, result.output
    assert "none of the 2 inputs could be read; nothing was added" in result.output
    assert "a.jpg: not an image" in result.output  # the reasons are still listed
