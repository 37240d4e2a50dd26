"""How channel-correlation blocks (effnet-style descriptor v2, the default since) were chosen.

    simdetect eval --imitations ../shared/corpora/sd15-styles/imitations \
        --reference ../shared/corpora/sd15-styles/reference --index IDX \
        --held-out-fraction 0.5 --seed 0 --out /tmp/imit-s0        # cuts and caches tiles
    python scripts/explore_correlation.py /tmp/imit-s0/tiles IDX --cache /tmp/correlation

(IDX: an index built with descriptor v1, whose stored vectors the v2 statistics block is
checked against; BENCHMARKS.md's figures came from one.)

v1 describes each Lite0 stage by per-channel means and standard deviations: how strongly
each filter fires, not which filters fire *together*. The second is what style transfer
matches (Gatys' Gram matrices): brush texture and the pairing of colour with stroke live
there. `EffnetStyleConfig(correlation_stages=...)` appends, per stage, the channel
correlation matrix (upper triangle) reduced by a fixed SHAKE-256 sign projection, in the
same forward pass. This script embeds the index's works (from the paths the index
recorded) and the sd15-styles tiles with stages 2-5 (cached under --cache), checks that
the vector's statistics block is the index's stored v1 vector, and prints for v1 and for
the correlation descriptor (correlation weight 0.25 as embedded; 0.1 and 0.5 derived from
the same blocks, which are stored unit-normalised; 0.5 for the CSD protocol only):

1. the CSD protocol on best-artworks-128 (seeds 0 and 1, the space fitted on the database
   works only) in the shipped whitening and with the 48-direction LDA block of
   `explore_two_block.py` (lam = 0.5), plain and with CSLS (k = 15), as mAP@1 / Recall@10;
2. paintings as `scan` judges them without a reference (`evaluate_attribution`, what
   `simdetect eval ROOT` prints as "attribution"), seeds 0 and 1;
3. the sd15-styles imitation figures with a reference, shipped scorer (reference splits
   seeds 0 and 1; the whole reference leave-one-file-out); then without a reference, as
   `scan` with the index null answers: the imitations, the 800 reference outputs (pairs
   decided at 1%, flagged at 5% family-wise) and leave-artists-out on best-artworks-128;
4. the cost: dimension, and embedding milliseconds per image (forward and descriptor).

With `--index-path-lda` it prints instead, after the cost, what the index path (no
reference) answers when artists are scored in the whitening + LDA block space; with
`--more-seeds`, the CSD protocol of v1 and the correlations on splits 2, 3 and 4.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from explore_two_block import TwoBlock, csd_figures, normalised
from grid_imitation_params import TilePaths, reembed_inputs_from_arguments, split_figures
from index_path_weights import false_flags_without_reference, line, no_reference
from PIL import Image

from simdetect.backbones.effnet import EFFNET_STYLE_V1, EffnetStyleBackbone, EffnetStyleConfig
from simdetect.evaluation.attribution import evaluate_attribution, judged_figures
from simdetect.evaluation.imitations import (
    evaluate_imitations,
    evaluate_leave_artists_out,
    figures_line,
)
from simdetect.evaluation.retrieval import split_queries
from simdetect.scoring.aggregate import ArtistTable
from simdetect.scoring.imitation import ImitationParams, ImitationScorer

CORRELATED = EffnetStyleConfig()  # v2: correlation stages (2, 3, 4, 5), weight 0.25
BATCH = 32
LAM = 0.5


def embedded(backbone: EffnetStyleBackbone, paths: list[Path]) -> tuple[np.ndarray, float]:
    """Vectors as `backbone.embed` makes them, and its seconds per image."""
    out, spent = [], 0.0
    for start in range(0, len(paths), BATCH):
        batch = torch.stack(
            [backbone.preprocess(Image.open(p)) for p in paths[start : start + BATCH]]
        )
        began = time.perf_counter()
        out.append(backbone.embed(batch))
        spent += time.perf_counter() - began
    return np.concatenate(out), spent / len(paths)


def cached(
    cache: Path, label: str, backbone: EffnetStyleBackbone, paths: list[Path]
) -> tuple[np.ndarray, float]:
    file = cache / f"{label}.npz"
    if file.exists():
        with np.load(file) as data:
            if len(data["vectors"]) == len(paths):
                return data["vectors"], float(data["seconds"])
    vectors, seconds = embedded(backbone, paths)
    cache.mkdir(parents=True, exist_ok=True)
    np.savez(file, vectors=vectors, seconds=seconds)
    return vectors, seconds


def reweighted(
    v: np.ndarray, embedded_weight: float, weight: float, statistics_dim: int
) -> np.ndarray:
    """The same blocks with the correlations' share of the squared norm set to `weight`."""
    stats = v[:, :statistics_dim] * np.sqrt(1.0 + embedded_weight)
    corr = v[:, statistics_dim:] * np.sqrt((1.0 + embedded_weight) / embedded_weight)
    return normalised(np.hstack([stats, np.sqrt(weight) * corr]).astype(np.float64))


def csd_report(v: np.ndarray, table: ArtistTable, seeds: tuple[int, ...]) -> None:
    for lam in (0.0, LAM):
        space = "whitening" if not lam else "+ LDA block"
        cols = [f"s{seed} {csd_figures(v, table.codes, seed, lam)}" for seed in seeds]
        print(f"  CSD {space}: {' | '.join(cols)}", flush=True)


