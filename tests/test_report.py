"""Evidence reports: the record, its digest, `simdetect verify`, languages and bad inputs.

Reports are made on the seeds index (built once per session) from copies of the demo
suspects, so tampering with a copy never touches the repository's files.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import invoke

from simdetect.backbones import Backbone
from simdetect.index import IndexWriter
from simdetect.index.build import add_paths
from simdetect.provenance import KINDS
from simdetect.report.canonical import canonical_json, record_digest, seal
from simdetect.report.case import JSON_NAME, ReportOutputs, make_report
from simdetect.report.errors import ReportError
from simdetect.report.html import render_html
from simdetect.report.i18n import STRINGS, format_datetime
from simdetect.report.record import SCHEMA, SCHEMA_VERSION, CaseInfo
from simdetect.report.verify import verify_report
from simdetect.scan.scanner import ScanParams
from simdetect.scoring.imitation import KNOBS_OFF, ImitationParams

ARTIST = "水墨山人"
IMITATION = "suspect_01.webp"  # an imitation of 水墨山人 (seeds/suspects.csv)
UNRELATED = "suspect_13.jpg"
RANK_FIELDS = {
    "artist", "score", "similarity", "relative", "percentile", "p_value", "n_impostors",
    "genuine_percentile", "n_genuine", "decision", "threshold", "target_fpr",
    "fpr_at_threshold", "n_works", "reason",
}  # fmt: skip
FILE_FIELDS = {"role", "artist", "path", "source_path", "sha256", "phash", "size_bytes",
               "format", "width", "height", "status"}  # fmt: skip
ZH_ONLY = ("结论概要", "局限性", "方法与可复现性")
EN_ONLY = ("Summary", "Limitations", "Method and reproducibility")


def copy_suspects(seeds_dir: Path, dest: Path, *names: str) -> list[Path]:
    dest.mkdir(parents=True, exist_ok=True)
    return [Path(shutil.copy2(seeds_dir / "suspects" / n, dest / n)) for n in names]


@pytest.fixture(scope="module")
def report(
    tmp_path_factory: pytest.TempPathFactory,
    built_index: Path,
    seeds_dir: Path,
    backbone: Backbone,
) -> ReportOutputs:
    work = tmp_path_factory.mktemp("case")
    suspects = copy_suspects(seeds_dir, work / "suspects", IMITATION, UNRELATED)
    return make_report(
        suspects,
        built_index,
        CaseInfo(
            artist=ARTIST, case_id="2026-沪-001", claimant="雪鱼 <b>Studio</b>", respondent="Acme"
        ),
        work / "out",
        formats=("json", "html"),
        backbone=backbone,
    )


def json_report(
    suspects: list[Path], index: Path, case_id: str, out: Path, backbone: Backbone
) -> ReportOutputs:
    """A JSON-only report for the claimant artist (the shape most tests need)."""
    return make_report(
        suspects,
        index,
        CaseInfo(artist=ARTIST, case_id=case_id),
        out,
        formats=("json",),
        backbone=backbone,
    )


def tampered_copy(report: ReportOutputs, tmp_path: Path) -> Path:
    """A copy of the whole case folder (the record names its files inside it)."""
    assert report.json_path is not None
    folder = Path(shutil.copytree(report.json_path.parent, tmp_path / "case"))
    return folder / JSON_NAME


def flip_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


# The record ------------------------------------------------------------------------


def test_record_holds_every_documented_field(report: ReportOutputs) -> None:
    record = report.record
    assert record["schema"] == SCHEMA and record["schema_version"] == SCHEMA_VERSION
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", record["created_at"])
    assert record["case"] == {
        "id": "2026-沪-001",
        "claimant": "雪鱼 <b>Studio</b>",
        "respondent": "Acme",
        "artist": ARTIST,
        "languages": ["zh", "en"],
        "notes": [],
    }
    method = record["method"]
    fp = method["backbone"]["fingerprint"]
    assert re.fullmatch(r"[0-9a-f]{64}", fp["weights_sha256"])
    assert method["scoring"]["k"] >= 1 and method["target_fpr"] == 0.01
    for name in ("simdetect", "torch", "open_clip", "faiss", "numpy", "pillow", "python"):
        assert method["software"][name], name
    index = record["index"]
    assert re.fullmatch(r"[0-9a-f]{64}", index["snapshot_digest"])
    assert index["generation"] >= 1 and index["works"] == sum(index["artists"].values())

    assert [Path(s["source_path"]).name for s in record["suspects"]] == [IMITATION, UNRELATED]
    # Since record schema 2 the case folder keeps the files it names (report/portable.py).
    assert [s["path"] for s in record["suspects"]] == [
        f"suspects/01-{IMITATION}",
        f"suspects/02-{UNRELATED}",
    ]
    for s in record["suspects"]:
        row = s["scan"]
        assert row["schema_version"] == 3 and row["sha256"] == s["sha256"]
        assert row["calibration"]["state"] == "calibrated"
        assert len(row["ranking"]) == len(index["artists"])
        for entry in row["ranking"]:
            assert set(entry) >= RANK_FIELDS
        assert s["claimant"]["entry"]["artist"] == ARTIST
        assert [sig["kind"] for sig in s["provenance"]["signals"]] == list(KINDS)
    imitation = record["suspects"][0]["claimant"]
    # Ranked first and calibrated; since schema 3 the decision reads the contrastive score
    # against its null, which the seeds imitation need not pass at 1%.
    entry = imitation["entry"]
    assert imitation["rank"] == 1 and entry["decision"] is not None
    assert entry["decision"] == (entry["contrastive"] > entry["threshold"])

    roles = [i["role"] for i in record["inputs"]]
    assert roles[:2] == ["suspect", "suspect"] and "indexed_work" in roles
    for item in record["inputs"]:
        assert set(item) == FILE_FIELDS
        assert re.fullmatch(r"[0-9a-f]{64}", item["sha256"]) and len(item["phash"]) == 16
        assert item["status"] == "present"
    matched = {m["sha256"] for s in record["suspects"] for m in s["scan"]["matches"]}
    assert matched <= {i["sha256"] for i in record["inputs"]}

    dist = record["distributions"]
    assert dist["artist"] == ARTIST and dist["impostor"]["n"] > 100
    assert set(dist["impostor"]["quantiles"]) == {"p01", "p05", "p25", "p50", "p75", "p95", "p99"}
    assert len(dist["histogram"]["edges"]) == len(dist["histogram"]["impostor"]) + 1
    assert sum(dist["histogram"]["genuine"]) == dist["genuine"]["n"]
    # plotted on the scale the decision was made on: the contrastive score and its null
    assert dist["statistic"] == "contrastive" and dist["null"]["kind"] == "index"
    assert sum(dist["histogram"]["impostor"]) == dist["impostor"]["n"]
    edges = dist["histogram"]["edges"]
    for value in (entry["contrastive"], entry["threshold"]):
        assert edges[0] <= value <= edges[-1]

    codes = {item["code"] for item in record["limitations"]}
    assert {"style_only", "relative_to_index", "p_value_floor", "metadata", "digest"} <= codes
    assert "uncalibrated" not in codes and "too_few_impostors" not in codes
    assert "claimant_not_top" in codes  # the unrelated image's top artist is someone else
    for item in record["limitations"]:
        assert item["zh"] and item["en"]


def test_digest_is_sha256_of_the_documented_canonical_json(report: ReportOutputs) -> None:
    assert report.json_path is not None
    on_disk = json.loads(report.json_path.read_text(encoding="utf-8"))
    assert on_disk == report.record
    body = {k: v for k, v in on_disk.items() if k != "digest"}
    independent = json.dumps(
        body, sort_keys=True, ensure_ascii=False, separators=(",", ":")
    ).encode("utf-8")
    assert canonical_json(body) == independent
    assert hashlib.sha256(independent).hexdigest() == on_disk["digest"] == record_digest(on_disk)
    assert b"\\u" not in independent or "\\u" in json.dumps(body, ensure_ascii=False)
    assert "section_digests" in on_disk and "suspects[0]" in on_disk["section_digests"]


def test_canonical_json_pins_floats_unicode_and_refuses_nan() -> None:
    assert canonical_json({"b": 1.0, "a": 0.1, "c": 1e-05, "中": "水墨"}) == (
        '{"a":0.1,"b":1.0,"c":1e-05,"中":"水墨"}'.encode()
    )
    with pytest.raises(ValueError):
        canonical_json({"x": float("nan")})
    sealed = seal({"schema": "x", "list": [1, 2], "obj": {"k": "v"}})
    assert set(sealed["section_digests"]) == {"schema", "list[0]", "list[1]", "obj.k"}


# verify ----------------------------------------------------------------------------


def test_verify_passes_on_a_fresh_report(report: ReportOutputs, built_index: Path) -> None:
    result = invoke("verify", report.json_path, "--index", built_index)
    assert result.exit_code == 0, result.output
    assert "verified: everything checked matches" in result.output
    for area in ("record", "file", "index", "backbone", "scores", "provenance"):
        assert re.search(rf"OK\s+{area}\b", result.output), area
    assert "NOT verified" not in result.output


@pytest.mark.parametrize(
    ("needle", "named"),
    [
        ('"claimant": "雪鱼', "case.claimant"),
        ('"p_value": 0.', "suspects[0]"),
    ],
    ids=["case-field", "score"],
)
def test_verify_names_the_field_after_one_json_byte_flips(
    report: ReportOutputs, built_index: Path, tmp_path: Path, needle: str, named: str
) -> None:
    path = tampered_copy(report, tmp_path)
    data = path.read_bytes()
    offset = data.index(needle.encode("utf-8")) + len(needle.encode("utf-8")) + 1
    flip_byte(path, offset)
    result = invoke("verify", path, "--index", built_index)
    assert result.exit_code == 1, result.output
    assert re.search(r"CHANGED\s+record\s+digest", result.output)
    assert re.search(rf"CHANGED\s+section\s+{re.escape(named)}", result.output), result.output
    assert "NOT verified" in result.output
    if named.startswith("suspects"):  # the re-scan names the very number that was changed
        assert re.search(
            r"CHANGED\s+scores.*suspects\[0\]\.claimant\.entry\.p_value", result.output
        )


def test_a_report_on_a_just_calibrated_index_verifies(
    tmp_path: Path, index_copy: Path, seeds_dir: Path, backbone: Backbone
) -> None:
    for stored in index_copy.glob("gen-*/calibration.npz"):
        stored.unlink()  # the report computes the calibration itself
    suspects = copy_suspects(seeds_dir, tmp_path / "s", IMITATION, UNRELATED)
    out = json_report(suspects, index_copy, "T-0", tmp_path / "out", backbone)
    result = verify_report(out.json_path, index_copy)  # type: ignore[arg-type]
    assert result.ok, [c for c in result.failures]


def test_verify_reports_a_byte_that_breaks_the_json(report: ReportOutputs, tmp_path: Path) -> None:
    path = tampered_copy(report, tmp_path)
    flip_byte(path, path.read_bytes().index(b"{") + 0)  # "{" -> "z"
    result = invoke("verify", path)
    assert result.exit_code == 1
    assert "not valid JSON" in result.output


def test_verify_names_a_suspect_file_whose_byte_flipped(
    tmp_path: Path, built_index: Path, seeds_dir: Path, backbone: Backbone
) -> None:
    (suspect,) = copy_suspects(seeds_dir, tmp_path / "suspects", IMITATION)
    out = make_report(
        [suspect],
        built_index,
        CaseInfo(artist=ARTIST, case_id="T-1"),
        tmp_path / "out",
        formats=("json",),
        backbone=backbone,
    )
    assert out.json_path is not None
    kept = out.record["suspects"][0]["path"]  # the case folder's copy is the evidence
    flip_byte(suspect, suspect.stat().st_size // 2)  # the original may change: not evidence
    assert invoke("verify", out.json_path).exit_code == 0
    flip_byte(out.json_path.parent / kept, (suspect.stat().st_size // 2) + 1)
    result = invoke("verify", out.json_path, "--index", built_index)
    assert result.exit_code == 1, result.output
    changed = [line for line in result.output.splitlines() if "CHANGED" in line]
    assert any("file" in line and kept in line for line in changed), result.output
    assert "the file changed" in result.output
    assert "CHANGED  record" not in result.output  # the record itself is intact


def test_a_record_made_before_second_order_alignment_still_verifies(
    report: ReportOutputs, tmp_path: Path
) -> None:
    """A lawyer's newer simdetect re-checks an older record with the method it names."""
    assert report.record["method"]["contrastive"]["coral_rank"] == 256
    path = tampered_copy(report, tmp_path)
    record = json.loads(path.read_text(encoding="utf-8"))
    for key in ("coral_rank", "coral_shrinkage"):  # what records held before the knobs
        del record["method"]["contrastive"][key]
    path.write_text(json.dumps(seal(record), ensure_ascii=False), encoding="utf-8")
    for _ in range(2):  # and re-checking it leaves the case folder verifiable
        result = verify_report(path)
        assert result.ok, [(c.area, c.subject, c.detail) for c in result.failures]


