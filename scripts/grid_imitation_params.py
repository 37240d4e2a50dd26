"""The imitation score's knobs on sd15-styles, on vectors already cached by `simdetect eval`.

    simdetect eval --imitations ../shared/corpora/sd15-styles/imitations \
        --reference ../shared/corpora/sd15-styles/reference --index IDX \
        --held-out-fraction 0.5 --seed 0 --out /tmp/imit-s0        # embeds and caches tiles
    python scripts/grid_imitation_params.py /tmp/imit-s0/tiles IDX

Each row: one `ImitationParams` setting, both reference splits (seeds 0 and 1, split by
source file exactly as `simdetect eval --held-out-fraction 0.5` splits), printed as
top-1 / top-5 / true artist decided @ held-out pairs decided / true artist flagged @
held-out images flagged (percent).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from simdetect.evaluation.imitations import evaluate_imitations, figures_line, held_out_mask
from simdetect.index.store import IndexSnapshot, open_index
from simdetect.io.hashing import sha256_bytes
from simdetect.scoring.aggregate import ArtistTable
from simdetect.scoring.imitation import ImitationParams, ImitationScorer

GRID = [
    # before standardisation and pooled tails (the previous defaults)
    ImitationParams(standardise=False, tail_fraction=None, null_folds=None),
    ImitationParams(standardise=True, tail_fraction=None, null_folds=None),
    ImitationParams(standardise=False, tail_fraction=0.1, null_folds=None),
    ImitationParams(standardise=True, tail_fraction=0.1, null_folds=None),
    ImitationParams(),  # shipped: standardise=True, tail_fraction=0.1, null_folds=10
    ImitationParams(null_folds=5),
    ImitationParams(null_folds=20),
    ImitationParams(tail_fraction=0.05),
    ImitationParams(tail_fraction=0.2),
    ImitationParams(coral_rank=64),
    ImitationParams(coral_rank=128),
    ImitationParams(coral_rank=512),
    ImitationParams(coral_rank=None),
    ImitationParams(centroid_weight=0.5),
    ImitationParams(shrinkage=0.3),
]


@dataclass
class TilePaths:
    """The tiles `simdetect eval --imitations` cut: imitations in a folder per artist,
    reference tiles named after their source grid (`NAME.q0.png` ... `NAME.q3.png`)."""

    imitations: list[Path]
    reference: list[Path]

    @classmethod
    def under(cls, tiles: Path) -> TilePaths:
        return cls(
            sorted((tiles / "imitations").rglob("*.png")),
            sorted((tiles / "reference").rglob("*.png")),
        )

    @property
    def truth(self) -> list[str]:
        return [p.parent.name for p in self.imitations]

    @property
    def groups(self) -> np.ndarray:
        """Each reference tile's source grid (split and held out together)."""
        return np.array([p.name.rsplit(".q", 1)[0] for p in self.reference])


def _stored(paths: list[Path], store: dict[str, np.ndarray]) -> np.ndarray:
    return np.stack([store[sha256_bytes(p.read_bytes())] for p in paths]).astype(np.float64)


@dataclass
class Inputs:
    """The cached tile vectors and the index, as `simdetect eval --imitations` left them."""

    x_imi: np.ndarray
    truth: list[str]
    x_ref: np.ndarray
    groups: np.ndarray  # each reference tile's source grid
    table: ArtistTable
    vectors: np.ndarray  # the index's


def load_inputs(tiles: Path, index: Path) -> Inputs:
    with np.load(tiles / "vectors.npz") as data:
        store = dict(zip(data["sha256"].tolist(), data["vectors"], strict=True))
    paths = TilePaths.under(tiles)
    snap = open_index(index)
    meta = snap.metadata
    return Inputs(
        x_imi=_stored(paths.imitations, store),
        truth=paths.truth,
        x_ref=_stored(paths.reference, store),
        groups=paths.groups,
        table=ArtistTable.build(meta["artist"].tolist(), meta["role"].tolist()),
        vectors=snap.vectors().astype(np.float64),
    )


def split_figures(
    scorer: ImitationScorer,
    x_imi: np.ndarray,
    truth: list[str],
    x_ref: np.ndarray,
    groups: np.ndarray,
) -> list[str]:
    """`figures_line` for reference splits seeds 0 and 1, half the source files held out
    exactly as `simdetect eval --held-out-fraction 0.5` holds them out."""
    lines = []
    for seed in (0, 1):
        out = held_out_mask(groups, 0.5, seed)
        f = evaluate_imitations(
            scorer, x_imi, truth, x_ref[~out], groups[~out], held_out=x_ref[out]
        ).figures
        lines.append(figures_line(f))
    return lines


def inputs_from_arguments() -> Inputs:
    """`TILES INDEX` from the command line, loaded."""
    ap = argparse.ArgumentParser()
    ap.add_argument("tiles", type=Path)
    ap.add_argument("index", type=Path)
    args = ap.parse_known_args()[0]  # the calling script may read its own options
    return load_inputs(args.tiles, args.index)


@dataclass
class ReembedInputs:
    """What a script that re-embeds the index's works and the tiles starts from."""

    snapshot: IndexSnapshot
    table: ArtistTable
    works: list[Path]  # the paths the index recorded, in its order
    tiles: TilePaths
    cache: Path
    flags: set[str]  # the calling script's own switches that were given


def reembed_inputs_from_arguments(flags: tuple[str, ...] = ()) -> ReembedInputs:
    """`TILES INDEX --cache DIR` and the calling script's `flags` (switches) from the
    command line, opened; anything else is refused, as argparse refuses it."""
    ap = argparse.ArgumentParser()
    ap.add_argument("tiles", type=Path)
    ap.add_argument("index", type=Path)
    ap.add_argument("--cache", type=Path, required=True)
    for flag in flags:
        ap.add_argument(flag, action="store_true")
    args = ap.parse_args()
    snap = open_index(args.index)
    meta = snap.metadata
    return ReembedInputs(
        snapshot=snap,
        table=ArtistTable.build(meta["artist"].tolist(), meta["role"].tolist()),
        works=[Path(p) for p in meta["path"].tolist()],
        tiles=TilePaths.under(args.tiles),
        cache=args.cache,
        flags={f for f in flags if getattr(args, f.lstrip("-").replace("-", "_"))},
    )


def main() -> None:
    inputs = inputs_from_arguments()
    x_imi, truth, x_ref, groups = inputs.x_imi, inputs.truth, inputs.x_ref, inputs.groups
    table, vectors = inputs.table, inputs.vectors
    for params in GRID:
        scorer = ImitationScorer(vectors, table, params)
        cols = split_figures(scorer, x_imi, truth, x_ref, groups)
        knobs = (
            f"standardise={params.standardise} tail_fraction={params.tail_fraction} "
            f"null_folds={params.null_folds} "
            f"coral_rank={params.coral_rank} coral_shrinkage={params.coral_shrinkage} "
            f"shrinkage={params.shrinkage} centroid_weight={params.centroid_weight}"
        )
        print(f"{knobs} | {' | '.join(cols)}", flush=True)


if __name__ == "__main__":
    main()
