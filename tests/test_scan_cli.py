"""Scanning suspects and the command line: output schema, scores, ground truth, formats, errors.

The CLI runs in-process through typer's CliRunner and, where the process boundary
matters (console script, demo), as a subprocess. The seeds corpus and its answers in
`seeds/suspects.csv` are the ground truth.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
from conftest import cli_env, invoke

from simdetect.backbones import Backbone
from simdetect.cli import app
from simdetect.embed import embed_files
from simdetect.index import open_index
from simdetect.scan import SCHEMA_VERSION
from simdetect.scoring import DEFAULT_HUBNESS_K, DEFAULT_K
from simdetect.scoring.aggregate import ArtistTable
from simdetect.scoring.ranking import RankingParams, fit_ranking

SIMDETECT = Path(sys.executable).parent / "simdetect"
SEEDS = Path(__file__).resolve().parent.parent / "seeds"
ROW_KEYS = {"suspect", "sha256", "ranking", "matches", "error", "note", "width", "height"}
RANK_KEYS = {
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
MATCH_KEYS = {"path", "artist", "similarity"}


def _truth_rows() -> list[dict[str, str]]:
    path = SEEDS / "suspects.csv"
    if not path.is_file():
        return []
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


TRUTH = _truth_rows()
COPIES = [row for row in TRUTH if row["kind"].startswith("copy-")]


# --------------------------------------------------------------------------- fixtures


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def read_jsonl(path: Path) -> list[dict]:
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines, f"{path} is empty"
    return [json.loads(line) for line in lines]  # every line is one JSON object


def by_name(rows: list[dict]) -> dict[str, dict]:
    return {Path(r["suspect"]).name: r for r in rows}


@pytest.fixture(scope="module")
def scan_index(module_index: Path) -> Path:
    return module_index


@pytest.fixture(scope="module")
def scanned(scan_index: Path, seeds_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """`simdetect scan seeds/suspects --out r.jsonl`, once for the module."""
    out = tmp_path_factory.mktemp("scan-out") / "r.jsonl"
    result = invoke("scan", seeds_dir / "suspects", "--index", scan_index, "--out", out)
    assert result.exit_code == 0, result.output
    return result, read_jsonl(out)


@pytest.fixture(scope="module")
def rows(scanned) -> dict[str, dict]:
    return by_name(scanned[1])


# --------------------------------------------------------------------------- schema


def test_scan_jsonl_schema(scanned, scan_index: Path, seeds_dir: Path) -> None:
    result, all_rows = scanned
    assert "results written to" in result.stdout
    suspects = sorted(p for p in (seeds_dir / "suspects").iterdir() if p.is_file())
    assert [Path(r["suspect"]).name for r in all_rows] == [p.name for p in suspects]

    snap = open_index(scan_index)
    meta = snap.metadata.set_index("path")
    artists = snap.manifest.artists
    for row in all_rows:
        assert set(row) >= ROW_KEYS
        suspect = Path(row["suspect"])
        assert suspect.is_absolute() and suspect.is_file()
        assert row["sha256"] == sha256(suspect)
        assert row["error"] is None
        assert row["note"] is None  # eight artists: scores are relative, not uncalibrated
        assert row["width"] > 0 and row["height"] > 0

        ranking = row["ranking"]
        assert {r["artist"] for r in ranking} == set(artists)
        for entry in ranking:
            assert set(entry) >= RANK_KEYS
            n_works = artists[entry["artist"]]
            assert entry["n_works"] == n_works
            assert isinstance(entry["score"], float)
            # Schema 3: ranked and decided by `contrastive` (schema 2: by `relative`).
            assert entry["score"] == entry["contrastive"] and entry["null"] == "index"
            assert -1.0 <= entry["similarity"] <= 1.0
            # Calibrated against every other artist's works, and the artist's own.
            assert entry["n_impostors"] == snap.count - n_works
            assert entry["n_genuine"] == n_works
            assert 1 / (1 + entry["n_impostors"]) - 1e-6 <= entry["p_value"] <= 1.0
            assert 0.0 <= entry["percentile"] <= 100.0
            assert entry["target_fpr"] == 0.01
            if entry["decision"] is not None:
                assert entry["decision"] == (entry["contrastive"] > entry["threshold"])
        scores = [r["score"] for r in ranking]
        assert scores == sorted(scores, reverse=True)  # best first

        matches = row["matches"]
        assert 1 <= len(matches) <= 5  # default --top-k 5
        assert len(matches) == min(5, snap.count)
        for match in matches:
            assert set(match) >= MATCH_KEYS
            indexed = meta.loc[match["path"]]
            assert indexed["artist"] == match["artist"]
            assert indexed["sha256"] == match["sha256"]
        # Ordered in the ranking space learned from the index (recomputed from the stored
        # vectors in test_scores_recomputed_from_the_stored_vectors), each shown with its
        # plain cosine.
        sims = [m["similarity"] for m in matches]
        assert all(-1.0 <= x <= 1.0 for x in sims)
        assert "learned from the index's works" in row["nearest_works"]
        assert isinstance(row["ranking_state"], str) and len(row["ranking_state"]) == 64

        assert row["backbone"] == "effnet-style"
        assert row["fingerprint"] == snap.fingerprint.digest()
        assert row["index_generation"] == snap.manifest.generation
        assert row["index_snapshot"] == snap.snapshot_digest()
        assert row["schema_version"] == SCHEMA_VERSION >= 2
        assert row["calibration"]["state"] == "calibrated"
        assert row["calibration"]["relative_to"] == {"artists": sorted(artists), "background": []}
        assert "CSLS" in row["score_method"]
        assert row["null"]["kind"] == "index" and row["reference"] is None
        assert row["flagged"] in (True, False) and row["family_fpr"] == 0.05


def test_scores_recomputed_from_the_stored_vectors(
    rows: dict[str, dict], scan_index: Path, backbone: Backbone, seeds_dir: Path
) -> None:
    """One suspect's numbers, recomputed from the index's vectors as README documents them,
    independently of scan.py:

    similarity(A) = mean of the k largest cosines to A's works;
    relative(A)   = the same over 2cos(q,x) - r(q) - r(x), r = mean cosine to the h nearest
                    indexed works (a work's own vector left out of its r).
    """
    k, h = DEFAULT_K, DEFAULT_HUBNESS_K
    suspect = seeds_dir / "suspects" / "suspect_02.jpg"
    (batch,) = list(embed_files([suspect], backbone))
    query = batch.vectors[0].astype(np.float64)
    snap = open_index(scan_index)
    vectors = snap.vectors().astype(np.float64)
    meta = snap.metadata

    cos = vectors @ query
    r_query = np.sort(cos)[-h:].mean()
    gram = vectors @ vectors.T
    np.fill_diagonal(gram, -np.inf)
    r_work = np.sort(gram, axis=1)[:, -h:].mean(axis=1)
    corrected = 2 * cos - r_query - r_work

    def top_k_mean(values: np.ndarray, artist: str) -> float:
        own = values[(meta["artist"] == artist).to_numpy()]
        return float(np.sort(own)[-k:].mean())

    row = rows[suspect.name]
    for entry in row["ranking"]:
        assert entry["similarity"] == pytest.approx(top_k_mean(cos, entry["artist"]), abs=1e-5)
        assert entry["relative"] == pytest.approx(top_k_mean(corrected, entry["artist"]), abs=1e-5)
    # Schema 3: ranked by the contrastive score, positive for the winner alone.
    scores = [r["score"] for r in row["ranking"]]
    assert scores == sorted(scores, reverse=True)
    assert all(r["score"] == r["contrastive"] for r in row["ranking"])
    assert scores[0] > 0 and all(x <= 0 for x in scores[1:])
    assert {r["artist"] for r in row["ranking"]} == set(meta["artist"])
    # Nearest works: ordered in the ranking space fitted on the stored vectors and labels.
    table = ArtistTable.build(meta["artist"].tolist(), meta["role"].tolist())
    space = fit_ranking(vectors, table.codes, RankingParams())
    assert space.digest() == row["ranking_state"]
    order = np.argsort(-space.scores(query[None, :])[0])[: len(row["matches"])]
    assert [m["path"] for m in row["matches"]] == meta["path"].iloc[order].tolist()
    for match, i in zip(row["matches"], order, strict=True):
        assert match["similarity"] == pytest.approx(float(cos[i]), abs=1e-5)


# --------------------------------------------------------------------------- ground truth


def test_true_artist_ranks_first_for_imitations_and_copies(rows: dict[str, dict]) -> None:
    judged = [t for t in TRUTH if t["kind"] == "imitation" or t["kind"].startswith("copy-")]
    assert len(judged) >= 21
    misses = [
        (t["file"], t["artist"], rows[Path(t["file"]).name]["ranking"][0]["artist"])
        for t in judged
        if rows[Path(t["file"]).name]["ranking"][0]["artist"] != t["artist"]
    ]
    assert misses == []


@pytest.mark.parametrize("truth", COPIES, ids=[f"{t['file']}-{t['kind']}" for t in COPIES])
def test_copy_lists_its_source_among_the_matches(truth: dict, rows: dict[str, dict]) -> None:
    row = rows[Path(truth["file"]).name]
    source = SEEDS / truth["source"]
    assert source.is_file()
    names = [Path(m["path"]).name for m in row["matches"]]
    assert source.name in names
    assert row["matches"][names.index(source.name)]["artist"] == truth["artist"]


# The centre crop's source was only third by plain cosine (v1: style statistics do not
# describe layout); in the learned ranking space of descriptor v2 it comes first.
@pytest.mark.parametrize("truth", COPIES, ids=[f"{t['file']}-{t['kind']}" for t in COPIES])
def test_copy_best_match_is_its_source(truth: dict, rows: dict[str, dict]) -> None:
    row = rows[Path(truth["file"]).name]
    assert Path(row["matches"][0]["path"]).name == Path(truth["source"]).name


# --------------------------------------------------------------------------- options, formats


def test_scan_as_subprocess_with_top_k_2(
    scan_index: Path, seeds_dir: Path, tmp_path: Path, rows: dict[str, dict]
) -> None:
    out = tmp_path / "r.jsonl"
    proc = subprocess.run(
        [
            str(SIMDETECT),
            "scan",
            str(seeds_dir / "suspects"),
            "--index",
            str(scan_index),
            "--top-k",
            "2",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        env=cli_env(columns=1000),
        stdin=subprocess.DEVNULL,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert f"results written to {out}" in proc.stdout
    sub_rows = by_name(read_jsonl(out))
    assert set(sub_rows) == set(rows)
    for name, row in sub_rows.items():
        assert set(row) >= ROW_KEYS
        assert len(row["matches"]) == 2
        # Another process, another batch layout: the same numbers.
        assert [m["path"] for m in row["matches"]] == [m["path"] for m in rows[name]["matches"][:2]]
        for mine, theirs in zip(row["ranking"], rows[name]["ranking"], strict=True):
            assert mine["artist"] == theirs["artist"]
            assert mine["score"] == pytest.approx(theirs["score"], abs=1e-5)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_table_outputs_have_a_row_per_suspect_and_artist(
    suffix: str, scan_index: Path, seeds_dir: Path, tmp_path: Path, rows: dict[str, dict]
) -> None:
    names = ["suspect_02.jpg", "suspect_12.jpg", "suspect_18.jpg"]
    broken = tmp_path / "broken.jpg"
    broken.write_bytes((seeds_dir / "suspects" / names[0]).read_bytes()[:300])
    out = tmp_path / f"r{suffix}"
    paths = [seeds_dir / "suspects" / n for n in names]
    result = invoke("scan", *paths, broken, "--index", scan_index, "--out", out)
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out) if suffix == ".csv" else pd.read_parquet(out)

    n_artists = len(open_index(scan_index).manifest.artists)
    assert len(table) == len(names) * n_artists + 1
    for col in ("suspect", "sha256", "rank", "artist", "score", "similarity", "n_works"):
        assert col in table.columns
    for name in names:
        part = table[table["suspect"].map(lambda s: Path(s).name) == name]
        expected = rows[name]
        assert part["rank"].tolist() == list(range(1, n_artists + 1))
        assert part["artist"].tolist() == [r["artist"] for r in expected["ranking"]]
        assert part["score"].is_monotonic_decreasing
        assert (part["best_match_path"] == expected["matches"][0]["path"]).all()
        assert (part["sha256"] == expected["sha256"]).all()
    failed = table[table["suspect"] == str(broken.resolve())]
    assert len(failed) == 1
    assert "truncated or corrupt" in failed["error"].iloc[0]
    assert pd.isna(failed["rank"].iloc[0])


def test_unsupported_output_suffix_fails_before_any_work(tmp_path: Path, seeds_dir: Path) -> None:
    out = tmp_path / "r.txt"
    # The index does not exist either: the suffix is refused before it is even opened.
    result = invoke("scan", seeds_dir / "suspects", "--index", tmp_path / "none", "--out", out)
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)
    err = " ".join(result.stderr.split())
    assert "r.txt" in err
    assert ".jsonl, .csv, .parquet" in err
    assert "no index" not in err
    assert not out.exists()


def test_top_k_must_be_positive(scan_index: Path, seeds_dir: Path) -> None:
    result = invoke("scan", seeds_dir / "suspects", "--index", scan_index, "--top-k", "0")
    assert result.exit_code == 1
    assert "--top-k must be at least 1" in result.stderr


def test_scan_without_an_index_says_how_to_make_one(tmp_path: Path, seeds_dir: Path) -> None:
    result = invoke("scan", seeds_dir / "suspects", "--index", tmp_path / "none")
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)
    assert "no index at" in result.stderr
    assert "simdetect index add" in result.stderr


# --------------------------------------------------------------------------- bad suspects


def test_corrupt_suspects_become_error_rows(
    scan_index: Path, seeds_dir: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "uploads"
    folder.mkdir()
    good = folder / "fine.png"
    shutil.copyfile(seeds_dir / "suspects" / "suspect_05.png", good)
    data = (seeds_dir / "suspects" / "suspect_03.jpg").read_bytes()
    (folder / "half.jpg").write_bytes(data[: len(data) // 3])
    (folder / "empty.png").write_bytes(b"")
    missing = tmp_path / "gone.webp"
    out = tmp_path / "r.jsonl"
    result = invoke("scan", folder, missing, "--index", scan_index, "--out", out)
    assert result.exit_code == 0, result.output
    got = by_name(read_jsonl(out))
    assert set(got) == {"fine.png", "half.jpg", "empty.png", "gone.webp"}
    reasons = {
        "half.jpg": "truncated or corrupt",
        "empty.png": "zero-byte file",
        "gone.webp": "no such file",
    }
    for name, reason in reasons.items():
        row = got[name]
        assert reason in row["error"]
        assert row["ranking"] == []
        assert row["matches"] == []
        assert row["sha256"] is None
    assert got["fine.png"]["error"] is None
    assert got["fine.png"]["ranking"]
    assert "skipped" in result.stdout  # the table says so too


def test_single_artist_index_is_uncalibrated(tmp_path: Path, seeds_dir: Path) -> None:
    index = tmp_path / "one"
    folder = seeds_dir / "artists" / "bit_bram"
    result = invoke("index", "add", folder, "--artist", "bit_bram", "--index", index)
    assert result.exit_code == 0, result.output
    out = tmp_path / "r.jsonl"
    suspects = [seeds_dir / "suspects" / n for n in ("suspect_05.png", "suspect_13.jpg")]
    result = invoke("scan", *suspects, "--index", index, "--out", out)
    assert result.exit_code == 0, result.output
    raw = out.read_text(encoding="utf-8")
    assert raw.count('"score": null') == len(suspects)
    for row in read_jsonl(out):
        assert "uncalibrated" in row["note"]
        assert row["calibration"]["state"] == "uncalibrated"
        (entry,) = row["ranking"]
        assert entry["artist"] == "bit_bram"
        assert entry["score"] is None
        assert entry["relative"] is None
        assert entry["p_value"] is None
        assert entry["decision"] is None
        assert isinstance(entry["similarity"], float) and math.isfinite(entry["similarity"])
        assert entry["n_works"] == len(list(folder.iterdir()))
        assert row["matches"]


# --------------------------------------------------------------------------- other commands


def test_index_info_prints_works_artists_fingerprint(scan_index: Path, scanned) -> None:
    snap = open_index(scan_index)
    m = snap.manifest
    result = invoke("index", "info", "--index", scan_index)
    assert result.exit_code == 0, result.output
    lines = {
        cells[0]: cells[1]
        for line in result.stdout.splitlines()
        if len(cells := [c.strip() for c in line.strip("│ ").split("│")]) == 2
    }
    assert lines["works"] == str(m.count)
    assert lines["artists"] == str(len(m.artists))
    assert lines["fingerprint"] == m.fingerprint.digest()
    assert lines["weights sha256"] == m.fingerprint.weights_sha256
    assert lines["backbone"] == "effnet-style"
    assert lines["dimension"] == str(m.dim)
    assert lines["generation"] == str(m.generation)
    assert lines["calibration"].startswith("calibrated")  # stored by the scan before
    assert (snap.directory / "calibration.npz").is_file()
    out_lines = result.stdout.splitlines()
    for artist, n in m.artists.items():
        assert any(artist in line and line.rstrip(" │").endswith(f" {n}") for line in out_lines)


def test_index_info_never_elides_hashes(scan_index: Path) -> None:
    result = invoke("index", "info", "--index", scan_index, columns=80)
    assert result.exit_code == 0, result.output
    assert "…" not in result.stdout


def test_backbones_command_lists_effnet_style() -> None:
    result = invoke("backbones")
    assert result.exit_code == 0, result.output
    line = next(line for line in result.stdout.splitlines() if "effnet-style" in line)
    assert "2560" in line
    assert "yes" in line  # available offline


def _all_commands() -> list[list[str]]:
    found: list[list[str]] = []

    def walk(cmd, prefix: list[str]) -> None:
        found.append(prefix)
        for name, sub in (getattr(cmd, "commands", None) or {}).items():  # a group
            walk(sub, [*prefix, name])

    walk(typer.main.get_command(app), [])
    return found


@pytest.mark.parametrize("command", _all_commands(), ids=lambda c: " ".join(c) or "simdetect")
def test_help_of_every_command(command: list[str]) -> None:
    result = invoke(*command, "--help")
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.stdout
    assert "--help" in result.stdout


def test_all_commands_found() -> None:
    names = {" ".join(c) for c in _all_commands()}
    assert {"scan", "demo", "backbones", "index add", "index info", "index remove"} <= names


@pytest.mark.slow
def test_demo_as_subprocess(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    judged = sum(1 for t in TRUTH if t["artist"])
    proc = subprocess.run(
        [str(SIMDETECT), "demo", "--out", str(out)],
        capture_output=True,
        text=True,
        env=cli_env(columns=1000),
        cwd=tmp_path,  # finds the bundled seeds beside the package, writes only under --out
        stdin=subprocess.DEVNULL,
        timeout=500,
    )
    assert proc.returncode == 0, proc.stderr
    assert f"{judged} of {judged} demo suspects ranked their true artist first" in proc.stdout
    named = {}
    for line in proc.stdout.splitlines():
        key, sep, value = line.partition(":")
        if sep and key in ("index", "results", "report"):
            named[key] = Path(value.strip())
    assert set(named) == {"index", "results", "report"}
    for path in named.values():
        assert path.exists(), path
        assert out in path.parents
    assert named["report"].name == "report.html"

    evidence = named["report"].with_name("evidence.json")
    report = json.loads(evidence.read_text(encoding="utf-8"))
    assert report["schema"] == "simdetect-evidence-record"
    assert report["method"]["backbone"]["spec"] == "effnet-style"
    snap = open_index(named["index"])
    assert report["index"]["works"] == snap.count
    assert report["index"]["snapshot_digest"] == snap.snapshot_digest()
    assert len(report["suspects"]) == 1
    assert report["limitations"]
    assert report["digest"] in named["report"].read_text(encoding="utf-8")
    results = read_jsonl(named["results"])
    assert len(results) == len(TRUTH)
    assert all(r["ranking"] for r in results)