def test_a_record_made_before_standardised_margins_still_verifies(
    index_copy: Path,
    seeds_dir: Path,
    backbone: Backbone,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A record made with the previous version's method (raw margins, per-artist order
    statistics, no second-order alignment) names none of the newer knobs, and verifies."""
    import simdetect.report.case as case_module

    older = ImitationParams(**KNOBS_OFF)  # every knob as it was before it existed
    monkeypatch.setattr(case_module, "ScanParams", functools.partial(ScanParams, imitation=older))
    suspects = copy_suspects(seeds_dir, tmp_path / "suspects", IMITATION)
    made = json_report(suspects, index_copy, "T-old", tmp_path / "out", backbone)
    monkeypatch.undo()
    named = made.record["method"]["contrastive"]
    knobs = ("coral_rank", "coral_shrinkage", "standardise", "tail_fraction", "null_folds")
    for key in (*knobs, *KNOBS_OFF):
        assert key not in named, key
    assert made.json_path is not None
    for _ in range(2):
        result = verify_report(made.json_path)
        assert result.ok, [(c.area, c.subject, c.detail) for c in result.failures]
    # the same record claiming another method does not verify: the method is re-checked.
    # (Claiming today's reference-only knobs would change nothing here: these suspects
    # were judged against the index null, which they do not touch.)
    record = json.loads(made.json_path.read_text(encoding="utf-8"))
    record["method"]["contrastive"].update(centroid_weight=0.5)
    made.json_path.write_text(json.dumps(seal(record), ensure_ascii=False), encoding="utf-8")
    assert not verify_report(made.json_path).ok


def test_a_record_made_before_the_ranking_space_still_verifies(
    index_copy: Path,
    seeds_dir: Path,
    backbone: Backbone,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Records made before nearest works were ordered in the learned space name no
    `ranking`: they are re-checked with plain cosine order, as they were made."""
    import simdetect.report.case as case_module

    monkeypatch.setattr(case_module, "ScanParams", functools.partial(ScanParams, ranking=None))
    suspects = copy_suspects(seeds_dir, tmp_path / "suspects", IMITATION, "suspect_06.png")
    made = json_report(suspects, index_copy, "T-plain", tmp_path / "out", backbone)
    monkeypatch.undo()
    assert made.json_path is not None
    record = json.loads(made.json_path.read_text(encoding="utf-8"))
    assert record["method"]["ranking"] is None
    scans = [s["scan"] for s in record["suspects"]]
    for scan in scans:  # plain cosine order, and every other field as ever
        sims = [m["similarity"] for m in scan["matches"]]
        assert sims == sorted(sims, reverse=True)
        assert scan["nearest_works"] == "nearest works ordered by plain cosine"
        assert scan["ranking_state"] is None and scan["imitation_state"] is not None
        assert all(e["contrastive"] is not None for e in scan["ranking"])
    del record["method"]["ranking"]  # what older records hold
    made.json_path.write_text(json.dumps(seal(record), ensure_ascii=False), encoding="utf-8")
    for _ in range(2):
        result = verify_report(made.json_path)
        assert result.ok, [(c.area, c.subject, c.detail) for c in result.failures]


