"""`simdetect serve`: the HTTP service."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from simdetect.cli.common import (
    DEFAULT_FAMILY_FPR,
    DEFAULT_INDEX,
    DEFAULT_MAX_PIXELS,
    DEFAULT_TARGET_FPR,
    FamilyFprOpt,
    FprOpt,
    IndexOpt,
    MaxPixelsOpt,
    ReferenceOpt,
    TopKOpt,
    console,
    plural,
    user_errors,
)
from simdetect.defaults import DEFAULT_DECODE_MEMORY_MB, DEFAULT_MAX_BATCH

DEFAULT_EVIDENCE = Path("simdetect-out/serve")


def serve_cmd(
    index: IndexOpt = DEFAULT_INDEX,
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
    max_pixels: MaxPixelsOpt = DEFAULT_MAX_PIXELS,
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
    fpr: FprOpt = DEFAULT_TARGET_FPR,
    reference: ReferenceOpt = None,
    family_fpr: FamilyFprOpt = DEFAULT_FAMILY_FPR,
    top_k: TopKOpt = 5,
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

    from simdetect.index.build import backbone_for_index
    from simdetect.index.store import open_index
    from simdetect.serve.app import create_app
    from simdetect.serve.auth import check_auth_setup, load_api_keys
    from simdetect.serve.engine import ServeConfig, ServeEngine

    with user_errors():
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
            reference=reference,
            family_fpr=family_fpr,
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
        f"serving {escape(str(index))} ({plural(snapshot.count, 'work')}, generation "
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
