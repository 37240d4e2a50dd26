"""Detailed procedural paintings for copy tests: real files, no third-party images.

The seeds corpus is flat on purpose (it models style), so a quarter of one of its works
holds few distinctive cells; copy detection is about *content*, so these works are
busy: hundreds of overlapping shapes and strokes over a textured ground, each work
drawn from its own seed.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

__all__ = ["draw_work", "write_portfolio"]


def draw_work(seed: int, size: tuple[int, int] = (512, 384), palette: int = 0) -> Image.Image:
    rng = random.Random(seed)
    w, h = size
    noise = np.random.default_rng(seed).normal(0, 18, (h, w, 3))
    base = np.array([rng.randrange(60, 200) for _ in range(3)], dtype=np.float64)
    ground = np.clip(base + noise, 0, 255).astype(np.uint8)
    image = Image.fromarray(ground, "RGB").filter(ImageFilter.GaussianBlur(1.2))
    draw = ImageDraw.Draw(image, "RGBA")
    hue = [(200, 60, 40), (40, 90, 200), (60, 160, 70)][palette % 3]

    def colour() -> tuple[int, int, int, int]:
        return (
            min(255, max(0, hue[0] + rng.randrange(-90, 90))),
            min(255, max(0, hue[1] + rng.randrange(-90, 90))),
            min(255, max(0, hue[2] + rng.randrange(-90, 90))),
            rng.randrange(120, 255),
        )

    for _ in range(140):
        x, y = rng.uniform(-20, w), rng.uniform(-20, h)
        r = rng.uniform(4, 40)
        kind = rng.random()
        if kind < 0.4:
            draw.ellipse((x, y, x + r * rng.uniform(0.5, 2), y + r), fill=colour())
        elif kind < 0.75:
            pts = [(x + rng.uniform(-r, r) * 1.5, y + rng.uniform(-r, r) * 1.5) for _ in range(4)]
            draw.polygon(pts, fill=colour())
        else:
            draw.line(
                (x, y, x + rng.uniform(-3, 3) * r, y + rng.uniform(-3, 3) * r),
                fill=colour(),
                width=rng.randrange(1, 6),
            )
    return image.filter(ImageFilter.SMOOTH)


def write_portfolio(folder: Path, n: int, seed: int, palette: int = 0) -> list[Path]:
    """``n`` works as PNG and JPEG files (alternating), named ``work_00.png`` …"""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        image = draw_work(seed * 1000 + i, palette=palette)
        path = folder / (f"work_{i:02d}.png" if i % 2 == 0 else f"work_{i:02d}.jpg")
        image.save(path, quality=92) if path.suffix == ".jpg" else image.save(path)
        out.append(path)
    return out
