"""The issue's case end to end: a crop + 7° turn + JPEG-35 copy of an indexed work is
reported as a copy of that work by `scan`, `report`, `audit` and `serve`.

One index of two busy procedural portfolios (real PNG/JPEG files) is built once; the
copy is a real JPEG file on disk, and an unrelated image rides along as the control.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from conftest import invoke
from copy_fixtures import write_portfolio
from PIL import Image

from simdetect.audit.summary import summary_paths
from simdetect.report.verify import verify_report
from simdetect.serve.local import LocalServer

REPO = Path(__file__).resolve().parent.parent
UNRELATED = REPO / "seeds" / "suspects" / "suspect_13.jpg"


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("copy-case")
    ana = write_portfolio(root / "portfolio" / "ana", 10, seed=1, palette=0)
    write_portfolio(root / "portfolio" / "otto", 10, seed=2, palette=1)
    index = root / "index"
    for artist in ("ana", "otto"):
        result = invoke("index", "add", root / "portfolio" / artist, "--artist", artist,
                        "--index", index)  # fmt: skip
        assert result.exit_code == 0, result.output
    source = ana[3]
    with Image.open(source) as im:
        w, h = im.size
        copy = im.convert("RGB").crop((round(w * 0.08), round(h * 0.06), round(w * 0.9),
                                       round(h * 0.92)))  # fmt: skip
    copy = copy.rotate(7, resample=Image.Resampling.BICUBIC, expand=True, fillcolor="white")
    suspects = root / "suspects"
    suspects.mkdir()
    copy.save(suspects / "laundered.jpg", "JPEG", quality=35)
    (suspects / "unrelated.jpg").write_bytes(UNRELATED.read_bytes())
    return {"root": root, "index": index, "source": source, "suspects": suspects}


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _check_copy_row(row: dict[str, object], source: Path) -> None:
    copy = row["copy"]
    assert isinstance(copy, dict), row.get("copy_check")
    assert copy["source"]["sha256"] == _sha(source)
    assert copy["source"]["artist"] == "ana"
    assert copy["p_value"] <= copy["target_fpr"]
    assert 2 < copy["transform"]["rotation_degrees"] < 12
    assert row["copy_check"]["state"] == "copy"


def test_scan_reports_the_copy_and_counts_it(case: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "rows.jsonl"
    result = invoke("scan", case["suspects"], "--index", case["index"], "-o", out)
    assert result.exit_code == 0, result.output
    rows = {Path(r["suspect"]).name: r for r in map(json.loads, out.read_text().splitlines())}
    _check_copy_row(rows["laundered.jpg"], case["source"])
    assert rows["unrelated.jpg"]["copy"] is None
    assert rows["unrelated.jpg"]["copy_check"]["state"] == "no_copy"
    # Two artists of ten works each cannot decide at 1%: shown as undecided, not "no".
    assert "2 scanned: 0 flagged, 2 undecided, 0 not flagged; 1 edited copy;" in result.output
    assert "COPY" in result.output and "work_03.jpg" in result.output

    flat = tmp_path / "rows.csv"
    assert invoke("scan", case["suspects"], "--index", case["index"], "-o", flat).exit_code == 0
    table = pd.read_csv(flat)
    by_file = table.groupby(table["suspect"].map(lambda p: Path(p).name)).first()
    assert by_file.loc["laundered.jpg", "copy_source_sha256"] == _sha(case["source"])
    assert by_file.loc["unrelated.jpg", "copy_state"] == "no_copy"

    off = invoke("scan", case["suspects"], "--index", case["index"], "--no-copies")
    assert off.exit_code == 0 and "0 edited copies" in off.output


def test_report_puts_the_copy_first_and_verifies(case: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "case"
    result = invoke("report", case["suspects"] / "laundered.jpg", "--index", case["index"],
                    "--artist", "ana", "--out", out, "--format", "html,json")  # fmt: skip
    assert result.exit_code == 0, result.output
    record = json.loads((out / "evidence.json").read_text(encoding="utf-8"))
    suspect = record["suspects"][0]
    _check_copy_row({"copy": suspect["copy"], "copy_check": suspect["copy_check"]}, case["source"])
    assert any(i["sha256"] == _sha(case["source"]) for i in record["inputs"])
    html = (out / "report.html").read_text(encoding="utf-8")
    finding = html.index(f'data-copy-source="{_sha(case["source"])}"')
    # The red finding comes before the style verdict, which loses its green beside a copy.
    assert finding < html.index('<div class="card-head">')
    assert "Edited copy of work_03.jpg" in html and "编辑后的复制品" in html
    assert "<polygon" in html and 'class="verdict no_match"' not in html
    verification = verify_report(out / "evidence.json")
    assert verification.ok, [c for c in verification.checks if c.failed]


def test_audit_has_a_copy_column_and_count(case: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "audit.parquet"
    result = invoke("audit", case["suspects"], "--index", case["index"], "--out", out)
    assert result.exit_code == 0, result.output
    df = pd.read_parquet(out).set_index(pd.read_parquet(out)["path"].map(lambda p: Path(p).name))
    assert df.loc["laundered.jpg", "copy_state"] == "copy"
    assert df.loc["laundered.jpg", "copy_source_sha256"] == _sha(case["source"])
    assert df.loc["unrelated.jpg", "copy_state"] == "no_copy"
    assert "2 examined, 0 flagged, 2 undecided, 1 copies, 0 errors" in result.output
    rates = pd.read_csv(summary_paths(out).flag_rates_csv)
    assert (rates["undecided"] == 2).all() and (rates["flagged"] == 0).all()


@pytest.fixture(scope="module")
def server(case: dict[str, Path]) -> Iterator[LocalServer]:
    with LocalServer(case["index"], ["--evidence-dir", str(case["root"] / "evidence")]) as s:
        yield s


def test_serve_scan_reports_the_copy(case: dict[str, Path], server: LocalServer) -> None:
    client = server.client()
    reply = client.scan((case["suspects"] / "laundered.jpg").read_bytes(), "laundered.jpg")
    assert reply.status == 200, reply.body
    _check_copy_row(reply.json(), case["source"])
    stats = client.request("GET", "/v1/stats").json()["scans"]
    assert stats["copies"] >= 1 and stats["undecided"] >= 1 and stats["flagged"] == 0
