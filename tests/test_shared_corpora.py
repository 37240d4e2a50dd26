"""Sanity checks on real paintings from ../shared (read in place; skipped when absent).

Not a benchmark: a handful of works through the real CLI, checking the pipeline holds up
on real JPEGs (small squashed ones and large full-resolution ones).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from conftest import invoke, read_jsonl
from PIL import Image

from simdetect.index import open_index

ARTISTS = ("andy_warhol", "piet_mondrian", "rembrandt", "claude_monet")
N_INDEXED = 8
HELD_OUT = N_INDEXED + 1  # <artist>_9.jpg: never indexed, scanned as a suspect
TITIAN_FILES = ("Titian_1.jpg", "Titian_10.jpg", "Titian_100.jpg")


pytestmark = [pytest.mark.shared, pytest.mark.usefixtures("one_torch_thread")]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_best_artworks_held_out_works_find_their_artist(best_artworks: Path, tmp_path: Path):
    index = tmp_path / "index"
    indexed: set[str] = set()
    for artist in ARTISTS:
        files = [best_artworks / artist / f"{artist}_{i}.jpg" for i in range(1, N_INDEXED + 1)]
        result = invoke("index", "add", *files, "--artist", artist, "--index", index)
        assert result.exit_code == 0, result.output
        assert f"added {N_INDEXED}, already indexed 0, skipped 0" in result.stdout
        indexed |= {str(f.resolve()) for f in files}

    snap = open_index(index)
    assert snap.count == len(ARTISTS) * N_INDEXED
    assert snap.manifest.artists == dict.fromkeys(ARTISTS, N_INDEXED)
    assert set(snap.metadata["path"]) == indexed  # read in place, nothing copied
    assert all(best_artworks.resolve() in Path(p).parents for p in indexed)

    held_out = {best_artworks / a / f"{a}_{HELD_OUT}.jpg": a for a in ARTISTS}
    out = tmp_path / "r.jsonl"
    result = invoke("scan", *held_out, "--index", index, "--out", out)
    assert result.exit_code == 0, result.output
    rows = read_jsonl(out)
    assert len(rows) == len(ARTISTS)

    hits = 0
    for row in rows:
        suspect = Path(row["suspect"])
        # ../shared may be reached through a link; compare real files
        truth = {k.resolve(): v for k, v in held_out.items()}[suspect.resolve()]
        assert str(suspect) not in indexed
        assert row["error"] is None
        assert row["sha256"] == sha256(suspect)
        assert (row["width"], row["height"]) == (128, 128)
        assert {r["artist"] for r in row["ranking"]} == set(ARTISTS)
        assert all(r["n_works"] == N_INDEXED for r in row["ranking"])
        scores = [r["score"] for r in row["ranking"]]
        assert scores == sorted(scores, reverse=True)
        # Nearest works in the learned ranking space (their plain cosine shown).
        assert 1 <= len(row["matches"]) <= 5 and row["ranking_state"] is not None
        assert all(-1.0 <= m["similarity"] <= 1.0 for m in row["matches"])
        assert all(m["path"] in indexed for m in row["matches"])
        hits += row["ranking"][0]["artist"] == truth
    assert hits >= 2, f"only {hits} of {len(ARTISTS)} held-out works ranked their artist first"


def test_titian_half_size_copy_finds_its_source(titian: Path, tmp_path: Path) -> None:
    sources = [titian / name for name in TITIAN_FILES]
    sizes = {}
    for src in sources:
        with Image.open(src) as im:
            sizes[str(src.resolve())] = im.size
            assert im.format == "JPEG"
    assert max(min(s) for s in sizes.values()) >= 500  # full-resolution files

    index = tmp_path / "index"
    result = invoke("index", "add", *sources, "--artist", "titian", "--index", index)
    assert result.exit_code == 0, result.output
    meta = open_index(index).metadata
    assert len(meta) == len(sources)
    for row in meta.itertuples():  # the file's own size, however it was decoded
        assert (row.width, row.height) == sizes[row.path]

    source = sources[1]
    copy = tmp_path / "half.jpg"
    with Image.open(source) as im:
        im.convert("RGB").resize((im.width // 2, im.height // 2), Image.Resampling.LANCZOS).save(
            copy, quality=88
        )
    out = tmp_path / "r.jsonl"
    result = invoke("scan", copy, "--index", index, "--out", out)
    assert result.exit_code == 0, result.output
    (row,) = read_jsonl(out)
    assert row["error"] is None
    w, h = sizes[str(source.resolve())]
    assert (row["width"], row["height"]) == (w // 2, h // 2)
    assert row["matches"][0]["path"] == str(source.resolve())
    assert row["matches"][0]["sha256"] == sha256(source)
    assert row["matches"][0]["similarity"] > row["matches"][1]["similarity"]
    assert "uncalibrated" in row["note"]  # one artist: no relative score, and it says so
