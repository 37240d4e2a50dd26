"""Run `simdetect ui` as a child process on a free loopback port (benchmark, tests)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from simdetect.serve.auth import ENV_VAR
from simdetect.serve.client import ServeClient
from simdetect.serve.local import HOST, ServerStartError, free_port


class LocalWorkbench:
    """`python -m simdetect ui --index INDEX --evidence-dir DIR ARGS...` on loopback.

    `api_key` (through the environment, never the command line) makes the page ask
    for a sign-in; without it the workbench is open to this machine only.
    """

    def __init__(
        self,
        index: Path,
        evidence_dir: Path,
        args: Sequence[str] = (),
        *,
        api_key: str | None = None,
        startup_timeout: float = 180.0,
    ) -> None:
        self.index = index
        self.evidence_dir = evidence_dir
        self.args = list(args)
        self.api_key = api_key
        self.startup_timeout = startup_timeout
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._log_dir = tempfile.TemporaryDirectory(prefix="simdetect-ui-")
        self.log_path = Path(self._log_dir.name) / "ui.log"

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/"

    def client(self, timeout: float = 120.0) -> ServeClient:
        return ServeClient(HOST, self.port, self.api_key, timeout)

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-chars:]
        except OSError:
            return ""

    def start(self) -> LocalWorkbench:
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if k != ENV_VAR}
        if self.api_key is not None:
            env[ENV_VAR] = self.api_key
        cmd = [
            sys.executable,
            "-m",
            "simdetect",
            "ui",
            "--index",
            str(self.index),
            "--evidence-dir",
            str(self.evidence_dir),
            "--host",
            HOST,
            "--port",
            str(self.port),
            *self.args,
        ]
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + self.startup_timeout
        client = self.client(timeout=5.0)
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerStartError(
                    f"simdetect ui exited with code {self.process.returncode}:\n" + self.log_tail()
                )
            try:
                if client.request("GET", "/ui/login", auth=False).status == 200:
                    client.close()
                    return self
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise ServerStartError(
            f"simdetect ui not ready within {self.startup_timeout:g} s:\n" + self.log_tail()
        )

    def stop(self, timeout: float = 20.0) -> int | None:
        proc = self.process
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        return proc.returncode

    def __enter__(self) -> LocalWorkbench:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
        self._log_dir.cleanup()
