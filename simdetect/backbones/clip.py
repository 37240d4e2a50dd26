"""open_clip image towers as backbones: any model/pretrained tag, or a local checkpoint.

Spec forms (after the `clip:` prefix):
  MODEL/TAG    a pretrained tag open_clip knows; weights come from open_clip's cache,
               downloaded on machines that can reach its hub
  MODEL@PATH   a local checkpoint file (what you copy onto an offline machine)
  MODEL/random random weights from a fixed seed: for tests and speed measurements only
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from simdetect.backbones.base import BackboneError, BackboneUnavailable, Fingerprint, l2_normalise
from simdetect.backbones.weights import file_sha256

log = logging.getLogger(__name__)

RANDOM_TAG = "random"
RANDOM_SEED = 0
DESCRIPTOR_VERSION = "clip-image-embedding v1: encode_image, L2-normalised"


@dataclass(frozen=True)
class ClipSpec:
    model: str
    tag: str | None = None
    checkpoint: Path | None = None

    @property
    def is_random(self) -> bool:
        return self.tag == RANDOM_TAG

    @property
    def name(self) -> str:
        if self.checkpoint is not None:
            return f"clip:{self.model}@{self.checkpoint}"
        return f"clip:{self.model}/{self.tag}"


def parse_clip_spec(spec: str) -> ClipSpec:
    """Parse `clip:MODEL/TAG` or `clip:MODEL@PATH` into its parts, with errors a user can act on."""
    body = spec[len("clip:") :] if spec.startswith("clip:") else spec
    if "@" in body:
        model, _, path = body.partition("@")
        if not model or not path:
            raise BackboneError(
                f"bad backbone spec {spec!r}: expected clip:MODEL@/path/to/checkpoint"
            )
        return ClipSpec(model=model, checkpoint=Path(os.path.expanduser(path)))
    model, sep, tag = body.partition("/")
    if not model or not sep or not tag:
        raise BackboneError(
            f"bad backbone spec {spec!r}: expected clip:MODEL/PRETRAINED_TAG "
            "(e.g. clip:ViT-B-32/laion2b_s34b_b79k) or clip:MODEL@/path/to/checkpoint"
        )
    return ClipSpec(model=model, tag=tag)


def _missing_weights_message(spec: ClipSpec, reason: str) -> str:
    return (
        f"weights for {spec.name} are not on this machine and could not be downloaded ({reason}). "
        f"Either copy the checkpoint here and use clip:{spec.model}@/path/to/checkpoint, "
        "or use the offline backbone effnet-style."
    )


def resolve_pretrained_file(
    spec: ClipSpec, cache_dir: str | None = None, allow_download: bool = True
) -> str:
    """Find the cached weights file for a tag, downloading it only if allowed and reachable."""
    import open_clip
    from open_clip import pretrained as oc_pretrained

    assert spec.tag is not None
    if spec.model not in open_clip.list_models():
        raise BackboneError(f"unknown open_clip model {spec.model!r}; see open_clip.list_models()")
    cfg = oc_pretrained.get_pretrained_cfg(spec.model, spec.tag)
    if not cfg:
        known = ", ".join(oc_pretrained.list_pretrained_tags_by_model(spec.model)) or "none"
        raise BackboneError(
            f"unknown pretrained tag {spec.tag!r} for {spec.model}; known tags: {known}"
        )
    hub = cfg.get("hf_hub", "")
    if hub:
        from huggingface_hub import hf_hub_download

        model_id, filename = os.path.split(hub)
        filename = filename or "open_clip_pytorch_model.bin"
        candidates = [filename]
        if filename.endswith((".bin", ".pth")):
            candidates.insert(0, filename[:-4] + ".safetensors")
        if filename == "open_clip_pytorch_model.bin":
            candidates.insert(0, "open_clip_model.safetensors")
        for name in candidates:
            try:
                return str(
                    hf_hub_download(model_id, name, cache_dir=cache_dir, local_files_only=True)
                )
            except Exception:
                continue
    url = cfg.get("url", "")
    if url and not hub:
        cached = Path(cache_dir or os.path.expanduser("~/.cache/clip")) / os.path.basename(url)
        if cached.is_file():
            return str(cached)
    if not allow_download:
        raise BackboneUnavailable(_missing_weights_message(spec, "not in the local cache"))
    problem = _download_blocker(url if url and not hub else None)
    if problem:
        raise BackboneUnavailable(_missing_weights_message(spec, problem))
    try:
        path = oc_pretrained.download_pretrained(cfg, cache_dir=cache_dir)
    except Exception as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BackboneUnavailable(_missing_weights_message(spec, first_line[:200])) from exc
    if not path or not Path(path).is_file():
        raise BackboneUnavailable(_missing_weights_message(spec, "no file was produced"))
    return str(path)


def _download_blocker(url: str | None, timeout: float = 3.0) -> str | None:
    """Why a download cannot work right now, found in seconds instead of a minute of retries."""
    import socket
    from urllib.parse import urlparse

    if url is None:
        if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
            return "HF_HUB_OFFLINE is set"
        from huggingface_hub import constants

        url = constants.ENDPOINT
    parsed = urlparse(url)
    host = parsed.hostname or ""
    port = parsed.port or (80 if parsed.scheme == "http" else 443)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except OSError as exc:
        return f"cannot reach {host}: {exc.strerror or exc}"


def _state_dict_sha256(model: torch.nn.Module) -> str:
    digest = hashlib.sha256()
    for key, tensor in model.state_dict().items():
        digest.update(key.encode("utf-8"))
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


class ClipBackbone:
    """An open_clip image encoder; the text tower is loaded but never used."""

    def __init__(
        self,
        spec: str | ClipSpec,
        device: str = "cpu",
        precision: str = "fp32",
        cache_dir: str | None = None,
    ) -> None:
        import open_clip

        self.spec = parse_clip_spec(spec) if isinstance(spec, str) else spec
        self.name = self.spec.name
        self.device = torch.device(device)
        kwargs: dict[str, Any] = {"device": self.device, "precision": precision}
        if self.spec.checkpoint is not None:
            if not self.spec.checkpoint.is_file():
                raise BackboneUnavailable(
                    f"checkpoint {self.spec.checkpoint} does not exist; pass an existing file "
                    f"(clip:{self.spec.model}@/path/to/file) or use effnet-style"
                )
            weights_file: str | None = str(self.spec.checkpoint)
        elif self.spec.is_random:
            weights_file = None
        else:
            weights_file = resolve_pretrained_file(self.spec, cache_dir)
            cfg = open_clip.get_pretrained_cfg(self.spec.model, self.spec.tag or "")
            for key, arg in (("mean", "image_mean"), ("std", "image_std")):
                if cfg.get(key):
                    kwargs[arg] = tuple(cfg[key])
            for key, arg in (
                ("interpolation", "image_interpolation"),
                ("resize_mode", "image_resize_mode"),
            ):
                if cfg.get(key):
                    kwargs[arg] = cfg[key]
        try:
            if weights_file is None:
                torch.manual_seed(RANDOM_SEED)
            model, _, preprocess = open_clip.create_model_and_transforms(
                self.spec.model, pretrained=weights_file, **kwargs
            )
        except Exception as exc:
            # pickle errors to open_clip's AssertionError; all mean "this file won't load".
            raise BackboneError(f"could not load {self.name}: {exc}") from exc
        model.eval()
        self.model = model
        self._preprocess = preprocess
        with torch.inference_mode():
            size = self._input_size()
            probe = torch.zeros(1, 3, size, size, device=self.device, dtype=self._dtype())
            self.dim = int(model.encode_image(probe).shape[-1])
        self.decode_min_side: int | None = 2 * size
        if weights_file is None:
            weights_sha = f"random-seed-{RANDOM_SEED}:{_state_dict_sha256(model)}"
        else:
            weights_sha = file_sha256(Path(weights_file))
        self.fingerprint = Fingerprint(
            name=self.name if self.spec.checkpoint is None else f"clip:{self.spec.model}@file",
            weights_sha256=weights_sha,
            preprocessing=(
                f"JPEG decoded at reduced DCT scale keeping sides >= {2 * size}; {preprocess!r}"
            ),
            descriptor_version=DESCRIPTOR_VERSION,
            dim=self.dim,
        )

    def _input_size(self) -> int:
        size = getattr(self.model.visual, "image_size", 224)
        return int(size[0] if isinstance(size, (tuple, list)) else size)

    def _dtype(self) -> torch.dtype:
        return next(self.model.parameters()).dtype

    def preprocess(self, image: Image.Image) -> torch.Tensor:
        out = self._preprocess(image.convert("RGB"))
        assert isinstance(out, torch.Tensor)
        return out

    def embed(self, batch: torch.Tensor) -> np.ndarray:
        with torch.inference_mode():
            feats = self.model.encode_image(batch.to(self.device, dtype=self._dtype()))
        return l2_normalise(feats.float()).cpu().numpy().astype(np.float32, copy=False)
