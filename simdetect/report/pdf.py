"""The PDF: the HTML report printed by headless Chromium.

Chromium is used because it lays out CJK text, CSS grid and paged media (A4, page
numbers and the record digest in CSS `@page` margin boxes) the same way the HTML is
seen on screen, and embeds the subset of the fonts it used, so the PDF's text stays
selectable and searchable in both languages. Each run gets a fresh, throw-away
profile and every background feature that could reach the network is switched off;
the page itself is a local file whose Content-Security-Policy forbids any request.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from simdetect.errors import ChromiumMissing
from simdetect.io.atomic import atomic_path
from simdetect.report.errors import ReportError

log = logging.getLogger(__name__)

CHROMIUM_ENV = "SIMDETECT_CHROMIUM"
CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome")
PRINT_TIMEOUT_S = 120
INSTALL_HINT = "install Debian's chromium package (apt-get install chromium)"

# Flags that keep a headless run from talking to anything or leaving state behind.
QUIET_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--disable-domain-reliability",
    "--disable-breakpad",
    "--metrics-recording-only",
    "--mute-audio",
    "--hide-scrollbars",
)


def find_chromium() -> Path | None:
    """`$SIMDETECT_CHROMIUM`, else the first Chromium-like browser on this machine."""
    explicit = os.environ.get(CHROMIUM_ENV)
    if explicit:
        return Path(explicit) if Path(explicit).is_file() else None
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return Path(found)
    return None


def require_chromium() -> Path:
    browser = find_chromium()
    if browser is None:
        raise ChromiumMissing(f"cannot write the PDF: Chromium is not installed; {INSTALL_HINT}")
    return browser


def chromium_command(browser: Path, profile: Path, *extra: str) -> list[str]:
    return [str(browser), *QUIET_FLAGS, f"--user-data-dir={profile}", *extra]


def _run(command: list[str], timeout: float, home: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, HOME=str(home))  # Chromium writes caches under $HOME
    proc = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env=env,
        start_new_session=True,  # its own process group, so a hang is ended with its helpers
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise ReportError(
            f"Chromium did not finish printing the PDF within {timeout:.0f}s"
        ) from None
    return subprocess.CompletedProcess(command, proc.returncode, out, err)


def html_to_pdf(html_path: Path, pdf_path: Path, timeout: float = PRINT_TIMEOUT_S) -> Path:
    """Print `html_path` to `pdf_path` (atomically); page size and footer come from its CSS."""
    browser = require_chromium()
    with tempfile.TemporaryDirectory(prefix="simdetect-chromium-") as tmp:
        profile = Path(tmp) / "profile"
        with atomic_path(pdf_path) as out:
            command = chromium_command(
                browser,
                profile,
                "--no-pdf-header-footer",
                "--run-all-compositor-stages-before-draw",
                f"--print-to-pdf={out}",
                html_path.resolve().as_uri(),
            )
            result = _run(command, timeout, Path(tmp))
            ok = out.is_file() and out.read_bytes()[:5] == b"%PDF-"
            if result.returncode != 0 or not ok:
                tail = " ".join((result.stderr or "").split()[-30:])
                raise ReportError(f"Chromium could not print {html_path} to PDF: {tail}")
    log.info("wrote %s", pdf_path)
    return pdf_path
