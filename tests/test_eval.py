"""`simdetect eval` on a real folder-per-artist tree: retrieval, verification, CSVs, caching."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import invoke
from typer.testing import CliRunner

from simdetect.cli import app
from simdetect.copies.edits import EDIT_NAMES
from simdetect.evaluation.retrieval import evaluate_retrieval, split_queries
from simdetect.scoring.discriminant import DiscriminantParams


def test_split_is_seeded_per_artist_and_keeps_a_database() -> None:
    codes = np.repeat(np.arange(3), [10, 5, 1])
    a, b = split_queries(codes, 0.2, 0), split_queries(codes, 0.2, 0)
    assert (a == b).all()
    assert a[codes == 0].sum() == 2 and a[codes == 1].sum() == 1
    assert a[codes == 2].sum() == 0  # a single work cannot be both query and database
    assert (split_queries(codes, 0.2, 1) != a).any()


def test_retrieval_perfect_on_separable_vectors() -> None:
    rng = np.random.default_rng(0)
    centres = np.eye(4, 16)
    codes = np.repeat(np.arange(4), 10)
    vecs = centres[codes] + 0.01 * rng.normal(size=(40, 16))
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    result = evaluate_retrieval(
        vecs.astype(np.float32), codes, ["a", "b", "c", "d"], discriminant=DiscriminantParams()
    )
    assert "discriminant" in result.methods
    for method in result.methods:
        assert result.overall[method]["mAP@1"] == 100.0
        assert result.overall[method]["mAP@10"] == 100.0  # all 8 relevant works ranked first


def test_eval_cli_on_seeds(seeds_dir: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["eval", str(seeds_dir / "artists"), "--index", str(tmp_path / "idx")]
    first = runner.invoke(app, [*args, "--out", str(tmp_path / "out1")])
    assert first.exit_code == 0, first.output
    assert "128 new" in first.output
    overall = pd.read_csv(tmp_path / "out1/retrieval_overall.csv")
    assert set(overall["method"]) == {
        "cosine",
        "csls15",
        "discriminant",
        "discriminant+csls15",
        "scan ranking",
    }
    assert (overall["mAP@1"] >= 80).all()  # the demo styles are clearly separable
    per_artist = pd.read_csv(tmp_path / "out1/retrieval_per_artist.csv")
    assert len(per_artist) == 5 * 8 and "水墨山人" in set(per_artist["artist"])
    verification = pd.read_csv(tmp_path / "out1/verification.csv")
    assert (verification["roc_auc"] > 0.9).all()
    assert pd.read_csv(tmp_path / "out1/verification_per_artist.csv")["works"].sum() == 128
    # the same queries judged as `scan` judges a painting: the contrastive score's ranking,
    # its decision against the index null and the family-wise flag
    attribution = pd.read_csv(tmp_path / "out1/attribution_per_artist.csv")
    n_queries = int(per_artist.groupby("method")["queries"].sum().iloc[0])
    assert len(attribution) == 8 and attribution["queries"].sum() == n_queries
    assert (attribution["top1_pct"] >= 75).mean() >= 0.75
    assert "attribution as `scan` judges a painting" in first.output
    assert f"against the other {128 - n_queries} works" in first.output

    second = runner.invoke(app, [*args, "--out", str(tmp_path / "out2")])
    assert second.exit_code == 0, second.output
    assert "(0 new)" in second.output  # embeddings reused from the cache index
    again = pd.read_csv(tmp_path / "out2/retrieval_overall.csv")
    pd.testing.assert_frame_equal(overall, again)


def test_eval_cli_copy_robustness_on_seeds(seeds_dir: Path, tmp_path: Path) -> None:
    # A person's judgement that works 01-04 show one composition: matches among them are
    # listed as related and not counted; the raw rate counts them.
    group = {f"ana_pastel_0{i}.jpg" for i in range(1, 5)}
    related = tmp_path / "related.csv"
    related.write_text(
        "# one composition\ngroup,file\n" + "".join(f"g,{n}\n" for n in sorted(group)),
        encoding="utf-8",
    )
    result = invoke(  # 400 columns: long paths in the output stay on one line
        "eval",
        seeds_dir / "artists" / "ana_pastel",
        "--no-artists",
        "--copies",
        "--copies-limit",
        "8",
        "--related",
        related,
        "--out",
        tmp_path / "out",
    )
    assert result.exit_code == 0, result.output
    table = pd.read_csv(tmp_path / "out/copy_robustness.csv")
    edits = table[~table["edit"].str.endswith("false_match_rate")]
    assert list(edits["edit"]) == list(EDIT_NAMES) and (edits["n"] == 8).all()
    # Re-compression and a flip keep the whole picture: every source must be found.
    by_edit = edits.set_index("edit")["top1_pct"]
    assert by_edit["jpeg30"] == 100.0 and by_edit["flip"] == 100.0
    assert edits["decided_by"].str.len().gt(0).all()
    false = pd.read_csv(tmp_path / "out/copy_false_matches.csv", keep_default_na=False)
    inside = false["query"].isin(group) & false["matched"].isin(group)
    assert (false["related"] == "yes").tolist() == inside.tolist()
    rates = table.set_index("edit")["top1_pct"]
    assert rates["false_match_rate"] == pytest.approx(100 * (~inside).sum() / 8, abs=0.01)
    assert rates["raw_false_match_rate"] == pytest.approx(100 * len(false) / 8, abs=0.01)
    assert "false matches on unedited non-copies" in result.output
    assert f"one composition in {related}" in result.output

    bad = tmp_path / "bad.csv"
    bad.write_text("name\nx.jpg\n", encoding="utf-8")
    refused = CliRunner().invoke(
        app, ["eval", str(seeds_dir), "--no-artists", "--copies", "--related", str(bad)]
    )
    assert refused.exit_code != 0 and "needs the columns `group` and `file`" in refused.output

    refused = CliRunner().invoke(app, ["eval", str(seeds_dir), "--no-artists"])
    assert refused.exit_code != 0 and "nothing to measure" in refused.output


def test_benchmark_throughput_command_runs_the_whole_path(seeds_dir: Path) -> None:
    result = invoke(
        "benchmark",
        "throughput",
        seeds_dir / "artists",
        "--limit",
        "12",
        "--batch-size",
        "4",
        "--rounds",
        "2",
        columns=200,
    )
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if "effnet-style" in line)
    cells = [c.strip() for c in row.strip("│ ").split("│")]
    images, rounds, forward, whole = int(cells[2]), int(cells[5]), float(cells[6]), float(cells[7])
    assert images == 12 and rounds == 2 and forward > 0 and whole > 0
