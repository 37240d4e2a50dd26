"""SIGKILL an index at random moments of add, remove, optimize, merge and audit.

Run by tests/test_fault_injection.py as its own process: the model is loaded once, and
each operation runs in a forked child that the driver kills with SIGKILL after a random
delay (up to 0.85 of the operation's uninterrupted duration, timed with the
shared caches warm, as every round finds them; halved and tried again when the
operation finished first). After every
kill the driver checks that the index loads with its checksums verified, that its counts
agree across manifest, vectors and metadata (per artist too), and that the operation
completes when run again, with the state it would have had without the kill.

Usage: ``python fault_driver.py WORKDIR SEEDS_ARTISTS [ROUNDS] [SEED]``; prints one JSON
line with what happened.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image

torch.set_num_threads(1)  # before the model loads: forked children must not share a pool

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot  # noqa: E402  (the audit summary plot: imported once, not per child)

from simdetect.audit.job import AuditOptions, run_audit  # noqa: E402
from simdetect.backbones import load_backbone  # noqa: E402
from simdetect.index.ann import DEFAULT_APPROX_THRESHOLD  # noqa: E402, F401
from simdetect.index.build import add_paths, add_tree  # noqa: E402
from simdetect.index.merge import merge_shards  # noqa: E402
from simdetect.index.store import AnnRequest, IndexWriter, open_index  # noqa: E402

ARTISTS = 3
NEW_WORKS = 12
KILL_ATTEMPTS = 4
Op = Callable[[Path], None]


def _check(index: Path) -> dict[str, int]:
    """Loads with checksums; manifest, vectors and metadata agree (open_index cross-checks
    per-artist counts against the metadata)."""
    snap = open_index(index, verify=True)
    m = snap.manifest
    assert m.count == snap.index.ntotal == len(snap.metadata), (m.count, snap.index.ntotal)
    assert sum(m.artists.values()) + sum(m.background.values()) == m.count
    assert snap.metadata["sha256"].is_unique
    if snap.ann is not None:
        assert snap.ann.ntotal == m.count
    return dict(m.artists)


def _run_child(op: Op, index: Path) -> int:
    pid = os.fork()
    if pid == 0:  # child
        code = 0
        try:
            op(index)
        except BaseException:
            traceback.print_exc()
            code = 1
        os._exit(code)
    return pid


def _wait(pid: int) -> int:
    _, status = os.waitpid(pid, 0)
    return status


def main() -> None:
    work = Path(sys.argv[1])
    seeds = Path(sys.argv[2])
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 25
    rng = random.Random(int(sys.argv[4]) if len(sys.argv) > 4 else 13)
    backbone = load_backbone("effnet-style")

    tree = work / "tree"
    for folder in sorted(p for p in seeds.iterdir() if p.is_dir())[:ARTISTS]:
        shutil.copytree(folder, tree / folder.name)
    new = work / "new"
    new.mkdir(parents=True)
    gen = np.random.default_rng(7)
    for i in range(NEW_WORKS):
        arr = gen.integers(0, 256, (40, 40, 3), dtype=np.uint8)
        Image.fromarray(arr).save(new / f"new-{i:02d}.png")
    base = work / "base"
    add_tree(base, tree, backbone=backbone, commit_every=16)
    shard = work / "shard"
    add_paths(shard, [new], "sharded", backbone=backbone)
    removed_artist = sorted(_check(base))[0]

    def op_add(index: Path) -> None:
        add_paths(index, [new], "newcomer", backbone=backbone, commit_every=2, batch_size=2)

    def op_remove(index: Path) -> None:
        with IndexWriter(index) as writer:
            writer.remove_artist(removed_artist)
            writer.commit()

    def op_optimize(index: Path) -> None:
        with IndexWriter(index, ann=AnnRequest(kind="hnsw", n_queries=16)) as writer:
            writer.rebuild()
            writer.commit()

    def op_merge(index: Path) -> None:
        merge_shards(index, [shard])

    def op_audit(index: Path) -> None:
        out = index.parent / "audit.parquet"
        options = AuditOptions(batch_size=2, workers=1, chunk_rows=3)
        run_audit(new, index, out, options=options, resume=True, backbone=backbone)

    def expect_add(artists: dict[str, int]) -> None:
        assert artists.get("newcomer") == NEW_WORKS, artists

    def expect_remove(artists: dict[str, int]) -> None:
        assert removed_artist not in artists, artists

    def expect_optimize(artists: dict[str, int]) -> None:
        pass

    def expect_merge(artists: dict[str, int]) -> None:
        assert artists.get("sharded") == NEW_WORKS, artists

    def expect_audit(artists: dict[str, int]) -> None:
        import pyarrow.parquet as pq

        table = pq.read_table(work / "round" / "audit.parquet")
        seqs = table.column("seq").to_pylist()
        assert table.num_rows == NEW_WORKS and seqs == list(range(NEW_WORKS))

    ops: dict[str, tuple[Op, Callable[[dict[str, int]], None]]] = {
        "add": (op_add, expect_add),
        "remove": (op_remove, expect_remove),
        "optimize": (op_optimize, expect_optimize),
        "merge": (op_merge, expect_merge),
        "audit": (op_audit, expect_audit),
    }

    # How long each takes uninterrupted, so kills land inside it. Timed on a second run,
    # as the rounds run it: the first audit also fills the copy check's region cache
    # (content-addressed, shared by every round), which made it ~10x slower than any
    # round's audit, so most audit kills came after the audit had finished.
    durations: dict[str, float] = {}
    for name, (op, expect) in ops.items():
        for _warm_then_timed in range(2):
            round_dir = work / "round"
            shutil.rmtree(round_dir, ignore_errors=True)
            shutil.copytree(base, round_dir / "index")
            start = time.monotonic()
            status = _wait(_run_child(op, round_dir / "index"))
            durations[name] = time.monotonic() - start
            assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, (name, status)
            expect(_check(round_dir / "index"))

    kills: list[dict[str, object]] = []
    names = list(ops)
    for k in range(rounds):
        name = names[k % len(names)]
        op, expect = ops[name]
        round_dir = work / "round"
        index = round_dir / "index"
        delay = rng.uniform(0.03, 0.85) * durations[name]
        # A busy machine can run an operation faster than it was timed (or start the kill
        # late): when the child finished first, the round is tried again from the same
        # base with half the delay, so kills land inside the operation without depending
        # on how loaded the machine is. Every attempt's state is checked.
        for _attempt in range(KILL_ATTEMPTS):
            shutil.rmtree(round_dir, ignore_errors=True)
            shutil.copytree(base, index)
            pid = _run_child(op, index)
            time.sleep(delay)
            os.kill(pid, signal.SIGKILL)
            status = _wait(pid)
            killed = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
            after_kill = _check(index)  # loads, and agrees with itself
            if killed:
                break
            expect(after_kill)  # it ran to the end: its result must be complete
            delay /= 2
        status = _wait(_run_child(op, index))
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, (name, k, status)
        expect(_check(index))
        kills.append(
            {"op": name, "delay_s": round(delay, 3), "killed": killed, "artists": after_kill}
        )

    print(
        json.dumps(
            {
                "rounds": rounds,
                "killed_mid_run": sum(bool(k["killed"]) for k in kills),
                "durations_s": {k: round(v, 2) for k, v in durations.items()},
                "kills": kills,
            }
        )
    )


if __name__ == "__main__":
    main()
