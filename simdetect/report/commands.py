"""CLI commands of the report package (`simdetect report`, `simdetect verify`)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Attach the report commands to the main app (kept here so the CLI module stays small)."""
