"""Preparation CPU time per file (thread_time): PIL draft (what simdetect does) against
simplejpeg (libjpeg-turbo) at the same DCT scale and at the smallest M/8 scale keeping both
sides >= the model input; bit-identity, and the embedding change of the M/8 variant.

    pip install simplejpeg
    python scripts/bench_decoders.py ../shared/corpora/titian-fullres 255
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import numpy as np
import simplejpeg
import torch
from PIL import Image

from simdetect.backbones import load_backbone
from simdetect.embed import prepare_file
from simdetect.io.hashing import phash, sha256_bytes
from simdetect.io.images import LoadLimits
from simdetect.io.walk import iter_image_files


def pil_scale(w: int, h: int, side: int) -> int:
    """The reduction PIL's JPEG draft picks for a request of (side, side)."""
    if min(w, h) < 2 * side:
        return 1
    s = min(w // side, h // side)
    return next(c for c in (8, 4, 2, 1) if s >= c)


def prep_simplejpeg(bb, path: str, same_scale: bool) -> tuple[str, torch.Tensor]:
    side = bb.decode_min_side
    data = Path(path).read_bytes()
    sha256_bytes(data)
    h, w, _, _ = simplejpeg.decode_jpeg_header(data)
    if same_scale:
        arr = simplejpeg.decode_jpeg(data, colorspace="RGB", min_factor=pil_scale(w, h, side))
    else:
        arr = simplejpeg.decode_jpeg(data, colorspace="RGB", min_height=side, min_width=side)
    im = Image.fromarray(arr)
    return phash(im), bb.preprocess(im)


def ms(values: list[float]) -> float:
    return 1000 * statistics.mean(values)


def main(corpus: Path, n: int) -> None:
    files = sorted(str(p) for p in iter_image_files(corpus))[:n]
    bb = load_backbone("effnet-style")
    torch.set_num_threads(1)
    t_pil: list[float] = []
    t_same: list[float] = []
    t_m8: list[float] = []
    same_tensor = same_phash = 0
    current, m8 = [], []
    for f in files:
        s = time.thread_time()
        a = prepare_file(f, bb, LoadLimits())
        t_pil.append(time.thread_time() - s)
        s = time.thread_time()
        p_same, x_same = prep_simplejpeg(bb, f, True)
        t_same.append(time.thread_time() - s)
        s = time.thread_time()
        _, x_m8 = prep_simplejpeg(bb, f, False)
        t_m8.append(time.thread_time() - s)
        same_tensor += int(torch.equal(a.tensor, x_same))
        same_phash += int(a.record.phash == p_same)
        current.append(a.tensor)
        m8.append(x_m8)
    print(
        f"files {len(files)}; CPU ms/file: PIL draft {ms(t_pil):.2f}, "
        f"simplejpeg same scale {ms(t_same):.2f}, simplejpeg M/8 {ms(t_m8):.2f}"
    )
    print(f"same scale: identical tensors {same_tensor}/{len(files)}, phash {same_phash}")
    with torch.no_grad():
        ea = np.concatenate([bb.embed(torch.stack(current[i : i + 16])) for i in range(0, n, 16)])
        ec = np.concatenate([bb.embed(torch.stack(m8[i : i + 16])) for i in range(0, n, 16)])
    cos = (ea * ec).sum(1)
    print(f"M/8 vs current embeddings: cosine min {cos.min():.4f} median {np.median(cos):.4f}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]))
