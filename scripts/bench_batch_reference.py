"""An audit's own batch as its generator reference, measured through `simdetect audit`.

The batch: the 120 sd15-styles imitation tiles and the held-out half of the reference
tiles (the split `simdetect eval --imitations ... --held-out-fraction 0.5 --seed S` makes),
copied into one folder: a day of one generator's output in which a fifth imitates an
indexed painter. The same folder is audited three ways (no reference; the *other* half of
the reference tiles stored with the index as `sd15-kept`; `--reference batch`) and the
rows are read back:

    simdetect eval --imitations ../shared/corpora/sd15-styles/imitations \
        --reference ../shared/corpora/sd15-styles/reference --index IDX \
        --held-out-fraction 0.5 --seed 0 --out /tmp/imit-s0      # cuts the tiles
    python scripts/bench_batch_reference.py /tmp/imit-s0/tiles IDX /tmp/batch-s0 --seed 0

It adds a reference set `sd15-kept` to IDX. Figures are percent of the imitations (top-1,
true artist decided at 1% and flagged at 5% family-wise) and of the held-out reference
tiles in the batch (flagged for any artist, (image, artist) pairs decided).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from simdetect.evaluation.imitations import held_out_mask


def split(reference_tiles: Path, seed: int, fraction: float) -> tuple[list[Path], list[Path]]:
    """(kept, held out) exactly as simdetect.evaluation.imitation_suite splits by source."""
    tiles = sorted(reference_tiles.rglob("*.png"))
    sources = np.array([str(t.name).rsplit(".q", 1)[0] for t in tiles])
    out = held_out_mask(sources, fraction, seed)
    held = [t for t, o in zip(tiles, out, strict=True) if o]
    kept = [t for t, o in zip(tiles, out, strict=True) if not o]
    return kept, held


def audit(batch: Path, index: Path, out: Path, *extra: str) -> list[dict]:
    cmd = [sys.executable, "-m", "simdetect", "audit", str(batch), "--index", str(index)]
    cmd += ["--out", str(out), "--overwrite", "--no-copies", "--top-artists", "60", *extra]
    subprocess.run(cmd, check=True)
    return pq.read_table(out).to_pylist()


def figures(rows: list[dict]) -> dict[str, float]:
    imit = [r for r in rows if Path(r["path"]).name.startswith("imit__")]
    held = [r for r in rows if not Path(r["path"]).name.startswith("imit__")]

    def truth(r: dict) -> str:
        return Path(r["path"]).name.split("__")[1]

    def entry(r: dict, artist: str) -> dict | None:
        return next((e for e in r["ranking"] if e["artist"] == artist), None)

    decided = [bool((entry(r, truth(r)) or {}).get("decision")) for r in imit]
    pairs = [bool(e["decision"]) for r in held for e in r["ranking"]]
    n_artists = max(len(r["ranking"]) for r in rows)
    return {
        "imitations": len(imit),
        "held_out": len(held),
        "top1": 100 * np.mean([r["top_artist"] == truth(r) for r in imit]),
        "true_decided": 100 * np.mean(decided),
        "true_flagged": 100 * np.mean([truth(r) in (r["flagged_artists"] or []) for r in imit]),
        "held_out_flagged": 100 * np.mean([bool(r["flagged"]) for r in held]),
        "held_out_pairs_decided": 100 * sum(pairs) / (len(held) * n_artists),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("tiles", type=Path, help="the tiles folder simdetect eval --imitations cut")
    ap.add_argument("index", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--held-out-fraction", type=float, default=0.5)
    args = ap.parse_args()
    kept, held = split(args.tiles / "reference", args.seed, args.held_out_fraction)
    batch = args.out / "batch"
    shutil.rmtree(batch, ignore_errors=True)
    batch.mkdir(parents=True)
    for t in sorted((args.tiles / "imitations").rglob("*.png")):
        shutil.copyfile(t, batch / f"imit__{t.parent.name}__{t.name}")
    for t in held:
        shutil.copyfile(t, batch / f"ref__{t.name}")
    kept_dir = args.out / "kept"
    shutil.rmtree(kept_dir, ignore_errors=True)
    kept_dir.mkdir()
    for t in kept:
        shutil.copyfile(t, kept_dir / t.name)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "simdetect",
            "index",
            "add-reference",
            "sd15-kept",
            str(kept_dir),
            "--index",
            str(args.index),
        ],
        check=True,
    )
    runs = {
        "no reference": (),
        "stored reference (kept half)": ("--reference", "sd15-kept"),
        "batch": ("--reference", "batch"),
    }
    for label, extra in runs.items():
        rows = audit(batch, args.index, args.out / f"{label.split()[0]}.parquet", *extra)
        print(label, {k: round(float(v), 1) for k, v in figures(rows).items()}, flush=True)


if __name__ == "__main__":
    main()
