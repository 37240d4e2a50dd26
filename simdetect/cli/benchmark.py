"""`simdetect benchmark ...`: speed and memory on real corpora and synthetic vectors.

Every benchmark's wiring lives here, so no library package imports `simdetect.evaluation`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from simdetect.cli.common import (
    DEFAULT_INDEX,
    BatchOpt,
    IndexOpt,
    WorkersOpt,
    console,
    err_console,
    fail,
    plural,
    user_errors,
)
from simdetect.defaults import ANN_AUTO, ANN_TYPES, DEFAULT_MAX_BATCH

app = typer.Typer(help="Measure speed on real corpora.", no_args_is_help=True)


@app.command("throughput")
def benchmark_throughput(
    corpora: Annotated[list[Path], typer.Argument(help="Folders of images to measure on.")],
    backbone: Annotated[
        list[str] | None,
        typer.Option("--backbone", "-b", help="Backbones to measure (default: all offline ones)."),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="Images sampled per corpus.")] = 512,
    batch_size: BatchOpt = 32,
    workers: WorkersOpt = 2,
    rounds: Annotated[
        int,
        typer.Option("--rounds", help="Alternating runs of each; the medians are reported."),
    ] = 3,
) -> None:
    """Images/s for the forward pass alone and for file → decode → embed → index add."""
    from simdetect.backbones import list_backbones, load_backbone
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


@app.command("ann")
def benchmark_ann(
    n: Annotated[int, typer.Option("--n", help="Vectors to draw and index.")] = 1_000_000,
    dim: Annotated[int, typer.Option("--dim", help="Dimension.")] = 512,
    queries: Annotated[int, typer.Option("--queries", help="Query sample size.")] = 1000,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the draws.")] = 0,
    memory_budget: Annotated[
        float | None, typer.Option("--memory-budget", help="MB for the auto choice.")
    ] = None,
    kinds: Annotated[
        list[str] | None,
        typer.Option("--type", help="Types to measure (repeatable; default: auto)."),
    ] = None,
    artist_weight: Annotated[
        float, typer.Option("--artist-weight", help="Variance share of the artist centre.")
    ] = 0.18,
    within_weight: Annotated[
        float, typer.Option("--within-weight", help="Share of the within-artist spread.")
    ] = 0.09,
    noise_weight: Annotated[
        float, typer.Option("--noise-weight", help="Share of isotropic noise.")
    ] = 0.03,
) -> None:
    """Approximate search at scale on clustered synthetic 512-d vectors.

    Vectors: x = normalise(sqrt(.70)·μ + sqrt(.18)·c_a + sqrt(.09·f_a)·U_a z +
    sqrt(.03)·e/sqrt(d)) by default (the shares are options; the global direction takes
    what the others leave) with one global direction μ, n/300 artists with centres c_a on
    the sphere, a 16-d random subspace U_a per artist (z ~ N(0, I/16), f_a ~ U[.5,1.5])
    and isotropic noise e (see simdetect.evaluation.ann_bench).
    """
    from simdetect.evaluation import ann_bench

    for k in kinds or []:
        if k != ANN_AUTO and k not in ANN_TYPES:
            fail(f"unknown --type {k!r}; choose from {', '.join((ANN_AUTO, *ANN_TYPES))}")
    shared = 1.0 - artist_weight - within_weight - noise_weight
    if min(artist_weight, within_weight, noise_weight) < 0 or shared < 0:
        fail("the weights must be non-negative and add up to at most 1")
    weights = ann_bench.DrawWeights(shared, artist_weight, within_weight, noise_weight)
    console.print(
        f"drawing {n} x {dim} vectors: global direction (weight {shared:.2f}) + one of "
        f"{max(2, n // ann_bench.WORKS_PER_ARTIST)} artist centres ({artist_weight:.2f}) "
        f"+ a 16-d per-artist subspace ({within_weight:.2f} x U[.5,1.5]) + isotropic "
        f"noise ({noise_weight:.2f}), L2-normalised"
    )
    stats, results, draw_s = ann_bench.run(
        n,
        dim,
        n_queries=queries,
        seed=seed,
        memory_budget_mb=memory_budget,
        types=kinds,
        weights=weights,
    )
    console.print(
        f"drawn in {draw_s:.1f}s; mean cosine: nearest neighbour {stats.nn1:.3f}, "
        f"same artist {stats.within:.3f}, different artists {stats.between:.3f}"
    )
    table = Table(title=f"Approximate search, {n} x {dim} vectors, {queries} queries")
    for col in (
        "type",
        "factory",
        "params",
        "build s",
        "index MB",
        "RSS delta MB",
        "p50 ms",
        "p99 ms",
        "batch q/s",
        "recall@10",
        "threads",
    ):
        table.add_column(col, justify="left" if col in ("type", "factory") else "right")
    for r in results:
        table.add_row(
            r.type,
            r.factory,
            ",".join(f"{k}={v}" for k, v in r.params.items()),
            f"{r.build_seconds:.1f}",
            f"{r.index_bytes / 2**20:.1f}",
            f"{r.rss_delta_bytes / 2**20:.1f}",
            f"{r.p50_ms:.3f}",
            f"{r.p99_ms:.3f}",
            f"{r.batch_qps:.0f}",
            f"{r.recall_at_10:.4f}",
            str(r.threads),
        )
    console.print(table)
    console.print(
        "latency: one query at a time, top-10 re-scored exactly; batch: all queries in "
        "one call; recall@10 vs brute-force ground truth, the query itself excluded"
    )


@app.command("audit")
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
    batch_size: BatchOpt = 32,
    workers: WorkersOpt = 2,
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
    with user_errors():
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


@app.command("serve-memory")
def benchmark_serve_memory_cmd(
    index: IndexOpt = DEFAULT_INDEX,
    uploads: Annotated[int, typer.Option("--uploads", help="Uploads posted at once.")] = 32,
    megapixels: Annotated[float, typer.Option("--megapixels", help="Size of each PNG.")] = 100.0,
    decode_memory_mb: Annotated[
        float | None, typer.Option("--decode-memory-mb", help="Server's --decode-memory-mb.")
    ] = None,
) -> None:
    """Server memory (RSS) idle, at peak during a burst of huge PNG uploads, and after it."""
    from simdetect.evaluation.serve_bench import default_images, load_images
    from simdetect.evaluation.serve_memory import run_serve_memory

    with user_errors():
        warm = load_images(default_images(), limit=1)[0][1]
        run = run_serve_memory(
            index,
            warm,
            uploads=uploads,
            megapixels=megapixels,
            decode_memory_mb=decode_memory_mb,
            on_status=lambda m: console.print(escape(m)),
        )
    console.print(
        f"{run.uploads} concurrent uploads of {run.megapixels:g}-megapixel PNGs "
        f"({', '.join(f'{b / 2**20:.1f} MiB' for b in run.png_bytes)} on the wire), "
        f"answered in {run.burst_seconds:.0f} s: "
        + " ".join(f"{k}:{v}" for k, v in sorted(run.statuses.items()))
    )
    console.print(f"server RSS idle        {run.idle_mb:8.0f} MiB")
    console.print(f"server RSS peak        {run.peak_mb:8.0f} MiB")
    console.print(
        f"server RSS after burst {run.after_mb:8.0f} MiB "
        f"({run.after_vs_idle:.2f}x idle, {run.settled_after_s:.1f} s after the last answer)"
    )
    console.print(
        f"decode budget {run.decode_budget_mb:.0f} MiB, most held at once "
        f"{run.decode_peak_mb:.0f} MiB, decodes that waited {run.decode_waits}"
    )


@app.command("serve")
def benchmark_serve_cmd(
    index: IndexOpt = DEFAULT_INDEX,
    clients: Annotated[int, typer.Option("--clients", help="Concurrent clients.")] = 32,
    seconds: Annotated[float, typer.Option("--seconds", help="Measured seconds per mode.")] = 60.0,
    images: Annotated[
        Path | None,
        typer.Option("--images", help="Folder of images to post (default: the demo seeds)."),
    ] = None,
    max_batch: Annotated[
        int, typer.Option("--max-batch", help="Server's --max-batch when batching.")
    ] = DEFAULT_MAX_BATCH,
    batch_wait_ms: Annotated[
        float, typer.Option("--batch-wait-ms", help="Server's --batch-wait-ms.")
    ] = 5.0,
    queue_size: Annotated[int, typer.Option("--queue-size", help="Server's --queue-size.")] = 64,
    warmup: Annotated[float, typer.Option("--warmup", help="Unmeasured seconds first.")] = 3.0,
) -> None:
    """Requests/s and latency of `simdetect serve` under concurrent clients, batching off vs on."""
    from simdetect.evaluation.serve_bench import BenchSettings, default_images, run_serve_benchmark

    with user_errors():
        settings = BenchSettings(
            index=index,
            images=images or default_images(),
            clients=clients,
            seconds=seconds,
            warmup=warmup,
            max_batch=max_batch,
            batch_wait_ms=batch_wait_ms,
            queue_size=queue_size,
        )
        result = run_serve_benchmark(settings, on_status=lambda m: console.print(escape(m)))
    console.print(
        f"simdetect serve on loopback: {clients} clients, {seconds:g} s per mode, "
        f"{plural(result.n_images, 'image')} from {escape(str(settings.images))}"
    )
    table = Table()
    for col in ("mode", "req/s", "p50 ms", "p99 ms", "batch", "max", "statuses", "errors"):
        table.add_column(col, justify="left" if col in ("mode", "statuses") else "right")
    for run in result.runs:
        table.add_row(
            run.mode,
            f"{run.rps:.1f}",
            f"{run.p50_ms:.0f}",
            f"{run.p99_ms:.0f}",
            "—" if run.mean_batch is None else f"{run.mean_batch:.2f}",
            str(run.largest_batch),
            " ".join(f"{k}:{v}" for k, v in sorted(run.statuses.items())),
            str(sum(run.client_errors.values())),
        )
    console.print(table)
    console.print(
        "req/s: answers with status 200 per second; batch: mean images per forward pass "
        "(max: largest); statuses: every answer in the window; errors: connections that failed"
    )
    if len(result.runs) == 2 and result.runs[0].rps > 0:
        console.print(
            f"micro-batching on/off: {result.runs[1].rps / result.runs[0].rps:.2f}x requests/s"
        )
    for run in result.runs:
        for kind, n in sorted(run.client_errors.items()):
            console.print(f"[yellow]{run.mode}:[/] {n} x {escape(kind)}")
    console.print(f"benchmark took {result.seconds:.0f} s")
    if result.unexpected_errors:
        err_console.print(
            f"[bold red]error:[/] {result.unexpected_errors} responses other than 200 or 429"
        )
        raise typer.Exit(1)


@app.command("copies")
def benchmark_copies_cmd(
    works: Annotated[Path, typer.Argument(help="Folder of the indexed works (one artist).")],
    copies: Annotated[
        int, typer.Option("--copies", help="Crop + 7° turn + JPEG-35 copies of random works.")
    ] = 40,
    grid: Annotated[
        list[Path] | None,
        typer.Option("--grid", help="Folder of 2x2 image grids (cut into quadrants) as suspects."),
    ] = None,
    grid_limit: Annotated[
        int | None, typer.Option("--grid-limit", help="Grid files per --grid folder.")
    ] = None,
    cache: Annotated[
        Path, typer.Option("--cache", help="Where the copy index and region sets are kept.")
    ] = Path("simdetect-out/benchmark-copies"),
) -> None:
    """The copy verdict's cost next to the style vector's, and how often its gate opens."""
    from simdetect.backbones import load_backbone
    from simdetect.evaluation.copy_cost import (
        SuspectSet,
        grid_quadrants,
        laundered_copies,
        measure_copy_cost,
        works_from_folder,
    )

    with user_errors():
        indexed = works_from_folder(works)
        backbone = load_backbone("effnet-style")
        sets = [laundered_copies(indexed, copies)]
        for folder in grid or []:
            quads = grid_quadrants(folder, grid_limit)
            sets.append(SuspectSet(f"quadrants of {folder.name}", quads, [None] * len(quads)))
        rows, build_s = measure_copy_cost(indexed, sets, backbone, cache)
    console.print(
        f"copy index of {plural(len(indexed), 'work')} built in {build_s:.0f}s", highlight=False
    )
    table = Table(title="Copy verdict: cost per suspect next to the style vector")
    for col in ("suspects", "n", "gate open", "copies found (right/expected)", "style ms",
                "copy ms", "copy ms (gate open)", "scan cost ×"):  # fmt: skip
        table.add_column(col, justify="left" if col == "suspects" else "right")
    for r in rows:
        table.add_row(
            escape(r.name),
            str(r.n),
            f"{r.gate_open_pct:.1f}%",
            f"{r.copies_found} ({r.copies_right}/{r.copies_expected})",
            f"{r.style_ms:.1f}",
            f"{r.copy_ms:.1f}",
            f"{r.copy_open_ms:.1f}",
            f"{r.ratio:.2f}",
        )
    console.print(table)


@app.command("ui")
def benchmark_ui_cmd(
    works: Annotated[int, typer.Option("--works", help="Works in the artist's portfolio.")] = 30,
    rounds: Annotated[int, typer.Option("--rounds", help="Checks of each suspect.")] = 3,
) -> None:
    """Seconds a suspect check takes on the workbench (a portfolio from the demo seeds)."""
    from simdetect.evaluation.ui_bench import run_ui_benchmark

    with user_errors():
        result = run_ui_benchmark(works, rounds, on_status=lambda m: console.print(escape(m)))
    console.print(result.summary())
