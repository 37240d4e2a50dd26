"""Cut generator contact sheets (grids of separate images) into one file per image.

Public style cheat sheets, and `sd15-styles` in particular, ship each prompt's outputs
as one file holding a grid of independent images (sd15-styles: 2×2 of 512×512). Scoring
the sheet as one image would mix four pictures into one style vector, so evaluation
cuts them first. Tiles are written as lossless PNG so that scanning a tile with
`simdetect scan` gives exactly the vector the evaluation used.

Default split (documented in README and BENCHMARKS): 2 rows × 2 columns, tiles numbered
row-major, `q0` top-left, `q1` top-right, `q2` bottom-left, `q3` bottom-right. For
sd15-styles that is `style of X`, `… woman`, `… <a fixed actor>` (the same face for every
painter) and `… city/landscape`.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from simdetect.io.atomic import atomic_write_bytes
from simdetect.io.images import ImageLoadError, LoadLimits, load_image
from simdetect.io.walk import iter_image_files

DEFAULT_GRID = (2, 2)


@dataclass(frozen=True)
class Tile:
    """One cut image: where it came from and which cell it was."""

    path: Path
    source: Path
    label: str | None  # first folder under the root (the artist for imitations), if any
    cell: int


def parse_grid(text: str) -> tuple[int, int]:
    """`"2x2"` → (2, 2); `"1x1"` means the files are single images."""
    parts = text.lower().replace("×", "x").split("x")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise ValueError(f"grid must look like ROWSxCOLS (for example 2x2), got {text!r}")
    rows, cols = int(parts[0]), int(parts[1])
    if not (1 <= rows <= 16 and 1 <= cols <= 16):
        raise ValueError(f"grid rows and columns must be between 1 and 16, got {text!r}")
    return rows, cols


def split_grid(image: Image.Image, rows: int, cols: int) -> list[Image.Image]:
    """Row-major cells; integer boundaries so every pixel lands in exactly one cell."""
    w, h = image.size
    xs = [round(c * w / cols) for c in range(cols + 1)]
    ys = [round(r * h / rows) for r in range(rows + 1)]
    return [
        image.crop((xs[c], ys[r], xs[c + 1], ys[r + 1])) for r in range(rows) for c in range(cols)
    ]


def _png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG", optimize=False)
    return buf.getvalue()


def cut_tree(
    root: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    grid: tuple[int, int] = DEFAULT_GRID,
    limits: LoadLimits | None = None,
) -> list[Tile]:
    """Cut every image under `root` into `out_dir`, mirroring the folder layout.

    Existing tiles are rewritten only when missing, so a cache folder can be reused.
    A file that cannot be decoded raises ImageLoadError naming it: an evaluation that
    silently dropped suspects would report figures on a different set.
    """
    root_path, out_path = Path(root), Path(out_dir)
    rows, cols = grid
    tiles: list[Tile] = []
    for src in iter_image_files(root_path):
        rel = src.relative_to(root_path) if src != root_path else Path(src.name)
        label = rel.parts[0] if len(rel.parts) > 1 else None
        targets = [out_path / rel.parent / f"{rel.stem}.q{i}.png" for i in range(rows * cols)]
        if not all(t.is_file() for t in targets):
            try:
                loaded = load_image(src, limits or LoadLimits())
            except ImageLoadError:
                raise
            cells = split_grid(loaded.image, rows, cols)
            for target, cell in zip(targets, cells, strict=True):
                target.parent.mkdir(parents=True, exist_ok=True)
                atomic_write_bytes(target, _png(cell))
        tiles.extend(Tile(path=t, source=src, label=label, cell=i) for i, t in enumerate(targets))
    return tiles
