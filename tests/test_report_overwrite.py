"""`report` never mixes two runs in one case folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import invoke

from simdetect.backbones import Backbone
from simdetect.report.case import make_report
from simdetect.report.errors import ReportError
from simdetect.report.record import CaseInfo

SUSPECT = "suspect_02.jpg"
ARTIST = "pip_dots"
EXPECTED_FILES = [
    "evidence.json", "renderings.sha256", "report.html", "snapshot", "suspects", "works"
]  # fmt: skip


def test_report_refuses_a_used_folder_and_replaces_it_whole_when_asked(
    tmp_path: Path, built_index: Path, seeds_dir: Path, backbone: Backbone
) -> None:
    suspect = seeds_dir / "suspects" / SUSPECT
    out = tmp_path / "case"
    first = make_report([suspect], built_index, CaseInfo(artist=ARTIST, case_id="A"), out,
                        formats=("json", "html"), backbone=backbone)  # fmt: skip
    assert sorted(p.name for p in out.iterdir()) == EXPECTED_FILES
    with pytest.raises(ReportError, match="not empty"):
        make_report([suspect], built_index, CaseInfo(artist=ARTIST, case_id="B"), out,
                    formats=("json",), backbone=backbone)  # fmt: skip
    refused = invoke("report", suspect, "--index", built_index, "--artist", ARTIST, "--out", out)
    assert refused.exit_code == 1 and "--overwrite" in refused.output
    assert json.loads((out / "evidence.json").read_text())["digest"] == first.digest

    (out / "report.pdf").write_bytes(b"%PDF- stale, from an older run")
    second = make_report([suspect], built_index, CaseInfo(artist=ARTIST, case_id="B"), out,
                         formats=("json", "html"), backbone=backbone, overwrite=True)  # fmt: skip
    # Everything in the folder is from the second run: no stale PDF beside a new record.
    assert sorted(p.name for p in out.iterdir()) == EXPECTED_FILES
    assert json.loads((out / "evidence.json").read_text())["digest"] == second.digest
    assert second.digest in (out / "report.html").read_text(encoding="utf-8")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["case"]  # no staging left behind
