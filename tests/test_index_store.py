"""The on-disk index: contents, de-duplication, removal, generations, corruption, crashes, locking.

Real images, the real backbone, a real FAISS index on disk and the real CLI, both
in-process (CliRunner) and as a subprocess where process boundaries matter (SIGKILL, lock).
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import cli_env, invoke
from PIL import Image, ImageDraw

from simdetect.backbones import Backbone
from simdetect.index import (
    FingerprintMismatch,
    IndexCorrupt,
    IndexLock,
    IndexLocked,
    IndexNotFound,
    IndexWriter,
    open_index,
)
from simdetect.index.build import add_paths
from simdetect.index.store import METADATA_COLUMNS
from simdetect.io import load_image

SIMDETECT = Path(sys.executable).parent / "simdetect"
TMP_GLOB = ".gen-*.tmp-*"


# --------------------------------------------------------------------------- helpers


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(autouse=True)
def _wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    # Rich wraps at $COLUMNS (80 when not a terminal); paths in tmp are long.
    monkeypatch.setenv("COLUMNS", "400")


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def shapes_image(seed: int, size: int = 96) -> Image.Image:
    """A small picture of random shapes; the seed is also written into one pixel so
    every seed gives different bytes."""
    rng = random.Random(seed)
    img = Image.new("RGB", (size, size), tuple(rng.randrange(256) for _ in range(3)))
    draw = ImageDraw.Draw(img)
    for _ in range(rng.randint(3, 7)):
        box = sorted(rng.sample(range(size), 2)), sorted(rng.sample(range(size), 2))
        xy = (box[0][0], box[1][0], box[0][1], box[1][1])
        fill = tuple(rng.randrange(256) for _ in range(3))
        getattr(draw, rng.choice(["rectangle", "ellipse"]))(xy, fill=fill)
    img.putpixel((0, 0), (seed % 256, (seed // 256) % 256, 7))
    return img


def make_images(folder: Path, n: int, start: int = 0, size: int = 96) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(start, start + n):
        path = folder / f"img_{i:04d}.png"
        shapes_image(i, size).save(path)
        paths.append(path)
    return paths


class CountingBackbone:
    """The real backbone, counting the images it is asked to embed (it still embeds them)."""

    def __init__(self, inner: Backbone) -> None:
        self._inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self.fingerprint = inner.fingerprint
        self.embedded = 0

    def __getattr__(self, attr: str):  # anything else the pipeline asks the backbone for
        return getattr(self._inner, attr)

    def preprocess(self, image: Image.Image) -> torch.Tensor:
        return self._inner.preprocess(image)

    def embed(self, batch: torch.Tensor) -> np.ndarray:
        self.embedded += int(batch.shape[0])
        return self._inner.embed(batch)


def assert_rows_match_vectors(snap) -> None:
    """Every stored vector finds its own row first: FAISS and the metadata line up."""
    vecs = snap.vectors()
    sims, labels = snap.search(vecs, 1)
    assert (labels[:, 0] == np.arange(snap.count)).all()
    np.testing.assert_allclose(sims[:, 0], 1.0, atol=1e-4)


def generation_dirs(index: Path) -> list[str]:
    return sorted(p.name for p in index.glob("gen-*") if p.is_dir())


def current_generation(index: Path) -> int:
    try:
        name = (index / "CURRENT").read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return 0
    return int(name.split("-")[1]) if name else 0


# --------------------------------------------------------------------------- contents


def test_add_records_rows_vectors_and_manifest(
    tmp_path: Path, backbone: Backbone, seeds_dir: Path
) -> None:
    index = tmp_path / "index"
    folder = seeds_dir / "artists" / "ana_pastel"
    files = sorted(folder.iterdir())
    n = len(files)
    assert n >= 8
    summary = add_paths(index, [folder], "ana_pastel", backbone=backbone)
    assert (summary.added, summary.already_indexed, summary.skipped) == (n, 0, [])

    snap = open_index(index)
    meta = snap.metadata
    assert snap.count == len(meta) == snap.index.ntotal == n
    assert set(METADATA_COLUMNS) <= set(meta.columns)
    for col in ("artist", "path", "sha256", "size_bytes", "phash", "added_at", "width", "height"):
        assert col in meta.columns
    assert meta["path"].tolist() == [str(f.resolve()) for f in files]  # sorted walk order
    assert (meta["artist"] == "ana_pastel").all()
    assert (meta["role"] == "artist").all()
    assert meta["id"].tolist() == list(range(n))
    for row in meta.itertuples():
        path = Path(row.path)
        assert row.sha256 == sha256(path)
        assert row.size_bytes == path.stat().st_size
        with Image.open(path) as im:
            assert (row.width, row.height) == im.size
            assert row.format == im.format
        assert len(row.phash) == 16
        int(row.phash, 16)
        datetime.fromisoformat(row.added_at.replace("Z", "+00:00"))

    m = snap.manifest
    assert m.fingerprint == backbone.fingerprint
    assert m.backbone_spec == "effnet-style"
    assert m.dim == backbone.dim == snap.index.d
    assert m.count == n
    assert m.artists == {"ana_pastel": n}
    assert m.background == {}
    gen = index / (index / "CURRENT").read_text().strip()
    assert gen.name == f"gen-{m.generation:06d}"
    assert set(m.files) == {"vectors.faiss", "metadata.parquet"}
    for name, digest in m.files.items():
        assert sha256(gen / name) == digest
    on_disk = json.loads((gen / "manifest.json").read_text(encoding="utf-8"))
    assert on_disk["fingerprint_digest"] == backbone.fingerprint.digest()
    assert on_disk["count"] == n

    # Row i holds the vector of the file in row i.
    first = load_image(files[0]).image
    direct = backbone.embed(torch.stack([backbone.preprocess(first)]))[0]
    np.testing.assert_allclose(snap.vectors()[0], direct, atol=1e-5)
    assert_rows_match_vectors(snap)


def test_readding_known_bytes_embeds_and_adds_nothing(
    index_copy: Path, backbone: Backbone, seeds_dir: Path, tmp_path: Path
) -> None:
    before = open_index(index_copy)
    folder = seeds_dir / "artists" / "ana_pastel"
    renamed = tmp_path / "renamed" / "totally_new_name.jpg"
    renamed.parent.mkdir()
    shutil.copyfile(folder / "ana_pastel_03.jpg", renamed)

    counter = CountingBackbone(backbone)
    summary = add_paths(index_copy, [folder, renamed], "ana_pastel", backbone=counter)
    assert summary.added == 0
    assert summary.already_indexed == len(list(folder.iterdir())) + 1
    assert summary.conflicts == []
    assert counter.embedded == 0  # known bytes are recognised by hash, before decoding
    after = open_index(index_copy)
    assert after.count == before.count
    assert after.manifest.generation == before.manifest.generation  # no empty commit


def test_same_bytes_under_another_artist_is_a_conflict(
    index_copy: Path, seeds_dir: Path, tmp_path: Path
) -> None:
    before = open_index(index_copy)
    copy = tmp_path / "mine.jpg"
    shutil.copyfile(seeds_dir / "artists" / "ana_pastel" / "ana_pastel_03.jpg", copy)
    result = invoke("index", "add", copy, "--artist", "someone_else", "--index", index_copy)
    assert result.exit_code == 0, result.output
    assert "added 0" in result.stdout
    assert "not added:" in result.stdout
    assert str(copy) in result.stdout
    assert "same file already indexed under 'ana_pastel'" in result.stdout
    after = open_index(index_copy)
    assert after.count == before.count
    assert "someone_else" not in set(after.metadata["artist"])


def test_identical_new_files_in_one_run_are_added_once(tmp_path: Path, backbone: Backbone) -> None:
    folder = tmp_path / "art"
    (original,) = make_images(folder, 1)
    shutil.copyfile(original, folder / "img_copy.png")
    summary = add_paths(tmp_path / "index", [folder], "x", backbone=backbone)
    assert (summary.added, summary.already_indexed) == (1, 1)
    assert open_index(tmp_path / "index").count == 1


def test_adding_one_new_file_embeds_exactly_one_image(
    index_copy: Path, backbone: Backbone, seeds_dir: Path, tmp_path: Path
) -> None:
    before = open_index(index_copy)
    (new,) = make_images(tmp_path / "new", 1, start=500, size=128)
    folder = seeds_dir / "artists" / "ana_pastel"
    counter = CountingBackbone(backbone)
    summary = add_paths(index_copy, [folder, new], "ana_pastel", backbone=counter)
    assert counter.embedded == 1
    n_known = before.manifest.artists["ana_pastel"]
    assert (summary.added, summary.already_indexed) == (1, n_known)

    after = open_index(index_copy)
    assert after.count == before.count + 1
    assert after.manifest.generation == before.manifest.generation + 1
    assert after.manifest.artists["ana_pastel"] == n_known + 1
    last = after.metadata.iloc[-1]
    assert last["path"] == str(new.resolve())
    assert last["sha256"] == sha256(new)
    assert last["id"] == before.manifest.next_id  # ids are never reused
    # Old rows and vectors are untouched.
    pd.testing.assert_frame_equal(after.metadata.iloc[:-1], before.metadata)
    np.testing.assert_array_equal(after.vectors()[:-1], before.vectors())
    direct = backbone.embed(torch.stack([backbone.preprocess(load_image(new).image)]))[0]
    np.testing.assert_allclose(after.vectors()[-1], direct, atol=1e-5)


# --------------------------------------------------------------------------- removal


def test_remove_artist_and_files_keeps_vectors_aligned(
    index_copy: Path, seeds_dir: Path, tmp_path: Path
) -> None:
    before = open_index(index_copy)
    vector_of = dict(zip(before.metadata["sha256"], before.vectors(), strict=True))

    per_artist = dict(before.manifest.artists)
    result = invoke("index", "remove", "--artist", "pip_dots", "--index", index_copy)
    assert result.exit_code == 0, result.output
    assert f"removed {per_artist['pip_dots']} works" in result.stdout
    snap = open_index(index_copy)
    assert snap.count == before.count - per_artist["pip_dots"]
    assert "pip_dots" not in set(snap.metadata["artist"])
    assert "pip_dots" not in snap.manifest.artists

    # --file by the path as indexed ...
    by_path = seeds_dir / "artists" / "bit_bram" / "bit_bram_04.png"
    result = invoke("index", "remove", "--file", by_path, "--index", index_copy)
    assert result.exit_code == 0, result.output
    assert "removed 1 work;" in result.stdout
    # ... and by the bytes of a copy somewhere else.
    copy = tmp_path / "whatever.webp"
    shutil.copyfile(seeds_dir / "artists" / "neon_kai" / "neon_kai_06.webp", copy)
    result = invoke("index", "remove", "--file", copy, "--index", index_copy)
    assert result.exit_code == 0, result.output
    assert "removed 1 work;" in result.stdout

    snap = open_index(index_copy)
    meta = snap.metadata
    assert snap.count == len(meta) == before.count - per_artist["pip_dots"] - 2
    assert str(by_path.resolve()) not in set(meta["path"])
    assert sha256(copy) not in set(meta["sha256"])
    assert snap.manifest.artists["bit_bram"] == per_artist["bit_bram"] - 1
    assert snap.manifest.artists["neon_kai"] == per_artist["neon_kai"] - 1
    # Every remaining row still carries exactly its own vector.
    for sha, vec in zip(meta["sha256"], snap.vectors(), strict=True):
        np.testing.assert_array_equal(vec, vector_of[sha])
    assert_rows_match_vectors(snap)


def test_remove_that_matches_nothing_changes_nothing(index_copy: Path, tmp_path: Path) -> None:
    gen = current_generation(index_copy)
    result = invoke("index", "remove", "--artist", "nobody", "--index", index_copy)
    assert result.exit_code == 1
    assert "nothing matched" in result.stderr
    result = invoke("index", "remove", "--file", tmp_path / "nope.png", "--index", index_copy)
    assert result.exit_code == 1
    result = invoke("index", "remove", "--index", index_copy)  # neither option
    assert result.exit_code == 1
    assert "exactly one of --artist" in result.stderr
    assert current_generation(index_copy) == gen


# --------------------------------------------------------------------------- generations


def test_generations_current_pruning_and_stale_cleanup(index_copy: Path) -> None:
    snap = open_index(index_copy)
    g = snap.manifest.generation
    assert (index_copy / "CURRENT").read_text().strip() == f"gen-{g:06d}"
    assert generation_dirs(index_copy) == [f"gen-{g - 1:06d}", f"gen-{g:06d}"]

    # Left by writers killed mid-commit: a temp generation, and one renamed into
    # place whose CURRENT swap never happened.
    stale_tmp = index_copy / ".gen-000777.tmp-424242"
    stale_tmp.mkdir()
    (stale_tmp / "vectors.faiss").write_bytes(b"half a file")
    orphan = index_copy / f"gen-{g + 1:06d}"
    orphan.mkdir()
    (orphan / "manifest.json").write_text("{", encoding="utf-8")
    assert open_index(index_copy).count == snap.count  # readers never look at them

    paths = snap.metadata["path"].tolist()
    with IndexWriter(index_copy) as writer:
        assert not stale_tmp.exists()
        assert not orphan.exists()
        for i, path in enumerate(paths[:3], start=1):
            assert writer.remove_files([path]) == 1
            writer.commit()
            assert (index_copy / "CURRENT").read_text().strip() == f"gen-{g + i:06d}"
            assert len(generation_dirs(index_copy)) <= 2
    assert generation_dirs(index_copy) == [f"gen-{g + 2:06d}", f"gen-{g + 3:06d}"]
    assert not list(index_copy.glob(TMP_GLOB))
    final = open_index(index_copy)
    assert final.manifest.generation == g + 3
    assert final.count == snap.count - 3


def test_open_index_on_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(IndexNotFound, match="simdetect index add"):
        open_index(tmp_path)


# --------------------------------------------------------------------------- corruption


@pytest.mark.parametrize("victim", ["vectors.faiss", "metadata.parquet"])
def test_flipped_byte_is_detected(index_copy: Path, victim: str) -> None:
    gen = index_copy / (index_copy / "CURRENT").read_text().strip()
    target = gen / victim
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))

    with pytest.raises(IndexCorrupt) as info:
        open_index(index_copy)
    assert str(target) in str(info.value)
    assert "does not match manifest" in str(info.value)
    with pytest.raises(IndexCorrupt), IndexWriter(index_copy):  # never built upon
        pytest.fail("a writer opened a corrupt index")
    lock = IndexLock(index_copy)  # ... and the refused writer did not keep the lock
    lock.acquire()
    lock.release()

    result = invoke("index", "info", "--index", index_copy)
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)
    assert victim in result.stderr


def test_missing_or_unreadable_manifest_is_corrupt(index_copy: Path) -> None:
    gen = index_copy / (index_copy / "CURRENT").read_text().strip()
    (gen / "metadata.parquet").unlink()
    with pytest.raises(IndexCorrupt, match="missing file listed in the manifest"):
        open_index(index_copy)
    (gen / "manifest.json").write_text('{"fingerprint": ', encoding="utf-8")
    with pytest.raises(IndexCorrupt, match="unreadable manifest"):
        open_index(index_copy)


def test_damaged_calibration_is_recomputed(
    index_copy: Path, seeds_dir: Path, tmp_path: Path
) -> None:
    suspect = seeds_dir / "suspects" / "suspect_05.png"
    first = tmp_path / "first.jsonl"
    result = invoke("scan", suspect, "--index", index_copy, "--out", first)
    assert result.exit_code == 0, result.output
    stored = open_index(index_copy).directory / "calibration.npz"
    assert stored.is_file()  # the scan stored its calibration beside the generation
    data = bytearray(stored.read_bytes())
    data[len(data) // 2] ^= 0xFF
    stored.write_bytes(bytes(data))

    second = tmp_path / "second.jsonl"
    result = invoke("scan", suspect, "--index", index_copy, "--out", second)
    assert result.exit_code == 0, repr(result.exception)
    (a,) = map(json.loads, first.read_text(encoding="utf-8").splitlines())
    (b,) = map(json.loads, second.read_text(encoding="utf-8").splitlines())
    assert a["ranking"] == b["ranking"]
    with np.load(stored) as npz:  # rewritten whole
        assert "work_radius" in npz.files


# --------------------------------------------------------------------------- SIGKILL


def _check_consistent(index: Path, file_sha: dict[str, str], batch: int) -> int:
    snap = open_index(index, verify=True)
    m = snap.manifest
    meta = snap.metadata
    assert snap.count == len(meta) == snap.index.ntotal == m.count
    # Every commit of this run adds one full batch of new works.
    assert m.count == batch * m.generation
    assert m.artists == ({"X": m.count} if m.count else {})
    shas = meta["sha256"].tolist()
    assert len(set(shas)) == len(shas)
    for path, sha in zip(meta["path"], shas, strict=True):
        assert Path(path).is_file()
        assert file_sha[path] == sha
    assert f"gen-{m.generation:06d}" in generation_dirs(index)
    if m.count:
        assert_rows_match_vectors(snap)
    lock = IndexLock(index)  # the kernel freed the dead writer's lock
    lock.acquire()
    lock.release()
    return m.count


def _run_and_kill(cmd: list[str], when, log: Path, timeout: float = 240) -> bool:
    """Start the CLI, SIGKILL it as soon as `when()` is true; False if it finished first."""
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
                    return True
                if time.monotonic() > deadline:
                    pytest.fail(f"{cmd} did not reach the kill point; see {log}")
                time.sleep(0.003)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert proc.returncode == 0, log.read_text(errors="replace")
    return False


@pytest.mark.slow
def test_sigkill_mid_add_keeps_last_commit_and_resumes(tmp_path: Path) -> None:
    n, batch = 150, 8
    src = tmp_path / "many"
    files = make_images(src, n)
    file_sha = {str(p.resolve()): sha256(p) for p in files}
    index = tmp_path / "idx"
    log = tmp_path / "stderr.log"
    cmd = [
        str(SIMDETECT),
        "index",
        "add",
        str(src),
        "--artist",
        "X",
        "--index",
        str(index),
        "--commit-every",
        str(batch),
        "--batch-size",
        str(batch),
    ]

    # 1. Fresh index, killed once the second generation is committed.
    assert _run_and_kill(cmd, lambda: current_generation(index) >= 2, log)
    count = _check_consistent(index, file_sha, batch)
    assert count >= 2 * batch

    # 2. Resumed run (first skips known files by hash), killed while a new generation
    # is being written (its temp folder exists), or a few commits later at the latest.
    start = current_generation(index)

    def mid_commit() -> bool:
        g = current_generation(index)
        return (g > start and any(index.glob(TMP_GLOB))) or g >= start + 4

    assert _run_and_kill(cmd, mid_commit, log)
    count2 = _check_consistent(index, file_sha, batch)
    assert count2 >= count

    # 3. Resumed again, killed right after a CURRENT swap (while pruning or embedding).
    start = current_generation(index)
    assert _run_and_kill(cmd, lambda: current_generation(index) > start, log)
    count3 = _check_consistent(index, file_sha, batch)
    assert count3 > count2

    # 4. The same add, run to completion (in-process: the start-up is paid often enough).
    done = invoke(*cmd[1:])
    assert done.exit_code == 0, done.output
    assert f"added {n - count3}, already indexed {count3}" in done.stdout
    snap = open_index(index, verify=True)
    assert snap.count == len(snap.metadata) == n
    assert sorted(snap.metadata["sha256"]) == sorted(file_sha.values())
    assert set(snap.metadata["path"]) == set(file_sha)
    assert not list(index.glob(TMP_GLOB))
    assert len(generation_dirs(index)) <= 2
    assert generation_dirs(index)[-1] == f"gen-{snap.manifest.generation:06d}"
    assert_rows_match_vectors(snap)


# --------------------------------------------------------------------------- lock


def test_second_writer_process_is_refused_while_locked(index_copy: Path, tmp_path: Path) -> None:
    new_dir = tmp_path / "new"
    make_images(new_dir, 2, start=900)
    before = open_index(index_copy)
    files_before = {p.relative_to(index_copy): sha256(p) for p in index_copy.rglob("*.*")}
    cmd = [str(SIMDETECT), "index", "add", str(new_dir), "--artist", "late"]
    with IndexWriter(index_copy):
        proc = subprocess.run(
            [*cmd, "--index", str(index_copy)],
            env=cli_env(),
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=300,
        )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "locked" in proc.stderr
    assert f"pid {os.getpid()}" in proc.stderr  # names who holds it
    assert "Traceback" not in proc.stderr
    after = open_index(index_copy)
    assert after.count == before.count
    assert after.manifest.generation == before.manifest.generation
    assert {p.relative_to(index_copy): sha256(p) for p in index_copy.rglob("*.*")} == files_before

    # Released: the same command now works.
    result = invoke("index", "add", new_dir, "--artist", "late", "--index", index_copy)
    assert result.exit_code == 0, result.output
    assert open_index(index_copy).count == before.count + 2


def test_lock_is_exclusive_within_a_process_too(tmp_path: Path) -> None:
    with IndexLock(tmp_path), pytest.raises(IndexLocked, match="locked by another writer"):
        IndexLock(tmp_path).acquire()
    with IndexLock(tmp_path):  # released on exit
        pass


# --------------------------------------------------------------------------- bad input


def test_bad_files_are_skipped_and_reported(tmp_path: Path) -> None:
    folder = tmp_path / "mixed"
    good = make_images(folder, 3, start=300)
    Image.open(good[0]).convert("RGB").save(folder / "good_jpeg.jpg", quality=90)
    (folder / "zero.jpg").write_bytes(b"")
    png = (folder / "img_0300.png").read_bytes()
    (folder / "truncated.png").write_bytes(png[: len(png) // 2])
    (folder / "text.jpg").write_text("this is not a JPEG\n", encoding="utf-8")
    (folder / "notes.txt").write_text("artist's notes\n", encoding="utf-8")
    (folder / "random.bin").write_bytes(random.Random(1).randbytes(4096))
    missing = tmp_path / "missing.png"
    index = tmp_path / "index"

    result = invoke("index", "add", folder, missing, "--artist", "a", "--index", index)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "added 4, already indexed 0, skipped 6" in out
    expected = {
        "zero.jpg": "zero-byte file",
        "truncated.png": "truncated or corrupt image data",
        "text.jpg": "not an image",
        "notes.txt": "not an image",
        "random.bin": "not an image",
        "missing.png": "no such file or directory",
    }
    for name, reason in expected.items():
        line = next(line for line in out.splitlines() if name in line)
        assert reason in line

    (skips_csv,) = (index / "logs").glob("skipped-*.csv")
    assert str(skips_csv) in out
    with skips_csv.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        assert reader.fieldnames == ["path", "reason"]
        rows = {Path(r["path"]).name: r["reason"] for r in reader}
    assert set(rows) == set(expected)
    for name, reason in expected.items():
        assert reason in rows[name]

    snap = open_index(index)
    assert sorted(Path(p).name for p in snap.metadata["path"]) == sorted(
        [p.name for p in good] + ["good_jpeg.jpg"]
    )


def test_nonexistent_path_alone_is_a_skip(tmp_path: Path, backbone: Backbone) -> None:
    summary = add_paths(tmp_path / "index", [tmp_path / "nope"], "a", backbone=backbone)
    assert summary.added == 0
    assert [(Path(s.path).name, s.reason) for s in summary.skipped] == [
        ("nope", "no such file or directory")
    ]


def test_symlink_out_of_the_folder_is_not_followed(tmp_path: Path, backbone: Backbone) -> None:
    art = tmp_path / "art"
    (inside,) = make_images(art, 1, start=40)
    outside = make_images(tmp_path / "outside", 2, start=41)
    (art / "link.png").symlink_to(outside[0])
    (art / "linked_folder").symlink_to(outside[0].parent, target_is_directory=True)
    (art / "inner_link.png").symlink_to(inside)  # inside the folder: fine, same bytes

    summary = add_paths(tmp_path / "index", [art], "a", backbone=backbone)
    assert summary.added == 1
    reasons = {Path(s.path).name: s.reason for s in summary.skipped}
    assert reasons == {
        "link.png": "symlink points outside the input folder",
        "linked_folder": "symlinked folder not followed",
    }
    shas = set(open_index(tmp_path / "index").metadata["sha256"])
    assert shas == {sha256(inside)}
    assert not shas & {sha256(p) for p in outside}


# --------------------------------------------------------------------------- non-ASCII


def test_chinese_artist_and_file_names_round_trip(
    index_copy: Path, seeds_dir: Path, tmp_path: Path
) -> None:
    work = tmp_path / "雪鱼" / "作品_01.png"
    work.parent.mkdir()
    shapes_image(77, size=160).save(work)
    result = invoke("index", "add", work.parent, "--artist", "雪鱼", "--index", index_copy)
    assert result.exit_code == 0, result.output
    assert "added 1" in result.stdout

    meta = open_index(index_copy).metadata
    assert meta.loc[meta["artist"] == "雪鱼", "path"].tolist() == [str(work.resolve())]

    info = invoke("index", "info", "--index", index_copy)
    assert info.exit_code == 0, info.output
    assert "雪鱼" in info.stdout
    assert "水墨山人" in info.stdout

    copy_of_ink = seeds_dir / "suspects" / "suspect_18.jpg"  # JPEG copy of 水墨山人_05.png
    out = tmp_path / "结果.jsonl"
    result = invoke("scan", work, copy_of_ink, "--index", index_copy, "--out", out)
    assert result.exit_code == 0, result.output
    raw = out.read_text(encoding="utf-8")
    assert "雪鱼" in raw and "水墨山人" in raw  # written as UTF-8, not \u escapes
    assert "\\u" not in raw
    rows = {Path(r["suspect"]).name: r for r in map(json.loads, raw.splitlines())}

    mine = rows["作品_01.png"]
    assert mine["suspect"] == str(work.resolve())
    assert mine["ranking"][0]["artist"] == "雪鱼"
    assert mine["matches"][0]["path"] == str(work.resolve())
    assert mine["matches"][0]["artist"] == "雪鱼"
    assert mine["matches"][0]["similarity"] == pytest.approx(1.0, abs=1e-4)

    ink = rows["suspect_18.jpg"]
    assert ink["ranking"][0]["artist"] == "水墨山人"
    assert Path(ink["matches"][0]["path"]).name == "水墨山人_05.png"
    assert Path(ink["matches"][0]["path"]).parent.name == "水墨山人"


def test_fingerprint_mismatch_is_not_silently_ignored_by_writer(
    index_copy: Path, backbone: Backbone
) -> None:
    other = dataclasses.replace(backbone.fingerprint, preprocessing="RGB, resize to 256x256")
    with (
        pytest.raises(FingerprintMismatch, match="preprocessing"),
        IndexWriter(index_copy, other, "effnet-style"),
    ):
        pytest.fail("a writer with another preprocessing opened the index")
