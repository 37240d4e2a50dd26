"""Explored, not shipped: richer effnet-style descriptors, on both questions.

    simdetect eval --imitations ../shared/corpora/sd15-styles/imitations \
        --reference ../shared/corpora/sd15-styles/reference --index IDX \
        --held-out-fraction 0.5 --seed 0 --out /tmp/imit-s0        # cuts and caches tiles
    python scripts/explore_descriptor.py /tmp/imit-s0/tiles IDX --cache /tmp/descriptor-stats

The shipped descriptor (`backbones.effnet`, v1) is the per-channel mean and standard
deviation of Lite0 stages 1-6 at one input size, 224. This script asks what the same
network gives when it says more: the per-channel maximum of stages 4-6 as well, and the
statistics at more than one input size (each size's descriptor normalised, then
concatenated). It re-embeds the index's works (from the paths the index recorded) and the
sd15-styles tiles at 160, 224 and 320 (cached under --cache), and prints for each variant

1. the CSD protocol on best-artworks-128 (seeds 0 and 1, the space fitted on the database
   works only), in the shipped whitening and with the 48-direction LDA block of
   `explore_two_block.py` (lam = 0.5), plain and with CSLS (k = 15), as mAP@1 / Recall@10;
2. the sd15-styles imitation figures with the shipped scorer in the same two spaces
   (reference splits seeds 0 and 1; in the whitening also the whole reference, leave-one-
   file-out), as top-1 / top-5 / decided @ pairs / flagged @ held-out flagged;
3. its cost: dimension, and the forward time per image of each input size on this machine.

Pixels are prepared as `EffnetStyleBackbone.preprocess` prepares them (RGB, bicubic resize
to the square input, Lite normalisation); at 224 the variant "224" reproduces the index's
stored vectors (the script checks it).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from explore_two_block import TwoBlock, csd_figures, normalised
from grid_imitation_params import TilePaths, reembed_inputs_from_arguments, split_figures
from PIL import Image

from simdetect.backbones.effnet import EFFNET_STYLE_V1, EffnetStyleBackbone, stage_outputs
from simdetect.evaluation.imitations import evaluate_imitations, figures_line
from simdetect.scoring.aggregate import ArtistTable
from simdetect.scoring.imitation import ImitationParams, ImitationScorer

SIZES = (160, 224, 320)
STAGES = (1, 2, 3, 4, 5, 6)
MAX_STAGES = (4, 5, 6)
BATCH = 32
LAM = 0.5


@dataclass(frozen=True)
class Variant:
    name: str
    sizes: tuple[int, ...]
    with_max: bool


VARIANTS = (
    Variant("224 (shipped v1)", (224,), False),
    Variant("224 + max", (224,), True),
    Variant("320", (320,), False),
    Variant("160 | 224", (160, 224), False),
    Variant("160 | 320", (160, 320), False),
    Variant("224 | 320", (224, 320), False),
    Variant("224 | 320 + max", (224, 320), True),
)


def raw_statistics(paths: list[Path], size: int) -> tuple[dict[str, np.ndarray], float]:
    """Per-channel mean, std (every stage) and max (stages 4-6) at one input size, and the
    forward seconds per image."""
    backbone = EffnetStyleBackbone(replace(EFFNET_STYLE_V1, input_size=size))
    parts: dict[str, list[np.ndarray]] = {}
    forward = 0.0
    for start in range(0, len(paths), BATCH):
        batch = torch.stack(
            [backbone.preprocess(Image.open(p)) for p in paths[start : start + BATCH]]
        )
        began = time.perf_counter()
        with torch.inference_mode():
            outs = stage_outputs(backbone.model, batch, max(STAGES))
        forward += time.perf_counter() - began
        for s in STAGES:
            flat = outs[s].flatten(2)
            parts.setdefault(f"mean{s}", []).append(flat.mean(dim=2).numpy())
            parts.setdefault(f"std{s}", []).append(flat.std(dim=2, unbiased=False).numpy())
            if s in MAX_STAGES:
                parts.setdefault(f"max{s}", []).append(flat.amax(dim=2).numpy())
    return {k: np.concatenate(v) for k, v in parts.items()}, forward / len(paths)


def cached_statistics(
    cache: Path, label: str, paths: list[Path], size: int
) -> tuple[dict[str, np.ndarray], float]:
    file = cache / f"{label}-{size}.npz"
    if file.exists():
        with np.load(file) as data:
            stats = {k: data[k] for k in data.files if k != "forward"}
            if len(stats["mean1"]) == len(paths):
                return stats, float(data["forward"])
    stats, forward = raw_statistics(paths, size)
    cache.mkdir(parents=True, exist_ok=True)
    np.savez(file, forward=forward, **stats)
    return stats, forward


def descriptor(stats: dict[int, dict[str, np.ndarray]], variant: Variant) -> np.ndarray:
    """As `EffnetStyleBackbone.embed`: per block signed square root, L2; concatenated, L2;
    each input size's descriptor so made, then concatenated and normalised again."""
    per_size = []
    for size in variant.sizes:
        s = stats[size]
        blocks = [np.hstack([s[f"mean{k}"], s[f"std{k}"]]) for k in STAGES]
        if variant.with_max:
            blocks += [s[f"max{k}"] for k in MAX_STAGES]
        rooted = [normalised(np.sign(b) * np.sqrt(np.abs(b))) for b in blocks]
        per_size.append(normalised(np.hstack(rooted).astype(np.float64)))
    return normalised(np.hstack(per_size))


