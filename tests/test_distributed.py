"""Beyond one machine: the Ray engine gives the local engine's index and audit rows; shards merge.

Real parts throughout: a real local Ray instance started here (once for the module),
Ray Data with inference actors that load the backbone by spec, the real CLI in-process
and as a subprocess joining that instance by `--address`, real FAISS indexes on disk
built from the demo seeds, and real broken files.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from conftest import invoke

from simdetect.audit import run_audit
from simdetect.backbones import Backbone, load_backbone
from simdetect.embed import embed_files
from simdetect.index import IndexCorrupt, IndexWriter, open_index
from simdetect.index.build import add_paths
from simdetect.index.merge import merge_shards
from simdetect.index.store import ROLE_BACKGROUND, FingerprintMismatch
from simdetect.scan import Scanner, ScanParams

ray = pytest.importorskip(
    "ray", reason='Ray is not installed (pip install -e ".[distributed]"); Ray engine untested'
)
pytest.importorskip("ray.data", reason="Ray Data is missing (the ray[data] extra)")

from simdetect.distributed import RayEngine, RayEngineError  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
SEEDS = REPO / "seeds"
META_COLUMNS = ["artist", "role", "path", "sha256", "size_bytes", "format", "width", "height"]


@pytest.fixture(scope="module")
def ray_address() -> str:
    """One real local Ray instance for the whole module: its start-up is paid once."""
    if ray.is_initialized():
        ray.shutdown()
    ctx = ray.init(
        _node_ip_address="127.0.0.1",  # loopback only: nothing leaves this machine
        num_cpus=2,
        num_gpus=0,
        include_dashboard=False,
        object_store_memory=200 * 1024 * 1024,
        log_to_driver=False,
    )
    ray.data.DataContext.get_current().enable_progress_bars = False
    yield ctx.address_info["gcs_address"]
    ray.shutdown()


def add_bad_files(folder: Path) -> None:
    """Every kind of file the loader must skip, each with its own reason."""
    jpeg = next(p for p in sorted((SEEDS / "suspects").iterdir()) if p.suffix == ".jpg")
    (folder / "zero.png").write_bytes(b"")
    (folder / "truncated.jpg").write_bytes(jpeg.read_bytes()[:900])
    (folder / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(200))
    (folder / "notes.txt").write_text("not an image\n", encoding="utf-8")


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three artists (one with a Chinese name), broken files, and one work filed twice."""
    root = tmp_path_factory.mktemp("tree") / "artists"
    for name in ("ana_pastel", "bit_bram", "水墨山人"):
        shutil.copytree(SEEDS / "artists" / name, root / name)
    add_bad_files(root / "bit_bram")
    first = sorted((root / "ana_pastel").iterdir())[0]
    shutil.copy2(first, root / "水墨山人" / "copied_from_ana.jpg")  # a conflict, both engines
    return root


def metadata(index: Path) -> pd.DataFrame:
    return open_index(index).metadata[["id", *META_COLUMNS, "phash"]]


