"""`simdetect eval --imitations DIR --reference DIR`: the imitation figures from folders.

Folders in, figures out: grids are cut (`grids`), tiles embedded with the index's
backbone through the same loader and embedder as `scan` (vectors cached by file hash, so
a second run costs one read per tile), and `imitations.evaluate_imitations` measures the
index's imitation score. The index must already exist (`simdetect index add-tree`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from simdetect.backbones import Backbone, statistics_columns, statistics_view
from simdetect.defaults import DEFAULT_FAMILY_FPR
from simdetect.embed import embed_files
from simdetect.evaluation.grids import DEFAULT_GRID, Tile, cut_tree
from simdetect.evaluation.imitations import (
    ImitationResult,
    LeaveArtistsOutResult,
    evaluate_imitations,
    evaluate_leave_artists_out,
    held_out_mask,
)
from simdetect.index.store import open_index
from simdetect.io.atomic import atomic_path, atomic_write_bytes
from simdetect.io.hashing import sha256_bytes
from simdetect.scoring.aggregate import ArtistTable
from simdetect.scoring.imitation import ImitationParams, ImitationScorer

log = logging.getLogger(__name__)


@dataclass
class ImitationEvalReport:
    result: ImitationResult
    leave_artists_out: LeaveArtistsOutResult | None
    n_tiles_imitations: int
    n_tiles_reference: int
    params: ImitationParams
    seconds: float
    outputs: list[Path] = field(default_factory=list)


def _embed_cached(
    tiles: list[Tile], backbone: Backbone, cache: Path, on_progress: Callable[[int], None] | None
) -> np.ndarray:
    """Vectors for tiles, reusing `cache` (sha256 → vector) from earlier runs."""
    store: dict[str, np.ndarray] = {}
    if cache.is_file():
        with np.load(cache, allow_pickle=False) as data:
            if str(data["fingerprint"]) == backbone.fingerprint.digest():
                store = dict(zip(data["sha256"].tolist(), data["vectors"], strict=True))
    digests = [sha256_bytes(t.path.read_bytes()) for t in tiles]
    todo = [str(t.path) for t, d in zip(tiles, digests, strict=True) if d not in store]
    for batch in embed_files(todo, backbone, on_progress=on_progress):
        if batch.skipped:
            s = batch.skipped[0]
            raise ValueError(f"{s.path}: cannot be embedded ({s.reason})")
        for rec, vec in zip(batch.records, batch.vectors, strict=True):
            store[rec.sha256] = vec
    if todo:
        import io

        buf = io.BytesIO()
        keys = sorted(store)
        np.savez(
            buf,
            fingerprint=np.array(backbone.fingerprint.digest()),
            sha256=np.array(keys),
            vectors=np.stack([store[k] for k in keys]).astype(np.float32),
        )
        cache.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(cache, buf.getvalue())
    return np.stack([store[d] for d in digests]).astype(np.float64)


def _write_csv(frame: pd.DataFrame, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False, encoding="utf-8")
    return path


def run_imitation_eval(
    imitations: Path,
    reference: Path,
    index_dir: Path,
    backbone: Backbone,
    out_dir: Path,
    *,
    grid: tuple[int, int] = DEFAULT_GRID,
    tiles_dir: Path | None = None,
    held_out_fraction: float = 0.0,
    seed: int = 0,
    target_fpr: float = 0.01,
    family_fpr: float = DEFAULT_FAMILY_FPR,
    params: ImitationParams | None = None,
    leave_artists_out: bool = False,
    on_progress: Callable[[int], None] | None = None,
) -> ImitationEvalReport:
    start = time.perf_counter()
    params = params or ImitationParams()
    snap = open_index(index_dir)
    snap.require_fingerprint(backbone.fingerprint)
    tiles_root = tiles_dir or (out_dir / "tiles")
    imi_tiles = cut_tree(imitations, tiles_root / "imitations", grid)
    ref_tiles = cut_tree(reference, tiles_root / "reference", grid)
    if not imi_tiles or not ref_tiles:
        raise ValueError("both the imitations and the reference folder must hold images")
    unlabelled = [str(t.source) for t in imi_tiles if t.label is None]
    if unlabelled:
        raise ValueError(
            f"imitations must sit in one sub-folder per true artist; not in one: {unlabelled[0]}"
        )
    cache = tiles_root / "vectors.npz"
    x_imi = _embed_cached(imi_tiles, backbone, cache, on_progress)
    x_ref = _embed_cached(ref_tiles, backbone, cache, on_progress)
    meta = snap.metadata
    vectors = snap.vectors().astype(np.float64)
    table = ArtistTable.build(meta["artist"].tolist(), meta["role"].tolist())
    # With a generator reference the score reads the descriptor's statistics block, as a
    # scan with a reference does (`scan.imitation`); leave-artists-out is the index path.
    columns = statistics_columns(snap.fingerprint)
    scorer = ImitationScorer(statistics_view(vectors, columns), table, params)
    x_imi, x_ref = statistics_view(x_imi, columns), statistics_view(x_ref, columns)
    groups = np.array([str(t.source) for t in ref_tiles])
    truth = [str(t.label) for t in imi_tiles]
    if held_out_fraction > 0:
        out = held_out_mask(groups, held_out_fraction, seed)
        result = evaluate_imitations(
            scorer,
            x_imi,
            truth,
            x_ref[~out],
            groups[~out],
            held_out=x_ref[out],
            target_fpr=target_fpr,
            family_fpr=family_fpr,
            reference_name=reference.name,
        )
    else:
        result = evaluate_imitations(
            scorer,
            x_imi,
            truth,
            x_ref,
            groups,
            target_fpr=target_fpr,
            family_fpr=family_fpr,
            reference_name=reference.name,
        )
    lao = None
    if leave_artists_out:
        usable = ~table.background[table.codes]
        lao = evaluate_leave_artists_out(
            vectors[usable],
            [table.names[c] for c in table.codes[usable]],
            params,
            seed=seed,
            target_fpr=target_fpr,
            family_fpr=family_fpr,
        )
    outputs = [
        _write_csv(
            pd.DataFrame([{"figure": k, "percent": v} for k, v in result.figures.items()]),
            out_dir / "imitation_figures.csv",
        ),
        _write_csv(result.per_artist, out_dir / "imitation_per_artist.csv"),
    ]
    if lao is not None:
        outputs.append(_write_csv(lao.per_fold, out_dir / "leave_artists_out.csv"))
    return ImitationEvalReport(
        result=result,
        leave_artists_out=lao,
        n_tiles_imitations=len(imi_tiles),
        n_tiles_reference=len(ref_tiles),
        params=params,
        seconds=time.perf_counter() - start,
        outputs=outputs,
    )
