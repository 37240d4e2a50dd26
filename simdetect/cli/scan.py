"""`simdetect scan`: score suspects against an index, print a table, write the rows.

With `--json` the rows go to stdout as JSONL instead of the table, so a pipeline can read
them without a file; people still see the summary, on stderr.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from simdetect.cli.common import (
    DEFAULT_FAMILY_FPR,
    DEFAULT_INDEX,
    DEFAULT_MAX_PIXELS,
    DEFAULT_TARGET_FPR,
    BatchOpt,
    FamilyFprOpt,
    FprOpt,
    IndexOpt,
    MaxPixelsOpt,
    ReferenceOpt,
    TopKOpt,
    console,
    err_console,
    fail,
    plural,
    print_json,
    progress_bar,
    user_errors,
)

if TYPE_CHECKING:
    from simdetect.io.images import LoadLimits
    from simdetect.scan import ScanResult


def _fmt(x: float | None, digits: int = 3) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def _short(path: str) -> str:
    """Paths relative to the working directory when they are inside it: tables stay readable."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except (ValueError, RuntimeError, OSError):  # outside, a link loop, unreadable
        return path


def _decision(decision: bool | None) -> str:
    if decision is None:
        return "[dim]undecided[/]"
    return "[bold red]MATCH[/]" if decision else "[green]no[/]"


def _copy_cell(r: ScanResult) -> str:
    if r.copy:
        src = r.copy["source"]
        return (
            f"[bold red]COPY[/] {escape(_short(src['path']))} ({escape(src['artist'])}, "
            f"{r.copy['decided_by']}, p {r.copy['p_value']:.2g})"
        )
    if r.copy_check and r.copy_check["state"] == "not_checked":
        return "[dim]not checked[/]"
    return "no" if r.copy_check else "—"


def scan_counts(results: list[ScanResult]) -> str:
    """Flagged (family-wise, as each row's `flagged`), undecided and not flagged side by
    side: undecided is never shown as no."""
    from simdetect.scan.result import platform_verdict

    ok = [r for r in results if not r.error]
    verdicts = [platform_verdict(r.flagged, [a.decision for a in r.ranking]) for r in ok]
    flagged, undecided = verdicts.count("flagged"), verdicts.count("undecided")
    copies = sum(1 for r in ok if r.copy)
    errors = len(results) - len(ok)
    return (
        f"{len(ok)} scanned: {flagged} flagged, {undecided} undecided, "
        f"{len(ok) - flagged - undecided} not flagged; "
        f"{plural(copies, 'edited copy', 'edited copies')}; {errors} skipped"
    )


def _flag(r: ScanResult) -> str:
    if r.flagged is None:
        return "[dim]—[/]"
    return f"[bold red]FLAGGED: {r.flagged_artist}[/]" if r.flagged else "[green]no[/]"


def print_scan_table(results: list[ScanResult], show: int = 2) -> None:
    table = Table(
        title="Scan results",
        caption="score: contrastive (this artist minus the best other); p: share of the null "
        "scoring at least as high; decision at the target false-positive rate; flagged: for "
        "any artist at the family-wise rate",
    )
    table.add_column("suspect", overflow="fold")
    table.add_column("artist", overflow="fold")
    table.add_column("score", justify="right")
    table.add_column("p", justify="right")
    table.add_column("decision")
    table.add_column("flagged", overflow="fold")
    table.add_column("nearest work (cosine)", overflow="fold")
    table.add_column("edited copy of", overflow="fold")
    for r in results:
        if r.error:
            table.add_row(_short(r.suspect), f"[red]skipped: {r.error}[/]", "", "", "", "", "")
            continue
        nearest = (
            f"{_short(r.matches[0].path)} ({_fmt(r.matches[0].similarity)})" if r.matches else "—"
        )
        for i, a in enumerate(r.ranking[:show]):
            table.add_row(
                _short(r.suspect) if i == 0 else "",
                a.artist,
                _fmt(a.score),
                _fmt(a.p_value, 4),
                _decision(a.decision),
                _flag(r) if i == 0 else "",
                nearest if i == 0 else "",
                _copy_cell(r) if i == 0 else "",
                end_section=i == min(show, len(r.ranking)) - 1,
            )
    console.print(table)
    print_scan_summary(results, console)


