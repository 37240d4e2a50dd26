"""`simdetect demo`: the whole flow on the bundled demo corpus."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from simdetect.cli.common import console, progress_bar, user_errors
from simdetect.cli.scan import print_scan_table


def demo_cmd(
    out: Annotated[
        Path, typer.Option("--out", help="Where to put the demo index and outputs.")
    ] = Path("simdetect-out/demo"),
    seeds: Annotated[
        Path | None, typer.Option("--seeds", help="Demo corpus (default: the bundled seeds/).")
    ] = None,
) -> None:
    """Index the bundled demo corpus, scan the demo suspects and write the outputs."""
    from simdetect.demo import run_demo

    with user_errors(), progress_bar("demo") as (on_total, on_progress):
        result = run_demo(out, seeds, on_total=on_total, on_progress=on_progress)
    print_scan_table(result.results)
    console.print(
        f"[bold]{result.correct} of {result.judged}[/] demo suspects "
        "ranked their true artist first.",
        highlight=False,
    )
    console.print(f"index:   {result.index_dir}", highlight=False)
    console.print(f"results: {result.results_path}", highlight=False)
    console.print(f"report:  {result.report_path}", highlight=False)
