"""Batch audit: sources, bad files, chunks and checkpoint, SIGKILL and resume, summary, CLI.

Real parts throughout: the demo seeds index on disk (FAISS), real image files and
broken ones, the real CLI in-process (CliRunner) and as a subprocess that is really
SIGKILLed part-way through.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from conftest import cli_env, invoke

from simdetect.audit import AuditOptions, AuditStateError, iter_source, run_audit, summary_paths
from simdetect.audit.checkpoint import CHECKPOINT_NAME, chunk_path, parts_dir
from simdetect.audit.writer import AUDIT_SCHEMA, read_metadata
from simdetect.backbones import Backbone
from simdetect.embed import EmbeddedBatch, embed_files
from simdetect.io.walk import iter_image_files

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
SCAN_RANK_KEYS = {
    "artist",
    "score",
    "similarity",
    "relative",
    "percentile",
    "p_value",
    "n_impostors",
    "genuine_percentile",
    "n_genuine",
    "decision",
    "threshold",
    "target_fpr",
    "fpr_at_threshold",
    "n_works",
    "reason",
}


def suspects() -> list[Path]:
    return sorted((SEEDS / "suspects").iterdir())


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """The subprocess audits run with OMP_NUM_THREADS=1 (cli_env); in-process runs whose rows
    are compared with theirs must use one thread too: effnet's vectors differ in the last
    bits between one and two threads, enough to move a 6-decimal score."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture()
