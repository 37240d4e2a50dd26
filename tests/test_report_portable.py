"""A case folder travels: moved to another machine, its index grown or gone, it verifies.

The lawyer's machine is simulated as strictly as one machine allows: the artist's
originals, her index and the suspects' folder are deleted after the report is written,
and the copy cache shared by the test session is switched off, so everything the
re-check reads must come from the case folder itself.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import invoke

from simdetect.backbones import Backbone
from simdetect.index.build import add_tree
from simdetect.index.store import open_index
from simdetect.report.case import HTML_NAME, JSON_NAME, make_report
from simdetect.report.record import CaseInfo
from simdetect.report.verify import verify_report

ARTIST = "水墨山人"
IMITATION = "suspect_01.webp"
COPY = "suspect_18.jpg"  # a re-compressed copy of 水墨山人_05.png (seeds/suspects.csv)
SOURCE = "水墨山人_05.png"
PAINTERS = (ARTIST, "pip_dots", "otto_blocks")


Moved = tuple[Path, dict[str, object], Path]


@pytest.fixture(scope="module")
def moved_once(
    tmp_path_factory: pytest.TempPathFactory,
    seeds_dir: Path,
    backbone: Backbone,
    built_index: Path,  # its copy-region cache makes describing these works free
) -> Iterator[Moved]:
    """(the moved evidence.json, the record as written, a folder of renamed suspect copies)."""
    tmp_path = tmp_path_factory.mktemp("portable")
    home = tmp_path / "artist-machine"
    for name in PAINTERS:
        shutil.copytree(seeds_dir / "artists" / name, home / "artists" / name)
    index = home / "index"
    add_tree(index, home / "artists", backbone=backbone)
    inbox = home / "inbox"
    inbox.mkdir()
    for name in (IMITATION, COPY):
        shutil.copy2(seeds_dir / "suspects" / name, inbox / name)
    out = make_report(
        [inbox],
        index,
        CaseInfo(artist=ARTIST, case_id="T-move"),
        home / "case",
        formats=("json", "html"),
        backbone=backbone,
    )
    # The index grows twice after the report (its old generation is pruned).
    for extra in ("vera_swirl", "neon_kai"):
        shutil.copytree(seeds_dir / "artists" / extra, home / "more" / extra)
        add_tree(index, home / "more", backbone=backbone)
        shutil.rmtree(home / "more")
    assert open_index(index).manifest.generation > out.record["index"]["generation"] + 1
    # Somewhere else, under other names: what a lawyer may be sent besides the folder.
    elsewhere = tmp_path / "mail"
    elsewhere.mkdir()
    for i, name in enumerate((IMITATION, COPY)):
        shutil.copy2(inbox / name, elsewhere / f"attachment-{i}{Path(name).suffix}")
    lawyer = tmp_path / "lawyer-machine"
    lawyer.mkdir()
    shutil.move(str(home / "case"), str(lawyer / "case"))
    shutil.rmtree(home)  # originals, index and suspects are gone
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("SIMDETECT_COPY_CACHE", raising=False)
        yield lawyer / "case" / JSON_NAME, out.record, elsewhere


@pytest.fixture()
def moved_case(moved_once: Moved, tmp_path: Path) -> Moved:
    """A fresh copy of the moved folder, for a test that alters it."""
    path, record, elsewhere = moved_once
    folder = shutil.copytree(path.parent, tmp_path / "case")
    return Path(folder) / JSON_NAME, record, elsewhere


def test_the_record_names_copies_inside_its_folder(
    moved_once: Moved,
) -> None:
    path, record, _ = moved_once
    folder = path.parent
    suspects = record["suspects"]
    assert isinstance(suspects, list)
    for s in suspects:
        assert not Path(s["path"]).is_absolute() and (folder / s["path"]).is_file()
        assert Path(s["source_path"]).name in (IMITATION, COPY)
    index = record["index"]
    assert isinstance(index, dict) and index["path"] == "snapshot"
    assert Path(index["source_path"]).is_absolute()
    works = [i for i in record["inputs"] if i["role"] == "indexed_work"]  # type: ignore[attr-defined]
    assert works and all((folder / w["path"]).is_file() for w in works)
    copy = next(s for s in suspects if Path(s["source_path"]).name == COPY)["copy"]
    assert copy is not None and Path(copy["source"]["path"]).name == SOURCE


def test_a_moved_folder_verifies_after_its_index_grew_and_vanished(
    moved_once: Moved,
) -> None:
    path, _, _ = moved_once
    result = verify_report(path)
    assert result.ok, [(c.area, c.subject, c.detail) for c in result.failures]
    scores = [c for c in result.checks if c.area == "scores"]
    assert len(scores) == 2 and all(c.status == "ok" for c in scores)
    assert any(c.area == "index" and c.status == "ok" for c in result.checks)
    # The same from the command line, as JSON for scripts; no --index needed.
    cli = invoke("verify", path, "--json")
    assert cli.exit_code == 0, cli.output
    data = json.loads(cli.stdout)
    assert data["ok"] is True and data["failures"] == 0
    assert {c["area"] for c in data["checks"]} >= {"record", "file", "index", "scores"}


def test_editing_the_html_fails_verify(moved_case: Moved) -> None:
    path, _, _ = moved_case
    html = path.parent / HTML_NAME
    html.write_text(html.read_text(encoding="utf-8").replace("</h1>", " </h1>", 1), "utf-8")
    result = verify_report(path, rescan=False)
    assert not result.ok
    assert [Path(c.subject).name for c in result.failures] == [HTML_NAME]


def test_suspects_moved_out_of_the_folder_are_found_by_sha256(
    moved_case: Moved,
) -> None:
    path, _, elsewhere = moved_case
    shutil.rmtree(path.parent / "suspects")
    lost = verify_report(path)
    assert not lost.ok
    assert {c.area for c in lost.failures} == {"file", "scores"}
    found = invoke("verify", path, "--suspects", elsewhere)
    assert found.exit_code == 0, found.output
    assert found.output.count("found by its SHA-256 at") == 2
    assert "attachment-1.jpg" in found.output


def test_verify_refuses_a_search_folder_that_is_not_one(moved_once: Moved, tmp_path: Path) -> None:
    path, _, _ = moved_once
    result = invoke("verify", path, "--suspects", tmp_path / "nowhere")
    assert result.exit_code != 0
    assert "nowhere: not a folder" in result.output
