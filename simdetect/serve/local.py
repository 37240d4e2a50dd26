"""Run `simdetect serve` as a child process on a free loopback port (benchmark, tests)."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import TypeVar

from simdetect.serve.auth import ENV_VAR
from simdetect.serve.client import ServeClient

HOST = "127.0.0.1"
_Server = TypeVar("_Server", bound="LocalServer")


class ServerStartError(RuntimeError):
    """The child server exited or did not become ready; the message holds its last output."""


def free_port(host: str = HOST) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class LocalServer:
    """`python -m simdetect serve --index INDEX ARGS...` with a fresh API key.

    The key goes through the environment (never the command line, where `ps` shows it).
    `api_key=None` with `--insecure-no-auth` in `args` runs without keys.
    Subclasses run another command of the same process model (the workbench) by changing
    `command`, `ready_path` and `command_args()`.
    """

    command = "serve"
    ready_path = "/healthz"

    def __init__(
        self,
        index: Path,
        args: Sequence[str] = (),
        *,
        api_key: str | None = "",
        startup_timeout: float = 180.0,
        env: dict[str, str] | None = None,
    ) -> None:
        self.index = index
        self.args = list(args)
        self.api_key = secrets.token_urlsafe(24) if api_key == "" else api_key
        self.startup_timeout = startup_timeout
        self.extra_env = env or {}
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._log_dir = tempfile.TemporaryDirectory(prefix=f"simdetect-{self.command}-")
        self.log_path = Path(self._log_dir.name) / "server.log"

    def command_args(self) -> list[str]:
        """Arguments between the command and `--host`; the index by default."""
        return ["--index", str(self.index)]

    def client(self, timeout: float = 120.0) -> ServeClient:
        return ServeClient(HOST, self.port, self.api_key, timeout)

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-chars:]
        except OSError:
            return ""

    def start(self: _Server, wait: bool = True) -> _Server:
        """Launch the child; with `wait=False`, call `wait_ready()` before using it (lets
        several servers start side by side)."""
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if k != ENV_VAR}
        env.update(self.extra_env)
        if self.api_key is not None:
            env[ENV_VAR] = self.api_key
        cmd = [
            sys.executable,
            "-m",
            "simdetect",
            self.command,
            *self.command_args(),
            "--host",
            HOST,
            "--port",
            str(self.port),
            *self.args,
        ]
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + self.startup_timeout
        client = self.client(timeout=5.0)
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerStartError(
                    f"simdetect {self.command} exited with code {self.process.returncode}:\n"
                    + self.log_tail()
                )
            try:
                if client.request("GET", self.ready_path, auth=False).status == 200:
                    client.close()
                    return
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise ServerStartError(
            f"simdetect {self.command} not ready within {self.startup_timeout:g} s:\n"
            + self.log_tail()
        )

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM (uvicorn's graceful shutdown), then SIGKILL if it does not exit."""
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

    def __enter__(self: _Server) -> _Server:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
        self._log_dir.cleanup()
