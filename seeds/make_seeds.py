"""Draw the bundled simdetect demo corpus procedurally.

Everything here is synthetic: eight invented "artists", each a small procedural painter with
its own palette, stroke, texture and composition rules, plus a folder of suspects (new works in
an artist's style, edited copies of indexed works, and unrelated images) with ground truth in
``suspects.csv``. Only numpy and Pillow are used, every random draw comes from a fixed seed and
the encoders run with fixed parameters, so running the script twice gives byte-identical files.

    python seeds/make_seeds.py            # regenerate next to this file
    python seeds/make_seeds.py --out DIR  # write somewhere else
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

HERE = Path(__file__).resolve().parent
N_WORKS = 16
SQUARE = (256, 256)
# A few works per artist are not square (width, height), as real portfolios are.
ODD_SIZES = {4: (256, 192), 9: (192, 256)}
MAX_BYTES = 80_000

Rng = np.random.Generator
Painter = Callable[[Rng, int, int], Image.Image]


# --------------------------------------------------------------------------------------------
# small numeric helpers (plain arithmetic where possible, so results do not depend on the CPU)
# --------------------------------------------------------------------------------------------


def _smooth(t: np.ndarray) -> np.ndarray:
    return t * t * (3.0 - 2.0 * t)


def value_noise(rng: Rng, h: int, w: int, cell: float) -> np.ndarray:
    """Smooth value noise in [0, 1] with features about ``cell`` pixels wide."""
    grid = rng.random((int(h / cell) + 3, int(w / cell) + 3))
    ty = np.arange(h) / cell
    tx = np.arange(w) / cell
    y0 = ty.astype(np.int64)
    x0 = tx.astype(np.int64)
    fy = _smooth(ty - y0)[:, None]
    fx = _smooth(tx - x0)[None, :]
    a = grid[y0][:, x0]
    b = grid[y0][:, x0 + 1]
    c = grid[y0 + 1][:, x0]
    d = grid[y0 + 1][:, x0 + 1]
    top = a + (b - a) * fx
    bottom = c + (d - c) * fx
    return top + (bottom - top) * fy


def fbm2d(rng: Rng, h: int, w: int, cell: float = 64.0, octaves: int = 4) -> np.ndarray:
    total = np.zeros((h, w))
    amp, norm = 1.0, 0.0
    for _ in range(octaves):
        total += amp * value_noise(rng, h, w, max(cell, 1.0))
        norm += amp
        amp *= 0.5
        cell /= 2.0
    return total / norm


def fbm1d(rng: Rng, n: int, cell: float = 64.0, octaves: int = 5) -> np.ndarray:
    """1-D fractal noise rescaled to exactly [0, 1] (ridge lines, horizons)."""
    x = np.arange(n, dtype=np.float64)
    out = np.zeros(n)
    amp = 1.0
    for _ in range(octaves):
        pts = rng.random(int(n / cell) + 3)
        t = x / cell
        i = t.astype(np.int64)
        f = _smooth(t - i)
        out += amp * (pts[i] + (pts[i + 1] - pts[i]) * f)
        amp *= 0.5
        cell = max(cell / 2.0, 1.0)
    return (out - out.min()) / (out.max() - out.min() + 1e-12)


def _box(a: np.ndarray, r: int, axis: int) -> np.ndarray:
    n = a.shape[axis]
    pad = [(0, 0)] * a.ndim
    pad[axis] = (r + 1, r)
    c = np.cumsum(np.pad(a, pad, mode="edge"), axis=axis)
    hi = np.take(c, np.arange(2 * r + 1, 2 * r + 1 + n), axis=axis)
    lo = np.take(c, np.arange(n), axis=axis)
    return (hi - lo) / (2 * r + 1)


def blur(a: np.ndarray, sigma: float) -> np.ndarray:
    """Approximate Gaussian blur (three box passes) over the first two axes."""
    if sigma <= 0:
        return a
    r = max(1, round((math.sqrt(4.0 * sigma * sigma + 1.0) - 1.0) / 2.0))
    out = np.asarray(a, dtype=np.float64)
    for _ in range(3):
        out = _box(_box(out, r, 0), r, 1)
    return out


def to_u8(a: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(a * 255.0), 0, 255).astype(np.uint8)


def to_img(a: np.ndarray) -> Image.Image:
    return Image.fromarray(to_u8(a))


def from_img(img: Image.Image) -> np.ndarray:
    return np.asarray(img, dtype=np.float64) / 255.0


def blob_polygon(
    rng: Rng, cx: float, cy: float, rx: float, ry: float, rot: float = 0.0, wobble: float = 0.25
) -> list[tuple[float, float]]:
    """An irregular closed shape around (cx, cy)."""
    n = 28
    th = np.arange(n) * (2.0 * math.pi / n)
    k = rng.normal(0.0, 1.0, 4)
    r = (
        1.0
        + wobble * (0.5 * k[0] * np.sin(2 * th + k[1]) + 0.35 * k[2] * np.sin(3 * th + k[3])) / 1.5
    )
    r = r * (1.0 + rng.uniform(-wobble, wobble, n) * 0.3)
    x = r * rx * np.cos(th)
    y = r * ry * np.sin(th)
    cr, sr = math.cos(rot), math.sin(rot)
    return [(cx + xi * cr - yi * sr, cy + xi * sr + yi * cr) for xi, yi in zip(x, y, strict=True)]


def poly_mask(w: int, h: int, pts: list[tuple[float, float]]) -> np.ndarray:
    m = Image.new("L", (w, h), 0)
    ImageDraw.Draw(m).polygon(pts, fill=255)
    return np.asarray(m, dtype=np.float64) / 255.0


def disc_mask(w: int, h: int, cx: float, cy: float, r: float) -> np.ndarray:
    m = Image.new("L", (w, h), 0)
    ImageDraw.Draw(m).ellipse((cx - r, cy - r, cx + r, cy + r), fill=255)
    return np.asarray(m, dtype=np.float64) / 255.0


def line_mask(w: int, h: int, pts: list[tuple[float, float]], width: int) -> np.ndarray:
    m = Image.new("L", (w, h), 0)
    ImageDraw.Draw(m).line(pts, fill=255, width=width)
    return np.asarray(m, dtype=np.float64) / 255.0


# --------------------------------------------------------------------------------------------
# the painters
# --------------------------------------------------------------------------------------------

PASTEL_SKY = np.array(
    [
        [0.72, 0.81, 0.94],
        [0.80, 0.76, 0.93],
        [0.97, 0.84, 0.78],
        [0.95, 0.78, 0.87],
        [0.98, 0.93, 0.76],
    ]
)
PASTEL_LAND = np.array(
    [
        [0.70, 0.86, 0.74],
        [0.62, 0.80, 0.84],
        [0.80, 0.88, 0.66],
        [0.79, 0.74, 0.91],
        [0.93, 0.86, 0.70],
    ]
)


def paint_pastel(rng: Rng, w: int, h: int) -> Image.Image:
    """Impressionist: short directional dabs in a soft pastel palette over a horizon scene."""
    yy, xx = np.indices((h, w), dtype=np.float64)
    hz = h * rng.uniform(0.3, 0.62)
    top, low = PASTEL_SKY[rng.choice(len(PASTEL_SKY), 2, replace=False)]
    t = np.clip(yy / hz, 0.0, 1.0)[..., None]
    base = top * (1.0 - t) + low * t
    g1, g2 = PASTEL_LAND[rng.choice(len(PASTEL_LAND), 2, replace=False)]
    tg = np.clip((yy - hz) / (h - hz), 0.0, 1.0)[..., None]
    base = np.where((yy > hz)[..., None], g1 * (1.0 - tg) + g2 * tg, base)
    # a pale sun and its reflection
    sx, sy, sr = rng.uniform(0.15, 0.85) * w, rng.uniform(0.15, 0.7) * hz, rng.uniform(9, 24)
    sun = np.array([0.99, 0.95, 0.80])
    base[(xx - sx) ** 2 + (yy - sy) ** 2 < sr**2] = sun
    refl = (np.abs(xx - sx) < sr * (0.6 + 0.5 * (yy - hz) / h)) & (yy > hz + 3)
    base[refl] = 0.6 * base[refl] + 0.4 * sun
    # bushes / trees sitting on the horizon, water lilies below it
    for _ in range(int(rng.integers(2, 7))):
        rx, ry = rng.uniform(8, 32), rng.uniform(12, 48)
        cx, cy = rng.uniform(0, w), hz - ry * rng.uniform(0.2, 0.8)
        col = PASTEL_LAND[rng.integers(len(PASTEL_LAND))] * rng.uniform(0.78, 0.92)
        base[((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 < 1.0] = col
    for _ in range(int(rng.integers(3, 9))):
        rx = rng.uniform(6, 16)
        cx, cy = rng.uniform(0, w), rng.uniform(hz + 10, h)
        col = PASTEL_SKY[rng.integers(len(PASTEL_SKY))] * rng.uniform(0.85, 1.0)
        base[((xx - cx) / rx) ** 2 + ((yy - cy) / (rx * 0.4)) ** 2 < 1.0] = col
    under = blur(base, 2.5)
    img = to_img(under)
    d = ImageDraw.Draw(img)
    n = int(w * h / 13)
    xs, ys = rng.uniform(0, w, n), rng.uniform(0, h, n)
    ph = rng.uniform(0, 2 * math.pi, 2)
    ang = 0.55 * np.sin(xs / 19.0 + ph[0]) * np.cos(ys / 15.0 + ph[1]) + rng.normal(0, 0.3, n)
    ang = np.where(ys > hz, 0.35 * ang, ang)
    half = rng.uniform(2.5, 5.5, n)
    cols = base[ys.astype(np.int64), xs.astype(np.int64)] + rng.normal(0, 0.06, (n, 3))
    accent = rng.random(n) < 0.12
    pool = np.concatenate([PASTEL_SKY, PASTEL_LAND])
    cols[accent] = pool[rng.integers(len(pool), size=int(accent.sum()))]
    cols = 0.82 * cols + 0.18
    seg = np.stack([xs - half * np.cos(ang), ys - half * np.sin(ang)], axis=1)
    seg = np.concatenate([seg, 2.0 * np.stack([xs, ys], axis=1) - seg], axis=1).tolist()
    fills = to_u8(cols).tolist()
    for (x0, y0, x1, y1), fill in zip(seg, fills, strict=True):
        d.line([(x0, y0), (x1, y1)], fill=tuple(fill), width=3)
    return img


BAUHAUS_WHITE = (242, 238, 224)
BAUHAUS_BLACK = (22, 22, 22)
BAUHAUS_PRIMARY = [(206, 36, 34), (24, 62, 158), (246, 198, 26)]


def paint_blocks(rng: Rng, w: int, h: int) -> Image.Image:
    """Bauhaus / de Stijl: flat primaries in a grid of rectangles with heavy black outlines."""
    img = Image.new("RGB", (w, h), BAUHAUS_WHITE)
    d = ImageDraw.Draw(img)
    rects = [(0, 0, w - 1, h - 1)]
    for _ in range(int(rng.integers(5, 11))):
        areas = np.array([(r[2] - r[0]) * (r[3] - r[1]) for r in rects], dtype=np.float64)
        x0, y0, x1, y1 = rects.pop(int(rng.choice(len(rects), p=areas / areas.sum())))
        if (x1 - x0) > (y1 - y0) * rng.uniform(0.6, 1.6) and x1 - x0 > 40:
            s = round(x0 + (x1 - x0) * rng.uniform(0.28, 0.72))
            rects += [(x0, y0, s, y1), (s, y0, x1, y1)]
        elif y1 - y0 > 40:
            s = round(y0 + (y1 - y0) * rng.uniform(0.28, 0.72))
            rects += [(x0, y0, x1, s), (x0, s, x1, y1)]
        else:
            rects.append((x0, y0, x1, y1))
    for r in rects:
        p = rng.random()
        if p < 0.45:
            fill = BAUHAUS_WHITE
        elif p < 0.95:
            fill = BAUHAUS_PRIMARY[int(rng.integers(3))]
        else:
            fill = BAUHAUS_BLACK
        d.rectangle(r, fill=fill, outline=BAUHAUS_BLACK, width=6)
    for _ in range(int(rng.integers(1, 4))):
        fill = BAUHAUS_PRIMARY[int(rng.integers(3))]
        cx, cy = rng.uniform(0.2, 0.8) * w, rng.uniform(0.2, 0.8) * h
        size = rng.uniform(0.12, 0.24) * min(w, h)
        kind = int(rng.integers(3))
        box = (cx - size, cy - size, cx + size, cy + size)
        if kind == 0:
            d.ellipse(box, fill=fill, outline=BAUHAUS_BLACK, width=5)
        elif kind == 1:
            a = rng.uniform(0, 2 * math.pi)
            pts = [
                (cx + size * math.cos(a + k * 2.094), cy + size * math.sin(a + k * 2.094))
                for k in range(3)
            ]
            d.polygon(pts, fill=fill, outline=BAUHAUS_BLACK, width=5)
        else:
            start = 90 * int(rng.integers(4))
            d.pieslice(box, start, start + 180, fill=fill, outline=BAUHAUS_BLACK, width=5)
    if rng.random() < 0.6:  # a heavy diagonal bar
        y = rng.uniform(0.2, 0.8) * h
        d.line([(0, y), (w, y + rng.uniform(-0.4, 0.4) * h)], fill=BAUHAUS_BLACK, width=7)
    return img


INK = np.array([0.07, 0.07, 0.09])
SEAL_RED = (178, 34, 30)


def paint_ink(rng: Rng, w: int, h: int) -> Image.Image:
    """Chinese ink wash (shan shui): misty grey mountain layers, pines, calligraphy and a seal."""
    yy = np.indices((h, w), dtype=np.float64)[0]
    fibre = 0.5 * value_noise(rng, h, w, 2.5) + 0.5 * value_noise(rng, h, w, 9.0)
    paper = np.array([0.93, 0.90, 0.82]) * (0.975 + 0.04 * fibre)[..., None]
    dens = np.zeros((h, w))
    n_layers = int(rng.integers(3, 6))
    ridge = np.zeros(w)
    for i in range(n_layers):
        frac = i / (n_layers - 1)
        base_y = h * (0.32 + 0.45 * frac + rng.uniform(-0.05, 0.05))
        height = h * rng.uniform(0.15, 0.38) * (1.0 - 0.45 * frac)
        ridge = base_y - height * fbm1d(rng, w, cell=float(rng.uniform(40, 110)))
        px, pw = rng.uniform(0, w), rng.uniform(15, 45)
        ridge -= height * 0.6 * np.clip(1.0 - np.abs(np.arange(w) - px) / pw, 0, 1) ** 1.5
        dist = yy - ridge[None, :]
        fade = h * rng.uniform(0.05, 0.13)
        tone = (0.22 + 0.63 * frac) * np.exp(-np.clip(dist, 0, None) / fade)
        streak = 0.7 + 0.6 * value_noise(rng, h, w, 5.0) * value_noise(rng, h, w, 17.0)
        layer = blur((dist > 0) * tone * streak, 1.0 + rng.uniform(0, 1.8))
        edge = blur(np.exp(-np.abs(dist) / 1.3) * (0.3 + 0.55 * frac), 0.7)
        layer = np.maximum(layer, edge)
        dens = dens + layer * (1.0 - dens)
    strokes = Image.new("L", (w, h), 0)
    d = ImageDraw.Draw(strokes)
    for _ in range(int(rng.integers(1, 4))):  # pines on the front ridge
        x = rng.uniform(0.08, 0.92) * w
        yb = float(ridge[int(x)]) + rng.uniform(5, 25)
        th = rng.uniform(30, 70)
        lean = rng.uniform(-8, 8)
        d.line([(x, yb), (x + lean * 0.5, yb - th * 0.5), (x + lean, yb - th)], fill=230, width=3)
        for k in range(int(rng.integers(4, 8))):
            t = 0.3 + 0.7 * k / 7
            bx, by = x + lean * t, yb - th * t
            span = rng.uniform(6, 16) * (1.1 - t)
            side = 1 if k % 2 else -1
            d.line([(bx, by), (bx + side * span, by - rng.uniform(0, 4))], fill=200, width=2)
            d.ellipse((bx + side * span - 5, by - 4, bx + side * span + 5, by + 2), fill=170)
    for _ in range(int(rng.integers(0, 5))):  # birds
        bx, by, s = rng.uniform(0.1, 0.9) * w, rng.uniform(0.05, 0.3) * h, rng.uniform(2, 4)
        d.line([(bx - s, by - s * 0.6), (bx, by), (bx + s, by - s * 0.7)], fill=190, width=1)
    if rng.random() < 0.5:  # a small boat with a fisherman
        bx, by = rng.uniform(0.15, 0.85) * w, h * rng.uniform(0.85, 0.95)
        d.polygon([(bx - 12, by), (bx + 12, by), (bx + 8, by + 4), (bx - 8, by + 4)], fill=220)
        d.line([(bx + 2, by), (bx + 2, by - 8)], fill=220, width=2)
        d.line([(bx + 2, by - 6), (bx + 16, by - 14)], fill=150, width=1)
    # a column of "calligraphy" and the artist's seal
    right = rng.random() < 0.5
    cx = w - 16 if right else 10
    cy = 8 + rng.uniform(0, 10)
    for _ in range(int(rng.integers(4, 8))):
        for _ in range(int(rng.integers(3, 6))):
            a = rng.uniform(0, 6, 4)
            d.line([(cx + a[0], cy + a[1]), (cx + a[2], cy + a[3] + 2)], fill=235, width=1)
        cy += 9
    dens = np.maximum(dens, blur(np.asarray(strokes, dtype=np.float64) / 255.0, 0.6))
    out = paper * (1.0 - dens[..., None] * (1.0 - INK))
    img = to_img(out)
    d = ImageDraw.Draw(img)
    s = int(rng.integers(11, 15))
    sx, sy = int(cx - 2), int(cy + 4)
    d.rectangle((sx, sy, sx + s, sy + s), fill=SEAL_RED)
    for _ in range(4):
        q = rng.integers(2, s - 2, 4)
        d.line([(sx + q[0], sy + q[1]), (sx + q[2], sy + q[3])], fill=(240, 220, 205), width=1)
    return img


DOTS = np.array(
    [
        [0.88, 0.12, 0.16],  # 0 vermilion
        [0.97, 0.52, 0.08],  # 1 orange
        [0.98, 0.85, 0.10],  # 2 yellow
        [0.15, 0.62, 0.22],  # 3 green
        [0.05, 0.50, 0.46],  # 4 teal
        [0.10, 0.26, 0.82],  # 5 ultramarine
        [0.46, 0.18, 0.70],  # 6 violet
        [0.15, 0.66, 0.88],  # 7 cyan
        [0.95, 0.40, 0.65],  # 8 pink
    ]
)
# region -> (dot colours, weights): 0 sky, 1 water, 2 land, 3 sun, 4 foliage, 5 figures
DOT_REGIONS = [
    ([7, 5, 8, 2], [0.5, 0.3, 0.12, 0.08]),
    ([5, 4, 6, 7], [0.45, 0.3, 0.15, 0.1]),
    ([2, 1, 3, 8], [0.45, 0.3, 0.15, 0.1]),
    ([2, 1, 0, 0], [0.6, 0.35, 0.05, 0.0]),
    ([3, 4, 5, 2], [0.5, 0.3, 0.12, 0.08]),
    ([0, 6, 5, 8], [0.45, 0.3, 0.15, 0.1]),
]
DOT_TABLE = np.array([c for c, _ in DOT_REGIONS])
DOT_CUM = np.cumsum([wt for _, wt in DOT_REGIONS], axis=1)


def paint_dots(rng: Rng, w: int, h: int) -> Image.Image:
    """Pointillism: separate round dots of pure colour on bare white paper."""
    lab = Image.new("L", (w, h), 0)
    d = ImageDraw.Draw(lab)
    hz = h * rng.uniform(0.3, 0.55)
    shore = hz + (h - hz) * rng.uniform(0.3, 0.7)
    tilt = rng.uniform(-0.3, 0.3) * h
    d.rectangle((0, hz, w, h), fill=1)
    d.polygon([(0, shore - tilt / 2), (w, shore + tilt / 2), (w, h), (0, h)], fill=2)
    sx, sy, sr = rng.uniform(0.1, 0.9) * w, rng.uniform(0.2, 0.8) * hz, rng.uniform(10, 22)
    d.ellipse((sx - sr, sy - sr, sx + sr, sy + sr), fill=3)
    for _ in range(int(rng.integers(1, 4))):  # trees
        tx, r = rng.uniform(0, w), rng.uniform(16, 34)
        ty = shore + rng.uniform(0, 0.5) * (h - shore)
        d.rectangle((tx - 3, ty - r * 1.4, tx + 3, ty), fill=5)
        d.ellipse((tx - r, ty - r * 2.6, tx + r, ty - r * 0.9), fill=4)
    for _ in range(int(rng.integers(1, 4))):  # figures with parasols
        fx, fy = rng.uniform(0, w), rng.uniform(shore, h - 10)
        fh = rng.uniform(20, 40)
        d.ellipse((fx - fh * 0.18, fy - fh, fx + fh * 0.18, fy), fill=5)
        d.pieslice((fx - fh * 0.4, fy - fh * 1.3, fx + fh * 0.4, fy - fh * 0.6), 180, 360, fill=5)
    labels = np.asarray(lab)
    img = Image.new("RGB", (w, h), (250, 249, 245))
    dd = ImageDraw.Draw(img)
    step = 5.0
    gy, gx = np.mgrid[0 : h + step : step, 0 : w + step : step]
    pts = np.stack([gy.ravel(), gx.ravel()], axis=1) + rng.uniform(-1.8, 1.8, (gy.size, 2))
    pts = pts[rng.permutation(len(pts))]
    radii = rng.uniform(1.6, 2.5, len(pts))
    pick = rng.random(len(pts))
    iy = np.clip(pts[:, 0], 0, h - 1).astype(np.int64)
    ix = np.clip(pts[:, 1], 0, w - 1).astype(np.int64)
    reg = labels[iy, ix].astype(np.int64)
    slot = np.minimum((pick[:, None] > DOT_CUM[reg]).sum(axis=1), 3)
    fills = to_u8(DOTS[DOT_TABLE[reg, slot]]).tolist()
    boxes = np.stack(
        [pts[:, 1] - radii, pts[:, 0] - radii, pts[:, 1] + radii, pts[:, 0] + radii], axis=1
    ).tolist()
    for box, fill in zip(boxes, fills, strict=True):
        dd.ellipse(tuple(box), fill=tuple(fill))
    return img


NEON = [(0, 240, 255), (255, 40, 200), (170, 60, 255), (60, 255, 120), (255, 230, 40)]


def paint_neon(rng: Rng, w: int, h: int) -> Image.Image:
    """Cyberpunk: glowing neon lines, perspective grid and skyline on a near-black night."""
    yy = np.indices((h, w), dtype=np.float64)[0]
    hz = h * rng.uniform(0.45, 0.7)
    t = np.clip(yy / hz, 0, 1)[..., None]
    sky = np.array([0.02, 0.01, 0.06]) * (1 - t) + np.array([0.17, 0.03, 0.22]) * t
    tb = np.clip((yy - hz) / (h - hz), 0, 1)[..., None]
    base = np.where((yy > hz)[..., None], np.array([0.05, 0.01, 0.09]) * (1 - tb) + 0.01, sky)
    base_img = to_img(base)
    bd = ImageDraw.Draw(base_img)
    for _ in range(int(rng.integers(10, 30))):  # stars
        x, y = rng.uniform(0, w), rng.uniform(0, hz * 0.7)
        bd.point((x, y), fill=(200, 200, 255))
    light = Image.new("RGB", (w, h), (0, 0, 0))
    d = ImageDraw.Draw(light)
    ci = rng.choice(len(NEON), 2, replace=False)
    c1, c2 = NEON[int(ci[0])], NEON[int(ci[1])]
    if rng.random() < 0.75:  # striped synthwave sun
        sx, sr = rng.uniform(0.25, 0.75) * w, rng.uniform(22, 42)
        d.ellipse((sx - sr, hz - sr * 1.5, sx + sr, hz + sr * 0.5), fill=(255, 110, 70))
        for k in range(5):
            y = hz - sr * 0.1 - k * sr * 0.22
            d.line([(sx - sr, y), (sx + sr, y)], fill=(0, 0, 0), width=2 + k // 2)
    vx = rng.uniform(0.3, 0.7) * w
    for k in range(1, 11):
        y = hz + (h - hz) * (k / 10) ** 2
        d.line([(0, y), (w, y)], fill=c1, width=1)
    for j in range(-12, 13):
        d.line([(vx + j * 4, hz), (vx + j * 40, h)], fill=c1, width=1)
    x = rng.uniform(-20, 0)
    while x < w:  # skyline: dark blocks with neon rims and lit windows
        bw = rng.uniform(14, 34)
        bh = rng.uniform(0.15, 0.55) * hz
        if rng.random() < 0.8:
            box = (x, hz - bh, x + bw, hz)
            d.rectangle(box, fill=(0, 0, 0))
            bd.rectangle(box, fill=(6, 4, 14))
            d.line([(x, hz), (x, hz - bh), (x + bw, hz - bh), (x + bw, hz)], fill=c2, width=1)
            for wy in np.arange(hz - bh + 5, hz - 3, 6):
                for wx in np.arange(x + 4, x + bw - 3, 5):
                    if rng.random() < 0.35:
                        d.rectangle((wx, wy, wx + 1, wy + 1), fill=(255, 220, 120))
            if rng.random() < 0.3:  # a neon sign
                sy = hz - bh * rng.uniform(0.3, 0.8)
                d.rectangle((x + 3, sy, x + bw - 3, sy + 6), outline=c1, width=1)
        x += bw + rng.uniform(0, 6)
    for _ in range(int(rng.integers(1, 4))):  # light trails / laser lines across the sky
        y0 = rng.uniform(0.05, 0.6) * hz
        d.line([(0, y0), (w, y0 + rng.uniform(-0.3, 0.3) * h)], fill=c2, width=1)
    lit = from_img(light)
    glow = np.clip(lit + 0.9 * blur(lit, 1.5) + 1.6 * blur(lit, 5.0), 0, 1)
    out = 1.0 - (1.0 - from_img(base_img)) * (1.0 - glow)
    return to_img(out)


PICO8 = [
    (0, 0, 0),
    (29, 43, 83),
    (126, 37, 83),
    (0, 135, 81),
    (171, 82, 54),
    (95, 87, 79),
    (194, 195, 199),
    (255, 241, 232),
    (255, 0, 77),
    (255, 163, 0),
    (255, 236, 39),
    (0, 228, 54),
    (41, 173, 255),
    (131, 118, 156),
    (255, 119, 168),
    (255, 204, 170),
]


def paint_pixels(rng: Rng, w: int, h: int) -> Image.Image:
    """Pixel art: a 16-colour game scene drawn on a coarse grid and scaled up 8x."""
    pw, ph = w // 8, h // 8
    g = np.zeros((ph, pw), dtype=np.int64)
    night = rng.random() < 0.4
    g[:] = 1 if night else int(rng.choice([12, 13, 12]))
    if night:
        for _ in range(int(rng.integers(5, 12))):
            g[rng.integers(0, ph // 2), rng.integers(0, pw)] = 7
    for _ in range(int(rng.integers(1, 4))):  # clouds
        cx, cy, cw = (
            int(rng.integers(0, pw)),
            int(rng.integers(1, ph // 3)),
            int(rng.integers(3, 7)),
        )
        g[cy, cx : cx + cw] = 7 if not night else 13
        g[cy - 1, cx + 1 : cx + cw - 1] = 7 if not night else 13
    ground = ph - int(rng.integers(4, 8))
    g[ground:, :] = 4
    g[ground, :] = int(rng.choice([11, 3]))
    for y in range(ground + 1, ph):
        for x in range(pw):
            if (x + 2 * (y % 2)) % 4 == 0 or (y % 2 == 0 and x % 4 == 1):
                g[y, x] = 5
    for _ in range(int(rng.integers(0, 3))):  # floating brick platforms and coins
        px, py, plen = int(rng.integers(0, pw - 4)), int(rng.integers(ph // 3, ground - 3)), 4
        g[py, px : px + plen] = 9
        g[py, px : px + plen : 2] = 4
        g[py - 2, px + 1] = 10
    for _ in range(int(rng.integers(1, 4))):  # symmetric random sprites with outlines
        sw, sh = int(rng.choice([5, 6, 7])), int(rng.choice([5, 6, 7]))
        half = rng.random((sh, (sw + 1) // 2)) < 0.55
        body = np.concatenate([half, half[:, : sw // 2][:, ::-1]], axis=1)
        col = int(rng.choice([8, 9, 10, 11, 14, 12, 2]))
        x0 = int(rng.integers(0, max(1, pw - sw)))
        y0 = ground - sh - (0 if rng.random() < 0.6 else int(rng.integers(3, 8)))
        y0 = max(1, y0)
        for y in range(sh):
            for x in range(sw):
                if body[y, x]:
                    for oy, ox in ((-1, 0), (1, 0), (0, -1), (0, 1)):
                        yy, xx = y0 + y + oy, x0 + x + ox
                        if (
                            0 <= yy < ph
                            and 0 <= xx < pw
                            and not (0 <= y + oy < sh and 0 <= x + ox < sw and body[y + oy, x + ox])
                        ):
                            g[yy, xx] = 0
        for y in range(sh):
            for x in range(sw):
                if body[y, x] and 0 <= y0 + y < ph and 0 <= x0 + x < pw:
                    g[y0 + y, x0 + x] = col
        eye = y0 + sh // 3
        if 0 <= eye < ph:
            g[eye, min(pw - 1, x0 + sw // 2 - 1)] = 7
    for k in range(3):  # the HUD: three hearts
        g[1, 1 + 3 * k] = 8
        g[1, 2 + 3 * k] = 8 if k < 2 else 5
    pal = np.array(PICO8, dtype=np.uint8)
    small = Image.fromarray(pal[g])
    return small.resize((pw * 8, ph * 8), Image.Resampling.NEAREST)


SWIRL_SKY = np.array(
    [
        [0.10, 0.20, 0.55],
        [0.15, 0.33, 0.72],
        [0.33, 0.53, 0.85],
        [0.55, 0.70, 0.92],
        [0.82, 0.88, 0.95],
    ]
)
SWIRL_STAR = np.array([[0.99, 0.85, 0.18], [1.0, 0.95, 0.55], [0.95, 0.62, 0.10]])
SWIRL_HILL = np.array([[0.07, 0.13, 0.32], [0.12, 0.25, 0.36], [0.22, 0.32, 0.22]])
SWIRL_TREE = np.array([[0.04, 0.11, 0.07], [0.10, 0.22, 0.12], [0.02, 0.04, 0.05]])


def paint_swirl(rng: Rng, w: int, h: int) -> Image.Image:
    """Impasto: thick ridged strokes swirling round vortices, in blues and chrome yellows."""
    yy, xx = np.indices((h, w), dtype=np.float64)
    hz = h * rng.uniform(0.6, 0.8)
    ridge = hz - fbm1d(rng, w, cell=80.0) * h * 0.15
    region = np.zeros((h, w), dtype=np.int64)
    region[yy > ridge[None, :]] = 2
    vx = np.ones((h, w)) * 0.6
    vy = 0.25 * np.sin(xx / 30.0 + rng.uniform(0, 6))
    stars = [(rng.uniform(0.1, 0.9) * w, rng.uniform(0.08, 0.5) * h, rng.uniform(5, 11))]
    stars += [
        (rng.uniform(0, w), rng.uniform(0.05, 0.55) * h, rng.uniform(4, 9))
        for _ in range(int(rng.integers(2, 6)))
    ]
    stars[0] = (stars[0][0], stars[0][1], stars[0][2] * 1.8)  # the moon
    vortices = [
        (rng.uniform(0.15, 0.85) * w, rng.uniform(0.15, 0.5) * h, rng.uniform(30, 70))
        for _ in range(int(rng.integers(1, 4)))
    ]
    for cx, cy, r in vortices + [(sx, sy, sr * 2.2) for sx, sy, sr in stars]:
        dx, dy = xx - cx, yy - cy
        dist = np.sqrt(dx * dx + dy * dy) + 1e-6
        fall = np.exp(-dist / r) * 3.0
        vx += -dy / dist * fall
        vy += dx / dist * fall
    ring = np.zeros((h, w))
    for sx, sy, sr in stars:
        dist = np.sqrt((xx - sx) ** 2 + (yy - sy) ** 2)
        sky = region == 0
        region[sky & (dist < sr * 2.2)] = 1
        ring = np.where(dist < sr * 2.2, (dist / (sr * 0.55)).astype(np.int64) % 2, ring)
    if rng.random() < 0.75:  # a cypress flame
        tx = rng.uniform(0.1, 0.9) * w
        top = h * rng.uniform(0.05, 0.3)
        frac = np.clip((yy - top) / (h - top), 0, 1)
        half = 4 + 14 * np.sqrt(frac) * (1.2 - frac) + 3 * np.sin(yy / 6.0)
        tree = (yy > top) & (np.abs(xx - tx) < half)
        region[tree] = 3
        vx = np.where(tree, 0.15 * np.sin(yy / 9.0), vx)
        vy = np.where(tree, 1.0, vy)
    hill = region == 2
    vy = np.where(hill, 0.12 * np.sin(xx / 14.0), vy)
    vx = np.where(hill, 1.0, vx)
    norm = np.sqrt(vx * vx + vy * vy) + 1e-9
    vx, vy = vx / norm, vy / norm
    under = SWIRL_SKY[0] * np.ones((h, w, 3))
    under[region == 1] = SWIRL_STAR[0]
    under[region == 2] = SWIRL_HILL[0]
    under[region == 3] = SWIRL_TREE[0]
    img = to_img(under)
    d = ImageDraw.Draw(img)
    step = 4.0
    gy, gx = np.mgrid[0 : h + step : step, 0 : w + step : step]
    starts = np.stack([gx.ravel(), gy.ravel()], axis=1) + rng.uniform(-2, 2, (gy.size, 2))
    starts = starts[rng.permutation(len(starts))]
    n = len(starts)
    lens = rng.integers(4, 10, n)
    picks = rng.random((n, 2))
    ix = np.clip(starts[:, 0], 0, w - 1).astype(np.int64)
    iy = np.clip(starts[:, 1], 0, h - 1).astype(np.int64)
    reg = region[iy, ix]
    tone = np.minimum((picks[:, 0] * 3).astype(np.int64), 2)
    cols = SWIRL_SKY[np.minimum((picks[:, 0] * 4.6).astype(np.int64), 4)]
    star_col = np.where(
        ((ring[iy, ix] == 0) | (picks[:, 1] < 0.3))[:, None], SWIRL_STAR[tone], SWIRL_SKY[3]
    )
    cols = np.where((reg == 1)[:, None], star_col, cols)
    cols = np.where((reg == 2)[:, None], SWIRL_HILL[tone], cols)
    cols = np.where((reg == 3)[:, None], SWIRL_TREE[tone], cols)
    path = np.zeros((n, int(lens.max()) + 1, 2))
    x, y = starts[:, 0].copy(), starts[:, 1].copy()
    path[:, 0, 0], path[:, 0, 1] = x, y
    for s in range(1, path.shape[1]):
        jx = np.clip(x, 0, w - 1).astype(np.int64)
        jy = np.clip(y, 0, h - 1).astype(np.int64)
        x, y = x + 2.4 * vx[jy, jx], y + 2.4 * vy[jy, jx]
        path[:, s, 0], path[:, s, 1] = x, y
    dark = to_u8(cols * 0.45).tolist()
    mid = to_u8(cols).tolist()
    light = to_u8(cols * 0.6 + 0.4).tolist()
    for i in range(n):
        pts = path[i, : lens[i] + 1]
        shadow = [tuple(q) for q in (pts + 1.0).tolist()]
        d.line(shadow, fill=tuple(dark[i]), width=5, joint="curve")
        d.line([tuple(q) for q in pts.tolist()], fill=tuple(mid[i]), width=4, joint="curve")
        d.line([tuple(q) for q in (pts - 0.8).tolist()], fill=tuple(light[i]), width=1)
    return img


PIGMENTS = np.array(
    [
        [0.82, 0.30, 0.42],  # rose madder
        [0.36, 0.56, 0.26],  # sap green
        [0.86, 0.64, 0.24],  # yellow ochre
        [0.24, 0.32, 0.68],  # ultramarine
        [0.64, 0.34, 0.20],  # burnt sienna
        [0.54, 0.32, 0.62],  # violet
        [0.20, 0.52, 0.56],  # viridian
    ]
)


def paint_wash(rng: Rng, w: int, h: int) -> Image.Image:
    """Watercolour: transparent glazes with dark dried edges and granulation on grainy paper."""
    yy, xx = np.indices((h, w), dtype=np.float64)
    grain = 0.6 * value_noise(rng, h, w, 1.7) + 0.4 * value_noise(rng, h, w, 4.0)
    out = np.array([0.97, 0.955, 0.915]) * (0.94 + 0.08 * grain)[..., None]
    blotch = value_noise(rng, h, w, 24.0)

    def glaze(mask: np.ndarray, pigment: np.ndarray, strength: float) -> None:
        nonlocal out
        m = blur(mask, rng.uniform(1.2, 2.5))
        edge = np.clip(m - blur(m, 4.0), 0, 1)
        dens = strength * (0.5 * m + 2.2 * edge) * (0.65 + 0.7 * grain) * (0.7 + 0.6 * blotch)
        out = out * (1.0 - np.clip(dens, 0, 1)[..., None] * (1.0 - pigment))

    sky = PIGMENTS[int(rng.choice([3, 6, 5]))]
    edge_y = h * rng.uniform(0.25, 0.5) + 10 * np.sin(xx / rng.uniform(15, 40))
    glaze((yy < edge_y) * np.clip(1.2 - yy / (h * 0.5), 0, 1), sky, 0.45)
    if rng.random() < 0.6:  # flowers
        ground_y = h * rng.uniform(0.7, 0.85) + 6 * np.sin(xx / rng.uniform(10, 30))
        glaze((yy > ground_y).astype(np.float64), PIGMENTS[int(rng.choice([1, 2, 6]))], 0.5)
        for _ in range(int(rng.integers(2, 6))):
            cx, cy = rng.uniform(0.15, 0.85) * w, rng.uniform(0.2, 0.65) * h
            r = rng.uniform(16, 34)
            leaf = PIGMENTS[int(rng.choice([1, 6]))]
            bend = rng.uniform(-30, 30)

            stem = [(cx, cy), (cx + bend * 0.3, (cy + h) / 2), (cx + bend, float(h))]
            glaze(line_mask(w, h, stem, 3), leaf, 0.9)
            for _ in range(int(rng.integers(1, 3))):
                lx, ly = cx + bend * 0.2 + rng.uniform(-20, 20), rng.uniform(cy + r, h - 10)
                poly = blob_polygon(rng, lx, ly, rng.uniform(12, 22), 6, rng.uniform(-0.8, 0.8))
                glaze(poly_mask(w, h, poly), leaf, 0.8)
            petal = PIGMENTS[int(rng.choice([0, 5, 2, 0]))]
            k = int(rng.integers(5, 8))
            a0 = rng.uniform(0, 2 * math.pi)
            for j in range(k):
                a = a0 + j * 2 * math.pi / k
                px, py = cx + math.cos(a) * r * 0.6, cy + math.sin(a) * r * 0.6
                poly = blob_polygon(rng, px, py, r * 0.55, r * 0.3, a, wobble=0.3)
                glaze(poly_mask(w, h, poly), petal, 0.75)
            glaze(disc_mask(w, h, cx, cy, 5), PIGMENTS[4], 0.9)
    else:  # hills and trees
        for i in range(int(rng.integers(2, 4))):
            ridge = h * (0.45 + 0.15 * i) - fbm1d(rng, w, cell=70.0) * h * 0.2
            pigment = PIGMENTS[int(rng.choice([1, 2, 6, 4]))]
            glaze((yy > ridge[None, :]).astype(np.float64), pigment, 0.55)
        for _ in range(int(rng.integers(1, 4))):
            tx, ty = rng.uniform(0.1, 0.9) * w, rng.uniform(0.5, 0.8) * h
            poly = blob_polygon(rng, tx, ty - 20, rng.uniform(12, 20), rng.uniform(18, 28))
            glaze(poly_mask(w, h, poly), PIGMENTS[1], 0.8)
    for _ in range(int(rng.integers(3, 9))):  # splatter
        sx, sy, sr = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(1.5, 3.5)
        glaze(disc_mask(w, h, sx, sy, sr), PIGMENTS[int(rng.integers(len(PIGMENTS)))], 0.8)
    return to_img(out)


# --------------------------------------------------------------------------------------------
# the artists
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Artist:
    name: str  # folder name and file prefix
    key: int  # seed namespace
    paint: Painter
    fmt: str  # "png" | "jpg" | "webp"


ARTISTS = [
    Artist("ana_pastel", 11, paint_pastel, "jpg"),
    Artist("otto_blocks", 12, paint_blocks, "png"),
    Artist("水墨山人", 13, paint_ink, "png"),
    Artist("pip_dots", 14, paint_dots, "jpg"),
    Artist("neon_kai", 15, paint_neon, "webp"),
    Artist("bit_bram", 16, paint_pixels, "png"),
    Artist("vera_swirl", 17, paint_swirl, "jpg"),
    Artist("lena_wash", 18, paint_wash, "jpg"),
]


def work_size(n: int) -> tuple[int, int]:
    return ODD_SIZES.get(n, SQUARE)


def render(artist: Artist, seed: int, size: tuple[int, int]) -> Image.Image:
    rng = np.random.default_rng([artist.key, seed])
    return artist.paint(rng, size[0], size[1]).convert("RGB")


def encode(img: Image.Image, fmt: str, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    if fmt == "jpg":
        img.save(buf, "JPEG", quality=quality, subsampling=2, optimize=False, progressive=False)
    elif fmt == "png":
        img.save(buf, "PNG", compress_level=9, optimize=False)
    elif fmt == "webp":
        img.save(buf, "WEBP", quality=85, method=4, lossless=False)
    else:
        raise ValueError(fmt)
    return buf.getvalue()


def decode(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as im:
        return im.convert("RGB")


# --------------------------------------------------------------------------------------------
# unrelated images
# --------------------------------------------------------------------------------------------


def unrelated_photo(rng: Rng) -> Image.Image:
    """A smooth, photo-like landscape: gradient sky, hazy hills, a lake and sensor noise."""
    w, h = 256, 192
    yy, xx = np.indices((h, w), dtype=np.float64)
    hz = h * 0.55
    t = np.clip(yy / hz, 0, 1)[..., None]
    out = np.array([0.35, 0.55, 0.85]) * (1 - t) + np.array([0.93, 0.85, 0.75]) * t
    for i, col in enumerate([[0.55, 0.62, 0.72], [0.38, 0.50, 0.42], [0.22, 0.38, 0.20]]):
        ridge = hz - (0.28 - 0.09 * i) * h * fbm1d(rng, w, cell=90.0, octaves=6) + 8 * i
        m = np.clip((yy - ridge[None, :]) / 1.5, 0, 1)[..., None]
        shade = (0.85 + 0.3 * fbm2d(rng, h, w, 40.0, 5))[..., None]
        out = out * (1 - m) + np.array(col) * shade * m
    lake = yy > h * 0.78
    out[lake] = 0.5 * out[(2 * int(h * 0.78) - yy[lake]).astype(np.int64), xx[lake].astype(int)]
    out[lake] += np.array([0.05, 0.1, 0.18])
    out = blur(out, 0.8) + rng.normal(0, 0.012, out.shape)
    return to_img(out)


WORDS = [
    "the", "of", "and", "to", "in", "is", "that", "for", "on", "with", "as", "by", "this",
    "be", "are", "from", "at", "or", "an", "was", "which", "report", "section", "results",
    "method", "data", "figure", "table", "value", "sample", "image", "analysis", "total",
    "page", "notes",
]  # fmt: skip


def unrelated_document(rng: Rng) -> Image.Image:
    """A plain text page: heading, paragraphs, a rule and a small table, in the default font."""
    w, h = 224, 300
    img = Image.new("RGB", (w, h), (252, 252, 250))
    d = ImageDraw.Draw(img)
    loader = getattr(ImageFont, "load_default_imagefont", ImageFont.load_default)
    font = loader()
    d.text((14, 12), "QUARTERLY REPORT  No. 7", fill=(10, 10, 10), font=font)
    d.line([(14, 26), (w - 14, 26)], fill=(40, 40, 40), width=1)
    y = 34
    for para in range(3):
        for line in range(int(rng.integers(3, 5))):
            words, x = [], 0
            while True:
                wd = str(WORDS[int(rng.integers(len(WORDS)))])
                if x + 6 * (len(wd) + 1) > w - 28:
                    break
                words.append(wd)
                x += 6 * (len(wd) + 1)
            if line == 0 and para:
                words[0] = words[0].capitalize()
            d.text((14, y), " ".join(words), fill=(30, 30, 30), font=font)
            y += 12
        y += 8
    top = y + 4
    for r in range(5):
        for c in range(3):
            x0, y0 = 14 + c * 64, top + r * 14
            d.rectangle((x0, y0, x0 + 64, y0 + 14), outline=(60, 60, 60))
            txt = ("Item", "Qty", "Cost")[c] if r == 0 else str(int(rng.integers(1, 999)))
            d.text((x0 + 4, y0 + 2), txt, fill=(20, 20, 20), font=font)
    d.text((w // 2 - 12, h - 16), "- 3 -", fill=(90, 90, 90), font=font)
    return img


def unrelated_noise(rng: Rng) -> Image.Image:
    """A coloured fractal noise texture."""
    w = h = 256
    chans = [fbm2d(rng, h, w, 48.0, 6) for _ in range(3)]
    out = np.stack(chans, axis=-1)
    out = (out - out.mean()) * 2.2 + 0.5 + rng.normal(0, 0.02, out.shape)
    return to_img(out)


def unrelated_chart(rng: Rng) -> Image.Image:
    """A colour-checker calibration chart with a grey ramp and a checkerboard strip."""
    w, h = 256, 192
    img = Image.new("RGB", (w, h), (52, 52, 52))
    d = ImageDraw.Draw(img)
    patches = [
        (115, 82, 68), (194, 150, 130), (98, 122, 157), (87, 108, 67), (133, 128, 177),
        (103, 189, 170), (214, 126, 44), (80, 91, 166), (193, 90, 99), (94, 60, 108),
        (157, 188, 64), (224, 163, 46), (56, 61, 150), (70, 148, 73), (175, 54, 60),
        (231, 199, 31), (187, 86, 149), (8, 133, 161), (243, 243, 242), (200, 200, 200),
        (160, 160, 160), (122, 122, 121), (85, 85, 85), (52, 52, 52),
    ]  # fmt: skip
    for i, col in enumerate(patches):
        r, c = divmod(i, 6)
        x0, y0 = 10 + c * 40, 8 + r * 34
        d.rectangle((x0, y0, x0 + 34, y0 + 28), fill=col)
    sq = 8
    for k in range(int(w / sq)):
        for j in range(3):
            if (k + j) % 2 == 0:
                d.rectangle(
                    (k * sq, 150 + j * sq, k * sq + sq - 1, 150 + j * sq + sq - 1),
                    fill=(250, 250, 250),
                )
    for k in range(16):
        v = round(k * 255 / 15)
        d.rectangle((k * 16, 176, k * 16 + 15, h), fill=(v, v, v))
    _ = rng  # the chart is fixed; keep the common signature
    return img


# --------------------------------------------------------------------------------------------
# suspects
# --------------------------------------------------------------------------------------------

IMITATION_SEEDS = (1001, 1002)
COPIES = [  # (kind, artist, work number)
    ("copy-crop", "ana_pastel", 3),
    ("copy-jpeg", "水墨山人", 5),
    ("copy-recolour", "otto_blocks", 7),
    ("copy-flip", "vera_swirl", 2),
    ("copy-resize", "neon_kai", 6),
]
UNRELATED: list[Callable[[Rng], Image.Image]] = [
    unrelated_photo,
    unrelated_document,
    unrelated_noise,
    unrelated_chart,
]


def edit_copy(kind: str, img: Image.Image) -> Image.Image:
    w, h = img.size
    if kind == "copy-crop":
        cw, ch = round(w * 0.6), round(h * 0.6)
        left, top = (w - cw) // 2, (h - ch) // 2
        return img.crop((left, top, left + cw, top + ch))
    if kind == "copy-jpeg":
        return img  # re-encoded at quality 35 when written
    if kind == "copy-recolour":
        hue, sat, val = img.convert("HSV").split()
        hue = hue.point(lambda v: (v + 96) % 256)
        return Image.merge("HSV", (hue, sat, val)).convert("RGB")
    if kind == "copy-flip":
        return img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    if kind == "copy-resize":
        return img.resize((w // 2, h // 2), Image.Resampling.LANCZOS)
    raise ValueError(kind)


def work_name(artist: Artist, n: int) -> str:
    return f"{artist.name}_{n:02d}.{artist.fmt}"


def generate(out_dir: Path) -> None:
    """Write ``artists/``, ``suspects/`` and ``suspects.csv`` under ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for sub in ("artists", "suspects"):
        if (out_dir / sub).exists():
            shutil.rmtree(out_dir / sub)
    stored: dict[str, bytes] = {}
    for artist in ARTISTS:
        folder = out_dir / "artists" / artist.name
        folder.mkdir(parents=True)
        for n in range(1, N_WORKS + 1):
            data = encode(render(artist, n, work_size(n)), artist.fmt)
            (folder / work_name(artist, n)).write_bytes(data)
            stored[f"artists/{artist.name}/{work_name(artist, n)}"] = data

    # (image, kind, artist, source, forced format)
    entries: list[tuple[Image.Image, str, str, str, str | None]] = []
    for artist in ARTISTS:
        for seed in IMITATION_SEEDS:
            entries.append((render(artist, seed, SQUARE), "imitation", artist.name, "", None))
    by_name = {a.name: a for a in ARTISTS}
    for kind, name, n in COPIES:
        source = f"artists/{name}/{work_name(by_name[name], n)}"
        img = edit_copy(kind, decode(stored[source]))
        entries.append((img, kind, name, source, "jpg" if kind == "copy-jpeg" else None))
    for i, make in enumerate(UNRELATED):
        entries.append((make(np.random.default_rng([99, i])), "unrelated", "", "", None))

    rng = np.random.default_rng(20240601)
    order = rng.permutation(len(entries))
    fmts = rng.choice(["jpg", "png", "webp", "jpg"], size=len(entries))
    (out_dir / "suspects").mkdir()
    rows = []
    for num, idx in enumerate(order, start=1):
        img, kind, name, source, forced = entries[int(idx)]
        fmt = forced or str(fmts[num - 1])
        data = encode(img, fmt, quality=35 if kind == "copy-jpeg" else 90)
        if len(data) > MAX_BYTES:
            fmt = "jpg"
            data = encode(img, fmt)
        fname = f"suspects/suspect_{num:02d}.{fmt}"
        (out_dir / fname).write_bytes(data)
        rows.append((fname, kind, name, source))
    with open(out_dir / "suspects.csv", "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["file", "kind", "artist", "source"])
        writer.writerows(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE, help="output folder (default: seeds/)")
    args = parser.parse_args()
    generate(args.out)
    print(f"wrote demo corpus to {args.out}")


if __name__ == "__main__":
    main()
