"""Explored, not shipped: the whitened space plus a 48-direction LDA block, on both questions.

    python scripts/explore_two_block.py /work/meas4/imit-s0/tiles /work/cache-11/ba128

The learned space `simdetect` ships is the regularised within-artist whitening
(`scoring.discriminant`, shrinkage 0.5). This script adds its top 48 between-artist
directions as a second, separately normalised block with weight `lam`, so that
cosine = whitened cosine + lam x LDA cosine (up to a constant), and prints

1. the CSD protocol on best-artworks-128 (queries 20% per artist, seeds 0 and 1; the
   projection fitted on the database works only), plain and with CSLS (k = 15), as
   mAP@1 / Recall@10;
2. the sd15-styles imitation figures with that space inside the shipped scorer (reference
   splits seeds 0 and 1), as top-1 / top-5 / decided @ pairs / flagged @ held-out flagged.

With `--expansion` it prints, instead of both, the CSD protocol with label-free database-
side augmentation (each database work replaced by itself plus its k nearest database
works, weighted by similarity cubed) and query expansion (the query plus its k nearest
augmented database works), for the whitening alone and with the LDA block (lam = 0.5).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from grid_imitation_params import load_inputs, split_figures

from simdetect.evaluation.metrics import average_precision_at_k, recall_at_k
from simdetect.evaluation.retrieval import _ranked_relevance, split_queries
from simdetect.index.store import open_index
from simdetect.scoring.aggregate import ArtistTable
from simdetect.scoring.discriminant import Discriminant, DiscriminantParams, fit_discriminant
from simdetect.scoring.hubness import csls, neighbourhood_radius
from simdetect.scoring.imitation import ImitationParams, ImitationScorer

LDA_DIM = 48


class TwoBlock(Discriminant):
    """The shipped whitening and an LDA block, each normalised, concatenated."""

    def __init__(self, vectors: np.ndarray, codes: np.ndarray, lam: float) -> None:
        w = fit_discriminant(vectors, codes, DiscriminantParams(shrinkage=0.5))
        super().__init__(w.params, w.mean, w.projection, w.n_works, w.n_artists)
        self.lda = fit_discriminant(vectors, codes, DiscriminantParams(shrinkage=0.5, dim=LDA_DIM))
        self.lam = lam

    def transform(self, vectors, centre=None, alignment=None):  # type: ignore[no-untyped-def]
        a = super().transform(vectors, centre, alignment)
        b = self.lda.transform(vectors, centre, alignment)
        z = np.hstack([a, np.sqrt(self.lam) * b])
        return z / np.linalg.norm(z, axis=1, keepdims=True)


def retrieval(s: np.ndarray, qc: np.ndarray, dc: np.ndarray) -> str:
    rel = _ranked_relevance(s, qc, dc, 100)
    n_rel = np.array([(dc == x).sum() for x in qc])
    m1 = 100 * average_precision_at_k(rel, n_rel, 1).mean()
    return f"{m1:.1f} / {100 * recall_at_k(rel, 10).mean():.1f}"


def projected_split(
    v: np.ndarray, codes: np.ndarray, seed: int, lam: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The CSD split of `seed`, projected by a space fitted on its database works only."""
    qm = split_queries(codes, 0.2, seed)
    q, d, qc, dc = v[qm], v[~qm], codes[qm], codes[~qm]
    disc = (
        TwoBlock(d, dc, lam) if lam else fit_discriminant(d, dc, DiscriminantParams(shrinkage=0.5))
    )
    return disc.transform(q), disc.transform(d), qc, dc


def csd_figures(v: np.ndarray, codes: np.ndarray, seed: int, lam: float) -> str:
    """The CSD protocol of `seed` in the space of `lam`: plain and CSLS (k = 15)."""
    pq, pd_, qc, dc = projected_split(v, codes, seed, lam)
    s, dd = pq @ pd_.T, pd_ @ pd_.T
    np.fill_diagonal(dd, -np.inf)
    corrected = csls(s, neighbourhood_radius(s, 15), neighbourhood_radius(dd, 15))
    return f"{retrieval(s, qc, dc)}, csls15 {retrieval(corrected, qc, dc)}"


def normalised(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _expand(x: np.ndarray, pool: np.ndarray, k: int, same: bool) -> np.ndarray:
    """x plus its k nearest rows of pool (weights: similarity cubed), normalised."""
    s = x @ pool.T
    if same:
        np.fill_diagonal(s, -np.inf)
    nearest = np.argpartition(-s, k, axis=1)[:, :k]
    w = np.maximum(np.take_along_axis(s, nearest, axis=1), 0.0) ** 3
    return normalised(x + (w[:, :, None] * pool[nearest]).sum(axis=1))


def expansion(v: np.ndarray, codes: np.ndarray) -> None:
    settings = [(0, 0), (3, 0), (5, 0), (10, 0), (0, 3), (3, 3), (5, 5)]
    for lam in (0.0, 0.5):
        lines: dict[tuple[int, int], list[str]] = {k: [] for k in settings}
        for seed in (0, 1):
            pq, pd_, qc, dc = projected_split(v, codes, seed, lam)
            for db_k, q_k in settings:
                db = _expand(pd_, pd_, db_k, same=True) if db_k else pd_
                qq = _expand(pq, db, q_k, same=False) if q_k else pq
                s, dd = qq @ db.T, db @ db.T
                np.fill_diagonal(dd, -np.inf)
                c = csls(s, neighbourhood_radius(s, 15), neighbourhood_radius(dd, 15))
                lines[(db_k, q_k)].append(f"{retrieval(s, qc, dc)}, csls15 {retrieval(c, qc, dc)}")
        for (db_k, q_k), cols in lines.items():
            print(
                f"CSD lam={lam} database k={db_k} query k={q_k}: seed 0 {cols[0]} | "
                f"seed 1 {cols[1]}",
                flush=True,
            )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("tiles", type=Path)
    ap.add_argument("index", type=Path)
    ap.add_argument("--expansion", action="store_true")
    args = ap.parse_args()
    snap = open_index(args.index)
    meta = snap.metadata
    table = ArtistTable.build(meta["artist"].tolist(), meta["role"].tolist())
    v = snap.vectors().astype(np.float64)
    codes = table.codes
    if args.expansion:
        expansion(v, codes)
        return
    for lam in (0.0, 0.5, 0.7):
        cols = [csd_figures(v, codes, seed, lam) for seed in (0, 1)]
        print(f"CSD lam={lam}: seed 0 {cols[0]} | seed 1 {cols[1]}", flush=True)

    inputs = load_inputs(args.tiles, args.index)
    for lam in (0.0, 0.5, 0.7):
        disc = TwoBlock(v, codes, lam) if lam else None
        scorer = ImitationScorer(v, table, ImitationParams(), discriminant=disc)
        cols = split_figures(scorer, inputs.x_imi, inputs.truth, inputs.x_ref, inputs.groups)
        print(f"imitations lam={lam}: seed 0 {cols[0]} | seed 1 {cols[1]}", flush=True)


if __name__ == "__main__":
    main()
