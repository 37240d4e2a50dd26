"""The `simdetect` command line: typer commands that call the library and print with rich."""

from __future__ import annotations

import logging
import math
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from simdetect import __version__
from simdetect.audit.commands import register as register_audit_commands
from simdetect.backbones import BackboneError, list_backbones
from simdetect.distributed.commands import (
    AddressOpt,
    Engine,
    EngineOpt,
    RayActorsOpt,
    RayGpusOpt,
    select_embed,
)
from simdetect.distributed.commands import register as register_distributed_commands
from simdetect.index import (
    ROLE_ARTIST,
    ROLE_BACKGROUND,
    FingerprintMismatch,
    IndexCorrupt,
    IndexLocked,
    IndexNotFound,
    IndexWriter,
    open_index,
)
from simdetect.index.commands import describe_ann
from simdetect.index.commands import register as register_index_commands
from simdetect.indexing import (
    DEFAULT_COMMIT_EVERY,
    AddSummary,
    add_paths,
    add_tree,
    backbone_for_index,
    expand_paths,
)
from simdetect.io.images import DEFAULT_MAX_PIXELS, LoadLimits
from simdetect.io.walk import write_skips_csv
from simdetect.outputs import OutputFormatError, check_output_path, write_results
from simdetect.report.commands import register as register_report_commands
from simdetect.runtime import tune_allocator
from simdetect.scan import Scanner, ScanParams, ScanResult
from simdetect.scoring import DEFAULT_HUBNESS_K, DEFAULT_K
from simdetect.scoring.calibration import DEFAULT_TARGET_FPR, ScoringParams
from simdetect.serve.commands import register as register_serve_commands
from simdetect.ui.commands import register as register_ui_commands

app = typer.Typer(
    help="Find AI-generated images that copy or imitate an artist's style.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
index_app = typer.Typer(help="Build and inspect an index of artists' works.", no_args_is_help=True)
app.add_typer(index_app, name="index")

console = Console()
err_console = Console(stderr=True, soft_wrap=True)  # an error stays one greppable line

DEFAULT_INDEX = Path("indexes/default")
CLIP_EXAMPLES = ("clip:ViT-B-32/laion2b_s34b_b79k", "clip:ViT-L-14/openai")

IndexOpt = Annotated[Path, typer.Option("--index", "-i", help="Index directory.")]
MaxPixelsOpt = Annotated[
    int, typer.Option("--max-pixels", help="Refuse images larger than this many pixels.")
]
BatchOpt = Annotated[int, typer.Option("--batch-size", help="Images per forward pass.")]
CommitOpt = Annotated[
    int, typer.Option("--commit-every", help="Commit to disk after this many new works.")
]

EXPECTED_ERRORS = (
    BackboneError,
    FingerprintMismatch,
    IndexCorrupt,
    IndexLocked,
    IndexNotFound,
    OutputFormatError,
    FileNotFoundError,
    NotADirectoryError,
    ValueError,
)


def fail(message: str, code: int = 1) -> None:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


@contextmanager
def user_errors() -> Iterator[None]:
    """Known failures become one red line and exit code 1, never a traceback."""
    try:
        yield
    except EXPECTED_ERRORS as exc:
        fail(str(exc))


@contextmanager
def progress_bar(label: str) -> Iterator[tuple[Callable[[int], None], Callable[[int], None]]]:
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
        disable=not err_console.is_terminal,
    ) as progress:
        task = progress.add_task(label, total=None)

        def on_total(n: int) -> None:
            progress.update(task, total=n)

        def on_progress(n: int) -> None:
            progress.advance(task, n)

        yield on_total, on_progress


def report_add(summary: AddSummary, index_dir: Path, skipped_csv: Path | None) -> None:
    m = summary.manifest
    total = f"; index now holds {m.count} works by {len(m.artists)} artists" if m else ""
    if m and m.background:
        total += f" and {len(m.background)} background sets"
    console.print(
        f"added [bold]{summary.added}[/], already indexed {summary.already_indexed}, "
        f"skipped {len(summary.skipped)}{total} ({index_dir})",
        highlight=False,
    )
    for path, owner in summary.conflicts:
        console.print(f"[yellow]not added:[/] {path}: same file already indexed under {owner!r}")
    if summary.skipped:
        reasons: dict[str, int] = {}
        for s in summary.skipped:
            key = s.reason.split(":")[0]
            reasons[key] = reasons.get(key, 0) + 1
        table = Table(title="Skipped files", show_lines=False)
        table.add_column("reason")
        table.add_column("files", justify="right")
        for reason, n in sorted(reasons.items(), key=lambda kv: -kv[1]):
            table.add_row(reason, str(n))
        console.print(table)
        for s in summary.skipped[:10]:
            console.print(f"  [dim]{s.path}[/]: {s.reason}", highlight=False)
        target = skipped_csv or index_dir / "logs" / (
            "skipped-" + datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ") + ".csv"
        )
        write_skips_csv(summary.skipped, target)
        console.print(f"skipped files listed in {target}", highlight=False)