def report(
    name: str, v: np.ndarray, x: np.ndarray, table: ArtistTable, tiles: TilePaths, full: bool
) -> None:
    print(f"{name} (dim {v.shape[1]})", flush=True)
    csd_report(v, table, (0, 1))
    if not full:
        return
    for seed in (0, 1):
        f = evaluate_attribution(v, table, seed=seed).figures
        print(
            f"  attribution s{seed}: " + ", ".join(f"{k} {x:.1f}" for k, x in f.items()), flush=True
        )
    n = len(tiles.imitations)
    scorer = ImitationScorer(v, table, ImitationParams())
    split = split_figures(scorer, x[:n], tiles.truth, x[n:], tiles.groups)
    whole = evaluate_imitations(scorer, x[:n], tiles.truth, x[n:], tiles.groups).figures
    print(
        f"  imitations: s0 {split[0]} | s1 {split[1]} | leave-one-file-out {figures_line(whole)}",
        flush=True,
    )
    # Open-world honesty without a reference: what `scan` with the index null answers.
    truth = np.array([table.names.index(t) for t in tiles.truth])
    decided, flagged = false_flags_without_reference(scorer, x[n:])
    lao = evaluate_leave_artists_out(v, [table.names[c] for c in table.codes], ImitationParams())
    print(
        f"  without a reference: imitations {line(no_reference(scorer, x[:n], truth))}; "
        f"{len(x) - n} reference outputs: pairs decided {decided:.2f}%, flagged "
        f"{flagged:.1f}%; leave-artists-out: pairs decided "
        f"{lao.pairs_decided:.2f}%, works flagged {lao.works_flagged:.2f}%",
        flush=True,
    )


def index_path_with_lda_block(
    name: str, v: np.ndarray, x: np.ndarray, table: ArtistTable, tiles: TilePaths
) -> None:
    """Without a reference, artists scored in the whitening + LDA block space instead of the
    whitening alone: does the block that ranks works better also judge artists better?"""
    paintings = []
    for seed in (0, 1):
        queries = split_queries(table.codes, 0.2, seed)
        names = [table.names[c] for c in table.codes[~queries]]
        db = ArtistTable.build(names, ["artist"] * len(names))
        truth = np.array([db.names.index(table.names[c]) for c in table.codes[queries]])
        disc = TwoBlock(v[~queries], db.codes, LAM)
        scorer = ImitationScorer(v[~queries], db, ImitationParams(), discriminant=disc)
        null = scorer.index_null()
        s = scorer.scores(v[queries], population=null.population)
        paintings.append(line(judged_figures(s, null, truth, 0.01, 0.05)[0]))
    n = len(tiles.imitations)
    disc = TwoBlock(v, table.codes, LAM)
    scorer = ImitationScorer(v, table, ImitationParams(), discriminant=disc)
    truth = np.array([table.names.index(t) for t in tiles.truth])
    decided, flagged = false_flags_without_reference(scorer, x[n:])
    print(
        f"{name}, index path in the + LDA block space: paintings s0 {paintings[0]} | s1 "
        f"{paintings[1]} | sd15 without a reference {line(no_reference(scorer, x[:n], truth))} "
        f"| {len(x) - n} reference outputs: pairs decided {decided:.2f}%, flagged {flagged:.1f}%",
        flush=True,
    )


def main() -> None:
    inputs = reembed_inputs_from_arguments(("--index-path-lda", "--more-seeds"))
    torch.set_num_threads(2)
    snap, table, works, tiles = inputs.snapshot, inputs.table, inputs.works, inputs.tiles

    backbone = EffnetStyleBackbone(CORRELATED)
    v2, per_work = cached(inputs.cache, "works", backbone, works)
    x2, _ = cached(inputs.cache, "tiles", backbone, tiles.imitations + tiles.reference)
    v1_backbone = EffnetStyleBackbone(EFFNET_STYLE_V1)
    sample = works[: 8 * BATCH]
    for warm_up in (v1_backbone, backbone):
        embedded(warm_up, sample[:BATCH])
    times: dict[str, list[float]] = {"v1": [], "with correlations": []}
    for _ in range(3):  # interleaved, so that a slow spell of the machine hits both
        times["v1"].append(embedded(v1_backbone, sample)[1])
        times["with correlations"].append(embedded(backbone, sample)[1])
    print(
        f"embedding per image ({len(sample)} works, batch {BATCH}, best of 3): "
        + ", ".join(f"{k} {1000 * min(t):.1f} ms" for k, t in times.items())
        + f" (the first pass over all works: {1000 * per_work:.1f} ms)"
    )

    sd = CORRELATED.statistics_dim
    w = CORRELATED.correlation_weight
    stored = snap.vectors().astype(np.float64)
    block = v2[:, :sd] * np.sqrt(1.0 + w)
    print(
        "check: statistics block vs the index's vectors, largest difference "
        f"{np.abs(stored - block).max():.1e}"
    )

    v1 = normalised(v2[:, :sd].astype(np.float64))
    x1 = normalised(x2[:, :sd].astype(np.float64))
    corr_v, corr_x = v2.astype(np.float64), x2.astype(np.float64)
    if "--more-seeds" in inputs.flags:  # the CSD protocol on splits nothing was chosen on
        for name, v in (("v1", v1), (f"with correlations, weight {w:g}", corr_v)):
            print(name, flush=True)
            csd_report(v, table, (2, 3, 4))
        return
    if "--index-path-lda" in inputs.flags:
        index_path_with_lda_block("v1", v1, x1, table, tiles)
        index_path_with_lda_block(f"correlations {w:g}", corr_v, corr_x, table, tiles)
        return
    report("v1 (statistics block)", v1, x1, table, tiles, full=True)
    report(f"with correlations, weight {w:g}", corr_v, corr_x, table, tiles, full=True)
    for weight in (0.1, 0.5):
        report(
            f"with correlations, weight {weight:g}",
            reweighted(v2, w, weight, sd),
            reweighted(x2, w, weight, sd),
            table,
            tiles,
            full=weight < w,
        )


if __name__ == "__main__":
    main()