def test_verify_reports_a_missing_file(report: ReportOutputs, tmp_path: Path) -> None:
    path = tampered_copy(report, tmp_path)
    record = json.loads(path.read_text(encoding="utf-8"))
    record["inputs"][0]["path"] = str(tmp_path / "gone.webp")
    record["suspects"][0]["path"] = str(tmp_path / "gone.webp")
    path.write_text(json.dumps(seal(record), ensure_ascii=False), encoding="utf-8")
    result = verify_report(path, rescan=False)
    assert not result.ok
    missing = [c for c in result.failures if c.status == "missing"]
    assert missing and "gone.webp" in missing[0].subject


def test_verify_refuses_to_rescore_on_a_changed_index(
    report: ReportOutputs, index_copy: Path, seeds_dir: Path, backbone: Backbone
) -> None:
    def remove(name: str) -> None:
        with IndexWriter(index_copy) as writer:
            assert writer.remove_files([str(seeds_dir / "artists" / "pip_dots" / name)])
            writer.commit()

    remove("pip_dots_01.jpg")  # the recorded generation is still kept: it is chosen
    kept = invoke("verify", report.json_path, "--index", index_copy)
    assert kept.exit_code == 0, kept.output
    assert "an older generation" in kept.output
    remove("pip_dots_02.jpg")  # now it is pruned
    result = invoke("verify", report.json_path, "--index", index_copy)
    assert result.exit_code == 1
    assert re.search(r"REFUSED\s+index", result.output)
    assert "refusing to re-score" in result.output
    assert "OK       scores" not in result.output


