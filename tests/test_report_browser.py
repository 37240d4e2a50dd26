"""The HTML and PDF report in a real browser: headless Chromium driven over DevTools.

Checks what only a browser can show: that the page makes no network request at all,
logs no error, does not run a script smuggled in through image metadata, and that the
printed PDF has pages with content, both languages' text and the record digest.
Skipped only where /usr/bin/chromium is absent (CI installs it).
"""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from simdetect.backbones import Backbone
from simdetect.report.case import ReportOutputs, make_report
from simdetect.report.pdf import chromium_command
from simdetect.report.record import CaseInfo

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="/usr/bin/chromium is absent (apt-get install chromium)"
)

ARTIST = "水墨山人"
HOSTILE_PROMPT = (
    "ink landscape <script>window.__pwned=1</script> "
    '<img src=x onerror="window.__pwned=2"> & "quotes"'
)
HOSTILE_CLAIMANT = "Studio <script>window.__pwned=3</script>"


class DevTools:
    """A minimal Chrome DevTools Protocol client over one page target."""

    def __init__(self, profile: Path) -> None:
        import websocket  # websocket-client, a dev dependency

        self.proc = subprocess.Popen(
            chromium_command(CHROMIUM, profile, "--remote-debugging-port=0", "about:blank"),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=dict(os.environ, HOME=str(profile.parent)),
            start_new_session=True,
        )
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (port_file.is_file() and port_file.read_text().strip()):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.close()
                raise RuntimeError("Chromium did not open its DevTools port")
            time.sleep(0.1)
        port = int(port_file.read_text().splitlines()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=30) as resp:
            targets = json.loads(resp.read())
        page = next(t for t in targets if t["type"] == "page")
        self.ws = websocket.create_connection(
            page["webSocketDebuggerUrl"], timeout=60, suppress_origin=True
        )
        self.events: list[dict[str, Any]] = []
        self._id = 0

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self._id += 1
        self.ws.send(json.dumps({"id": self._id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self._id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return dict(msg.get("result", {}))
            self.events.append(msg)

    def wait_for(self, event: str, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        for msg in self.events:
            if msg.get("method") == event:
                return msg
        while time.monotonic() < deadline:
            msg = json.loads(self.ws.recv())
            self.events.append(msg)
            if msg.get("method") == event:
                return msg
        raise TimeoutError(event)

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result["result"].get("value")

    def close(self) -> None:
        ws = getattr(self, "ws", None)
        if ws is not None:
            ws.close()
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def hostile_png(source: Path, dest: Path) -> Path:
    """A real demo image re-saved as a PNG whose SD WebUI prompt carries markup."""
    info = PngInfo()
    info.add_text(
        "parameters",
        f"{HOSTILE_PROMPT}\nNegative prompt: <b>bold</b>\n"
        "Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 42, Size: 512x512, Model: sd15",
    )
    with Image.open(source) as img:
        img.convert("RGB").save(dest, "PNG", pnginfo=info)
    return dest


@pytest.fixture(scope="module")
def hostile_report(
    tmp_path_factory: pytest.TempPathFactory,
    built_index: Path,
    seeds_dir: Path,
    backbone: Backbone,
) -> ReportOutputs:
    work = tmp_path_factory.mktemp("browser-case")
    suspect = hostile_png(seeds_dir / "suspects" / "suspect_01.webp", work / "hostile <x>.png")
    return make_report(
        [suspect],
        built_index,
        CaseInfo(artist=ARTIST, case_id="BR-1", claimant=HOSTILE_CLAIMANT),
        work / "out",
        formats=("json", "html", "pdf"),
        backbone=backbone,
    )


@pytest.fixture()
def devtools(tmp_path: Path) -> Iterator[DevTools]:
    client = DevTools(tmp_path / "profile")
    try:
        yield client
    finally:
        client.close()


def test_html_makes_no_request_logs_no_error_and_runs_no_injected_script(
    hostile_report: ReportOutputs, devtools: DevTools, tmp_path: Path
) -> None:
    assert hostile_report.html_path is not None
    url = hostile_report.html_path.resolve().as_uri()
    for domain in ("Network", "Page", "Runtime", "Log"):
        devtools.call(f"{domain}.enable")
    devtools.call(
        "Emulation.setDeviceMetricsOverride",
        width=1100,
        height=900,
        deviceScaleFactor=1,
        mobile=False,
    )
    devtools.call("Page.navigate", url=url)
    devtools.wait_for("Page.loadEventFired")
    assert devtools.evaluate("document.readyState") == "complete"

    requests = [
        e["params"]["request"]["url"]
        for e in devtools.events
        if e.get("method") == "Network.requestWillBeSent"
    ]
    outside = [u for u in requests if u != url and not u.startswith("data:")]
    assert outside == [], f"the report made requests: {outside}"

    errors = [
        e
        for e in devtools.events
        if (e.get("method") == "Log.entryAdded" and e["params"]["entry"]["level"] == "error")
        or e.get("method") == "Runtime.exceptionThrown"
        or (e.get("method") == "Runtime.consoleAPICalled" and e["params"]["type"] == "error")
    ]
    assert errors == [], errors

    assert devtools.evaluate("window.__pwned === undefined") is True
    assert devtools.evaluate("document.scripts.length") == 0
    assert devtools.evaluate("document.querySelectorAll('img[src=\"x\"]').length") == 0
    body = devtools.evaluate("document.body.innerText")
    assert "<script>window.__pwned=1</script>" in body  # shown as text, not run
    assert HOSTILE_CLAIMANT in body
    assert '<img src=x onerror="window.__pwned=2">' in body
    images = devtools.evaluate(
        "Array.from(document.images).map(i => [i.src.slice(0, 15), i.naturalWidth])"
    )
    assert images and all(src.startswith("data:image/") and w > 0 for src, w in images)

    height = devtools.call("Page.getLayoutMetrics")["cssContentSize"]["height"]
    shot = devtools.call(
        "Page.captureScreenshot",
        format="png",
        captureBeyondViewport=True,
        clip={"x": 0, "y": 0, "width": 1100, "height": height, "scale": 1},
    )
    png = base64.b64decode(shot["data"])
    path = tmp_path / "report-screenshot.png"
    path.write_bytes(png)
    with Image.open(io.BytesIO(png)) as img:
        assert img.height > 2000
        assert np.asarray(img.convert("L")).std() > 10


def _pdf_tools() -> None:
    for tool in ("pdftoppm", "pdftotext", "pdffonts"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is absent (apt-get install poppler-utils)")


def test_pdf_has_pages_content_both_languages_and_the_digest(
    hostile_report: ReportOutputs, tmp_path: Path
) -> None:
    _pdf_tools()
    pdf = hostile_report.pdf_path
    assert pdf is not None and pdf.read_bytes().startswith(b"%PDF-")
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(pdf), str(tmp_path / "page")], check=True)
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) >= 2
    for page in pages:
        with Image.open(page) as img:
            assert np.asarray(img.convert("L")).std() > 5, f"{page.name} looks blank"

    text = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(pdf), "-"], check=True, capture_output=True, text=True
    ).stdout
    for heading in (
        "结论概要",
        "Summary",
        "局限性",
        "Limitations",
        "方法与可复现性",
        "Method and reproducibility",
    ):
        assert heading in text, heading
    digest = hostile_report.digest
    assert text.count(digest) >= len(pages)  # in the body and in every page footer
    assert f"page 1 of {len(pages)}" in text

    fonts = subprocess.run(
        ["pdffonts", str(pdf)], check=True, capture_output=True, text=True
    ).stdout.splitlines()[2:]
    assert fonts and all(" yes " in line for line in fonts), "every font must be embedded"
