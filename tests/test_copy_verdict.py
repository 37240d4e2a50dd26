"""The copy verdict on real files: an edited copy of an indexed work names that work."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from copy_fixtures import write_portfolio
from PIL import Image

from simdetect.backbones import Backbone
from simdetect.copies.regions import RegionDescriber
from simdetect.copies.thresholds import SMALL_NULL, fit_gumbel
from simdetect.copies.verdict import (
    STATE_COPY,
    STATE_NO_COPY,
    CopyDetector,
    CopyGate,
    CopyWork,
    RegionCache,
    copy_hashes,
    prepare_for_copies,
)
from simdetect.io import load_image

REPO = Path(__file__).resolve().parent.parent


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _work(path: Path, artist: str) -> CopyWork:
    with Image.open(path) as im:
        w, h = im.size
    return CopyWork(str(path), hashlib.sha256(path.read_bytes()).hexdigest(), artist, w, h)


@pytest.fixture(scope="module")
def portfolio(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("portfolio")
    write_portfolio(root / "ana", 10, seed=1, palette=0)
    write_portfolio(root / "otto", 10, seed=2, palette=1)
    write_portfolio(root / "vera", 4, seed=3, palette=2)  # never indexed
    return root


@pytest.fixture(scope="module")
def works(portfolio: Path) -> list[CopyWork]:
    return [
        _work(p, artist)
        for artist in ("ana", "otto")
        for p in sorted((portfolio / artist).iterdir())
    ]


@pytest.fixture(scope="module")
def vectors(works: list[CopyWork], backbone: Backbone) -> np.ndarray:
    return backbone.embed(torch.stack([backbone.preprocess(_load(w)) for w in works]))


def _cosines(backbone: Backbone, vectors: np.ndarray, image: Image.Image) -> np.ndarray:
    """The style similarities the scan hands to the copy check."""
    result: np.ndarray = vectors @ backbone.embed(backbone.preprocess(image)[None])[0]
    return result


def _load(work: CopyWork) -> Image.Image:
    return load_image(work.path).image


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("copies")


@pytest.fixture(scope="module")
def describer() -> RegionDescriber:
    return RegionDescriber()


@pytest.fixture(scope="module")
def detector(works: list[CopyWork], describer: RegionDescriber, cache_dir: Path) -> CopyDetector:
    return CopyDetector.build(
        works,
        _load,
        describer,
        gate=CopyGate(phash_max=None, cosine_min=None),
        cache=RegionCache(cache_dir / "regions", describer.fingerprint),
        index_dir=cache_dir,
    )


def _crop_rotate_jpeg(path: str, tmp_path: Path, degrees: float = 7.0) -> Path:
    """The issue's laundering: crop, turn 7° (counter-clockwise), re-save at JPEG 35."""
    src = load_image(path).image
    w, h = src.size
    out = src.crop((round(w * 0.08), round(h * 0.06), round(w * 0.9), round(h * 0.92)))
    out = out.rotate(degrees, resample=Image.Resampling.BICUBIC, expand=True, fillcolor="white")
    dest = tmp_path / "copy.jpg"
    out.save(dest, "JPEG", quality=35)
    return dest


def _copy_found(
    detector: CopyDetector, file: Path, source: CopyWork, cosines: np.ndarray | None = None
) -> dict[str, Any]:
    loaded = load_image(file)
    check, finding = detector.check(loaded.image, cosines, size=(loaded.width, loaded.height))
    assert check.state == STATE_COPY, (check, source.path)
    assert finding is not None
    row = json.loads(json.dumps(finding.to_json()))  # the JSON form is what renderers get
    assert row["source"]["sha256"] == source.sha256
    assert row["source"]["path"] == source.path
    assert row["p_value"] <= detector.target_fpr
    assert row["confidence"] == pytest.approx(1 - row["p_value"])
    for side, (w, h) in (
        ("suspect", (loaded.width, loaded.height)),
        ("source", (source.width, source.height)),
    ):
        box = row["region"][side]
        assert 0 <= box["x0"] < box["x1"] <= w and 0 <= box["y0"] < box["y1"] <= h
    return row


def test_crop_rotate_recompress_copy_names_its_source(
    detector: CopyDetector,
    works: list[CopyWork],
    vectors: np.ndarray,
    backbone: Backbone,
    tmp_path: Path,
) -> None:
    # Every work of both artists: the verdict must hold for the portfolio, not one work.
    for source in works:
        copy = _crop_rotate_jpeg(source.path, tmp_path)
        cosines = _cosines(backbone, vectors, load_image(copy).image)
        row = _copy_found(detector, copy, source, cosines)
        assert "geometry" in row["decided_by"]
        transform = row["transform"]
        # Turned 7° counter-clockwise: the sign says which way, the size roughly how much.
        assert 2.0 < transform["rotation_degrees"] < 12.0
        assert transform["mirrored"] is False
        assert 0.7 < transform["scale"] < 1.4
        assert len(row["region"]["source_polygon"]) == 4