def test_verify_with_expected_digest(report: ReportOutputs) -> None:
    good = verify_report(report.json_path, rescan=False, expect_digest=report.digest)  # type: ignore[arg-type]
    assert good.ok, [c for c in good.failures]
    bad = verify_report(report.json_path, rescan=False, expect_digest="0" * 64)  # type: ignore[arg-type]
    assert [c.subject for c in bad.failures] == ["expected digest"]


# HTML and languages ----------------------------------------------------------------


def test_html_is_self_contained_escaped_and_bilingual(report: ReportOutputs) -> None:
    assert report.html_path is not None
    html = report.html_path.read_text(encoding="utf-8")
    assert 'http-equiv="Content-Security-Policy"' in html and "default-src 'none'" in html
    assert "<script" not in html.lower()
    assert "雪鱼 &lt;b&gt;Studio&lt;/b&gt;" in html and "<b>Studio</b>" not in html
    assert not re.findall(r"""(?:src|href)\s*=\s*["'](?!data:)""", html)
    assert not re.findall(r"url\(", html)
    for text in (*ZH_ONLY, *EN_ONLY, report.digest, "simdetect verify"):
        assert text in html, text
    created = format_datetime(report.record["created_at"])
    assert created.zh in html and created.en in html


@pytest.mark.parametrize(
    ("lang", "present", "absent"), [("en", EN_ONLY, ZH_ONLY), ("zh", ZH_ONLY, EN_ONLY)]
)
def test_lang_option_produces_one_language(
    tmp_path: Path,
    built_index: Path,
    seeds_dir: Path,
    lang: str,
    present: tuple[str, ...],
    absent: tuple[str, ...],
) -> None:
    (suspect,) = copy_suspects(seeds_dir, tmp_path / "s", IMITATION)
    out = tmp_path / "out"
    result = invoke(
        "report", suspect, "--index", built_index, "--artist", ARTIST, "--out", out,
        "--lang", lang, "--format", "html,json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    html = (out / "report.html").read_text(encoding="utf-8")
    for text in present:
        assert text in html, text
    for text in absent:
        assert text not in html, text
    zh_heading = STRINGS["limits.intro"][0]
    assert (zh_heading in html) == (lang == "zh")


def test_conditional_limitations_appear_only_when_they_apply(
    report: ReportOutputs, tmp_path: Path, seeds_dir: Path, backbone: Backbone
) -> None:
    strict = make_report(
        [report.record["suspects"][0]["source_path"]],
        Path(report.record["index"]["source_path"]),
        CaseInfo(artist=ARTIST, case_id="T-2", languages=("en",)),
        tmp_path / "strict",
        formats=("json",),
        target_fpr=0.001,  # needs 999 impostors; the seeds index has 112
        backbone=backbone,
    )
    codes = {item["code"] for item in strict.record["limitations"]}
    assert "too_few_impostors" in codes and "uncalibrated" not in codes
    assert strict.record["suspects"][0]["claimant"]["entry"]["decision"] is None

    single = tmp_path / "single"
    add_paths(single, [seeds_dir / "artists" / ARTIST], ARTIST, backbone=backbone)
    alone = make_report(
        [report.record["suspects"][0]["source_path"]],
        single,
        CaseInfo(artist=ARTIST, case_id="T-3"),
        tmp_path / "alone",
        formats=("json", "html"),
        backbone=backbone,
    )
    codes = {item["code"] for item in alone.record["limitations"]}
    assert "uncalibrated" in codes and "too_few_impostors" not in codes
    assert alone.record["distributions"]["state"] == "uncalibrated"
    html = render_html(alone.record, "evidence.json")
    assert STRINGS["verdict.undecided"][1] in html and STRINGS["reason.uncalibrated"][0] in html


# Bad inputs ------------------------------------------------------------------------


def _one_line_error(result: Any, *fragments: str) -> None:
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), result.output
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    assert "Traceback" not in result.output