def bad_folder(tmp_path: Path) -> Path:
    """Six good suspects plus every kind of bad file, and a link out of the folder."""
    root = tmp_path / "inbox"
    (root / "sub").mkdir(parents=True)
    good = suspects()
    for i, p in enumerate(good[:6]):
        shutil.copy2(p, (root if i % 2 else root / "sub") / f"good_{i}{p.suffix}")
    jpeg = next(p for p in good if p.suffix == ".jpg").read_bytes()
    (root / "zero.png").write_bytes(b"")
    (root / "truncated.jpg").write_bytes(jpeg[: len(jpeg) // 3])
    (root / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(200))
    (root / "notes.txt").write_text("not an image\n", encoding="utf-8")
    outside = tmp_path / "outside.jpg"
    shutil.copy2(good[0], outside)
    (root / "link_out.jpg").symlink_to(outside)
    return root


def read_rows(path: Path) -> pd.DataFrame:
    return pq.read_table(path).to_pandas()


def rows_as_records(path: Path) -> list[dict]:
    return pq.read_table(path).to_pylist()


# ---------------------------------------------------------------- sources and bad files


def test_folder_source_bad_files_become_error_rows(
    built_index: Path, backbone: Backbone, bad_folder: Path, tmp_path: Path
) -> None:
    out = tmp_path / "res" / "results.parquet"
    outcome = run_audit(
        bad_folder, built_index, out, options=AuditOptions(top_artists=3), backbone=backbone
    )
    df = read_rows(out)
    # One row per entry, in the walk's order (sorted, depth-first), links included.
    walked = sorted(p.name for p in bad_folder.rglob("*"))
    assert len(df) == outcome.rows == len([w for w in walked if w != "sub"])
    assert df["seq"].tolist() == list(range(len(df)))
    expected_order = [str(p) for p in iter_image_files(bad_folder)]
    by_name = dict(zip(df["path"].map(lambda p: Path(p).name), df["error"], strict=True))
    assert by_name["link_out.jpg"] == "symlink points outside the input folder"
    assert by_name["zero.png"] == "zero-byte file"
    for name in ("truncated.jpg", "corrupt.png", "notes.txt"):
        assert by_name[name], name
    assert [p for p in df["path"] if not p.endswith("link_out.jpg")] == expected_order
    bad = df[df["error"].notna()]
    assert len(bad) == outcome.errors == 5
    assert bad["sha256"].isna().all() and not bad["flagged"].any()
    assert all(len(r) == 0 for r in bad["ranking"])
    good = df[df["error"].isna()]
    assert len(good) == 6
    for _, row in good.iterrows():
        assert len(row["sha256"]) == 64
        assert len(row["ranking"]) == 3
        assert set(row["ranking"][0]) == SCAN_RANK_KEYS  # the scan row's field names
        scores = [e["score"] for e in row["ranking"]]
        assert scores == sorted(scores, reverse=True)
        assert row["top_artist"] == row["ranking"][0]["artist"]
        assert row["flagged"] == bool(len(row["flagged_artists"]))
        assert row["best_match_artist"] and row["backbone"] == backbone.name
    assert pq.read_schema(out).remove_metadata().equals(AUDIT_SCHEMA)
    meta = read_metadata(out)
    assert meta is not None and meta["complete"] and meta["settings"]["top_artists"] == 3
    assert not parts_dir(out).exists()  # clean-up after the atomic assembly


def test_list_csv_and_parquet_sources_give_the_same_rows(
    built_index: Path, backbone: Backbone, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    (data / "imgs").mkdir(parents=True)
    chosen = suspects()[:5]
    for p in chosen:
        shutil.copy2(p, data / "imgs" / p.name)
    # Relative entries are relative to the list's folder; one entry is missing.
    entries = [f"imgs/{p.name}" for p in chosen[:3]] + ["imgs/missing.png"]
    entries += [str((data / "imgs" / p.name).resolve()) for p in chosen[3:]]
    listing = data / "inputs.txt"
    listing.write_text(
        "# generator outputs of 2026-11-23\n\n" + "\n".join(entries) + "\n", encoding="utf-8"
    )
    table_csv = data / "inputs.csv"
    with table_csv.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "path"])
        w.writerows([i, e] for i, e in enumerate(entries))
    table_pq = data / "inputs.parquet"
    pq.write_table(
        pa.table({"path": entries, "id": list(range(len(entries)))}), table_pq, row_group_size=2
    )
    results = {}
    for src in (listing, table_csv, table_pq):
        out = tmp_path / f"out-{src.suffix[1:]}.parquet"
        run_audit(src, built_index, out, options=AuditOptions(chunk_rows=3), backbone=backbone)
        results[src.suffix] = rows_as_records(out)
    assert results[".txt"] == results[".csv"] == results[".parquet"]
    rows = results[".txt"]
    assert [r["path"] for r in rows] == [str(data / e) for e in entries[:4]] + entries[4:]
    assert rows[3]["error"].startswith("cannot read file")
    assert sum(r["error"] is None for r in rows) == 5


def test_table_sources_stream_and_refuse_a_missing_path_column(tmp_path: Path) -> None:
    n = 20_000  # more than two read batches
    table = tmp_path / "big.parquet"
    pq.write_table(pa.table({"path": [f"/x/{i}.png" for i in range(n)]}), table)
    seen = 0
    for item in iter_source(table):
        assert item.seq == seen and item.path == f"/x/{seen}.png"
        seen += 1
    assert seen == n
    bad = tmp_path / "nopath.csv"
    bad.write_text("file\na.png\n", encoding="utf-8")
    with pytest.raises(ValueError, match="needs a 'path' column"):
        list(iter_source(bad))


# ---------------------------------------------------------------- chunks, summary, engine


def test_small_chunks_and_summary_agree_with_rows(
    built_index: Path, backbone: Backbone, tmp_path: Path
) -> None:
    out = tmp_path / "results.parquet"
    n = len(suspects())
    outcome = run_audit(
        SEEDS / "suspects",
        built_index,
        out,
        options=AuditOptions(chunk_rows=4, top_artists=8),
        backbone=backbone,
    )
    # Each chunk is copied into the output as one row group: several chunks were written.
    assert pq.ParquetFile(out).num_row_groups == math.ceil(n / 4) > 1
    df = read_rows(out)
    assert len(df) == n and outcome.errors == 0
    files = summary_paths(out)
    assert files == outcome.files
    for f in (files.flag_rates_csv, files.histograms_csv, files.plot_png):
        assert f.is_file() and f.stat().st_size > 0
    assert files.plot_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    flag_counts = Counter(a for names in df["flagged_artists"] for a in names)
    rates = pd.read_csv(files.flag_rates_csv)
    assert set(rates["artist"]) >= set(flag_counts)
    for row in rates.itertuples():
        assert row.flagged == flag_counts.get(row.artist, 0)
        assert row.examined == n
        assert row.flag_rate == pytest.approx(row.flagged / n, abs=1e-6)
        assert row.ranked_first == (df["top_artist"] == row.artist).sum()
    assert df["flagged"].sum() == outcome.flagged

    hist = pd.read_csv(files.histograms_csv)
    per_artist = Counter(e["artist"] for r in df["ranking"] for e in r if e["score"] is not None)
    for artist, group in hist.groupby("artist"):
        assert group["count"].sum() == per_artist.get(artist, 0)
    scores = [e["score"] for r in df["ranking"] for e in r if e["score"] is not None]
    assert hist["score_from"].min() <= min(scores) and hist["score_to"].max() >= max(scores)


def one_file_batches(paths, backbone, **kwargs) -> Iterator[EmbeddedBatch]:
    """Another engine: embeds each file alone, so batches and skips interleave differently."""
    for p in paths:
        yield from embed_files([p], backbone, **{**kwargs, "batch_size": 1})


def test_injected_embedding_engine_gives_the_same_rows(
    built_index: Path, backbone: Backbone, bad_folder: Path, tmp_path: Path
) -> None:
    a, b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    run_audit(bad_folder, built_index, a, backbone=backbone, options=AuditOptions(batch_size=1))
    run_audit(
        bad_folder,
        built_index,
        b,
        backbone=backbone,
        embed=one_file_batches,
        options=AuditOptions(batch_size=1),
    )
    assert rows_as_records(a) == rows_as_records(b)


# ---------------------------------------------------------------- refusal, overwrite, resume


def test_existing_output_is_refused_without_resume(
    built_index: Path, backbone: Backbone, tmp_path: Path
) -> None:
    out = tmp_path / "r.parquet"
    src = SEEDS / "suspects"
    first = run_audit(src, built_index, out, backbone=backbone)
    before = out.read_bytes()
    with pytest.raises(AuditStateError, match=r"already exists; pass --resume .* --overwrite"):
        run_audit(src, built_index, out, backbone=backbone)
    assert out.read_bytes() == before
    again = run_audit(src, built_index, out, backbone=backbone, resume=True)
    assert again.already_complete and again.rows == first.rows
    assert out.read_bytes() == before
    with pytest.raises(AuditStateError, match="other settings"):
        run_audit(
            src,
            built_index,
            out,
            backbone=backbone,
            resume=True,
            options=AuditOptions(top_artists=2),
        )
    redo = run_audit(
        src,
        built_index,
        out,
        backbone=backbone,
        overwrite=True,
        options=AuditOptions(top_artists=2),
    )
    assert redo.rows == first.rows
    assert all(len(r) == 2 for r in read_rows(out)["ranking"])
    # In-process CLI: one red line, exit code 1.
    result = invoke("audit", src, "--index", built_index, "--out", out)
    assert result.exit_code == 1
    assert "already exists; pass --resume" in result.output


def _kill_when(cmd: list[str], when, log: Path, timeout: float = 120) -> None:
    with log.open("ab") as err:
        proc = subprocess.Popen(
            cmd, env=cli_env(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err
        )
        deadline = time.monotonic() + timeout
        try:
            while proc.poll() is None:
                if when():
                    os.kill(proc.pid, signal.SIGKILL)
                    proc.wait()
                    return
                if time.monotonic() > deadline:
                    pytest.fail(f"{cmd} did not reach the kill point; see {log}")
                time.sleep(0.002)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    pytest.fail(f"audit finished before it could be killed: {log.read_text(errors='replace')}")


def _checkpoint_chunks(parts: Path) -> int:
    try:
        return int(json.loads((parts / CHECKPOINT_NAME).read_text(encoding="utf-8"))["chunks"])
    except (OSError, ValueError, KeyError):
        return 0


@pytest.mark.slow
def test_sigkill_then_resume_gives_exactly_the_uninterrupted_rows(
    built_index: Path, backbone: Backbone, bad_folder: Path, tmp_path: Path
) -> None:
    # Enough inputs that the run is still going when the second chunk lands.
    works = sorted(p for p in (SEEDS / "artists").rglob("*") if p.is_file())[:60]
    bad = [str(p) for p in iter_image_files(bad_folder)]
    entries = [str(p) for p in suspects()] + bad + [str(p) for p in works]
    listing = tmp_path / "inputs.txt"
    listing.write_text("\n".join(entries) + "\n", encoding="utf-8")
    opts = ["--chunk-rows", "3", "--batch-size", "4", "--top-artists", "4"]
    options = AuditOptions(chunk_rows=3, batch_size=4, top_artists=4)

    reference = tmp_path / "reference.parquet"
    run_audit(listing, built_index, reference, options=options, backbone=backbone)

    out = tmp_path / "killed" / "results.parquet"
    parts = parts_dir(out)
    cmd = [
        sys.executable,
        "-m",
        "simdetect",
        "audit",
        str(listing),
        "--index",
        str(built_index),
        "--out",
        str(out),
        *opts,
    ]
    _kill_when(cmd, lambda: _checkpoint_chunks(parts) >= 2, tmp_path / "stderr.log")
    assert not out.exists()
    done = _checkpoint_chunks(parts)
    assert 2 <= done < math.ceil(len(entries) / 3)
    assert chunk_path(parts, 0).is_file() and chunk_path(parts, done - 1).is_file()

    # What a kill at other instants leaves: a chunk beyond the checkpoint and a
    # half-written temporary. Both must be discarded, not counted twice.
    shutil.copy2(chunk_path(parts, 0), chunk_path(parts, done + 1))
    (parts / f".{chunk_path(parts, done).name}.tmp-1-abc.parquet").write_bytes(b"PAR1 partial")

    # Resuming under other settings, or over a source that changed, is refused.
    changed = invoke(
        "audit", listing, "--index", built_index, "--out", out, "--resume", *opts[:-1], "2"
    )
    assert changed.exit_code == 1 and "settings changed" in changed.output
    original = listing.read_text(encoding="utf-8")
    listing.write_text("\n".join(reversed(entries)) + "\n", encoding="utf-8")
    moved = invoke("audit", listing, "--index", built_index, "--out", out, "--resume", *opts)
    assert moved.exit_code == 1 and "no longer lists the same inputs" in moved.output
    listing.write_text(original, encoding="utf-8")

    refused = subprocess.run(
        cmd, env=cli_env(), capture_output=True, text=True, timeout=120, check=False
    )
    assert refused.returncode == 1
    assert "interrupted audit" in refused.stderr and "--resume" in refused.stderr
    assert refused.stderr.count("\n") == 1

    result = invoke("audit", listing, "--index", built_index, "--out", out, *opts, "--resume")
    assert result.exit_code == 0, result.output
    assert f"resumed after {3 * done} inputs" in result.output
    assert rows_as_records(out) == rows_as_records(reference)
    assert len(read_rows(out)) == len(entries)
    assert not parts.exists()
    assert summary_paths(out).flag_rates_csv.read_text(encoding="utf-8") == (
        summary_paths(reference).flag_rates_csv.read_text(encoding="utf-8")
    )


# ---------------------------------------------------------------- benchmark command


@pytest.mark.slow
def test_benchmark_audit_command_prints_ratio_and_memory(
    built_index: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(SEEDS)  # a relative corpus path, as `../shared/corpora/...` is
    result = invoke(
        "benchmark",
        "audit",
        "suspects",
        "--index",
        built_index,
        "--limit",
        "4",
        "--batch-size",
        "4",
    )
    assert result.exit_code == 0, result.output
    ratio = re.search(r"= (\d+)% of forward-only", result.output)
    assert ratio is not None and int(ratio.group(1)) < 200  # every file was really embedded
    assert "peak RSS" in result.output and "for 40 inputs" in result.output


def test_kill_during_final_assembly_or_clean_up_resumes(
    built_index: Path, backbone: Backbone, tmp_path: Path
) -> None:
    """The states a kill after the last chunk leaves, rebuilt from a real run's chunks."""
    listing = tmp_path / "in.txt"
    listing.write_text("\n".join(str(p) for p in suspects()[:7]) + "\n", encoding="utf-8")
    out = tmp_path / "r.parquet"
    opts = AuditOptions(chunk_rows=2)
    run_audit(listing, built_index, out, options=opts, backbone=backbone)
    expected = rows_as_records(out)
    meta = read_metadata(out)
    assert meta is not None
    pf = pq.ParquetFile(out)
    parts = parts_dir(out)

    def leave_parts() -> None:
        # Every chunk on disk and a checkpoint saying so: what a kill after the chunk
        # loop leaves, before or after the final file was moved into place.
        parts.mkdir(exist_ok=True)
        for i in range(pf.num_row_groups):
            pq.write_table(pf.read_row_group(i).replace_schema_metadata(None), chunk_path(parts, i))
        (parts / CHECKPOINT_NAME).write_text(
            json.dumps(
                {
                    "format": "simdetect-audit-checkpoint",
                    "version": 1,
                    "settings": meta["settings"],
                    "chunks": pf.num_row_groups,
                    "inputs_done": 7,
                    "last_path": expected[-1]["path"],
                    "finished": True,
                    "extra": {},
                }
            ),
            encoding="utf-8",
        )

    leave_parts()
    out.rename(tmp_path / "aside.parquet")  # killed before the final file was written
    first = run_audit(listing, built_index, out, options=opts, backbone=backbone, resume=True)
    assert rows_as_records(out) == expected and first.rows == 7 and not parts.exists()
    leave_parts()  # killed after the final file was written, before the clean-up
    second = run_audit(listing, built_index, out, options=opts, backbone=backbone, resume=True)
    assert rows_as_records(out) == expected and second.rows == 7 and not parts.exists()
    # Killed during the clean-up, after the checkpoint was removed: leftover chunks only.
    parts.mkdir()
    shutil.copy2(tmp_path / "aside.parquet", chunk_path(parts, 0))
    third = run_audit(listing, built_index, out, options=opts, backbone=backbone, resume=True)
    assert third.already_complete and rows_as_records(out) == expected and not parts.exists()
