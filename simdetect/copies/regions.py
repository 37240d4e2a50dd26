"""Content descriptors for copy detection: regional vectors plus dense local features.

Why not the style descriptor: it is deliberately blind to *what* is painted, so two
works by one painter look alike to it. Copy detection needs the opposite.

Why two kinds of vectors from the same forward passes:

- *regional* vectors (average-pooled stage-5 features over the whole image and a 3×3
  grid of half-side windows) are cheap to search and survive global edits (JPEG,
  resize, colour, flip, overlay); they build the short list of candidate sources;
- *local* vectors (every stage-4 cell, stride 16, with its position) allow a geometric
  check of a candidate: a crop, a rotation or a collage tile keeps many cells that
  match the source *in a consistent layout*, which unrelated works of the same painter
  do not. Regional similarity alone could not separate a quarter-area crop from
  same-painter non-copies (measured: see ``simdetect.evaluation.copy_robustness``).

Each image is seen at two scales (long side 448 and 224): a 50% crop seen at 224 shows
its content at the scale the source has at 448, and a collage tile seen at 448 matches
the source seen at 224. Index and query are described identically, so the threshold
calibrated by matching indexed works against each other sees the same null as a query.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from simdetect.backbones.effnet import LITE_MEAN, LITE_STD, build_lite0, lite0_weights_path
from simdetect.backbones.weights import file_sha256

__all__ = ["RegionConfig", "RegionDescriber", "RegionSet", "region_boxes"]

log = logging.getLogger(__name__)

_REGIONAL_STAGE = 5  # 192 channels, stride 32
_LOCAL_STAGE = 4  # 112 channels, stride 16
_STAGE_CHANNELS = {4: 112, 5: 192}
_MIN_SIDE = 32


@dataclass(frozen=True)
class RegionConfig:
    """Every knob that changes the vectors; all of it goes into :meth:`describe`."""

    scales: tuple[int, ...] = (448, 224)
    regional_stage: int = _REGIONAL_STAGE
    local_stage: int = _LOCAL_STAGE
    # (window side as a fraction of the map side, windows per axis)
    grid: tuple[tuple[float, int], ...] = ((1.0, 1), (0.5, 3))
    version: str = "1"

    def __post_init__(self) -> None:
        if not self.scales or any(s < _MIN_SIDE for s in self.scales):
            raise ValueError(f"scales must be >= {_MIN_SIDE} px, got {self.scales}")
        if self.regional_stage not in _STAGE_CHANNELS or self.local_stage not in _STAGE_CHANNELS:
            raise ValueError(f"stages must be among {sorted(_STAGE_CHANNELS)}")

    @property
    def dim(self) -> int:
        return _STAGE_CHANNELS[self.regional_stage]

    @property
    def local_dim(self) -> int:
        return _STAGE_CHANNELS[self.local_stage]

    @property
    def regions_per_scale(self) -> int:
        return sum(n * n for _, n in self.grid)

    @property
    def regions_per_image(self) -> int:
        return self.regions_per_scale * len(self.scales)

    def describe(self) -> str:
        return (
            f"copy-regions v{self.version}: tf_efficientnet_lite0, long side {list(self.scales)} "
            f"bicubic (aspect kept), mean {LITE_MEAN[0]} std {LITE_STD[0]}; regional = "
            f"stage {self.regional_stage} average-pooled over windows {list(self.grid)}, "
            f"L2-normalised; local = stage {self.local_stage} cells with positions"
        )


@dataclass(frozen=True)
class RegionSet:
    """What one image contributes to the copy index.

    ``regions`` are L2-normalised rows; ``local`` keeps the raw feature (float16) because
    the index whitens it with statistics of the indexed works; ``positions`` are cell
    centres divided by the map's long side; ``scale_ids`` index ``RegionConfig.scales``.
    """

    regions: np.ndarray
    local: np.ndarray
    positions: np.ndarray
    scale_ids: np.ndarray

    def __post_init__(self) -> None:
        if self.regions.ndim != 2 or self.local.ndim != 2:
            raise ValueError("regions and local must be 2-D")
        if not len(self.local) == len(self.positions) == len(self.scale_ids):
            raise ValueError("local, positions and scale_ids must have the same length")


def region_boxes(
    height: int, width: int, grid: Sequence[tuple[float, int]]
) -> list[tuple[int, int, int, int]]:
    """(y0, y1, x0, x1) windows on a feature map, evenly spread and fully inside it."""
    boxes: list[tuple[int, int, int, int]] = []
    for frac, n in grid:
        h, w = max(1, round(height * frac)), max(1, round(width * frac))
        if n > 1:
            ys = sorted({round(v) for v in np.linspace(0, height - h, n)})
            xs = sorted({round(v) for v in np.linspace(0, width - w, n)})
        else:
            ys, xs = [(height - h) // 2], [(width - w) // 2]
        # A tiny map can make grid positions coincide; repeat windows so the count per
        # image stays fixed (duplicates change no maximum).
        ys = (ys * n)[:n] if n > 1 else ys
        xs = (xs * n)[:n] if n > 1 else xs
        boxes.extend((y, y + h, x, x + w) for y in ys for x in xs)
    return boxes


class RegionDescriber:
    """EfficientNet-Lite0 features at two scales, pooled into a :class:`RegionSet`.

    ``regions_per_image`` is fixed (``config.regions_per_image``); the number of local
    cells varies with the aspect ratio.
    """

    def __init__(self, config: RegionConfig | None = None, device: str = "cpu") -> None:
        self.config = config or RegionConfig()
        self.device = torch.device(device)
        weights = lite0_weights_path()
        self.model = build_lite0(weights).to(self.device)
        self.dim = self.config.dim
        self.local_dim = self.config.local_dim
        self.regions_per_image = self.config.regions_per_image
        self._mean = torch.tensor(LITE_MEAN).view(3, 1, 1)
        self._std = torch.tensor(LITE_STD).view(3, 1, 1)
        blob = f"{file_sha256(weights)}|{self.config.describe()}".encode()
        self.fingerprint = hashlib.sha256(blob).hexdigest()

    def _tensor(self, image: Image.Image, long_side: int) -> torch.Tensor:
        w, h = image.size
        f = long_side / max(w, h)
        size = (max(_MIN_SIDE, round(w * f)), max(_MIN_SIDE, round(h * f)))
        arr = (
            np.asarray(
                image.convert("RGB").resize(size, Image.Resampling.BICUBIC), dtype=np.float32
            )
            / 255.0
        )
        tensor = torch.from_numpy(arr).permute(2, 0, 1)
        return ((tensor - self._mean) / self._std).unsqueeze(0)

    def _maps(self, batch: torch.Tensor) -> dict[int, torch.Tensor]:
        cfg = self.config
        wanted = {cfg.regional_stage, cfg.local_stage}
        x = self.model.bn1(self.model.conv_stem(batch.to(self.device)))  # type: ignore[operator]
        out: dict[int, torch.Tensor] = {}
        for i, stage in enumerate(self.model.blocks):  # type: ignore[arg-type]
            x = stage(x)
            if i in wanted:
                out[i] = x[0].float().cpu()
            if i >= max(wanted):
                break
        return out

    def describe_one(self, image: Image.Image) -> RegionSet:
        cfg = self.config
        regions, local, positions, scale_ids = [], [], [], []
        with torch.inference_mode():
            for k, side in enumerate(cfg.scales):
                maps = self._maps(self._tensor(image, side))
                fmap = maps[cfg.regional_stage]
                for y0, y1, x0, x1 in region_boxes(fmap.shape[1], fmap.shape[2], cfg.grid):
                    regions.append(fmap[:, y0:y1, x0:x1].mean(dim=(1, 2)))
                cells = maps[cfg.local_stage]
                c, h, w = cells.shape
                local.append(cells.reshape(c, h * w).T.numpy().astype(np.float16))
                ys, xs = np.divmod(np.arange(h * w), w)
                positions.append(np.stack([xs + 0.5, ys + 0.5], 1) / max(h, w))
                scale_ids.append(np.full(h * w, k, dtype=np.int8))
        reg = torch.stack(regions).numpy().astype(np.float32)
        reg /= np.linalg.norm(reg, axis=1, keepdims=True) + 1e-12
        return RegionSet(
            regions=reg,
            local=np.concatenate(local),
            positions=np.concatenate(positions).astype(np.float32),
            scale_ids=np.concatenate(scale_ids),
        )

    def describe(self, images: Sequence[Image.Image]) -> list[RegionSet]:
        """One set per image; images keep their aspect, so each runs as its own batch."""
        return [self.describe_one(im) for im in images]

    def describe_query(self, image: Image.Image) -> RegionSet:
        """Queries are described exactly like indexed works.

        The variants a partial copy needs (a sub-window, the other scale) are already
        among the regions and scales of every image, and keeping both sides identical
        is what lets the index calibrate its threshold on its own works.
        """
        return self.describe_one(image)
