"""The contract every registered backbone keeps, walked over the registry (as timm's tests
walk its model list): the dimension it declares, unit-length float32 vectors, a
fingerprint that is the same on every load, and refusal of an index it did not build.

The registry's offline entries are tested, plus open_clip's ViT-S-32 with random weights
from a fixed seed (the `clip:` family needs no download in that form).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from simdetect.backbones import Backbone, list_backbones, load_backbone
from simdetect.index import FingerprintMismatch, IndexWriter, open_index
from simdetect.io import load_image
from simdetect.io.image_record import ImageRecord

CLIP_RANDOM = "clip:ViT-S-32/random"
INFOS = {info.name: info for info in list_backbones((CLIP_RANDOM,)) if info.offline}
SAMPLES = (
    "artists/ana_pastel/ana_pastel_01.jpg",
    "artists/bit_bram/bit_bram_01.png",
    "suspects/suspect_01.webp",
)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def loaded() -> dict[str, Backbone]:
    """Each backbone loaded once per module (open_clip towers take seconds to build)."""
    return {}


def get(loaded: dict[str, Backbone], name: str) -> Backbone:
    if name not in loaded:
        loaded[name] = load_backbone(name)
    return loaded[name]


@pytest.fixture(scope="module")
def images(seeds_dir: Path) -> list[Image.Image]:
    return [load_image(seeds_dir / rel).image for rel in SAMPLES]


def embed(bb: Backbone, images: list[Image.Image]) -> np.ndarray:
    return bb.embed(torch.stack([bb.preprocess(im) for im in images]))


def test_the_registry_offers_an_offline_backbone() -> None:
    assert "effnet-style" in INFOS
    assert CLIP_RANDOM in INFOS


@pytest.mark.parametrize("name", sorted(INFOS))
def test_dimension_is_the_declared_one(
    loaded: dict[str, Backbone], images: list[Image.Image], name: str
) -> None:
    bb = get(loaded, name)
    vectors = embed(bb, images)
    assert vectors.shape == (len(images), bb.dim)
    assert bb.fingerprint.dim == bb.dim
    if INFOS[name].dim is not None:  # named entries declare it before loading
        assert INFOS[name].dim == bb.dim


@pytest.mark.parametrize("name", sorted(INFOS))
def test_vectors_are_unit_length_float32(
    loaded: dict[str, Backbone], images: list[Image.Image], name: str
) -> None:
    vectors = embed(get(loaded, name), images)
    assert vectors.dtype == np.float32
    assert np.all(np.isfinite(vectors))
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    # distinct images are not collapsed onto one vector
    assert float(np.max(np.abs(vectors[0] - vectors[1]))) > 1e-4


@pytest.mark.parametrize("name", sorted(INFOS))
def test_fingerprint_is_stable_across_loads(loaded: dict[str, Backbone], name: str) -> None:
    first = get(loaded, name).fingerprint
    again = load_backbone(name).fingerprint
    assert again == first
    assert again.digest() == first.digest()
    assert first.name and first.weights_sha256 and first.preprocessing and first.descriptor_version


@pytest.mark.parametrize("name", sorted(INFOS))
def test_an_index_built_by_other_weights_is_refused(
    loaded: dict[str, Backbone], tmp_path: Path, name: str
) -> None:
    bb = get(loaded, name)
    foreign = dataclasses.replace(bb.fingerprint, weights_sha256="0" * 64)
    root = tmp_path / "foreign"
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((2, bb.dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    records = [ImageRecord(f"/x/{i}.png", f"{i:064x}", 1, "PNG", 1, 1, "0" * 16) for i in range(2)]
    with IndexWriter(root, foreign, "foreign") as writer:
        writer.add(records, vectors, "someone")
        writer.commit()
    current = (root / "CURRENT").read_text()
    with pytest.raises(FingerprintMismatch, match="weights_sha256"):
        open_index(root).require_fingerprint(bb.fingerprint)
    with pytest.raises(FingerprintMismatch), IndexWriter(root, bb.fingerprint, bb.name):
        pytest.fail("a writer opened an index built with other weights")
    assert (root / "CURRENT").read_text() == current  # nothing was changed