def test_unknown_artist_is_a_one_line_error(
    built_index: Path, seeds_dir: Path, tmp_path: Path
) -> None:
    result = invoke(
        "report", seeds_dir / "suspects" / IMITATION, "--index", built_index,
        "--artist", "nobody", "--out", tmp_path / "out", "--format", "json",
    )  # fmt: skip
    _one_line_error(result, "nobody", "not in index", ARTIST)
    assert not (tmp_path / "out").exists()


def test_missing_index_is_a_one_line_error(seeds_dir: Path, tmp_path: Path) -> None:
    result = invoke(
        "report", seeds_dir / "suspects" / IMITATION, "--index", tmp_path / "no-index",
        "--artist", ARTIST, "--out", tmp_path / "out", "--format", "json",
    )  # fmt: skip
    _one_line_error(result, "no index at")


@pytest.mark.parametrize("kind", ["garbage", "missing"])
def test_unreadable_suspect_is_a_one_line_error(
    built_index: Path, tmp_path: Path, kind: str
) -> None:
    bad = tmp_path / "bad.png"
    if kind == "garbage":
        bad.write_bytes(b"this is not an image")
    result = invoke(
        "report", bad, "--index", built_index, "--artist", ARTIST,
        "--out", tmp_path / "out", "--format", "json",
    )  # fmt: skip
    _one_line_error(result, "cannot read suspect", "bad.png")


