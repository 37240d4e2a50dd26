"""`simdetect ui`: the web workbench in a browser."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from simdetect.cli.common import (
    DEFAULT_INDEX,
    DEFAULT_MAX_PIXELS,
    IndexOpt,
    MaxPixelsOpt,
    console,
    plural,
    user_errors,
)

DEFAULT_EVIDENCE = Path("simdetect-out/ui")


def ui_cmd(
    index: IndexOpt = DEFAULT_INDEX,
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8000,
    host: Annotated[
        str,
        typer.Option("--host", help="Address to listen on (other than loopback needs API keys)."),
    ] = "127.0.0.1",
    api_keys_file: Annotated[
        Path | None,
        typer.Option(
            "--api-keys-file",
            help="File of API keys, one per line (plus any in SIMDETECT_API_KEYS); "
            "with keys, the page asks for one to sign in.",
        ),
    ] = None,
    evidence_dir: Annotated[
        Path,
        typer.Option("--evidence-dir", help="Where added works, uploads and reports are kept."),
    ] = DEFAULT_EVIDENCE,
    max_request_mb: Annotated[
        float, typer.Option("--max-request-mb", help="Largest upload accepted (MiB).")
    ] = 32.0,
    max_pixels: MaxPixelsOpt = DEFAULT_MAX_PIXELS,
) -> None:
    """Open the web workbench: portfolio, suspect checks and evidence reports in a browser."""
    import uvicorn

    from simdetect.index.build import backbone_for_index
    from simdetect.serve.auth import load_api_keys
    from simdetect.serve.engine import ServeConfig
    from simdetect.ui.app import WorkbenchApp
    from simdetect.ui.security import check_workbench_auth
    from simdetect.ui.workbench import Workbench

    with user_errors():
        keys = load_api_keys(api_keys_file)
        check_workbench_auth(keys, host)
        config = ServeConfig(
            index_dir=index,
            evidence_dir=evidence_dir,
            max_request_mb=max_request_mb,
            max_pixels=max_pixels,
        )
        with console.status("loading the index and the model"):
            workbench = Workbench(config, backbone_for_index(index, None))
            workbench.open()
        app = WorkbenchApp(workbench, keys, host=host, port=port)
    shown = f"[{host}]" if ":" in host else host
    engine = workbench.engine
    held = (
        plural(engine.snapshot.count, "work")
        if engine is not None
        else "empty: add works on the page"
    )
    auth = "sign in with an API key" if keys.enabled else "this computer only, no sign-in"
    console.print(f"index {escape(str(index))} ({held}); {auth}")
    console.print(f"open [bold]http://{escape(shown)}:{port}/[/] in a browser (Ctrl+C stops)")
    uvicorn.run(app, host=host, port=port, log_level="warning", timeout_keep_alive=30)
