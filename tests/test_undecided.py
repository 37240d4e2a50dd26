"""Undecided is never shown as "no", and an index that cannot decide says so at once."""

from __future__ import annotations

from pathlib import Path

from conftest import invoke


def test_index_add_warns_when_no_decision_is_possible(tmp_path: Path, seeds_dir: Path) -> None:
    index = tmp_path / "one"
    folder = seeds_dir / "artists" / "bit_bram"
    result = invoke("index", "add", folder, "--artist", "bit_bram", "--index", index)
    assert result.exit_code == 0, result.output
    assert "by 1 artist " in result.output and "1 artists" not in result.output
    assert "cannot decide at a 1% false-positive rate" in result.output
    assert "at least 99 works by other artists" in result.output
    assert "add at least 99 more works" in result.output and "--background" in result.output


def test_scan_of_nothing_readable_fails(tmp_path: Path, built_index: Path) -> None:
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    result = invoke("scan", empty, tmp_path / "gone.jpg", "--index", built_index)
    assert result.exit_code == 1, result.output
    assert "no suspect could be read" in result.output
    assert "0 scanned: 0 flagged, 0 undecided, 0 not flagged" in result.output