@app.command("backbones")
def backbones_cmd() -> None:
    """List the backbones, their dimension and whether their weights are here offline."""
    table = Table(title="Backbones")
    for col in ("name", "dim", "offline", "description"):
        table.add_column(col)
    for info in list_backbones(CLIP_EXAMPLES):
        table.add_row(
            info.name,
            str(info.dim) if info.dim else "on load",
            "[green]yes[/]" if info.offline else "[red]no[/]",
            info.description,
        )
    console.print(table)
    console.print(
        "Any open_clip model works as clip:MODEL/TAG (weights cached by open_clip) "
        "or clip:MODEL@/path/to/checkpoint."
    )


@index_app.command("add")
def index_add(
    paths: Annotated[list[Path], typer.Argument(help="Image files or folders.")],
    artist: Annotated[str, typer.Option("--artist", "-a", help="Artist the works belong to.")],
    index: IndexOpt = DEFAULT_INDEX,
    backbone: Annotated[
        str | None, typer.Option("--backbone", "-b", help="Backbone for a new index.")
    ] = None,
    background: Annotated[
        bool, typer.Option("--background", help="Add as background (never reported as a match).")
    ] = False,
    max_pixels: MaxPixelsOpt = DEFAULT_MAX_PIXELS,
    batch_size: BatchOpt = 32,
    commit_every: CommitOpt = DEFAULT_COMMIT_EVERY,
    skipped_csv: Annotated[Path | None, typer.Option(help="Where to write skipped files.")] = None,
    engine: EngineOpt = Engine.local,
    address: AddressOpt = None,
    ray_actors: RayActorsOpt = None,
    ray_gpus: RayGpusOpt = 0.0,
) -> None:
    """Add one artist's works (files or folders) to an index."""
    with user_errors():
        embed = select_embed(engine, address, ray_actors, ray_gpus)
        bb = backbone_for_index(index, backbone)
        with progress_bar(f"indexing {artist}") as (on_total, on_progress):
            summary = add_paths(
                index,
                [str(p) for p in paths],
                artist,
                backbone=bb,
                role=ROLE_BACKGROUND if background else ROLE_ARTIST,
                limits=LoadLimits(max_pixels=max_pixels),
                batch_size=batch_size,
                commit_every=commit_every,
                on_total=on_total,
                on_progress=on_progress,
                embed=embed,
            )
        report_add(summary, index, skipped_csv)


@index_app.command("add-tree")
def index_add_tree(
    root: Annotated[Path, typer.Argument(help="Folder with one sub-folder per artist.")],
    index: IndexOpt = DEFAULT_INDEX,
    backbone: Annotated[
        str | None, typer.Option("--backbone", "-b", help="Backbone for a new index.")
    ] = None,
    background: Annotated[
        bool, typer.Option("--background", help="Add as background (never reported as a match).")
    ] = False,
    max_pixels: MaxPixelsOpt = DEFAULT_MAX_PIXELS,
    batch_size: BatchOpt = 32,
    commit_every: CommitOpt = DEFAULT_COMMIT_EVERY,
    skipped_csv: Annotated[Path | None, typer.Option(help="Where to write skipped files.")] = None,
    engine: EngineOpt = Engine.local,
    address: AddressOpt = None,
    ray_actors: RayActorsOpt = None,
    ray_gpus: RayGpusOpt = 0.0,
) -> None:
    """Add a whole tree: each sub-folder of ROOT is one artist, named by the folder."""
    with user_errors():
        embed = select_embed(engine, address, ray_actors, ray_gpus)
        bb = backbone_for_index(index, backbone)
        with progress_bar("indexing") as (on_total, on_progress):
            summary = add_tree(
                index,
                root,
                backbone=bb,
                role=ROLE_BACKGROUND if background else ROLE_ARTIST,
                limits=LoadLimits(max_pixels=max_pixels),
                batch_size=batch_size,
                commit_every=commit_every,
                on_total=on_total,
                on_progress=on_progress,
                embed=embed,
            )
        report_add(summary, index, skipped_csv)


