"""`simdetect case`: one portfolio, comparison works and suspects to a verified report."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from conftest import invoke

from simdetect.report.verify import verify_report

ARTIST = "水墨山人"


def test_case_indexes_scans_finds_the_copy_and_reuses_its_index(
    seeds_dir: Path, tmp_path: Path
) -> None:
    background = tmp_path / "background"
    for folder in (seeds_dir / "artists").iterdir():
        if folder.name != ARTIST:
            shutil.copytree(folder, background / folder.name)
    copy = seeds_dir / "suspects" / "suspect_18.jpg"  # a JPEG re-save of 水墨山人_05.png
    unrelated = seeds_dir / "suspects" / "suspect_13.jpg"
    out = tmp_path / "案件"
    args = [
        copy, unrelated, "--portfolio", seeds_dir / "artists" / ARTIST, "--artist", ARTIST,
        "--out", out, "--background", background, "--format", "json,html", "--lang", "zh",
    ]  # fmt: skip
    first = invoke("case", *args)
    assert first.exit_code == 0, first.output
    # The summary speaks the report's language, and names the background it used.
    assert "新收录 16 件" in first.output and "bit_bram (16)" in first.output
    assert "编辑后的复制品" in first.output and "水墨山人_05.png" in first.output
    record_path = out / "report" / "evidence.json"
    record = json.loads(record_path.read_text(encoding="utf-8"))
    copied = record["suspects"][0]
    assert copied["copy"]["source"]["path"].endswith("水墨山人_05.png")
    assert record["suspects"][1]["copy"] is None
    assert len(record["index"]["background"]) == 7
    page = (out / "report" / "report.html").read_text(encoding="utf-8")
    assert "对照作品（背景）" in page and "bit_bram (16)" in page
    result = verify_report(record_path)
    assert result.ok, result.failures

    # A second run refuses to overwrite the report unasked, and changes nothing.
    digest = record["digest"]
    again = invoke("case", *args)
    assert again.exit_code == 1 and "not empty" in again.output
    assert json.loads(record_path.read_text(encoding="utf-8"))["digest"] == digest
    # Asked, it reuses the index (no work embedded again) and writes a new report.
    redo = invoke("case", *args, "--overwrite", "--lang", "en")
    assert redo.exit_code == 0, redo.output
    assert "16 works added" not in redo.output and "0 works added, 16 already" in redo.output
    assert "EDITED COPY" in redo.output
    assert verify_report(record_path).ok


def test_case_refuses_a_missing_portfolio_before_indexing(seeds_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "case"
    result = invoke(
        "case", seeds_dir / "suspects" / "suspect_13.jpg", "--portfolio", tmp_path / "nope",
        "--artist", ARTIST, "--out", out,
    )  # fmt: skip
    assert result.exit_code == 1
    assert "nope" in result.output and "not a folder" in result.output
    assert not out.exists()
