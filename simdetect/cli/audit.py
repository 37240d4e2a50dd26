"""`simdetect audit`: many images against an index into Parquet, resumable."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from simdetect.cli.common import (
    BATCH_REFERENCE_MIN,
    DEFAULT_BATCH_REFERENCE_SIZE,
    DEFAULT_FAMILY_FPR,
    DEFAULT_INDEX,
    DEFAULT_MAX_PIXELS,
    DEFAULT_TARGET_FPR,
    BatchOpt,
    FamilyFprOpt,
    FprOpt,
    IndexOpt,
    MaxPixelsOpt,
    WorkersOpt,
    console,
    plural,
    progress_bar,
    user_errors,
)
from simdetect.cli.engine import (
    AddressOpt,
    Engine,
    EngineOpt,
    RayActorsOpt,
    RayGpusOpt,
    select_embed,
)

if TYPE_CHECKING:
    from simdetect.audit.job import AuditOutcome


def _print_outcome(outcome: AuditOutcome) -> None:
    if outcome.already_complete:
        console.print(f"{outcome.out} is already complete; summary refreshed")
    elif outcome.resumed_from:
        console.print(f"resumed after {outcome.resumed_from} inputs already done")
    s = outcome.summary
    counts = (
        s.headline() if s is not None else f"{outcome.flagged} flagged, {outcome.errors} errors"
    )
    console.print(
        f"audited [bold]{outcome.rows}[/] inputs: {counts}, in {outcome.seconds:.1f}s",
        highlight=False,
    )
    if s is not None and s.examined and s.undecided:
        console.print(
            f"[yellow]{s.undecided} of {plural(s.examined, 'suspect')} "
            f"{'is' if s.undecided == 1 else 'are'} undecided[/]: no decision "
            "could be made for at least one artist (too few works by other artists in the "
            'index, or no calibration); undecided is not "not flagged"',
            highlight=False,
        )
    if s is not None and s.examined:
        top = sorted(s.artists.items(), key=lambda kv: (-kv[1].flagged, -kv[1].undecided, kv[0]))
        table = Table(title="Flag rate per artist (top 10)")
        table.add_column("artist", overflow="fold")
        table.add_column("flagged", justify="right")
        table.add_column("flag rate", justify="right")
        table.add_column("undecided", justify="right")
        for name, c in top[:10]:
            table.add_row(
                escape(name),
                str(c.flagged),
                f"{100 * s.flag_rate(name):.2f}%",
                f"{c.undecided} ({100 * c.undecided / s.examined:.2f}%)",
            )
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
    index: IndexOpt = DEFAULT_INDEX,
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
    fpr: FprOpt = DEFAULT_TARGET_FPR,
    reference: Annotated[
        str | None,
        typer.Option(
            "--reference",
            help="Generator reference set stored with the index (simdetect index "
            "add-reference), or 'batch': the audit's own first inputs (at least "
            f"{BATCH_REFERENCE_MIN} readable images). Suspects are centred on its mean and "
            "judged against its outputs.",
        ),
    ] = None,
    batch_reference_size: Annotated[
        int,
        typer.Option(
            "--batch-reference-size",
            help="With --reference batch: how many of the first inputs form the reference.",
        ),
    ] = DEFAULT_BATCH_REFERENCE_SIZE,
    family_fpr: FamilyFprOpt = DEFAULT_FAMILY_FPR,
    batch_size: BatchOpt = 32,
    workers: WorkersOpt = 2,
    chunk_rows: Annotated[
        int,
        typer.Option("--chunk-rows", help="Rows per chunk file (the checkpoint step)."),
    ] = 4096,
    max_pixels: MaxPixelsOpt = DEFAULT_MAX_PIXELS,
    engine: EngineOpt = Engine.local,
    address: AddressOpt = None,
    ray_actors: RayActorsOpt = None,
    ray_gpus: RayGpusOpt = 0.0,
    copies: Annotated[
        bool,
        typer.Option(
            "--copies/--no-copies",
            help="Also decide whether each image is an edited copy of an indexed work.",
        ),
    ] = True,
) -> None:
    """Audit many images against an index into Parquet, with a checkpoint and a summary."""
    from simdetect.audit.job import AuditOptions, run_audit

    options = AuditOptions(
        top_artists=top_artists,
        target_fpr=fpr,
        reference=reference,
        family_fpr=family_fpr,
        batch_reference_size=batch_reference_size,
        batch_size=batch_size,
        workers=workers,
        chunk_rows=chunk_rows,
        max_pixels=max_pixels,
        copies=copies,
    )
    with user_errors():
        embed = select_embed(engine, address, ray_actors, ray_gpus)
        with progress_bar("auditing") as (on_total, on_progress):
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
