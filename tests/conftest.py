"""Shared fixtures: the real offline backbone, the bundled seeds corpus and a built index."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from simdetect.backbones import Backbone, load_backbone
from simdetect.index.build import add_tree

REPO = Path(__file__).resolve().parent.parent
SEEDS = REPO / "seeds"
SHARED = REPO.parent / "shared"
BEST_ARTWORKS = SHARED / "corpora" / "best-artworks-128"
TITIAN = SHARED / "corpora" / "titian-fullres"


def pytest_configure(config: pytest.Config) -> None:
    # Tests run with the offline default; a reachable hub must never be contacted.
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    # Copy detection describes every indexed work once; the tests index the same seeds
    # works many times over, so they share one content-addressed cache (subprocesses too).
    import tempfile

    os.environ.setdefault("SIMDETECT_COPY_CACHE", tempfile.mkdtemp(prefix="simdetect-copies-"))
    if os.environ.get("PYTEST_XDIST_WORKER"):
        # Two workers on two cores: one thread each, or the model's thread pools fight.
        os.environ["OMP_NUM_THREADS"] = "1"
        import torch

        torch.set_num_threads(1)


@pytest.fixture(scope="session")
def backbone() -> Backbone:
    return load_backbone("effnet-style")


@pytest.fixture(scope="session")
def seeds_dir() -> Path:
    assert (SEEDS / "artists").is_dir(), "seeds/ corpus is missing; run python seeds/make_seeds.py"
    return SEEDS


@pytest.fixture(scope="session")
def built_index(
    tmp_path_factory: pytest.TempPathFactory, backbone: Backbone, seeds_dir: Path
) -> Path:
    """An index of the seeds artists, built once; copy it before changing it.

    Its copy-detection cache (region sets of every work, the calibrated copy index) is
    built here too, so every copy of the index scans without describing the works again.
    """
    from simdetect.copies.indexed import open_detector
    from simdetect.index.store import open_index

    root = tmp_path_factory.mktemp("seed-index") / "index"
    add_tree(root, seeds_dir / "artists", backbone=backbone)
    snap = open_index(root)
    open_detector(root, snap.metadata, snap.fingerprint)
    return root


@pytest.fixture(scope="module")
def one_torch_thread() -> Iterator[None]:
    """On a shared 2-core machine one torch thread is faster than two fighting another
    process; results do not depend on it. Modules opt in with `pytestmark`."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def module_index(built_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One copy of the seeds index for a module whose tests may change it together."""
    dest = tmp_path_factory.mktemp("module-index") / "index"
    shutil.copytree(built_index, dest)
    return dest


@pytest.fixture()
def index_copy(built_index: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "index"
    shutil.copytree(built_index, dest)
    return dest


@pytest.fixture(scope="session")
def best_artworks() -> Path:
    if not BEST_ARTWORKS.is_dir():
        pytest.skip("../shared/corpora/best-artworks-128 is absent")
    return BEST_ARTWORKS


@pytest.fixture(scope="session")
def titian() -> Path:
    if not TITIAN.is_dir():
        pytest.skip("../shared/corpora/titian-fullres is absent")
    return TITIAN


# -- the command line, in-process and as a subprocess ----------------------------------------


def invoke(*args: object, columns: int = 400) -> Any:
    """The real CLI in-process; rich wraps at $COLUMNS (80 when not a terminal)."""
    from typer.testing import CliRunner

    from simdetect.cli import app, common

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COLUMNS", str(columns))
        # Rich fixes a console's width when it is created if COLUMNS is set then, so the
        # width of an already imported CLI depends on test order; set it for this call.
        for con in (common.console, common.err_console):
            mp.setattr(con, "_width", columns)
        return CliRunner().invoke(app, [str(a) for a in args])


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The rows of a JSON Lines file."""
    import json

    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def cli_env(columns: int = 400) -> dict[str, str]:
    """Environment for `python -m simdetect` subprocesses: offline, wide, one thread."""
    import os

    env = dict(os.environ)
    env.update(HF_HUB_OFFLINE="1", COLUMNS=str(columns), OMP_NUM_THREADS="1")
    return env
