"""The effnet-style descriptor's channel-correlation blocks (v2, the default) and v1 beside it."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from simdetect.backbones import Backbone, statistics_view
from simdetect.backbones.effnet import (
    EFFNET_STYLE_V1,
    EffnetStyleBackbone,
    EffnetStyleConfig,
    channel_correlations,
    correlation_projection,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")

CORRELATED = EffnetStyleConfig()
# What every index built before descriptor v2 holds in its manifest: it must never change,
# or those indexes stop resolving to the descriptor that made their vectors.
V1_DESCRIPTOR = (
    "effnet-style v1: per-channel mean+std of stages [1, 2, 3, 4, 5, 6], signed power 0.5, "
    "each stage L2-normalised, concatenated, L2-normalised"
)


@pytest.fixture(scope="module")
def images(seeds_dir: Path) -> list[Image.Image]:
    paths = sorted((seeds_dir / "artists").rglob("*.*"))[::5][:6]
    assert len(paths) == 6
    return [Image.open(p).convert("RGB") for p in paths]


@pytest.fixture(scope="module")
def correlated() -> EffnetStyleBackbone:
    return EffnetStyleBackbone(CORRELATED)


@pytest.fixture(scope="module")
def v1() -> EffnetStyleBackbone:
    return EffnetStyleBackbone(EFFNET_STYLE_V1)


def _embed(bb: Backbone, images: list[Image.Image]) -> np.ndarray:
    return bb.embed(torch.stack([bb.preprocess(im) for im in images]))


def test_default_descriptor_is_v2_and_v1_is_unchanged() -> None:
    assert CORRELATED.correlation_stages == (2, 3, 4, 5) and CORRELATED.version == "2"
    assert CORRELATED.statistics_dim == 1536 and CORRELATED.dim == 2560
    assert CORRELATED.describe_descriptor().startswith("effnet-style v2:")
    assert EFFNET_STYLE_V1.dim == EFFNET_STYLE_V1.statistics_dim == 1536
    assert EFFNET_STYLE_V1.describe_descriptor() == V1_DESCRIPTOR


def test_correlated_vector_keeps_the_statistics_block(
    v1: EffnetStyleBackbone, correlated: EffnetStyleBackbone, images: list[Image.Image]
) -> None:
    # Stages 2-5 have 40, 80, 112 and 192 channels: 780 pairs and more, each cut to 256.
    assert CORRELATED.dim == 1536 + 4 * 256 == correlated.dim == correlated.fingerprint.dim
    old, v2 = _embed(v1, images), _embed(correlated, images)
    assert v2.shape == (len(images), CORRELATED.dim) and v2.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v2, axis=1), 1.0, atol=1e-5)
    # The statistics come first, unchanged up to the constant 1 / sqrt(1 + weight), so a
    # scorer may still read v1 out of a correlated vector.
    scale = np.sqrt(1.0 + CORRELATED.correlation_weight)
    np.testing.assert_allclose(v2[:, :1536] * scale, old, atol=1e-5)
    np.testing.assert_allclose(statistics_view(v2, 1536), old, atol=1e-5)
    # Each stage's block is a unit vector times sqrt(weight / stages).
    share = np.sqrt(CORRELATED.correlation_weight / 4) / scale
    blocks = v2[:, 1536:].reshape(len(images), 4, 256)
    np.testing.assert_allclose(np.linalg.norm(blocks, axis=2), share, atol=1e-5)
    # Different pictures, different correlations.
    corr = v2[:, 1536:] / np.linalg.norm(v2[:, 1536:], axis=1, keepdims=True)
    assert (corr @ corr.T)[~np.eye(len(images), dtype=bool)].max() < 0.999


def test_correlated_vector_does_not_depend_on_batch(
    correlated: EffnetStyleBackbone, images: list[Image.Image]
) -> None:
    together = _embed(correlated, images)
    alone = np.concatenate([_embed(correlated, [im]) for im in images])
    np.testing.assert_allclose(together, alone, atol=1e-5)


def test_correlations_tell_arrangements_apart_more_than_statistics(
    correlated: EffnetStyleBackbone,
) -> None:
    # The same pixels, striped or scattered: the same colour histogram, a different texture.
    # The statistics block already sees a difference (cosine about 0.57 here); which filters
    # fire together sees more of it (about 0.24).
    rng = np.random.default_rng(0)
    stripes = np.zeros((224, 224, 3), np.uint8)
    stripes[:, ::8] = 255
    stripes[:, 1::8] = 255
    shuffled = stripes.reshape(-1, 3)[rng.permutation(224 * 224)].reshape(224, 224, 3)
    a, b = (Image.fromarray(x) for x in (stripes, shuffled))
    v = _embed(correlated, [a, b])
    statistics = v[:, :1536] / np.linalg.norm(v[:, :1536], axis=1, keepdims=True)
    corr = v[:, 1536:] / np.linalg.norm(v[:, 1536:], axis=1, keepdims=True)
    assert float(corr[0] @ corr[1]) < float(statistics[0] @ statistics[1])


def test_channel_correlations_are_correlations() -> None:
    base = torch.randn(2, 1, 6, 6, dtype=torch.float64)
    noise = torch.randn(2, 1, 6, 6, dtype=torch.float64)
    fmap = torch.cat([base, 3 * base + 1, -base, noise, torch.ones_like(base)], dim=1)
    corr = channel_correlations(fmap)
    assert corr.shape == (2, 10)  # 5 channels, 10 pairs, in upper-triangle order
    np.testing.assert_allclose(corr[:, 0], 1.0, atol=1e-9)  # (0, 1): scaled copy
    np.testing.assert_allclose(corr[:, 1], -1.0, atol=1e-9)  # (0, 2): negated
    np.testing.assert_allclose(corr[:, 3], 0.0, atol=1e-9)  # (0, 4): a constant channel
    expected = np.corrcoef(base[0].flatten(), noise[0].flatten())[0, 1]
    np.testing.assert_allclose(corr[0, 2], expected, atol=1e-9)  # (0, 3): Pearson's r
    assert torch.isfinite(corr).all()


def test_projection_is_fixed_by_its_label_not_by_any_random_state() -> None:
    np.random.seed(1)
    torch.manual_seed(1)
    first = correlation_projection(3, 256)
    np.random.seed(2)
    torch.manual_seed(2)
    again = correlation_projection(3, 256)
    np.testing.assert_array_equal(first, again)
    assert first.shape == (80 * 79 // 2, 256) and first.dtype == np.float32
    assert set(np.unique(first * 16).tolist()) == {-1.0, 1.0}  # ±1/sqrt(256)
    # Pinned: these are SHAKE-256's bits for the documented label, the same on every
    # machine, so a vector made on one can be verified on another.
    label = b"simdetect/effnet-style/correlation/3/3160x256"
    bits = np.unpackbits(np.frombuffer(hashlib.shake_256(label).digest(32), np.uint8))
    np.testing.assert_array_equal(first[0], (bits.astype(np.float32) * 2 - 1) / 16)
    assert abs(float(first.mean())) < 0.01  # balanced signs


def test_correlated_fingerprint_differs_and_names_the_recipe(
    backbone: Backbone, v1: EffnetStyleBackbone, correlated: EffnetStyleBackbone
) -> None:
    fp = correlated.fingerprint
    assert fp == backbone.fingerprint  # the registry's effnet-style is v2
    assert v1.fingerprint.descriptor_version == V1_DESCRIPTOR
    assert fp.descriptor_version != v1.fingerprint.descriptor_version
    assert "channel correlations of stages [2, 3, 4, 5]" in fp.descriptor_version
    assert "simdetect/effnet-style/correlation/" in fp.descriptor_version
    assert fp.weights_sha256 == backbone.fingerprint.weights_sha256


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"correlation_stages": (7,)}, "stage 7 is not a Lite0 stage"),
        ({"stages": (1, 9)}, "stage 9 is not a Lite0 stage"),
        ({"correlation_stages": (3,), "correlation_weight": 0.0}, "positive dimension and weight"),
        ({"correlation_stages": (3,), "correlation_dim": 0}, "positive dimension and weight"),
    ],
)
def test_config_refuses_impossible_descriptors(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        EffnetStyleConfig(**kwargs)