def test_query_cache_serves_a_suspect_without_decoding_it_again(
    detector: CopyDetector, works: list[CopyWork], describer: RegionDescriber, tmp_path: Path
) -> None:
    # A report's verify re-checks the same suspect: with a query cache, the second check
    # reads its description by SHA-256 and gives the same verdict without the pixels.
    source = works[3]
    copy = _crop_rotate_jpeg(source.path, tmp_path)
    digest = hashlib.sha256(copy.read_bytes()).hexdigest()
    loaded = load_image(copy)
    size = (loaded.width, loaded.height)
    cached = CopyDetector(
        detector.index,
        detector.works,
        describer,
        detector.gate,
        query_cache=RegionCache(tmp_path / "queries", describer.fingerprint),
    )
    # The scan hands in the file's own pHash, so a closed gate never needs the pixels.
    hashes = copy_hashes(prepare_for_copies(loaded.image))[:1]
    first = cached.check(loaded.image, size=size, hashes=hashes, sha256=digest)
    assert cached.query_cache is not None and cached.query_cache.has(digest)

    def never_decoded() -> Image.Image:
        raise AssertionError("the cached suspect was decoded again")

    again = cached.check(never_decoded, size=size, hashes=hashes, sha256=digest)
    assert again[0] == first[0] and first[0].state == STATE_COPY
    assert first[1] is not None and again[1] is not None
    assert again[1].to_json() == first[1].to_json()
    assert again[1].to_json()["source"]["sha256"] == source.sha256


def test_turn_the_other_way_reads_negative(
    detector: CopyDetector, works: list[CopyWork], tmp_path: Path
) -> None:
    source = works[2]
    row = _copy_found(detector, _crop_rotate_jpeg(source.path, tmp_path, -7.0), source)
    assert -12.0 < row["transform"]["rotation_degrees"] < -2.0


def test_mirror_copy_is_whole_image_and_mirrored(
    detector: CopyDetector, works: list[CopyWork], tmp_path: Path
) -> None:
    source = works[4]
    dest = tmp_path / "mirror.png"
    load_image(source.path).image.transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(dest)
    row = _copy_found(detector, dest, source)
    assert row["transform"]["mirrored"] is True
    assert row["region"]["source"] == {"x0": 0, "y0": 0, "x1": source.width, "y1": source.height}


def test_unindexed_works_are_not_copies(
    detector: CopyDetector, portfolio: Path, vectors: np.ndarray, backbone: Backbone
) -> None:
    for path in sorted((portfolio / "vera").iterdir()):
        image = load_image(path).image
        check, finding = detector.check(image, _cosines(backbone, vectors, image))
        assert check.state == STATE_NO_COPY and finding is None, (path, finding)
        assert check.gate == "passed" and check.candidates > 0


def test_closed_gate_answers_without_region_matching(
    works: list[CopyWork],
    describer: RegionDescriber,
    cache_dir: Path,
    backbone: Backbone,
    vectors: np.ndarray,
) -> None:
    gated = CopyDetector.build(
        works,
        _load,
        describer,
        gate=CopyGate(phash_max=22, cosine_min=0.97),
        cache=RegionCache(cache_dir / "regions", describer.fingerprint),
        index_dir=cache_dir,
    )
    unrelated = load_image(REPO / "seeds" / "suspects" / "suspect_13.jpg").image
    check, finding = gated.check(unrelated, _cosines(backbone, vectors, unrelated))
    assert (check.state, check.gate, check.candidates, finding) == (
        STATE_NO_COPY,
        "closed",
        0,
        None,
    )
    # The work itself opens the gate through both signals' strongest one and is a copy.
    check, finding = gated.check(_load(works[3]), vectors @ vectors[3])
    assert check.gate == "passed" and "pHash distance 0" in (check.gate_reason or "")
    assert finding is not None and finding.source == works[3]


def test_cache_is_reused_and_a_damaged_entry_is_recomputed(
    works: list[CopyWork], describer: RegionDescriber, detector: CopyDetector, cache_dir: Path
) -> None:
    cache = RegionCache(cache_dir / "regions", describer.fingerprint)
    files = sorted(cache.directory.rglob("*.npz"))
    assert len(files) == len(works)
    files[0].write_bytes(b"not an npz")
    # A stored copy index exists for this exact set of works: it is loaded, not refitted,
    # and the region sets are not even read (a moved evidence snapshot has none).
    again = CopyDetector.build(works, _load, describer, cache=cache, index_dir=cache_dir)
    assert again.index.threshold == detector.index.threshold
    assert again.stored_at is not None and again.stored_at.parent == cache_dir
    assert files[0].read_bytes() == b"not an npz"
    # Without it, the damaged entry is described again and the index refitted identically.
    shutil.rmtree(again.stored_at)
    rebuilt = CopyDetector.build(works, _load, describer, cache=cache, index_dir=cache_dir)
    assert rebuilt.index.threshold == detector.index.threshold
    assert len(np.load(files[0])["regions"]) == describer.config.regions_per_image


def test_unreadable_work_is_left_out_and_listed(
    works: list[CopyWork], describer: RegionDescriber, tmp_path: Path
) -> None:
    missing = CopyWork(str(tmp_path / "gone.png"), "0" * 64, "ana_pastel", 10, 10)
    few = [*works[:3], missing]
    built = CopyDetector.build(few, _load, describer)
    assert [w.path for w in built.works] == [w.path for w in works[:3]]
    assert built.skipped and built.skipped[0][0] == missing.path
    with pytest.raises(ValueError, match="at least two"):
        CopyDetector.build([works[0], missing], _load, describer)


def test_small_null_ignores_near_duplicates_in_the_portfolio() -> None:
    rng = np.random.default_rng(0)
    clean = rng.gumbel(0.03, 0.006, 8)
    # Four of twelve works have a near-duplicate (two photographs of one painting).
    contaminated = np.concatenate([clean[:8], [0.48, 0.5, 0.75, 0.77]])
    assert len(contaminated) < SMALL_NULL
    fit = fit_gumbel(contaminated, min_scale=0.02)
    assert fit.quantile(0.995) < 0.3  # a copy at 0.4 of matching cells is still a copy
    assert fit.tail(0.4) < 0.005 and fit.tail(0.03) > 0.3
