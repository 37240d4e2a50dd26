"""Run `simdetect ui` as a child process on a free loopback port (benchmark, tests)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from simdetect.serve.local import HOST, LocalServer


class LocalWorkbench(LocalServer):
    """`python -m simdetect ui --index INDEX --evidence-dir DIR ARGS...` on loopback.

    `api_key` (through the environment, never the command line) makes the page ask
    for a sign-in; without it the workbench is open to this machine only.
    """

    command = "ui"
    ready_path = "/ui/login"

    def __init__(
        self,
        index: Path,
        evidence_dir: Path,
        args: Sequence[str] = (),
        *,
        api_key: str | None = None,
        startup_timeout: float = 180.0,
    ) -> None:
        super().__init__(index, args, api_key=api_key, startup_timeout=startup_timeout)
        self.evidence_dir = evidence_dir

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/"

    def command_args(self) -> list[str]:
        return [*super().command_args(), "--evidence-dir", str(self.evidence_dir)]
