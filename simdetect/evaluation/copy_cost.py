"""What the copy verdict costs next to the style score, and how often its gate opens.

For each set of suspects, every image is scored twice in turn, in one process: the
style vector (what every scan pays) and the copy check with its gate (what the copy
verdict adds). Interleaving the two per image makes the ratio fair on a shared machine
where absolute timings drift. A set can be a folder of files, or 2x2 grids cut into
quadrants (the sd15-styles corpus stores four images per file).
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from simdetect.backbones import statistics_columns, statistics_view
from simdetect.backbones.base import Backbone
from simdetect.copies.indexed import gate_for, load_work
from simdetect.copies.regions import RegionDescriber
from simdetect.copies.verdict import STATE_COPY, CopyDetector, CopyWork, RegionCache
from simdetect.io.hashing import sha256_file
from simdetect.io.images import load_image
from simdetect.io.walk import iter_image_files

__all__ = ["CopyCostRow", "SuspectSet", "measure_copy_cost"]


@dataclass(frozen=True)
class SuspectSet:
    name: str
    images: list[Image.Image]
    copies_of: list[int | None]  # index of the work each image copies, if any


@dataclass(frozen=True)
class CopyCostRow:
    name: str
    n: int
    gate_open_pct: float
    copies_found: int
    copies_expected: int
    copies_right: int
    style_ms: float  # per image, median over batches of 16
    copy_ms: float  # per image, mean (gate closed and open together)
    copy_open_ms: float  # per image whose gate opened, median

    @property
    def ratio(self) -> float:
        """Style + copy time over style time: the scan's cost with the copy verdict."""
        return (self.style_ms + self.copy_ms) / self.style_ms if self.style_ms else float("nan")


def works_from_folder(folder: Path, limit: int | None = None) -> list[CopyWork]:
    files = sorted(iter_image_files(folder))[:limit]
    out = []
    for f in files:
        with Image.open(f) as im:
            w, h = im.size
        out.append(CopyWork(str(f), sha256_file(f), Path(folder).name, w, h))
    return out


def grid_quadrants(folder: Path, limit: int | None = None) -> list[Image.Image]:
    """Every file of ``folder`` (recursively) cut into its four quadrants."""
    out = []
    for f in sorted(iter_image_files(folder))[:limit]:
        im = load_image(f).image
        w, h = im.size
        out += [im.crop((x, y, x + w // 2, y + h // 2)) for y in (0, h // 2) for x in (0, w // 2)]
    return out


def laundered_copies(works: Sequence[CopyWork], n: int, seed: int = 0) -> SuspectSet:
    """The issue's case: crop, turn 7° either way, re-save at JPEG quality 35."""
    import io

    rng = random.Random(seed)
    picks = rng.sample(range(len(works)), min(n, len(works)))
    images = []
    for i in picks:
        src = load_work(works[i])
        w, h = src.size
        box = (
            round(w * rng.uniform(0.03, 0.12)),
            round(h * rng.uniform(0.03, 0.12)),
            round(w * rng.uniform(0.85, 0.97)),
            round(h * rng.uniform(0.85, 0.97)),
        )
        out = src.crop(box).rotate(
            rng.choice((7.0, -7.0)), resample=Image.Resampling.BICUBIC, expand=True
        )
        buf = io.BytesIO()
        out.convert("RGB").save(buf, "JPEG", quality=35)
        buf.seek(0)
        images.append(Image.open(buf).convert("RGB"))
    return SuspectSet("crop+rotate7+jpeg35 copies", images, list(picks))


def measure_copy_cost(
    works: Sequence[CopyWork],
    sets: Sequence[SuspectSet],
    backbone: Backbone,
    cache_dir: Path,
    describer: RegionDescriber | None = None,
) -> tuple[list[CopyCostRow], float]:
    """Rows per suspect set, and the seconds the copy index took to build."""
    describer = describer or RegionDescriber()
    start = time.perf_counter()
    detector = CopyDetector.build(
        works,
        load_work,
        describer,
        gate=gate_for(backbone.fingerprint),
        cache=RegionCache(cache_dir / "regions", describer.fingerprint),
        index_dir=cache_dir,
    )
    build_s = time.perf_counter() - start
    columns = statistics_columns(backbone.fingerprint)  # the gate's cosine, as a scan's
    vectors = statistics_view(
        np.concatenate(
            [
                backbone.embed(
                    torch.stack([backbone.preprocess(load_work(w)) for w in works[i : i + 32]])
                )
                for i in range(0, len(works), 32)
            ]
        ),
        columns,
    )
    rows = []
    for s in sets:
        style_t, copy_t, open_t = [], [], []
        opened = found = right = 0
        # Batches of 16 as a scan embeds them, each followed by its images' copy checks.
        for b in range(0, len(s.images), 16):
            batch = s.images[b : b + 16]
            t0 = time.perf_counter()
            vecs = statistics_view(
                backbone.embed(torch.stack([backbone.preprocess(im) for im in batch])), columns
            )
            style_t.append((time.perf_counter() - t0) / len(batch))
            for image, vec, source in zip(batch, vecs, s.copies_of[b : b + 16], strict=True):
                t1 = time.perf_counter()
                check, finding = detector.check(image, vectors @ vec)
                t2 = time.perf_counter()
                copy_t.append(t2 - t1)
                if check.gate == "passed":
                    opened += 1
                    open_t.append(t2 - t1)
                if check.state == STATE_COPY and finding is not None:
                    found += 1
                    right += int(source is not None and finding.source == works[source])
        n = len(s.images)
        rows.append(
            CopyCostRow(
                name=s.name,
                n=n,
                gate_open_pct=100.0 * opened / n if n else float("nan"),
                copies_found=found,
                copies_expected=sum(1 for c in s.copies_of if c is not None),
                copies_right=right,
                style_ms=1000 * float(np.median(style_t)) if style_t else float("nan"),
                copy_ms=1000 * float(np.mean(copy_t)) if copy_t else float("nan"),
                copy_open_ms=1000 * float(np.median(open_t)) if open_t else float("nan"),
            )
        )
    return rows, build_s
