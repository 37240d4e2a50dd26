"""The numbered reproductions of issue 13 (hostile input, tampering, memory), one test each.

Real FIFOs, real sparse files, real non-UTF-8 names on disk, a real loopback server.
Each test failed before the fix (a hang counts: the bounded ones run in a thread or a
subprocess with a deadline) and passes after it.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from conftest import invoke
from PIL import Image

from simdetect.backbones import Backbone
from simdetect.embed import embed_files
from simdetect.index.manifest import MANIFEST_NAME, IndexCorrupt
from simdetect.index.store import IndexWriter, open_index, read_current
from simdetect.io.budget import MemoryBudget
from simdetect.io.images import ImageLoadError, LoadLimits, load_image, load_image_bytes
from simdetect.io.names import fs_name, text_name
from simdetect.io.reader import read_input
from simdetect.io.walk import iter_image_files
from simdetect.report.case import make_report
from simdetect.report.record import CaseInfo
from simdetect.report.renderings import SIDECAR_NAME
from simdetect.report.verify import verify_report
from simdetect.serve.local import LocalServer
from simdetect.serve.uploads import MAX_STORED_NAME_BYTES, storage_name

BAD_NAME = b"bad\xff\xfe.png"
DEADLINE_S = 60.0


def _png(path: Path | bytes, seed: int, size: int = 48) -> None:
    """A small image nobody else has indexed (noise seeded by `seed`)."""
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(path, "PNG")


def _bounded(fn: Callable[[], Any], seconds: float = DEADLINE_S) -> Any:
    """Run `fn` in a daemon thread; fail (instead of hanging the suite) past the deadline."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"did not finish within {seconds:g} s (blocked or reading)"
    if "error" in box:
        raise box["error"]
    return box.get("value")


# 1. a file name that is not valid UTF-8 --------------------------------------------------


def test_names_round_trip_through_text_for_any_bytes() -> None:
    rng = random.Random(13)
    alphabet = [b"\\", b"x", b"4", b"f", b"a", b"/", b"\xff", b"\xfe", b"\x80", "水".encode()]
    cases = [b"plain.png", b"\\x41", b"\\\\", b"a\\", b"\\xff", b"C:\\xyz", BAD_NAME]
    cases += [b"".join(rng.choice(alphabet) for _ in range(rng.randint(1, 9))) for _ in range(500)]
    for raw in cases:
        name = os.fsdecode(raw)
        text = text_name(name)
        text.encode("utf-8")  # always writable as UTF-8
        assert os.fsencode(fs_name(text)) == raw, (raw, text)
    assert text_name("ordinary 名前 (1).png") == "ordinary 名前 (1).png"  # unchanged
    assert text_name(os.fsdecode(BAD_NAME)) == "bad\\xff\\xfe.png"


def test_index_add_and_scan_keep_a_non_utf8_name(index_copy: Path, tmp_path: Path) -> None:
    folder = tmp_path / "d"
    folder.mkdir()
    bad = os.path.join(os.fsencode(folder), BAD_NAME)
    _png(bad, seed=1)
    _png(folder / "good.png", seed=2)
    result = invoke("index", "add", folder, "--artist", "x", "--index", index_copy)
    assert result.exit_code == 0, result.output
    assert "added 2" in result.output
    meta = open_index(index_copy).metadata
    stored = meta.loc[meta["artist"] == "x", "path"].tolist()
    escaped = [p for p in stored if "\\xff" in p]
    assert len(escaped) == 1 and escaped[0].endswith("bad\\xff\\xfe.png")
    assert os.fsencode(fs_name(escaped[0])) == bad  # the stored text leads back to the file
    with IndexWriter(index_copy) as writer:  # removing by the name on disk finds it
        assert writer.remove_files([os.fsdecode(bad)]) == 1
        writer.commit()
    _png(bad, seed=1)
    assert invoke("index", "add", folder, "--artist", "x", "--index", index_copy).exit_code == 0

    for suffix in (".jsonl", ".csv", ".parquet"):
        out = tmp_path / f"r{suffix}"
        result = invoke("scan", folder, "--index", index_copy, "--out", out)
        assert result.exit_code == 0, result.output
        if suffix == ".jsonl":
            rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
            suspects = {r["suspect"] for r in rows}
            assert all(r["error"] is None for r in rows)
        elif suffix == ".csv":
            suspects = set(pd.read_csv(out)["suspect"])
        else:
            suspects = set(pd.read_parquet(out)["suspect"])
        assert any(s.endswith("bad\\xff\\xfe.png") for s in suspects), suspects


