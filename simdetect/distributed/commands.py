"""CLI pieces for running on a cluster: the `--engine` options and `simdetect index merge`."""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from simdetect.index.lock import IndexLocked
from simdetect.index.manifest import IndexCorrupt
from simdetect.index.store import FingerprintMismatch, IndexNotFound

console = Console(soft_wrap=True, highlight=False)
err_console = Console(stderr=True, soft_wrap=True, highlight=False)

DEFAULT_INDEX = Path("indexes/default")


class Engine(str, enum.Enum):
    local = "local"
    ray = "ray"


EngineOpt = Annotated[
    Engine,
    typer.Option(
        "--engine",
        help="Where embedding runs: `local` (this process) or `ray` (a Ray cluster; needs "
        "the `distributed` extra).",
    ),
]
AddressOpt = Annotated[
    str | None,
    typer.Option(
        "--address",
        help="Ray cluster to join with --engine ray (e.g. `auto`, `ray://head:10001`); "
        "default: RAY_ADDRESS, else a local Ray instance.",
    ),
]
RayActorsOpt = Annotated[
    int | None,
    typer.Option(
        "--ray-actors", help="Inference actors with --engine ray (default: one per cluster CPU)."
    ),
]
RayGpusOpt = Annotated[
    float,
    typer.Option("--ray-gpus", help="GPUs per inference actor with --engine ray (0: CPU only)."),
]


def select_embed(
    engine: Engine,
    address: str | None = None,
    actors: int | None = None,
    gpus: float = 0.0,
) -> Callable[..., Iterator[Any]]:
    """The embedding callable for `engine` (both follow `embed_files`' contract)."""
    if engine == Engine.local:
        if address is not None or actors is not None or gpus:
            raise ValueError("--address, --ray-actors and --ray-gpus need --engine ray")
        from simdetect.embed import embed_files

        return embed_files
    from simdetect.distributed.ray_engine import RayEngine

    return RayEngine(address=address, actors=actors, gpus_per_actor=gpus)


def index_merge(
    shards: Annotated[
        list[Path], typer.Argument(help="Index directories (shards) to merge, in this order.")
    ],
    index: Annotated[
        Path, typer.Option("--index", "-i", help="Target index (created if absent).")
    ] = DEFAULT_INDEX,
) -> None:
    """Merge index shards built on several machines into one index (one atomic commit)."""
    from simdetect.index.merge import merge_shards

    try:
        with console.status("merging shards"):
            summary = merge_shards(index, shards)
    except (
        FingerprintMismatch,
        IndexCorrupt,
        IndexLocked,
        IndexNotFound,
        FileNotFoundError,
        ValueError,
    ) as exc:
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}")
        raise typer.Exit(1) from None
    for s in summary.shards:
        console.print(
            f"{escape(str(s.shard))}: {s.works} works, added {s.added}, "
            f"already present {s.duplicates}, conflicts {len(s.conflicts)}"
        )
    for shard, path, artist, owner in summary.conflicts:
        console.print(
            f"[yellow]not added:[/] {escape(path)} ({escape(artist)}, shard {escape(shard)}): "
            f"same bytes already indexed under {escape(repr(owner))}"
        )
    m = summary.manifest
    console.print(
        f"merged {len(summary.shards)} shards: added [bold]{summary.added}[/]; "
        f"{escape(str(index))} now holds {m.count} works by {len(m.artists)} artists"
        + (f" and {len(m.background)} background sets" if m.background else "")
    )


def register(index_app: typer.Typer) -> None:
    """Add `index merge` to the `index` command group."""
    index_app.command("merge")(index_merge)
