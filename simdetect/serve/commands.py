"""CLI commands of the service (`simdetect serve`, `simdetect benchmark serve`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from simdetect.backbones.base import BackboneError
from simdetect.index.manifest import IndexCorrupt
from simdetect.index.store import FingerprintMismatch, IndexNotFound
from simdetect.io.budget import DEFAULT_DECODE_MEMORY_MB
from simdetect.io.images import DEFAULT_MAX_PIXELS
from simdetect.scoring.calibration import DEFAULT_TARGET_FPR

console = Console(soft_wrap=True, highlight=False)
err_console = Console(stderr=True, soft_wrap=True, highlight=False)

DEFAULT_INDEX = Path("indexes/default")
DEFAULT_EVIDENCE = Path("simdetect-out/serve")
# Measured on two cores (effnet-style, 32 clients): batches of 8 served 39 requests/s,
# of 16 only 32. A model thread's glibc arena mmaps activations over 64 MiB afresh on
# every pass; MALLOC_ARENA_MAX=1 in the environment lifts that (44 requests/s at 16).
DEFAULT_MAX_BATCH = 8


@contextmanager
def one_line_errors() -> Iterator[None]:
    """Known failures become one red line and exit code 1, never a traceback."""
    from simdetect.serve.auth import AuthConfigError

    known = (
        AuthConfigError,
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


def serve_cmd(
    index: Annotated[Path, typer.Option("--index", "-i", help="Index directory.")] = DEFAULT_INDEX,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8000,
    api_keys_file: Annotated[
        Path | None,
        typer.Option(
            "--api-keys-file",
            help="File of API keys, one per line (plus any in "
            "the SIMDETECT_API_KEYS environment variable).",
        ),
    ] = None,
    insecure_no_auth: Annotated[
        bool,
        typer.Option("--insecure-no-auth", help="Serve without API keys (loopback only)."),
    ] = False,
    public_docs: Annotated[
        bool,
        typer.Option("--public-docs", help="Serve /docs and /openapi.json without a key."),
    ] = False,
    evidence_dir: Annotated[
        Path,
        typer.Option("--evidence-dir", help="Where uploads for reports and the reports are kept."),
    ] = DEFAULT_EVIDENCE,
    max_request_mb: Annotated[
        float, typer.Option("--max-request-mb", help="Largest request body accepted (MiB).")
    ] = 32.0,
    max_pixels: Annotated[
        int, typer.Option("--max-pixels", help="Refuse images larger than this many pixels.")
    ] = DEFAULT_MAX_PIXELS,
    max_batch: Annotated[
        int, typer.Option("--max-batch", help="Most images in one forward pass.")
    ] = DEFAULT_MAX_BATCH,
    batch_wait_ms: Annotated[
        float,
        typer.Option("--batch-wait-ms", help="How long a batch waits for more requests."),
    ] = 5.0,
    no_batching: Annotated[
        bool, typer.Option("--no-batching", help="One image per forward pass.")
    ] = False,
    queue_size: Annotated[
        int,
        typer.Option("--queue-size", help="Requests in progress at once; more get 429."),
    ] = 64,
    timeout: Annotated[
        float, typer.Option("--timeout", help="Seconds a request may wait for its result.")
    ] = 60.0,
    fpr: Annotated[
        float, typer.Option("--fpr", help="Target false-positive rate for the decision.")
    ] = DEFAULT_TARGET_FPR,
    top_k: Annotated[int, typer.Option("--top-k", "-k", help="Nearest works to list.")] = 5,
    decode_workers: Annotated[
        int, typer.Option("--decode-workers", help="Threads decoding uploads.")
    ] = 2,
    decode_memory_mb: Annotated[
        float,
        typer.Option(
            "--decode-memory-mb",
            help="Memory all concurrent decodes may use together (estimated per image).",
        ),
    ] = DEFAULT_DECODE_MEMORY_MB,
) -> None:
    """Serve scans and evidence reports over HTTP (FastAPI + uvicorn)."""
    import uvicorn

    from simdetect.index.store import open_index
    from simdetect.indexing import backbone_for_index
    from simdetect.serve.app import create_app
    from simdetect.serve.auth import check_auth_setup, load_api_keys
    from simdetect.serve.engine import ServeConfig, ServeEngine

    with one_line_errors():
        keys = load_api_keys(api_keys_file)
        check_auth_setup(keys, insecure_no_auth, host)
        config = ServeConfig(
            index_dir=index,
            evidence_dir=evidence_dir,
            max_request_mb=max_request_mb,
            max_pixels=max_pixels,
            max_batch=max_batch,
            batch_wait_ms=batch_wait_ms,
            batching=not no_batching,
            queue_size=queue_size,
            request_timeout_s=timeout,
            target_fpr=fpr,
            top_k=top_k,
            decode_workers=decode_workers,
            decode_memory_mb=decode_memory_mb,
        )
        with console.status("loading the index and the model"):
            snapshot = open_index(index)
            backbone = backbone_for_index(index, None)
            engine = ServeEngine(config, snapshot, backbone)
        app = create_app(engine, keys, public_docs=public_docs)
    auth = f"{len(keys.keys)} API key(s)" if keys.enabled else "[bold red]NO authentication[/]"
    batching = (
        f"micro-batching up to {max_batch} images, {batch_wait_ms:g} ms wait"
        if not no_batching
        else "no batching"
    )
    console.print(
        f"serving {escape(str(index))} ({snapshot.count} works, generation "
        f"{snapshot.manifest.generation}) on http://{escape(host)}:{port} — {auth}, {batching}"
    )
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="warning",
        # A backstop above the service's own queue: connections beyond it get 503.
        limit_concurrency=max(256, 4 * queue_size),
        timeout_keep_alive=30,
    )


def benchmark_serve_memory_cmd(
    index: Annotated[Path, typer.Option("--index", "-i", help="Index directory.")] = DEFAULT_INDEX,
    uploads: Annotated[int, typer.Option("--uploads", help="Uploads posted at once.")] = 32,
    megapixels: Annotated[float, typer.Option("--megapixels", help="Size of each PNG.")] = 100.0,
    decode_memory_mb: Annotated[
        float | None, typer.Option("--decode-memory-mb", help="Server's --decode-memory-mb.")
    ] = None,
) -> None:
    """Server memory (RSS) idle, at peak during a burst of huge PNG uploads, and after it."""
    from simdetect.evaluation.serve_bench import default_images, load_images
    from simdetect.evaluation.serve_memory import run_serve_memory

    with one_line_errors():
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


def benchmark_serve_cmd(
    index: Annotated[Path, typer.Option("--index", "-i", help="Index directory.")] = DEFAULT_INDEX,
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

    with one_line_errors():
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
        f"{result.n_images} images from {escape(str(settings.images))}"
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


def register(app: typer.Typer) -> None:
    """Add `serve` to the app, and `serve` to its `benchmark` group when there is one."""
    app.command("serve")(serve_cmd)
    for group in app.registered_groups:
        if group.name == "benchmark" and group.typer_instance is not None:
            group.typer_instance.command("serve")(benchmark_serve_cmd)
            group.typer_instance.command("serve-memory")(benchmark_serve_memory_cmd)
