"""Scores and calibration: their arithmetic, and their meaning on real image files."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from simdetect.backbones import Backbone
from simdetect.evaluation.metrics import average_precision_at_k, recall_at_k, roc_auc, tpr_at_fpr
from simdetect.index import ROLE_BACKGROUND, IndexWriter, open_index
from simdetect.index.build import add_paths, add_tree
from simdetect.scan import Scanner, ScanParams
from simdetect.scan.calibrate import CALIBRATION_NAME, stored_calibration
from simdetect.scoring import ArtistTable, per_artist_topk
from simdetect.scoring.calibration import Calibration, ScoringParams
from simdetect.scoring.relative import margin_over_best_other, margin_over_mean


def test_per_artist_topk_matches_brute_force_with_exclusions() -> None:
    rng = np.random.default_rng(1)
    artists = ["a"] * 5 + ["b"] * 2 + ["c"] * 7
    table = ArtistTable.build(artists, ["artist"] * len(artists))
    sims = rng.uniform(-1, 1, size=(4, len(artists)))
    sims[0, 5] = -np.inf  # leave one of b's two works out
    sims[1, 5:7] = -np.inf  # b has no usable work for this row
    got = per_artist_topk(sims, table, k=3)
    for row in range(4):
        for a, name in enumerate(table.names):
            vals = [sims[row, i] for i, x in enumerate(artists) if x == name]
            vals = sorted(v for v in vals if np.isfinite(v))[-3:]
            expected = np.mean(vals) if vals else np.nan
            np.testing.assert_allclose(got[row, a], expected, equal_nan=True)


def test_margins() -> None:
    per = np.array([[0.9, 0.5, 0.7], [0.2, np.nan, 0.4]])
    np.testing.assert_allclose(
        margin_over_best_other(per), [[0.2, -0.4, -0.2], [-0.2, np.nan, 0.2]]
    )
    np.testing.assert_allclose(
        margin_over_mean(per), [[0.3, -0.3, 0.0], [-0.2, np.nan, 0.2]], atol=1e-12
    )


def _calibration(impostors: list[float], genuine: list[float]) -> Calibration:
    return Calibration(
        snapshot_digest="x",
        params=ScoringParams(),
        artist_names=["A", "B"],
        work_radius=np.zeros(3),
        impostor=[np.sort(np.asarray(impostors)), np.zeros(0)],
        genuine=[np.sort(np.asarray(genuine)), np.zeros(0)],
    )


def test_verdict_p_value_threshold_and_decision() -> None:
    imp = list(np.linspace(0.0, 0.99, 199))  # 199 impostors: 1% FPR allows one above threshold
    cal = _calibration(imp, [0.5, 1.0, 1.5])
    v = cal.verdict(0, 2.0, 0.01)
    assert v.p_value == pytest.approx(1 / 200)  # +1 correction: never 0
    assert v.percentile == 100.0 and v.genuine_percentile == 100.0
    assert v.decision is True and v.n_impostors == 199
    # m = floor(0.01 * 200 - 1) = 1 → threshold is the 2nd largest impostor
    assert v.threshold == pytest.approx(imp[-2])
    assert v.fpr_at_threshold == pytest.approx(1 / 199)
    inside = cal.verdict(0, 0.75, 0.01)
    assert inside.decision is False and 0.2 < inside.p_value < 0.3
    assert inside.genuine_percentile == pytest.approx(100 / 3)  # strictly lower: 0.5 only
    tie = cal.verdict(0, imp[-1], 0.01)  # at the top impostor: (1 + 1) / 200
    assert tie.p_value == pytest.approx(2 / 200)


def test_verdict_refuses_with_too_few_impostors() -> None:
    v = _calibration([0.1] * 50, [0.5]).verdict(0, 5.0, 0.01)
    assert v.decision is None and v.threshold is None
    assert "too few impostor works (50)" in (v.reason or "")
    assert v.p_value == pytest.approx(1 / 51)


def test_metrics_on_hand_computed_examples() -> None:
    rel = np.array([[True, False, True, False], [False, False, False, True]])
    n_rel = np.array([2, 1])
    # query 0: P@1 = 1, P@3 = 2/3 → (1 + 2/3) / min(4, 2); query 1: P@4 = 1/4 → 0.25 / 1
    np.testing.assert_allclose(average_precision_at_k(rel, n_rel, 4), [(1 + 2 / 3) / 2, 0.25])
    np.testing.assert_allclose(recall_at_k(rel, 1), [1.0, 0.0])
    assert roc_auc(np.array([3.0, 2.0]), np.array([1.0, 2.0])) == pytest.approx(0.875)
    tpr, thr = tpr_at_fpr(np.array([5.0, 0.5]), np.arange(100.0) / 100, 0.01)
    assert thr == pytest.approx(0.98) and tpr == 0.5


def _save_jpeg_copy(src: Path, dest: Path, quality: int = 60) -> Path:
    with Image.open(src) as im:
        rgb = im.convert("RGB")
    buf = io.BytesIO()
    rgb.save(buf, "JPEG", quality=quality)
    dest.write_bytes(buf.getvalue())
    return dest


def test_planted_copy_is_decided_unrelated_is_not(
    index_copy: Path, backbone: Backbone, seeds_dir: Path, tmp_path: Path
) -> None:
    planted = _save_jpeg_copy(
        seeds_dir / "artists/ana_pastel/ana_pastel_05.jpg", tmp_path / "p.jpg"
    )
    unrelated = seeds_dir / "suspects/suspect_25.webp"  # fractal noise: nobody's style
    scanner = Scanner(open_index(index_copy))
    results = {Path(r.suspect).name: r for r in scanner.scan_files([planted, unrelated], backbone)}
    top = results["p.jpg"].ranking[0]
    assert top.artist == "ana_pastel"
    assert top.p_value is not None and top.p_value < 0.01
    assert top.decision is True and top.threshold is not None
    assert top.n_impostors == 112 and top.n_genuine == 16
    assert results["p.jpg"].matches[0].path.endswith("ana_pastel_05.jpg")
    for entry in results["suspect_25.webp"].ranking:
        assert entry.decision is False, entry


def test_single_artist_index_is_uncalibrated(
    tmp_path: Path, backbone: Backbone, seeds_dir: Path
) -> None:
    idx = tmp_path / "solo"
    add_paths(idx, [seeds_dir / "artists/pip_dots"], "pip_dots", backbone=backbone)
    scanner = Scanner(open_index(idx))
    [res] = list(scanner.scan_files([seeds_dir / "suspects/suspect_02.jpg"], backbone))
    assert res.note and res.note.startswith("uncalibrated")
    [entry] = res.ranking
    assert entry.relative is None and entry.p_value is None and entry.decision is None
    assert scanner.context()["calibration"]["state"] == "uncalibrated"


def test_background_calibrates_but_is_never_reported(
    tmp_path: Path, backbone: Backbone, seeds_dir: Path
) -> None:
    idx = tmp_path / "bg"
    add_paths(idx, [seeds_dir / "artists/pip_dots"], "pip_dots", backbone=backbone)
    bg_root = tmp_path / "background"
    for name in ("ana_pastel", "vera_swirl", "bit_bram", "lena_wash", "neon_kai", "otto_blocks"):
        shutil.copytree(seeds_dir / "artists" / name, bg_root / name)
    add_tree(idx, bg_root, backbone=backbone, role=ROLE_BACKGROUND)
    snap = open_index(idx)
    assert snap.manifest.artists == {"pip_dots": 16} and len(snap.manifest.background) == 6
    scanner = Scanner(snap, ScanParams(top_k=10))
    [res] = list(scanner.scan_files([seeds_dir / "suspects/suspect_02.jpg"], backbone))
    assert res.note is None
    assert [e.artist for e in res.ranking] == ["pip_dots"]
    assert all(m.artist == "pip_dots" for m in res.matches)
    assert res.ranking[0].n_impostors == 96 and res.ranking[0].p_value is not None
    ctx = scanner.context()["calibration"]
    assert ctx["state"] == "calibrated" and len(ctx["relative_to"]["background"]) == 6


def test_calibration_is_stored_invalidated_and_refreshed(
    index_copy: Path, backbone: Backbone, seeds_dir: Path
) -> None:
    snap = open_index(index_copy)
    # Other tests scan the shared session index, which stores its calibration; start bare.
    (snap.directory / CALIBRATION_NAME).unlink(missing_ok=True)
    assert stored_calibration(snap, ScoringParams()) is None
    first = Scanner(snap).calibration
    assert (snap.directory / CALIBRATION_NAME).is_file()
    again = Scanner(open_index(index_copy)).calibration
    assert again.computed_at == first.computed_at  # reused, not recomputed

    with IndexWriter(index_copy) as writer:
        writer.remove_artist("bit_bram")
        writer.commit()
    changed = open_index(index_copy)
    assert stored_calibration(changed, ScoringParams()) is None  # the old one does not apply
    fresh = Scanner(changed).calibration
    assert fresh.snapshot_digest == changed.snapshot_digest() != first.snapshot_digest
    assert "bit_bram" not in fresh.artist_names
    assert len(fresh.impostor[0]) == len(first.impostor[0]) - 16