def _calibration_state(snap: Any) -> str:
    from simdetect.scoring.calibration import ScoringParams, stored_calibration

    cal = stored_calibration(snap, ScoringParams())
    if cal is None:
        return "not computed for this state yet (computed on the next scan or `index calibrate`)"
    state = "calibrated" if cal.calibrated else "uncalibrated (single artist, no background)"
    return f"{state}, computed {cal.computed_at} in {cal.seconds:.1f}s for this exact state"


@index_app.command("calibrate")
def index_calibrate(index: IndexOpt = DEFAULT_INDEX) -> None:
    """Compute (or confirm) the calibration statistics for the index's current state."""
    from simdetect.scoring.aggregate import ArtistTable
    from simdetect.scoring.calibration import load_or_compute

    with user_errors():
        snap = open_index(index)
        meta = snap.metadata
        table = ArtistTable.build(meta["artist"].tolist(), meta["role"].tolist())
        cal = load_or_compute(snap, table)
    console.print(_calibration_state(snap), highlight=False)
    if cal.reason:
        console.print(f"[yellow]note:[/] {cal.reason}", highlight=False)


@index_app.command("info")
def index_info(index: IndexOpt = DEFAULT_INDEX) -> None:
    """Show what an index holds and how it was built."""
    with user_errors():
        snap = open_index(index)
    m = snap.manifest
    fp = m.fingerprint
    table = Table(title=f"Index {index}", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")  # hashes must never be cut
    for key, value in (
        ("works", str(m.count)),
        ("artists", str(len(m.artists))),
        ("background sets", str(len(m.background))),
        ("backbone", m.backbone_spec),
        ("dimension", str(m.dim)),
        ("weights sha256", fp.weights_sha256),
        ("preprocessing", fp.preprocessing),
        ("descriptor", fp.descriptor_version),
        ("fingerprint", fp.digest()),
        ("index type", m.index_type),
        *describe_ann(m),
        ("generation", str(m.generation)),
        ("snapshot digest", snap.snapshot_digest()),
        ("calibration", _calibration_state(snap)),
        ("created", m.created_at),
        ("updated", m.updated_at),
    ):
        table.add_row(key, value)
    console.print(table)
    if m.artists or m.background:
        per = Table(title="Works per artist")
        per.add_column("artist")
        per.add_column("role")
        per.add_column("works", justify="right")
        for name, n in sorted(m.artists.items()):
            per.add_row(name, "artist", str(n))
        for name, n in sorted(m.background.items()):
            per.add_row(name, "background", str(n))
        console.print(per)


@index_app.command("remove")
def index_remove(
    index: IndexOpt = DEFAULT_INDEX,
    artist: Annotated[
        str | None, typer.Option("--artist", help="Remove all works of this artist.")
    ] = None,
    file: Annotated[
        list[str] | None, typer.Option("--file", help="Remove this file (by path or by its bytes).")
    ] = None,
) -> None:
    """Remove an artist or individual files from an index."""
    if (artist is None) == (not file):
        fail("give exactly one of --artist NAME or --file PATH")
    with user_errors(), IndexWriter(index) as writer:
        removed = (
            writer.remove_artist(artist) if artist is not None else writer.remove_files(file or [])
        )
        if removed == 0:
            fail(f"nothing matched in {index}; nothing was changed")
        m = writer.commit()
    console.print(f"removed {removed} works; index now holds {m.count} works ({index})")


def _fmt(x: float | None, digits: int = 3) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def _short(path: str) -> str:
    """Paths relative to the working directory when they are inside it: tables stay readable."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return path


def _decision(decision: bool | None) -> str:
    if decision is None:
        return "[dim]undecided[/]"
    return "[bold red]MATCH[/]" if decision else "[green]no[/]"


def print_scan_table(results: list[ScanResult], show: int = 2) -> None:
    table = Table(
        title="Scan results",
        caption="relative: hubness-corrected (CSLS) similarity; p: share of other artists' "
        "works scoring at least as high; decision at the target false-positive rate",
    )
    table.add_column("suspect", overflow="fold")
    table.add_column("artist", overflow="fold")
    table.add_column("relative", justify="right")
    table.add_column("p", justify="right")
    table.add_column("decision")
    table.add_column("nearest work (cosine)", overflow="fold")
    for r in results:
        if r.error:
            table.add_row(_short(r.suspect), f"[red]skipped: {r.error}[/]", "", "", "", "")
            continue
        nearest = (
            f"{_short(r.matches[0].path)} ({_fmt(r.matches[0].similarity)})" if r.matches else "—"
        )
        for i, a in enumerate(r.ranking[:show]):
            table.add_row(
                _short(r.suspect) if i == 0 else "",
                a.artist,
                _fmt(a.relative),
                _fmt(a.p_value, 4),
                _decision(a.decision),
                nearest if i == 0 else "",
                end_section=i == min(show, len(r.ranking)) - 1,
            )
    console.print(table)
    notes = {r.note for r in results if r.note}
    for note in notes:
        console.print(f"[yellow]note:[/] {note}", highlight=False)


def run_scan(
    paths: list[str],
    index: Path,
    top_k: int,
    out: Path | None,
    limits: LoadLimits,
    batch_size: int,
    target_fpr: float = DEFAULT_TARGET_FPR,
) -> tuple[list[ScanResult], list[dict[str, Any]]]:
    if out is not None:
        check_output_path(out)
    snap = open_index(index)
    backbone = backbone_for_index(index, None)
    scanner = Scanner(snap, ScanParams(top_k=top_k, target_fpr=target_fpr))
    skipped: list = []
    files = expand_paths(paths, skipped)
    results: list[ScanResult] = [
        ScanResult(suspect=s.path, sha256=None, error=s.reason) for s in skipped
    ]
    with progress_bar("scanning") as (on_total, on_progress):
        on_total(len(files))
        results.extend(
            scanner.scan_files(
                files, backbone, batch_size=batch_size, limits=limits, on_progress=on_progress
            )
        )
    context = scanner.context()
    rows = [r.to_json(context) for r in results]
    if out is not None:
        write_results(rows, out)
    return results, rows


@app.command("scan")
def scan_cmd(
    paths: Annotated[list[Path], typer.Argument(help="Suspect image files or folders.")],
    index: IndexOpt = DEFAULT_INDEX,
    top_k: Annotated[int, typer.Option("--top-k", "-k", help="Nearest works to list.")] = 5,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write results to .jsonl, .csv or .parquet.")
    ] = None,
    max_pixels: MaxPixelsOpt = DEFAULT_MAX_PIXELS,
    batch_size: BatchOpt = 16,
    fpr: Annotated[
        float, typer.Option("--fpr", help="Target false-positive rate for the decision.")
    ] = DEFAULT_TARGET_FPR,
) -> None:
    """Score suspect images against an index and rank the indexed artists."""
    if top_k < 1:
        fail("--top-k must be at least 1")
    if not 0 < fpr < 1:
        fail("--fpr must be between 0 and 1 (for example 0.01)")
    with user_errors():
        results, _ = run_scan(
            [str(p) for p in paths],
            index,
            top_k,
            out,
            LoadLimits(max_pixels=max_pixels),
            batch_size,
            fpr,
        )
    print_scan_table(results)
    if out is not None:
        console.print(f"results written to {out}", highlight=False)


benchmark_app = typer.Typer(help="Measure speed on real corpora.", no_args_is_help=True)
app.add_typer(benchmark_app, name="benchmark")


@benchmark_app.command("throughput")
def benchmark_throughput(
    corpora: Annotated[list[Path], typer.Argument(help="Folders of images to measure on.")],
    backbone: Annotated[
        list[str] | None,
        typer.Option("--backbone", "-b", help="Backbones to measure (default: all offline ones)."),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="Images sampled per corpus.")] = 512,
    batch_size: BatchOpt = 32,
    workers: Annotated[int, typer.Option("--workers", help="Decode threads.")] = 2,
    rounds: Annotated[
        int,
        typer.Option("--rounds", help="Alternating runs of each; the medians are reported."),
    ] = 3,
) -> None:
    """Images/s for the forward pass alone and for file → decode → embed → index add."""
    from simdetect.backbones import load_backbone
    from simdetect.evaluation.throughput import measure

    names = backbone or [b.name for b in list_backbones() if b.offline]
    table = Table(title="Throughput (images/s)")
    for col in (
        "backbone",
        "corpus",
        "images",
        "batch",
        "threads",
        "rounds",
        "forward",
        "whole path",
        "ratio",
    ):
        table.add_column(col)
    with user_errors():
        for name in names:
            bb = load_backbone(name)
            for corpus in corpora:
                r = measure(
                    bb, corpus, limit, batch_size=batch_size, workers=workers, rounds=rounds
                )
                table.add_row(
                    r.backbone,
                    str(corpus),
                    str(r.images),
                    str(r.batch_size),
                    str(r.torch_threads),
                    str(r.rounds),
                    f"{r.forward_ips:.1f}",
                    f"{r.pipeline_ips:.1f}",
                    f"{100 * r.ratio:.0f}%",
                )
    console.print(table)


@app.command("eval")
def eval_cmd(
    root: Annotated[Path, typer.Argument(help="Folder with one sub-folder per artist.")],
    index: Annotated[
        Path | None,
        typer.Option(
            "--index", "-i", help="Index caching the embeddings (default indexes/eval-ROOTNAME)."
        ),
    ] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the CSV outputs.")] = Path(
        "simdetect-out/eval"
    ),
    backbone: Annotated[str, typer.Option("--backbone", "-b", help="Backbone to evaluate.")] = (
        "effnet-style"
    ),
    query_fraction: Annotated[
        float,
        typer.Option("--query-fraction", help="Share of each artist's works used as queries."),
    ] = 0.2,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the query/database split.")] = 0,
    fpr: Annotated[float, typer.Option("--fpr", help="Target false-positive rate.")] = (
        DEFAULT_TARGET_FPR
    ),
    k: Annotated[int, typer.Option("--k", help="Works averaged per artist.")] = DEFAULT_K,
    hubness_k: Annotated[
        int, typer.Option("--hubness-k", help="Neighbours in the CSLS radius.")
    ] = DEFAULT_HUBNESS_K,
    artists: Annotated[
        bool,
        typer.Option(
            "--artists/--no-artists",
            help="Measure artist retrieval and verification (needs one sub-folder per artist).",
        ),
    ] = True,
    copies: Annotated[
        bool,
        typer.Option(
            "--copies/--no-copies",
            help="Also measure copy robustness: every image under ROOT is a source whose "
            "edited copies must find it (slow: about 2 s per source on two cores).",
        ),
    ] = False,
    copies_limit: Annotated[
        int | None,
        typer.Option("--copies-limit", help="Use only the first N images as copy sources."),
    ] = None,
    related: Annotated[
        Path | None,
        typer.Option(
            "--related",
            help="CSV (`group,file`) naming works that show one composition (photographs, "
            "details, versions of one painting): a match inside a group is listed as related "
            "and not counted as a false match; the raw rate is printed too.",
        ),
    ] = None,
) -> None:
    """Measure artist retrieval (CSD protocol), verification and copy robustness."""
    if not artists and not copies:
        fail("nothing to measure: --no-artists needs --copies")
    if artists:
        _eval_artists(root, index, out, backbone, query_fraction, seed, fpr, k, hubness_k)
    if copies:
        _eval_copies(root, out, seed, fpr, copies_limit, related)


def _eval_copies(
    root: Path, out: Path, seed: int, fpr: float, limit: int | None, related: Path | None
) -> None:
    from simdetect.evaluation.copy_robustness import evaluate_copy_robustness
    from simdetect.io.atomic import atomic_write_text

    with user_errors():
        if not root.is_dir():
            raise NotADirectoryError(f"{root}: not a folder")
        with console.status("copy robustness: describing, editing and searching every source"):
            report = evaluate_copy_robustness(
                root, limit=limit, seed=seed, target_fpr=fpr, related_file=related
            )
    table = Table(
        title=f"Copy robustness: {report.n_sources} sources, each edited copy must find its "
        f"source as a declared top-1 copy (seed {seed})"
    )
    for col in ("edit", "top-1 %", "top-1 ignoring threshold %", "decided by"):
        table.add_column(col, justify="left" if col in ("edit", "decided by") else "right")
    for row in report.to_rows():
        if str(row["edit"]).endswith("false_match_rate"):
            continue
        table.add_row(
            str(row["edit"]),
            f"{float(row['top1_pct']):.2f}",
            f"{float(row['rank1_pct']):.2f}",
            str(row["decided_by"]),
        )
    console.print(table)
    unrelated = len(report.unrelated_false_matches)
    console.print(
        f"false matches on unedited non-copies (held-out halves): "
        f"{unrelated} of {report.n_nonc} = {report.false_match_rate:.2f}% "
        f"(thresholds: geometry {report.threshold:.3f}, pHash <= {report.phash_threshold} bits)",
        highlight=False,
    )
    if related is not None:
        console.print(
            f"matches between works named as one composition in {related}: "
            f"{len(report.false_matches) - unrelated} (not counted above); all declared "
            f"matches between different files: {len(report.false_matches)} = "
            f"{report.raw_false_match_rate:.2f}%",
            highlight=False,
        )
    out.mkdir(parents=True, exist_ok=True)
    for name, text in (
        ("copy_robustness.csv", report.to_csv()),
        ("copy_false_matches.csv", report.false_matches_csv()),
    ):
        atomic_write_text(out / name, text)
        console.print(f"wrote {out / name}", highlight=False)
    console.print(f"copy robustness took {report.seconds:.0f}s", highlight=False)


def _eval_artists(
    root: Path,
    index: Path | None,
    out: Path,
    backbone: str,
    query_fraction: float,
    seed: int,
    fpr: float,
    k: int,
    hubness_k: int,
) -> None:
    from simdetect.backbones import load_backbone
    from simdetect.evaluation.runner import run_eval

    if not 0 < query_fraction < 1:
        fail("--query-fraction must be between 0 and 1")
    index_dir = index or Path("indexes") / f"eval-{root.resolve().name}"
    with user_errors():
        bb = load_backbone(backbone)
        with progress_bar("embedding") as (on_total, on_progress):
            report = run_eval(
                root,
                index_dir,
                bb,
                out,
                query_fraction=query_fraction,
                seed=seed,
                target_fpr=fpr,
                params=ScoringParams(k=k, hubness_k=hubness_k),
                on_total=on_total,
                on_progress=on_progress,
            )
    r = report.retrieval
    table = Table(
        title=f"Artist retrieval: {report.works} works, {report.artists} artists, "
        f"{r.n_queries} queries ({r.query_fraction:.0%} per artist, seed {r.seed})"
    )
    metrics = list(next(iter(r.overall.values())))
    table.add_column("ranking by")
    for m in metrics:
        table.add_column(m, justify="right")
    for method, vals in r.overall.items():
        table.add_row(method, *(f"{vals[m]:.1f}" for m in metrics))
    console.print(table)
    v = report.verification
    vt = Table(title="Verification: is this work by artist A? (every work × every artist)")
    for col in (
        "statistic",
        "ROC AUC",
        "TPR@1% FPR",
        "TPR@5% FPR",
        f"calibrated TPR@{v.target_fpr:.0%}",
        "its FPR",
    ):
        vt.add_column(col, justify="right" if col != "statistic" else "left")
    for row in v.table.itertuples():
        vt.add_row(
            str(row.statistic),
            f"{row.roc_auc:.4f}",
            f"{row.tpr_at_1pct_fpr:.3f}",
            f"{row.tpr_at_5pct_fpr:.3f}",
            f"{row.calibrated_tpr:.3f}",
            f"{row.calibrated_fpr:.4f}",
        )
    console.print(vt)
    console.print(
        f"calibrated decision at {v.target_fpr:.0%} target FPR: TPR {v.calibrated_tpr:.3f}, "
        f"false-positive rate {v.calibrated_fpr:.4f} on held-out impostors (split-half)",
        highlight=False,
    )
    console.print(
        f"embedding {report.embed_seconds:.0f}s ({report.added.added} new), "
        f"total {report.seconds:.0f}s; index {report.index_dir}",
        highlight=False,
    )
    for path in report.outputs:
        console.print(f"wrote {path}", highlight=False)


@app.command("demo")
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


@app.callback()
def main_callback(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress details.")] = False,
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
) -> None:
    if version:
        console.print(f"simdetect {__version__}")
        raise typer.Exit()
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    tune_allocator()  # before any model runs: 2-3x faster CNN forward passes on glibc


register_report_commands(app)
register_index_commands(index_app, benchmark_app)
register_distributed_commands(index_app)
register_audit_commands(app)
register_serve_commands(app)
register_ui_commands(app)


def main() -> None:
    app()