def test_report_and_verify_keep_a_non_utf8_suspect(
    built_index: Path, tmp_path: Path, backbone: Backbone
) -> None:
    # The record names the suspect as text; its provenance and the re-scan reach the file.
    bad = os.path.join(os.fsencode(tmp_path), BAD_NAME)
    _png(bad, seed=3)
    out = make_report(
        [os.fsdecode(bad)],
        built_index,
        CaseInfo(artist="ana_pastel", case_id="H-9"),
        tmp_path / "case",
        formats=("json",),
        backbone=backbone,
    )
    assert out.json_path is not None
    suspect = json.loads(out.json_path.read_text(encoding="utf-8"))["suspects"][0]
    assert suspect["source_path"].endswith("bad\\xff\\xfe.png")
    assert suspect["provenance"]["path"] == suspect["source_path"]
    assert not any("could not be read" in w for w in suspect["provenance"]["warnings"])
    assert suspect["copy_check"]["state"] != "not_checked"  # the copy check re-reads it too
    result = verify_report(out.json_path)
    assert result.ok, result.failures
    # Without the case folder's copy, the original is found by its SHA-256 under its
    # non-UTF-8 name, and provenance and the re-scan read it there.
    shutil.rmtree(out.json_path.parent / "suspects")
    found = verify_report(out.json_path, search=[tmp_path])
    assert found.ok, found.failures
    assert any("found by its SHA-256" in c.detail and "\\xff" in c.detail for c in found.checks)


# 2. no regular-file check, no size cap ---------------------------------------------------


def test_fifo_devices_and_sparse_files_are_refused_without_reading(
    tmp_path: Path, backbone: Backbone
) -> None:
    fifo = tmp_path / "f.jpg"
    os.mkfifo(fifo)
    sparse = tmp_path / "big.jpg"
    with open(sparse, "wb") as fh:
        fh.truncate(3 * 1024**3)  # 3 GB, no blocks on disk
    sock_dir = tmp_path / "s"
    sock_dir.mkdir()
    import socket

    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(sock_dir / "sock.png"))
    try:
        for path, reason in (
            (fifo, "FIFO"),
            (Path("/dev/zero"), "character device"),
            (sparse, "file too large"),
            (sock_dir / "sock.png", "socket"),
        ):
            with pytest.raises(ImageLoadError, match=reason):
                _bounded(lambda p=path: read_input(p))
            with pytest.raises(ImageLoadError, match=reason):
                _bounded(lambda p=path: load_image(p))
        batches = _bounded(
            lambda: list(embed_files([fifo, "/dev/zero", sparse, sock_dir / "sock.png"], backbone))
        )
        skipped = [s for b in batches for s in b.skipped]
        assert [Path(s.path).name for s in skipped] == ["f.jpg", "zero", "big.jpg", "sock.png"]
        # a folder walk names them too, without opening them
        walked: list[Any] = []
        files = _bounded(lambda: list(iter_image_files(tmp_path, on_skip=walked.append)))
        assert [f.name for f in files] == ["big.jpg"]
        reasons = {Path(s.path).name: s.reason for s in walked}
        assert reasons == {
            "f.jpg": "a FIFO (named pipe), not a regular file",
            "sock.png": "a socket, not a regular file",
        }
    finally:
        sock.close()


def test_scan_cli_reports_a_fifo_and_dev_zero(built_index: Path, tmp_path: Path) -> None:
    fifo = tmp_path / "f.jpg"
    os.mkfifo(fifo)
    out = tmp_path / "r.jsonl"
    result = _bounded(
        lambda: invoke("scan", fifo, "/dev/zero", "--index", built_index, "--out", out)
    )
    # Nothing could be read, so the scan fails (exit 1), yet every refusal is written.
    assert result.exit_code == 1, result.output
    assert "no suspect could be read" in result.output
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["error"] for r in rows] == [
        "cannot read file: a FIFO (named pipe), not a regular file",
        "cannot read file: a character device, not a regular file",
    ]


# 3. memory per image -----------------------------------------------------------------------

# VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the forking parent (pytest).
_PEAK_SCRIPT = """
import re, sys
from simdetect.io.images import load_image
loaded = load_image(sys.argv[1], min_side=int(sys.argv[2]) or None)
hwm = re.search(r"VmHWM:\\s+(\\d+) kB", open("/proc/self/status").read()).group(1)
print(loaded.width, loaded.height, loaded.source_mode, int(hwm) // 1024)
"""


def test_a_16bit_100_megapixel_png_decodes_in_bounded_memory(tmp_path: Path) -> None:
    png = tmp_path / "deep.png"
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, numpy as np; from PIL import Image;"
            "a = np.tile(np.arange(10000, dtype=np.uint16) * 6, (10000, 1));"
            "Image.fromarray(a).save(sys.argv[1])",
            str(png),
        ],
        check=True,
        timeout=120,
    )
    assert png.stat().st_size < 2_000_000
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    peaks = {}
    for min_side in (224, 0):
        done = subprocess.run(
            [sys.executable, "-c", _PEAK_SCRIPT, str(png), str(min_side)],
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
            env=env,
        )
        width, height, _, peak_mb = done.stdout.split()
        assert (width, height) == ("10000", "10000")
        peaks[min_side] = int(peak_mb)
    # Before: 1.6 GB either way. The decoded 16-bit pixels alone are 191 MiB; a model's
    # decode is reduced to what it needs, a full-size one stays within the 1 GiB budget.
    assert peaks[224] < 400 and peaks[0] < 1100, peaks


def test_reduced_decode_looks_like_the_full_decode() -> None:
    rng = np.random.default_rng(3)
    base = rng.integers(0, 65535, (40, 60), dtype=np.uint16)
    big = np.kron(base, np.ones((48, 48), dtype=np.uint16))  # 1920 x 2880, tiles of 48
    data = _encode(Image.fromarray(big), "PNG")
    full = load_image_bytes(data, "x.png", LoadLimits(max_decode_bytes=2**31))
    small = load_image_bytes(data, "x.png", LoadLimits(max_decode_bytes=40 * 2**20))
    assert (full.width, full.height) == (small.width, small.height) == (2880, 1920)
    assert small.image.size[0] < full.image.size[0]
    a = np.asarray(full.image.resize((60, 40), Image.Resampling.BOX), dtype=np.float64)
    b = np.asarray(small.image.resize((60, 40), Image.Resampling.BOX), dtype=np.float64)
    assert np.abs(a - b).max() <= 2.0
    with pytest.raises(ImageLoadError, match="decoding budget"):
        load_image_bytes(data, "x.png", LoadLimits(max_decode_bytes=1024))


def _encode(image: Image.Image, fmt: str, **kw: Any) -> bytes:
    import io

    buf = io.BytesIO()
    image.save(buf, fmt, **kw)
    return buf.getvalue()


def test_memory_budget_bounds_concurrent_holders() -> None:
    budget = MemoryBudget(100)
    inside: list[int] = []
    lock = threading.Lock()

    def work(n: int) -> None:
        with budget.hold(n, timeout=30):
            with lock:
                inside.append(budget.in_use)
            time.sleep(0.01)

    threads = [threading.Thread(target=work, args=(n,)) for n in [60, 50, 40, 300, 30] * 4]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert max(inside) <= 100 and budget.peak <= 100 and budget.in_use == 0
    assert budget.waits > 0


# 4, 9. the service -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hostile_server(
    built_index: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalServer]:
    index = tmp_path_factory.mktemp("hserve") / "index"
    shutil.copytree(built_index, index)
    server = LocalServer(index, ["--evidence-dir", str(tmp_path_factory.mktemp("hev"))])
    try:
        server.start()
        yield server
    finally:
        server.__exit__(None, None, None)


def test_report_upload_named_with_84_cjk_characters(
    hostile_server: LocalServer, seeds_dir: Path
) -> None:
    name = "水" * 84 + ".png"  # 256 bytes in UTF-8
    data = (seeds_dir / "suspects" / sorted(os.listdir(seeds_dir / "suspects"))[0]).read_bytes()
    reply = hostile_server.client().post_form(
        "/v1/report", {"artist": "ana_pastel"}, [("files", name, data)]
    )
    assert reply.status == 200, reply.body[:300]
    stored = reply.json()["suspects"][0]["path"]
    assert len(Path(stored).name.encode("utf-8")) <= MAX_STORED_NAME_BYTES
    assert Path(stored).name.startswith("水") and Path(stored).name.endswith(".png")
    assert len(storage_name("字" * 300).encode()) <= MAX_STORED_NAME_BYTES


