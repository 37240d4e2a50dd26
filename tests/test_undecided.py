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


def test_counts_read_the_family_wise_flag_not_summed_decisions() -> None:
    """The summary line and the service's counters count what each row's `flagged` says,
    as audits do; a per-artist decision counts only where no family verdict was possible."""
    from dataclasses import replace

    from simdetect.cli.scan import scan_counts
    from simdetect.scan.result import ArtistScore, ScanResult, platform_verdict
    from simdetect.serve.engine import scan_outcomes

    score = ArtistScore(
        "ana", 0.1, 0.9, 0.1, 99.0, 0.005, 200, 50.0, 10, True, 0.05, 0.01, 0.01, 10
    )
    decided, open_ = score, replace(score, decision=None)
    not_decided = replace(score, decision=False)
    rows = [
        ScanResult("a.png", "0" * 64, [decided], flagged=True, flagged_artist="ana"),
        # decided for one of many artists, but not unusual for the registry: not flagged
        ScanResult("b.png", "1" * 64, [decided, not_decided], flagged=False),
        ScanResult("c.png", "2" * 64, [decided], flagged=None),  # no family verdict possible
        ScanResult("d.png", "3" * 64, [open_, not_decided], flagged=False),
        ScanResult("e.png", "4" * 64, [not_decided], flagged=False),
    ]
    want = ["flagged", "not_flagged", "flagged", "undecided", "not_flagged"]
    assert [platform_verdict(r.flagged, [a.decision for a in r.ranking]) for r in rows] == want
    assert "5 scanned: 2 flagged, 1 undecided, 2 not flagged;" in scan_counts(rows)
    served = [scan_outcomes(r.to_json({}))[1] for r in rows]
    assert served == want