def skipped_rows(csv_path: Path) -> list[dict[str, str]]:
    with open(csv_path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


# ------------------------------------------------------------------------- Ray engine


def test_ray_index_add_tree_equals_local_through_the_cli(
    ray_address: str, tree: Path, tmp_path: Path
) -> None:
    local, remote = tmp_path / "idx-l", tmp_path / "idx-r"  # same lengths: same line wrapping
    out_local = invoke(
        "index", "add-tree", tree, "--index", local, "--skipped-csv", tmp_path / "l.csv"
    )
    assert out_local.exit_code == 0, out_local.output
    out_ray = invoke(
        "index",
        "add-tree",
        tree,
        "--index",
        remote,
        "--skipped-csv",
        tmp_path / "r.csv",
        "--engine",
        "ray",
        "--ray-actors",
        "2",
        "--batch-size",
        "8",
    )
    assert out_ray.exit_code == 0, out_ray.output
    # The same summary (added, already indexed, skipped, conflicts) and the same skips.
    same = out_ray.output.replace(str(remote), str(local)).replace("r.csv", "l.csv")
    assert same == out_local.output
    flat = " ".join(out_ray.output.split())
    assert "added 48, already indexed 0, skipped 4" in flat
    assert "copied_from_ana.jpg: same file already indexed under 'ana_pastel'" in flat
    skips = skipped_rows(tmp_path / "r.csv")
    assert skips == skipped_rows(tmp_path / "l.csv")
    assert {Path(s["path"]).name for s in skips} == {
        "zero.png",
        "truncated.jpg",
        "corrupt.png",
        "notes.txt",
    }
    a, b = open_index(local), open_index(remote)
    pd.testing.assert_frame_equal(metadata(local), metadata(remote))
    assert (
        a.manifest.artists
        == b.manifest.artists
        == {"ana_pastel": 16, "bit_bram": 16, "水墨山人": 16}
    )
    np.testing.assert_allclose(a.vectors(), b.vectors(), rtol=0, atol=1e-5)
    assert a.fingerprint == b.fingerprint


def test_ray_engine_keeps_input_order_and_skips_known_bytes_on_the_workers(
    ray_address: str, backbone: Backbone, tree: Path
) -> None:
    files = sorted(str(p) for p in (tree / "bit_bram").iterdir())
    files = files[::-1] + files[:3]  # reversed, and three paths given twice
    known = {_sha(p) for p in [p for p in files if Path(p).name.startswith("bit_bram")][:4]}

    class SnapshotOnly:
        """Answers "unknown" itself: only the set shipped to the actors can mark files known."""

        def __call__(self, sha: str) -> bool:
            return False

        def snapshot(self) -> frozenset[str]:
            return frozenset(known)

    remote = list(
        RayEngine(actors=2)(files, backbone, batch_size=4, workers=2, is_known=SnapshotOnly())
    )
    local = list(embed_files(files, backbone, batch_size=4, is_known=known.__contains__))
    assert [len(b.records) for b in remote] == [len(b.records) for b in local]
    assert [b.known for b in remote] == [b.known for b in local]
    assert {sha for b in remote for _, sha in b.known} == known and known
    assert [b.skipped for b in remote] == [b.skipped for b in local]
    assert [b.records for b in remote] == [b.records for b in local]
    for r, loc in zip(remote, local, strict=True):
        assert r.vectors.dtype == np.float32 and r.vectors.shape == loc.vectors.shape
        np.testing.assert_allclose(r.vectors, loc.vectors, rtol=0, atol=1e-5)


def assert_same_rows(got: object, want: object, where: str = "rows") -> None:
    """Equal field for field; floats within the 6-decimal rounding of the rows (1e-6 + ulp).

    Batches of another size take other float paths through the model, so a similarity can
    land one unit of the sixth decimal away; every other field must match exactly.
    """
    if isinstance(want, dict):
        assert isinstance(got, dict) and got.keys() == want.keys(), where
        for key in want:
            assert_same_rows(got[key], want[key], f"{where}.{key}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), where
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            assert_same_rows(g, w, f"{where}[{i}]")
    elif isinstance(want, float) and not isinstance(want, bool):
        assert got == pytest.approx(want, abs=2.5e-6), where
    else:
        assert got == want, where


def _sha(path: str) -> str:
    from simdetect.io.hashing import sha256_file

    return sha256_file(path)


def test_ray_audit_joined_by_address_gives_the_local_rows(
    ray_address: str, built_index: Path, backbone: Backbone, tmp_path: Path
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for p in sorted((SEEDS / "suspects").iterdir())[:10]:
        shutil.copy2(p, inbox / p.name)
    add_bad_files(inbox)
    local_out, ray_out = tmp_path / "local.parquet", tmp_path / "ray.parquet"
    run_audit(inbox, built_index, local_out, backbone=backbone)
    env = dict(os.environ, HF_HUB_OFFLINE="1", COLUMNS="300", OMP_NUM_THREADS="1")
    env.pop("RAY_ADDRESS", None)
    proc = subprocess.run(
        [
            *(sys.executable, "-m", "simdetect", "audit", str(inbox), "--index", str(built_index)),
            *("--out", str(ray_out), "--engine", "ray", "--address", ray_address),
            *("--ray-actors", "2", "--batch-size", "4"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "audited 14 inputs" in proc.stdout
    rows_local, rows_ray = pq.read_table(local_out).to_pylist(), pq.read_table(ray_out).to_pylist()
    assert_same_rows(rows_ray, rows_local)
    errors = {Path(r["path"]).name: r["error"] for r in rows_ray if r["error"]}
    assert set(errors) == {"zero.png", "truncated.jpg", "corrupt.png", "notes.txt"}


def test_ray_engine_errors_are_one_clear_line(ray_address: str, tmp_path: Path) -> None:
    result = invoke(
        "index", "add", SEEDS / "suspects", "--artist", "x", "--index", tmp_path / "i",
        "--address", "127.0.0.1:1",
    )  # fmt: skip
    assert result.exit_code == 1
    assert "--address, --ray-actors and --ray-gpus need --engine ray" in result.output
    with pytest.raises(RayEngineError, match="actors must be at least 1"):
        RayEngine(actors=0)
    assert not (tmp_path / "i").exists()


# ------------------------------------------------------------------------- shard merge


@pytest.fixture(scope="module")
def background_files() -> list[Path]:
    return sorted((SEEDS / "suspects").iterdir())[-5:]


@pytest.fixture(scope="module")
def shards(
    tmp_path_factory: pytest.TempPathFactory, backbone: Backbone, background_files: list[Path]
) -> tuple[Path, Path]:
    """Two machines' shards from disjoint halves of the seeds; one holds a background set."""
    root = tmp_path_factory.mktemp("shards")
    artists = sorted(p for p in (SEEDS / "artists").iterdir() if p.is_dir())
    a, b = root / "shard-a", root / "shard-b"
    for folder in artists[:4]:
        add_paths(a, [folder], folder.name, backbone=backbone)
    add_paths(a, background_files, "bg", backbone=backbone, role=ROLE_BACKGROUND)
    for folder in artists[4:]:
        add_paths(b, [folder], folder.name, backbone=backbone)
    return a, b


def _by_sha(index: Path) -> tuple[pd.DataFrame, np.ndarray]:
    snap = open_index(index)
    meta = snap.metadata.reset_index(drop=True)
    order = np.argsort(meta["sha256"].to_numpy())
    return meta.iloc[order][META_COLUMNS].reset_index(drop=True), snap.vectors()[order]


def _scan(index: Path, backbone: Backbone) -> list[dict]:
    files = [str(p) for p in sorted((SEEDS / "suspects").iterdir())[:6]]
    scanner = Scanner(open_index(index), ScanParams(top_k=5))
    context = scanner.context()
    rows = [r.to_json(context) for r in scanner.scan_files(files, backbone)]
    return [{k: r[k] for k in ("suspect", "sha256", "ranking", "matches", "note")} for r in rows]


def test_merged_shards_equal_an_index_built_in_one_go(
    shards: tuple[Path, Path],
    index_copy: Path,
    backbone: Backbone,
    background_files: list[Path],
    tmp_path: Path,
) -> None:
    one_go = index_copy  # all eight artists from one add-tree, plus the same background set
    add_paths(one_go, background_files, "bg", backbone=backbone, role=ROLE_BACKGROUND)
    merged = tmp_path / "merged"
    result = invoke("index", "merge", *shards, "--index", merged)
    assert result.exit_code == 0, result.output
    assert "added 133" in result.output and "133 works by 8 artists" in result.output

    meta_m, vec_m = _by_sha(merged)
    meta_o, vec_o = _by_sha(one_go)
    pd.testing.assert_frame_equal(meta_m, meta_o)
    np.testing.assert_allclose(vec_m, vec_o, rtol=0, atol=1e-5)
    m = open_index(merged).manifest
    assert m.background == {"bg": 5} and len(m.artists) == 8
    assert m.fingerprint == open_index(one_go).manifest.fingerprint
    # Original times are kept: each row's added_at is its shard's.
    shard_times = pd.concat([open_index(s).metadata for s in shards]).set_index("sha256")
    merged_meta = open_index(merged).metadata.set_index("sha256")
    assert (merged_meta["added_at"] == shard_times.loc[merged_meta.index, "added_at"]).all()
    assert _scan(merged, backbone) == _scan(one_go, backbone)

    # Merging a shard again adds nothing and writes no new generation.
    gen = open_index(merged).manifest.generation
    again = merge_shards(merged, [shards[1]])
    assert again.added == 0 and again.duplicates == open_index(shards[1]).count
    assert open_index(merged).manifest.generation == gen


def test_merge_into_an_existing_index_reports_conflicts(
    shards: tuple[Path, Path], backbone: Backbone, tmp_path: Path
) -> None:
    target = tmp_path / "target"
    shutil.copytree(shards[0], target)
    renamed = tmp_path / "renamed"  # the same bytes filed under another artist elsewhere
    folder = next(p for p in sorted((SEEDS / "artists").iterdir()) if p.is_dir())
    add_paths(renamed, sorted(folder.iterdir())[:3], "someone_else", backbone=backbone)
    summary = merge_shards(target, [shards[1], renamed])
    assert summary.added == open_index(shards[1]).count
    assert [(Path(c[1]).name, c[2], c[3]) for c in summary.conflicts] == [
        (p.name, "someone_else", folder.name) for p in sorted(folder.iterdir())[:3]
    ]
    m = open_index(target).manifest
    assert m.count == open_index(shards[0]).count + open_index(shards[1]).count
    assert "someone_else" not in m.artists


def test_merge_refuses_other_backbones_and_broken_shards_changing_nothing(
    shards: tuple[Path, Path], tmp_path: Path
) -> None:
    target = tmp_path / "target"
    shutil.copytree(shards[0], target)
    before = sorted(p.name for p in target.iterdir())
    current = (target / "CURRENT").read_text()

    other = tmp_path / "clip-shard"
    clip = load_backbone("clip:ViT-S-32/random")
    add_paths(other, sorted((SEEDS / "suspects").iterdir())[:2], "x", backbone=clip)
    result = invoke("index", "merge", shards[1], other, "--index", target)
    assert result.exit_code == 1
    line = " ".join(result.output.split())
    assert f"shard {other} was built with clip:ViT-S-32" in line
    assert "Only shards embedded by the same backbone can be merged; nothing was changed" in line
    with pytest.raises(FingerprintMismatch, match=f"shard {other}"):
        merge_shards(tmp_path / "new", [shards[0], other])
    assert not (tmp_path / "new").exists()

    broken = tmp_path / "broken"
    shutil.copytree(shards[1], broken)
    gen = broken / (broken / "CURRENT").read_text().strip()
    data = bytearray((gen / "metadata.parquet").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (gen / "metadata.parquet").write_bytes(bytes(data))
    with pytest.raises(IndexCorrupt, match=str(broken)):
        merge_shards(target, [broken])
    with pytest.raises(ValueError, match="is the target index itself"):
        merge_shards(target, [shards[1], target])
    assert sorted(p.name for p in target.iterdir()) == before
    assert (target / "CURRENT").read_text() == current
    with IndexWriter(target):  # and the lock was released
        pass
