"""CLI commands of the audit package (`simdetect audit`, `simdetect benchmark audit`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from simdetect.backbones.base import BackboneError
from simdetect.distributed.commands import (
    AddressOpt,
    Engine,
    EngineOpt,
    RayActorsOpt,
    RayGpusOpt,
    select_embed,
)
from simdetect.index.manifest import IndexCorrupt
from simdetect.index.store import FingerprintMismatch, IndexNotFound
from simdetect.io.images import DEFAULT_MAX_PIXELS
from simdetect.scoring.calibration import DEFAULT_TARGET_FPR

if TYPE_CHECKING:
    from simdetect.audit.runner import AuditOutcome, EmbedFn

console = Console(soft_wrap=True, highlight=False)
err_console = Console(stderr=True, soft_wrap=True, highlight=False)

DEFAULT_INDEX = Path("indexes/default")


@contextmanager
def one_line_errors() -> Iterator[None]:
    """Known failures become one red line and exit code 1, never a traceback."""
    from simdetect.audit.checkpoint import AuditStateError
    from simdetect.audit.sources import SourceError

    known = (
        AuditStateError,
        SourceError,
        BackboneError,
        IndexNotFound,
        IndexCorrupt,
        FingerprintMismatch,
        FileNotFoundError,
        NotADirectoryError,
        PermissionError,
        ValueError,
    )
    try:
        yield
    except known as exc:
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}")
        raise typer.Exit(1) from None


@contextmanager
def _progress(label: str) -> Iterator[tuple[Callable[[int], None], Callable[[int], None]]]:
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
        disable=not err_console.is_terminal,
    ) as progress:
        task = progress.add_task(label, total=None)
        yield (lambda n: progress.update(task, total=n)), (lambda n: progress.advance(task, n))


def _select_embed(
    engine: Engine = Engine.local,
    address: str | None = None,
    actors: int | None = None,
    gpus: float = 0.0,
) -> EmbedFn:
    """The embedding engine: this process, or a Ray cluster with `--engine ray`."""
    return select_embed(engine, address, actors, gpus)


def _print_outcome(outcome: AuditOutcome) -> None:
    if outcome.already_complete:
        console.print(f"{outcome.out} is already complete; summary refreshed")
    elif outcome.resumed_from:
        console.print(f"resumed after {outcome.resumed_from} inputs already done")
    console.print(
        f"audited [bold]{outcome.rows}[/] inputs: {outcome.flagged} flagged, "
        f"{outcome.errors} errors, in {outcome.seconds:.1f}s"
    )
    s = outcome.summary
    if s is not None and s.examined:
        top = sorted(s.artists.items(), key=lambda kv: (-kv[1].flagged, kv[0]))[:10]
        table = Table(title="Flag rate per artist (top 10)")
        table.add_column("artist", overflow="fold")
        table.add_column("flagged", justify="right")
        table.add_column("flag rate", justify="right")
        for name, c in top:
            table.add_row(escape(name), str(c.flagged), f"{100 * s.flag_rate(name):.2f}%")
        console.print(table)
    console.print(f"results: {escape(str(outcome.out))}")
    if outcome.files is not None:
        for p in (
            outcome.files.flag_rates_csv,
            outcome.files.histograms_csv,
            outcome.files.plot_png,
        ):
            console.print(f"summary: {escape(str(p))}")


def audit_cmd(
    source: Annotated[
        Path,
        typer.Argument(
            help="A folder (walked like `index add`), a text file of paths (one per line), "
            "or a .parquet/.csv table with a `path` column."
        ),
    ],
    index: Annotated[Path, typer.Option("--index", "-i", help="Index directory.")] = DEFAULT_INDEX,
    out: Annotated[Path, typer.Option("--out", "-o", help="Results file (.parquet).")] = Path(
        "results.parquet"
    ),
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue an interrupted audit into --out.")
    ] = False,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Discard an existing output or unfinished run.")
    ] = False,
    top_artists: Annotated[
        int, typer.Option("--top-artists", help="Ranked artists stored per suspect.")
    ] = 5,
    fpr: Annotated[
        float, typer.Option("--fpr", help="Target false-positive rate for the decision.")
    ] = DEFAULT_TARGET_FPR,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Images per forward pass.")] = 32,
    workers: Annotated[int, typer.Option("--workers", help="Decode threads.")] = 2,
    chunk_rows: Annotated[
        int,
        typer.Option("--chunk-rows", help="Rows per chunk file (the checkpoint step)."),
    ] = 4096,
    max_pixels: Annotated[
        int, typer.Option("--max-pixels", help="Refuse images larger than this many pixels.")
    ] = DEFAULT_MAX_PIXELS,
    engine: EngineOpt = Engine.local,
    address: AddressOpt = None,
    ray_actors: RayActorsOpt = None,
    ray_gpus: RayGpusOpt = 0.0,
) -> None:
    """Audit many images against an index into Parquet, with a checkpoint and a summary."""
    from simdetect.audit.runner import AuditOptions, run_audit

    options = AuditOptions(
        top_artists=top_artists,
        target_fpr=fpr,
        batch_size=batch_size,
        workers=workers,
        chunk_rows=chunk_rows,
        max_pixels=max_pixels,
    )
    with one_line_errors():
        embed = _select_embed(engine, address, ray_actors, ray_gpus)
        with _progress("auditing") as (on_total, on_progress):
            outcome = run_audit(
                source,
                index,
                out,
                options=options,
                resume=resume,
                overwrite=overwrite,
                embed=embed,
                on_total=on_total,
                on_progress=on_progress,
            )
    _print_outcome(outcome)


def benchmark_audit_cmd(
    corpora: Annotated[list[Path], typer.Argument(help="Folders of images to audit.")],
    limit: Annotated[
        int, typer.Option("--limit", help="Images audited per corpus (N; memory also at 10N).")
    ] = 1000,
    index: Annotated[
        Path | None,
        typer.Option(
            "--index",
            "-i",
            help="Existing index to audit against (default: built from part of the corpus, "
            "or from the demo seeds for a corpus without artist folders).",
        ),
    ] = None,
    index_fraction: Annotated[
        float, typer.Option("--index-fraction", help="Share of each artist's works indexed.")
    ] = 0.2,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Images per forward pass.")] = 32,
    workers: Annotated[int, typer.Option("--workers", help="Decode threads.")] = 2,
    memory: Annotated[
        bool,
        typer.Option("--memory/--no-memory", help="Also measure peak memory at N and 10N."),
    ] = True,
) -> None:
    """Audit images/s as a share of the forward-only rate, and peak memory at N and 10N."""
    from simdetect.evaluation.audit_bench import measure_audit

    if not 0 < index_fraction < 1:
        raise typer.BadParameter("--index-fraction must be between 0 and 1")
    table = Table(title="Audit throughput and peak memory")
    for col in (
        "corpus",
        "index works",
        "audited",
        "forward img/s",
        "audit img/s",
        "ratio",
        "whole run",
        "peak RSS N",
        "peak RSS 10N",
        "10N/N",
    ):
        table.add_column(col, justify="left" if col == "corpus" else "right")
    with one_line_errors():
        for corpus in corpora:
            with console.status(f"measuring {corpus}"):
                r = measure_audit(
                    corpus,
                    limit,
                    index=index,
                    index_fraction=index_fraction,
                    batch_size=batch_size,
                    workers=workers,
                    memory=memory,
                )
            table.add_row(
                escape(str(corpus)),
                str(r.index_works),
                str(r.audited),
                f"{r.forward_ips:.1f}",
                f"{r.audit_ips:.1f}",
                f"{100 * r.ratio:.0f}%",
                f"{100 * r.whole_ratio:.0f}%",
                f"{r.peak_rss_n_mb:.0f} MB ({r.n})" if r.peak_rss_n_mb else "—",
                f"{r.peak_rss_10n_mb:.0f} MB ({10 * r.n})" if r.peak_rss_10n_mb else "—",
                f"{r.memory_growth:.2f}" if r.peak_rss_10n_mb else "—",
            )
            console.print(r.describe())
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add `audit` to the app, and `audit` to its `benchmark` group when there is one."""
    app.command("audit")(audit_cmd)
    for group in app.registered_groups:
        if group.name == "benchmark" and group.typer_instance is not None:
            group.typer_instance.command("audit")(benchmark_audit_cmd)