def test_scan_refuses_a_second_file_part(hostile_server: LocalServer, seeds_dir: Path) -> None:
    data = next((seeds_dir / "suspects").iterdir()).read_bytes()
    client = hostile_server.client()
    reply = client.post_form("/v1/scan", {}, [("file", "a.png", data), ("file", "b.png", data)])
    assert reply.status == 422 and "exactly one" in reply.json()["detail"]
    assert client.post_form("/v1/scan", {}, [("file", "a.png", data)]).status == 200


def test_healthz_without_a_key_says_only_liveness(hostile_server: LocalServer) -> None:
    from simdetect.serve.client import ServeClient

    anonymous = ServeClient("127.0.0.1", hostile_server.port, api_key=None)
    reply = anonymous.request("GET", "/healthz")
    assert reply.status == 200 and reply.json() == {"status": "ok"}


# 5. a symlink loop in a scanned folder ----------------------------------------------------


def test_symlink_loop_is_skipped_and_rows_are_printed_without_out(
    built_index: Path, seeds_dir: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "loop"
    folder.mkdir()
    shutil.copy(next((seeds_dir / "suspects").iterdir()), folder / "real.png")
    (folder / "a").symlink_to("b")
    (folder / "b").symlink_to("a")
    (folder / "self").symlink_to(".")
    result = invoke("scan", folder, folder / "a", "--index", built_index)
    assert result.exit_code == 0, result.output
    assert result.output.count("symlink loop") >= 2
    assert "real.png" in result.output
    out = tmp_path / "r.jsonl"
    assert invoke("scan", folder, "--index", built_index, "--out", out).exit_code == 0
    errors = {Path(r["suspect"]).name: r["error"] for r in map(json.loads, out.open())}
    assert errors == {
        "a": "symlink loop",
        "b": "symlink loop",
        "self": "symlinked folder not followed",
        "real.png": None,
    }


# 6. GIF frames -----------------------------------------------------------------------------


def _gif_of_1x1_frames(n: int) -> bytes:
    head = b"GIF89a" + b"\x01\x00\x01\x00" + b"\x80\x00\x00" + b"\x00\x00\x00\xff\xff\xff"
    # image descriptor (0,0,1,1), LZW minimum code size 2, codes clear-0-end in one block
    frame = b"\x2c\x00\x00\x00\x00\x01\x00\x01\x00\x00" + b"\x02\x02\x44\x01\x00"
    return head + frame * n + b"\x3b"


def test_a_gif_of_many_frames_is_not_counted_frame_by_frame() -> None:
    data = _gif_of_1x1_frames(400_000)  # 6 MB; counting its frames takes seconds
    start = time.perf_counter()
    loaded = _bounded(lambda: load_image_bytes(data, "many.gif"), 30)
    elapsed = time.perf_counter() - start
    assert loaded.format == "GIF" and loaded.n_frames == 2 and loaded.image.size == (1, 1)
    assert elapsed < 1.5, f"{elapsed:.2f} s: the frames were walked"
    assert load_image_bytes(_gif_of_1x1_frames(1), "one.gif").n_frames == 1


# 7. tampering with the index ---------------------------------------------------------------


def _two_generations(index: Path, tmp_path: Path) -> None:
    """One more commit than the fixture has, so CURRENT has an older one to point back to."""
    with IndexWriter(index) as writer:
        writer.remove_artist("pip_dots")
        writer.commit()


def test_manifest_with_a_fake_artist_is_refused(index_copy: Path) -> None:
    gen = index_copy / (read_current(index_copy) or "")
    manifest = json.loads((gen / MANIFEST_NAME).read_text(encoding="utf-8"))
    manifest["artists"]["fake artist"] = 5
    (gen / MANIFEST_NAME).write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(IndexCorrupt, match="'fake artist': manifest 5, metadata 0"):
        open_index(index_copy)
    result = invoke("index", "info", "--index", index_copy)
    assert result.exit_code == 1 and "fake artist" in result.output


def test_current_moved_back_or_outside_is_refused(index_copy: Path, tmp_path: Path) -> None:
    _two_generations(index_copy, tmp_path)
    newest = read_current(index_copy)
    assert newest is not None
    older = sorted(p.name for p in index_copy.glob("gen-*") if p.name < newest)[-1]
    (index_copy / "CURRENT").write_text(older + "\n", encoding="ascii")
    with pytest.raises(IndexCorrupt, match=f"{newest} is newer and was committed"):
        open_index(index_copy)
    assert open_index(index_copy, generation=older).manifest.generation < int(newest[4:])
    with pytest.raises(IndexCorrupt):  # a writer refuses too, and deletes nothing
        IndexWriter(index_copy).__enter__()
    assert (index_copy / newest).is_dir()

    other = tmp_path / "other"
    shutil.copytree(index_copy / newest, other / newest)
    (index_copy / "CURRENT").write_text(f"../other/{newest}\n", encoding="ascii")
    with pytest.raises(IndexCorrupt, match="not a generation of this index"):
        open_index(index_copy)
    (index_copy / "CURRENT").write_text(newest + "\n", encoding="ascii")
    shutil.rmtree(index_copy / newest)
    (index_copy / newest).symlink_to(other / newest, target_is_directory=True)
    with pytest.raises(IndexCorrupt, match="symbolic link"):
        open_index(index_copy)


def test_a_writer_killed_before_the_switch_leaves_a_loadable_index(index_copy: Path) -> None:
    # A complete newer generation that CURRENT never named (killed between rename and switch).
    current = read_current(index_copy)
    assert current is not None
    stale = f"gen-{int(current[4:]) + 1:06d}"
    shutil.copytree(index_copy / current, index_copy / stale)
    (index_copy / stale / "COMMITTED").unlink(missing_ok=True)
    assert open_index(index_copy).directory.name == current
    with IndexWriter(index_copy) as writer:  # the next writer clears it away
        assert writer.manifest.generation == int(current[4:])
    assert not (index_copy / stale).exists()


# 8. verify checks the HTML and PDF it wrote ------------------------------------------------


def test_verify_fails_when_the_html_or_pdf_was_edited(
    built_index: Path, seeds_dir: Path, tmp_path: Path, backbone: Backbone
) -> None:
    suspect = tmp_path / "s.png"
    shutil.copy(sorted((seeds_dir / "suspects").iterdir())[0], suspect)
    formats: tuple[str, ...] = ("json", "html")
    if shutil.which("chromium") or shutil.which("chromium-browser"):
        formats += ("pdf",)
    out = make_report(
        [suspect],
        built_index,
        CaseInfo(artist="ana_pastel", case_id="H-8"),
        tmp_path / "case",
        formats=formats,
        backbone=backbone,
    )
    assert out.json_path is not None
    sidecar = (tmp_path / "case" / SIDECAR_NAME).read_text(encoding="utf-8")
    assert re.fullmatch(r"([0-9a-f]{64}  report\.(html|pdf)\n)+", sidecar)
    assert verify_report(out.json_path, rescan=False).ok
    for name in ("report.html", "report.pdf"):
        path = tmp_path / "case" / name
        if not path.exists():
            continue
        original = path.read_bytes()
        path.write_bytes(original.replace(b"ana_pastel", b"ana_pastex", 1) + b" ")
        result = invoke("verify", out.json_path, "--no-rescan")
        assert result.exit_code == 1, result.output
        assert re.search(r"CHANGED\s+rendering", result.output), result.output
        assert "the rendering was edited" in result.output
        path.write_bytes(original)
    (tmp_path / "case" / SIDECAR_NAME).unlink()
    result = invoke("verify", out.json_path, "--no-rescan")
    assert result.exit_code == 1 and "renderings.sha256 is missing" in result.output


def test_reader_refuses_what_changes_type_between_stat_and_open(tmp_path: Path) -> None:
    # The descriptor is checked again after opening (fstat); a regular file passes both.
    path = tmp_path / "ok.bin"
    path.write_bytes(b"abc")
    assert read_input(path) == b"abc"
    assert stat.S_ISREG(os.stat(path).st_mode)
    with pytest.raises(ImageLoadError, match="file too large"):
        read_input(path, max_bytes=2)
