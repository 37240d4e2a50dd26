"""Descriptor v2 (statistics + channel correlations) beside the v1 indexes already out there.

A v1 index keeps being read, extended and scanned with v1 (its evidence must verify), and
a suspect judged with a generator reference on a v2 index reads the statistics block,
which is v1's vector: the reference path gives v1's numbers on a v2 index, real files,
real FAISS indexes on disk, the real CLI.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import invoke
from test_imitations import generated  # noqa: F401 (the fake generator's outputs)

from simdetect.backbones import (
    Fingerprint,
    backbone_for_fingerprint,
    load_backbone,
    statistics_columns,
)
from simdetect.backbones.effnet import EFFNET_STYLE_V1, EffnetStyleBackbone
from simdetect.index import open_index
from simdetect.index.build import add_tree, backbone_for_index

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def v1_index(tmp_path_factory: pytest.TempPathFactory, seeds_dir: Path) -> Path:
    """The seeds artists indexed with v1, as every index before descriptor v2 was."""
    root = tmp_path_factory.mktemp("v1-index") / "index"
    add_tree(root, seeds_dir / "artists", backbone=EffnetStyleBackbone(EFFNET_STYLE_V1))
    return root


def _rows(path: Path) -> dict[str, dict]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return {r["suspect"]: r for r in rows}


def test_statistics_columns_by_fingerprint(v1_index: Path) -> None:
    v2 = load_backbone("effnet-style").fingerprint
    v1 = open_index(v1_index).fingerprint
    assert v2.dim == 2560 and statistics_columns(v2) == 1536
    assert v1.dim == 1536 and statistics_columns(v1) is None
    assert v1.name == v2.name == "effnet-style"  # one name, two descriptors
    other = Fingerprint("clip:ViT-B-32", "x", "y", "z", 512)
    assert statistics_columns(other) is None


def test_v1_index_resolves_to_v1_and_keeps_growing(
    v1_index: Path, seeds_dir: Path, tmp_path: Path
) -> None:
    index = tmp_path / "index"
    shutil.copytree(v1_index, index)
    snap = open_index(index)
    bb = backbone_for_index(index, None)
    assert bb.fingerprint == snap.fingerprint and bb.dim == 1536
    assert backbone_for_fingerprint("effnet-style", snap.fingerprint).dim == 1536
    # Adding works and scanning go through the CLI with the v1 descriptor.
    extra = tmp_path / "new" / "someone"
    extra.mkdir(parents=True)
    shutil.copy(next((seeds_dir / "suspects").glob("suspect_01.*")), extra)
    res = invoke("index", "add", str(extra), "--artist", "someone", "--index", str(index))
    assert res.exit_code == 0, res.output
    grown = open_index(index)
    assert grown.count == snap.count + 1 and grown.fingerprint == snap.fingerprint
    out = tmp_path / "scan.jsonl"
    res = invoke("scan", str(seeds_dir / "suspects"), "--index", str(index), "--out", str(out))
    assert res.exit_code == 0, res.output
    rows = _rows(out)
    assert len(rows) == 25 and all(r["error"] is None for r in rows.values())
    assert {r["fingerprint"] for r in rows.values()} == {snap.fingerprint.digest()}


def test_reference_path_reads_v1_exactly_on_a_v2_index(
    v1_index: Path,
    index_copy: Path,
    generated: tuple[Path, Path],  # noqa: F811
    tmp_path: Path,
) -> None:
    imitations, reference = generated
    v1 = tmp_path / "v1"
    shutil.copytree(v1_index, v1)
    assert open_index(index_copy).fingerprint.dim == 2560
    out: dict[str, dict[str, dict]] = {}
    for name, index in (("v1", v1), ("v2", index_copy)):
        res = invoke("index", "add-reference", "fakegen", str(reference), "--index", str(index))
        assert res.exit_code == 0, res.output
        for path in ("ref", "plain"):
            target = tmp_path / f"{name}-{path}.jsonl"
            extra = ["--reference", "fakegen"] if path == "ref" else []
            args = ["scan", str(imitations), "--index", str(index), *extra]
            res = invoke(*args, "--out", str(target))
            assert res.exit_code == 0, res.output
            out[f"{name}-{path}"] = _rows(target)
    v1_ref, v2_ref = out["v1-ref"], out["v2-ref"]
    assert set(v1_ref) == set(v2_ref) and len(v1_ref) == 16
    for suspect, row in v2_ref.items():
        assert "statistics block (its first 1536 of 2560" in row["contrastive_method"]
        assert "statistics block" not in v1_ref[suspect]["contrastive_method"]
        assert row["flagged"] == v1_ref[suspect]["flagged"]
        mine = {e["artist"]: e for e in row["ranking"]}
        for entry in v1_ref[suspect]["ranking"]:
            other = mine[entry["artist"]]
            assert other["contrastive"] == pytest.approx(entry["contrastive"], abs=1e-4)
            assert other["p_value"] == pytest.approx(entry["p_value"], abs=1e-9)
            assert other["percentile"] == pytest.approx(entry["percentile"], abs=1e-9)
        # The plain cosine is the whole vector's: it differs.
        assert row["ranking"][0]["similarity"] != pytest.approx(
            v1_ref[suspect]["ranking"][0]["similarity"], abs=1e-6
        )
    # Without a reference the v2 index reads the whole vector: other numbers.
    v2_plain = out["v2-plain"]
    assert any(
        e["contrastive"] != pytest.approx(v2_ref[s]["ranking"][i]["contrastive"], abs=1e-3)
        for s, row in v2_plain.items()
        for i, e in enumerate(row["ranking"][:1])
    )

    # In one space (v1), removing the generator's offset does not hurt attribution.
    def top1(rows: dict[str, dict]) -> float:
        hits = [r["ranking"][0]["artist"] == Path(r["suspect"]).parent.name for r in rows.values()]
        return float(np.mean(hits))

    assert top1(out["v1-ref"]) >= top1(out["v1-plain"])
    assert top1(v2_ref) >= 0.75
