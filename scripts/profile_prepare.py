"""Where a file's preparation CPU goes (one thread, `time.thread_time`), stage by stage.

    python scripts/profile_prepare.py ../shared/corpora/titian-fullres 255

Stages are those of `simdetect.embed.prepare_file`, timed separately on the same files:
read + SHA-256, decode (JPEG at reduced DCT scale, EXIF orientation, RGB), perceptual hash,
the model's preprocessing (resize to 224 x 224 bicubic, normalise). One torch thread.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

from simdetect.backbones import load_backbone
from simdetect.embed import prepare_file
from simdetect.io.hashing import phash, sha256_bytes
from simdetect.io.images import LoadLimits, load_image_bytes
from simdetect.io.walk import iter_image_files


def main() -> None:
    root, limit = Path(sys.argv[1]), int(sys.argv[2])
    torch.set_num_threads(1)
    files = sorted(iter_image_files(root))[:limit]
    backbone = load_backbone("effnet-style")
    limits = LoadLimits()
    for f in files[:5]:  # warm caches and lazy imports
        prepare_file(str(f), backbone, limits)
    totals = dict.fromkeys(("read+sha256", "decode", "phash", "preprocess"), 0.0)
    whole = 0.0
    for f in files:
        t0 = time.thread_time()
        data = f.read_bytes()
        digest = sha256_bytes(data)
        t1 = time.thread_time()
        loaded = load_image_bytes(data, str(f), limits, backbone.decode_min_side, digest)
        t2 = time.thread_time()
        phash(loaded.image)
        t3 = time.thread_time()
        backbone.preprocess(loaded.image)
        t4 = time.thread_time()
        prepare_file(str(f), backbone, limits)
        t5 = time.thread_time()
        for key, dt in zip(totals, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
            totals[key] += dt
        whole += t5 - t4
    n = len(files)
    for key, total in totals.items():
        print(f"{key:12s} {1000 * total / n:6.2f} ms/file")
    print(f"{'sum':12s} {1000 * sum(totals.values()) / n:6.2f} ms/file")
    print(f"{'prepare_file':12s} {1000 * whole / n:6.2f} ms/file ({n} files)")


if __name__ == "__main__":
    main()