def print_scan_summary(results: list[ScanResult], to: Console) -> None:
    """The counts and the notes: under the table, or alone on stderr with --json."""
    to.print(scan_counts(results), highlight=False)
    notes = {r.note for r in results if r.note}
    for note in notes:
        to.print(f"[yellow]note:[/] {note}", highlight=False)


def run_scan(
    paths: list[str],
    index: Path,
    top_k: int,
    out: Path | None,
    limits: LoadLimits,
    batch_size: int,
    target_fpr: float = DEFAULT_TARGET_FPR,
    results: list[ScanResult] | None = None,
    reference: str | None = None,
    family_fpr: float = DEFAULT_FAMILY_FPR,
    copies: bool = True,
) -> tuple[list[ScanResult], list[dict[str, Any]]]:
    """Scan and write; ``results`` (when given) holds every row made so far even if a
    later one fails, so the caller can still show them."""
    from simdetect.index.build import backbone_for_index, expand_paths
    from simdetect.io.walk import SkipRecord
    from simdetect.outputs import check_output_path, write_results
    from simdetect.scan import ScanParams, open_scanner, scan_paths

    if out is not None:
        check_output_path(out)
    scanner = open_scanner(
        index,
        ScanParams(
            top_k=top_k,
            target_fpr=target_fpr,
            reference=reference,
            family_fpr=family_fpr,
            copies=copies,
        ),
    )
    backbone = backbone_for_index(index, None)
    skipped: list[SkipRecord] = []
    files = expand_paths(paths, skipped)
    with progress_bar("scanning") as (on_total, on_progress):
        on_total(len(files))
        results = scan_paths(
            scanner,
            files,
            backbone,
            skipped=skipped,
            batch_size=batch_size,
            limits=limits,
            on_progress=on_progress,
            results=results,
        )
    context = scanner.context()
    rows = [r.to_json(context) for r in results]
    if out is not None:
        write_results(rows, out)
    return results, rows


def scan_cmd(
    paths: Annotated[list[Path], typer.Argument(help="Suspect image files or folders.")],
    index: IndexOpt = DEFAULT_INDEX,
    top_k: TopKOpt = 5,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write results to .jsonl, .csv or .parquet.")
    ] = None,
    max_pixels: MaxPixelsOpt = DEFAULT_MAX_PIXELS,
    batch_size: BatchOpt = 16,
    fpr: FprOpt = DEFAULT_TARGET_FPR,
    copies: Annotated[
        bool,
        typer.Option(
            "--copies/--no-copies",
            help="Also decide whether each suspect is an edited copy of an indexed work.",
        ),
    ] = True,
    reference: ReferenceOpt = None,
    family_fpr: FamilyFprOpt = DEFAULT_FAMILY_FPR,
    json_rows: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print the result rows to stdout as JSON Lines (one object per suspect, "
            "exactly what --out rows.jsonl writes) instead of the table; the summary goes "
            "to stderr. Combines with --out.",
        ),
    ] = False,
) -> None:
    """Score suspect images against an index and rank the indexed artists."""
    if top_k < 1:
        fail("--top-k must be at least 1")
    if not 0 < fpr < 1:
        fail("--fpr must be between 0 and 1 (for example 0.01)")
    if not 0 < family_fpr < 1:
        fail("--family-fpr must be between 0 and 1 (for example 0.05)")
    from simdetect.io.images import LoadLimits

    results: list[ScanResult] = []
    try:
        with user_errors():
            _, rows = run_scan(
                [str(p) for p in paths],
                index,
                top_k,
                out,
                LoadLimits(max_pixels=max_pixels),
                batch_size,
                fpr,
                results,
                reference,
                family_fpr,
                copies=copies,
            )
    except BaseException:
        if results:  # whatever was scanned before the failure is still worth showing
            if not json_rows:  # stdout stays JSON: rows no file received are not printed
                print_scan_table(results)
            err_console.print(
                f"scan stopped after {plural(len(results), 'suspect')}", highlight=False
            )
        raise
    if json_rows:
        from simdetect.outputs import jsonl_line

        for row in rows:
            print_json(jsonl_line(row))
        print_scan_summary(results, err_console)
    else:
        print_scan_table(results)
    if out is not None:
        (err_console if json_rows else console).print(f"results written to {out}", highlight=False)
    if not results or all(r.error for r in results):
        fail("no suspect could be read: nothing was scanned")