def csd_line(v: np.ndarray, codes: np.ndarray) -> str:
    return " | ".join(
        f"{'whitening' if not lam else '+ LDA block'} s{seed} {csd_figures(v, codes, seed, lam)}"
        for lam in (0.0, LAM)
        for seed in (0, 1)
    )


def imitation_line(v: np.ndarray, table: ArtistTable, x: np.ndarray, tiles: TilePaths) -> str:
    x_imi, x_ref = x[: len(tiles.imitations)], x[len(tiles.imitations) :]
    truth, groups = tiles.truth, tiles.groups
    cols = []
    for lam in (0.0, LAM):
        disc = TwoBlock(v, table.codes, lam) if lam else None
        scorer = ImitationScorer(v, table, ImitationParams(), discriminant=disc)
        space = "whitening" if not lam else "+ LDA block"
        split = split_figures(scorer, x_imi, truth, x_ref, groups)
        cols += [f"{space} s{seed} {line}" for seed, line in enumerate(split)]
        if not lam:
            # the whole reference, each output judged without its own source file
            f = evaluate_imitations(scorer, x_imi, truth, x_ref, groups).figures
            cols.append(f"whitening leave-one-file-out {figures_line(f)}")
    return " | ".join(cols)


def main() -> None:
    inputs = reembed_inputs_from_arguments()
    torch.set_num_threads(2)
    snap, table, works, tiles = inputs.snapshot, inputs.table, inputs.works, inputs.tiles

    work_stats: dict[int, dict[str, np.ndarray]] = {}
    tile_stats: dict[int, dict[str, np.ndarray]] = {}
    for size in SIZES:
        work_stats[size], per_image = cached_statistics(inputs.cache, "works", works, size)
        tile_paths = tiles.imitations + tiles.reference
        tile_stats[size], _ = cached_statistics(inputs.cache, "tiles", tile_paths, size)
        print(f"input {size}: forward {1000 * per_image:.1f} ms per image", flush=True)

    stored = snap.vectors().astype(np.float64)
    shipped = descriptor(work_stats, VARIANTS[0])
    print(f"check: largest difference to the index's vectors {np.abs(stored - shipped).max():.1e}")

    for variant in VARIANTS:
        v = descriptor(work_stats, variant)
        x = descriptor(tile_stats, variant)
        print(f"{variant.name} (dim {v.shape[1]})", flush=True)
        print(f"  CSD: {csd_line(v, table.codes)}", flush=True)
        print(f"  imitations: {imitation_line(v, table, x, tiles)}", flush=True)


if __name__ == "__main__":
    main()
