"""Where embedding runs: the `--engine` options shared by `index add`, `add-tree` and `audit`."""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator
from typing import Annotated, Any

import typer

from simdetect.errors import UserError


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
            raise UserError("--address, --ray-actors and --ray-gpus need --engine ray")
        from simdetect.embed import embed_files

        return embed_files
    from simdetect.distributed.ray_engine import RayEngine

    return RayEngine(address=address, actors=actors, gpus_per_actor=gpus)