@pytest.mark.parametrize(
    ("option", "value", "fragment"),
    [("--lang", "fr", "--lang"), ("--format", "docx", "--format"), ("--fpr", "2", "--fpr")],
)
def test_bad_options_are_one_line_errors(
    built_index: Path, seeds_dir: Path, tmp_path: Path, option: str, value: str, fragment: str
) -> None:
    args = ["--format", "json"] if option != "--format" else []
    result = invoke(
        "report", seeds_dir / "suspects" / IMITATION, "--index", built_index,
        "--artist", ARTIST, "--out", tmp_path / "out", option, value, *args,
    )  # fmt: skip
    _one_line_error(result, fragment)


def test_pdf_without_chromium_is_a_clear_error_and_other_formats_still_work(
    built_index: Path, seeds_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIMDETECT_CHROMIUM", str(tmp_path / "no-chromium"))
    suspect = seeds_dir / "suspects" / IMITATION
    result = invoke(
        "report", suspect, "--index", built_index, "--artist", ARTIST, "--out", tmp_path / "a",
    )  # fmt: skip
    _one_line_error(result, "chromium", "install Debian's chromium package")
    result = invoke(
        "report", suspect, "--index", built_index, "--artist", ARTIST, "--out", tmp_path / "b",
        "--format", "html,json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (tmp_path / "b" / "report.html").is_file() and not (
        tmp_path / "b" / "report.pdf"
    ).exists()


def test_missing_record_is_a_one_line_error(tmp_path: Path) -> None:
    _one_line_error(invoke("verify", tmp_path / "nothing.json"), "no evidence record")


def test_report_error_is_raised_for_background_sets(
    tmp_path: Path, seeds_dir: Path, backbone: Backbone, index_copy: Path
) -> None:
    add_paths(
        index_copy, [seeds_dir / "suspects" / UNRELATED], "library", backbone=backbone,
        role="background",
    )  # fmt: skip
    with pytest.raises(ReportError, match="background set"):
        make_report(
            [seeds_dir / "suspects" / IMITATION],
            index_copy,
            CaseInfo(artist="library", case_id="x"),
            tmp_path / "out",
            formats=("json",),
            backbone=backbone,
        )
