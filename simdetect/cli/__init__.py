"""The `simdetect` command line (the only package that imports typer and rich)."""

from simdetect.cli.main import app, main

__all__ = ["app", "main"]
