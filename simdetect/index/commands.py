"""CLI commands for approximate indexes: `index optimize` and `benchmark ann`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from simdetect.index import ann
from simdetect.index.lock import IndexLocked
from simdetect.index.manifest import AnnInfo, IndexCorrupt, Manifest
from simdetect.index.store import AnnRequest, IndexNotFound, IndexWriter

console = Console(soft_wrap=True, highlight=False)
err_console = Console(stderr=True, soft_wrap=True, highlight=False)

DEFAULT_INDEX = Path("indexes/default")
KNOWN_ERRORS = (IndexNotFound, IndexCorrupt, IndexLocked, ValueError, FileNotFoundError)
TYPE_HELP = f"Index type: {', '.join((ann.AUTO, *ann.TYPES))}."


def describe_ann(m: Manifest) -> list[tuple[str, str]]:
    """Rows for `index info`: how searches are served and how approximate they are."""
    info: AnnInfo | None = m.ann
    if info is None:
        return [("search", "exact (flat inner product over every vector)")]
    params = ", ".join(f"{k}={v}" for k, v in sorted(info.params.items()))
    stale = (
        f" (measured at {info.measured_at_count} vectors; the index now holds {m.count}: "
        "run `simdetect index optimize` to measure again)"
        if info.measured_at_count != m.count
        else f" (measured at {info.measured_at_count} vectors)"
    )
    return [
        ("search", f"approximate: {info.type} ({info.factory}), {params}"),
        (
            "measured recall",
            f"recall@{info.recall_k} {info.recall_at_k:.4f} vs exact search "
            f"(target {info.min_recall:.2f}) on {info.n_queries} held-out queries{stale}",
        ),
        (
            "trained on",
            f"{info.n_train} sampled vectors (seed {info.seed})" if info.n_train else "no training",
        ),
        ("approximate index", f"{info.memory_bytes / 2**20:.1f} MB, built {info.built_at}"),
    ]


def register(index_app: typer.Typer, benchmark_app: typer.Typer) -> None:
    @index_app.command("optimize")
    def index_optimize(
        index: Annotated[Path, typer.Option("--index", "-i", help="Index directory.")] = (
            DEFAULT_INDEX
        ),
        kind: Annotated[str, typer.Option("--type", help=TYPE_HELP)] = ann.AUTO,
        memory_budget: Annotated[
            float | None,
            typer.Option("--memory-budget", help="MB the search index may take (auto choice)."),
        ] = None,
        min_recall: Annotated[
            float, typer.Option("--min-recall", help="recall@10 vs exact search to reach.")
        ] = ann.DEFAULT_MIN_RECALL,
        threshold: Annotated[
            int, typer.Option("--threshold", help="Vectors below which auto stays exact.")
        ] = ann.DEFAULT_APPROX_THRESHOLD,
        queries: Annotated[
            int, typer.Option("--queries", help="Held-out queries recall is measured on.")
        ] = ann.DEFAULT_QUERIES,
        seed: Annotated[int, typer.Option("--seed", help="Seed of training/query samples.")] = 0,
    ) -> None:
        """Rebuild the search index with the best type for its size as a new generation."""
        if kind != ann.AUTO and kind not in ann.TYPES:
            _fail(f"unknown --type {kind!r}; choose one of {', '.join((ann.AUTO, *ann.TYPES))}")
        if not 0 < min_recall <= 1:
            _fail("--min-recall must be in (0, 1]")
        request = AnnRequest(
            kind=kind,
            threshold=threshold,
            memory_budget_mb=memory_budget,
            min_recall=min_recall,
            n_queries=queries,
            seed=seed,
        )
        try:
            with IndexWriter(index, ann=request) as writer:
                writer.rebuild()
                m = writer.commit()
        except KNOWN_ERRORS as exc:
            _fail(str(exc))
        console.print(f"index {index}: generation {m.generation}, {m.count} vectors")
        for key, value in describe_ann(m):
            console.print(f"{key}: {value}")
        if m.ann is not None and m.ann.recall_at_k < m.ann.min_recall:
            console.print(
                f"[yellow]warning:[/] recall {m.ann.recall_at_k:.3f} is below the target "
                f"{m.ann.min_recall:.2f} even at the widest setting; choose another --type"
            )

    @benchmark_app.command("ann")
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
            if k != ann.AUTO and k not in ann.TYPES:
                _fail(f"unknown --type {k!r}; choose from {', '.join((ann.AUTO, *ann.TYPES))}")
        shared = 1.0 - artist_weight - within_weight - noise_weight
        if min(artist_weight, within_weight, noise_weight) < 0 or shared < 0:
            _fail("the weights must be non-negative and add up to at most 1")
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


def _fail(message: str) -> None:
    err_console.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(1)
