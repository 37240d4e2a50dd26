"""The workbench end to end in a real headless Chromium against a real `simdetect ui`.

One walk through what an artist does: add her portfolio (Chinese name), drop suspects
(one with markup in its file name and metadata), read the ranking, open the side by
side view, write the report, download it, verify it. Throughout: no console error, no
request leaving the app, no injected script run. A screenshot of every page is kept
under $SIMDETECT_ARTIFACTS (default .ci/artifacts) for people to look at.
"""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_report_browser import CHROMIUM, DevTools, hostile_png

from simdetect.index.references import add_reference
from simdetect.index.store import IndexWriter
from simdetect.ui.local import LocalWorkbench

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="/usr/bin/chromium is absent (apt-get install chromium)"
)

ARTIST = "水墨山人"
HOSTILE_NAME = 'ink <img src=x onerror="window.__pwned=9">.png'
WIDTH, HEIGHT = 1280, 900
READY = "document.body !== null && document.body.dataset.ready === 'yes'"


def artifacts_dir() -> Path:
    root = Path(
        os.environ.get("SIMDETECT_ARTIFACTS") or Path(__file__).parent.parent / ".ci/artifacts"
    )
    folder = root / "ui"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture()
def index_without_artist(index_copy: Path) -> Path:
    """The seeds index less one artist, whose portfolio the test adds through the page."""
    with IndexWriter(index_copy) as writer:
        assert writer.remove_artist(ARTIST) > 0
        writer.commit()
    return index_copy


@pytest.fixture()
def workbench(index_without_artist: Path, tmp_path: Path) -> Iterator[LocalWorkbench]:
    with LocalWorkbench(index_without_artist, tmp_path / "evidence") as server:
        yield server


@pytest.fixture()
def browser(tmp_path: Path) -> Iterator[DevTools]:
    client = DevTools(tmp_path / "profile")
    try:
        yield client
    finally:
        client.close()


class Page:
    """The DevTools client plus the few page actions the walk needs."""

    def __init__(self, devtools: DevTools, base: str, shots: Path) -> None:
        self.dt = devtools
        self.base = base
        self.shots = shots

    def js(self, expression: str) -> Any:
        result = self.dt.call(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in result:
            raise AssertionError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait(self, expression: str, timeout: float = 180, what: str = "") -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                value = self.js(expression)
            except RuntimeError:  # the page is navigating: its context is being replaced
                value = None
            if value:
                return value
            time.sleep(0.2)
        try:
            where = self.js("location.href + ' | ' + document.body.innerText.slice(0, 300)")
        except (RuntimeError, AssertionError) as exc:
            where = repr(exc)
        raise AssertionError(f"timed out waiting for {what or expression} (page: {where})")

    def set_files(self, selector: str, files: list[Path]) -> None:
        doc = self.dt.call("DOM.getDocument", depth=0)
        node = self.dt.call("DOM.querySelector", nodeId=doc["root"]["nodeId"], selector=selector)
        self.dt.call("DOM.setFileInputFiles", files=[str(f) for f in files], nodeId=node["nodeId"])

    def click(self, selector: str) -> None:
        assert self.js(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
            " if (!e) return false; e.click(); return true; })()"
        ), selector

    def screenshot(self, name: str) -> Path:
        height = max(HEIGHT, int(self.js("document.documentElement.scrollHeight")))
        shot = self.dt.call(
            "Page.captureScreenshot",
            format="png",
            captureBeyondViewport=True,
            clip={"x": 0, "y": 0, "width": WIDTH, "height": height, "scale": 1},
        )
        path = self.shots / f"{name}.png"
        path.write_bytes(base64.b64decode(shot["data"]))
        return path

    def load_all_images(self, timeout: float = 120) -> None:
        """Thumbnails load lazily; load every one so checks and screenshots see them."""
        self.js("document.querySelectorAll('img[loading=lazy]').forEach(i => i.loading = 'eager')")
        self.wait(
            "Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)",
            timeout,
            "every image to load",
        )

    def go(self, page: str) -> None:
        self.js(f"window.location.hash = '#{page}'")
        self.wait(f"!document.getElementById('page-{page}').hidden", 10, page)


def problems(dt: DevTools, base: str) -> tuple[list[str], list[Any]]:
    requests = [
        e["params"]["request"]["url"]
        for e in dt.events
        if e.get("method") == "Network.requestWillBeSent"
    ]
    outside = [u for u in requests if not u.startswith((base, "blob:", "data:"))]
    errors = [
        e
        for e in dt.events
        if (e.get("method") == "Log.entryAdded" and e["params"]["entry"]["level"] == "error")
        or e.get("method") == "Runtime.exceptionThrown"
        or (e.get("method") == "Runtime.consoleAPICalled" and e["params"]["type"] == "error")
    ]
    return outside, errors


def test_artist_walks_through_portfolio_check_report_and_verify(
    workbench: LocalWorkbench, browser: DevTools, seeds_dir: Path, tmp_path: Path
) -> None:
    shots = artifacts_dir()
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    for domain in ("Network", "Page", "Runtime", "Log", "DOM"):
        browser.call(f"{domain}.enable")
    browser.call(
        "Emulation.setDeviceMetricsOverride",
        width=WIDTH,
        height=HEIGHT,
        deviceScaleFactor=1,
        mobile=False,
    )
    browser.call("Page.setDownloadBehavior", behavior="allow", downloadPath=str(downloads))
    # A generator reference set beside the index: listed on the portfolio, never a work.
    suspects = sorted(str(p) for p in (seeds_dir / "suspects").iterdir())[:3]
    add_reference(workbench.index, "gen-app", suspects)
    base = workbench.url
    page = Page(browser, base, shots)
    browser.call("Page.navigate", url=base + "#portfolio")
    page.wait(READY, 60, "the page to load")
    page.js("window.I18N.setLanguage('en')")

    # 1. Portfolio: the artist's works added by name (Chinese) through the file picker.
    works = sorted((seeds_dir / "artists" / ARTIST).iterdir())
    assert page.js(f"document.body.innerText.includes({json.dumps(ARTIST)})") is False
    page.js(f"document.getElementById('artist-name').value = {json.dumps(ARTIST)}")
    page.set_files("#works-input", works)
    page.wait(
        "document.querySelector('#works-result .ok-line') !== null", 300, "works to be indexed"
    )
    assert page.js("document.querySelector('#works-result .ok-line').textContent") == (
        f"{len(works)} works added."
    )
    # a message already on the page follows a language switch, and back
    page.js("window.I18N.setLanguage('zh')")
    assert page.js("document.querySelector('#works-result .ok-line').textContent") == (
        f"已添加 {len(works)} 件作品。"
    )
    page.js("window.I18N.setLanguage('en')")
    assert page.js("document.querySelector('#works-result .ok-line').textContent") == (
        f"{len(works)} works added."
    )
    group = page.wait(
        f"""(() => {{ const g = Array.from(document.querySelectorAll('.group-artist'))
            .find(c => c.querySelector('h2').textContent.includes({json.dumps(ARTIST)}));
            return g ? g.querySelectorAll('.tile').length : 0; }})()""",
        30,
        "the new artist's group",
    )
    assert group == len(works)
    page.load_all_images()
    status = page.js("document.getElementById('index-status').textContent")
    assert "calibrated" in status
    reference = page.js("document.querySelector('.group-references li').textContent")
    assert reference.startswith("gen-app: 3 images")
    assert (
        page.js(
            "document.querySelectorAll('.group-references .tile, .group-references button').length"
        )
        == 0
    )
    page.screenshot("1-portfolio")

    # 2. Check: a hostile-named suspect with markup in its metadata, and an imitation.
    hostile = hostile_png(seeds_dir / "suspects" / "suspect_01.webp", tmp_path / HOSTILE_NAME)
    page.go("check")
    # suspect_18 is a re-compressed copy of 水墨山人_05.png (seeds/suspects.csv)
    copy_suspect = seeds_dir / "suspects" / "suspect_18.jpg"
    page.set_files(
        "#suspect-input", [hostile, seeds_dir / "suspects" / "suspect_10.jpg", copy_suspect]
    )
    page.wait(
        "document.querySelectorAll('#results .rank-table').length === 3", 180, "three results"
    )
    tops = page.js(
        "Array.from(document.querySelectorAll('.rank-table tbody tr.first-row .artist'))"
        ".map(e => e.textContent)"
    )
    assert tops == [ARTIST, ARTIST, ARTIST]
    # A copy finding is drawn exactly when the scan row carries one (the copy detector's
    # `copy` object): first, red, with the matched regions outlined.
    row = workbench.client().post_form(
        "/ui/api/check", {}, [("file", copy_suspect.name, copy_suspect.read_bytes())], auth=False
    )
    has_copy = row.json()["copy"] is not None
    card = "document.querySelectorAll('#results .result')[2]"
    assert page.js(f"{card}.querySelector('.copy-finding') !== null") is has_copy
    if has_copy:
        assert "水墨山人_05" in page.js(f"{card}.querySelector('.copy-finding h3').textContent")
        assert page.js(f"{card}.querySelectorAll('.copy-finding .outline').length") >= 1
        assert page.js(f"{card}.querySelectorAll('.badge.nomatch').length") == 0
    names = page.js(
        "Array.from(document.querySelectorAll('.suspect-name')).map(e => e.textContent)"
    )
    assert names[0] == HOSTILE_NAME  # shown as text
    body = page.js("document.body.innerText")
    assert "Stable Diffusion parameters" in body and "found" in body
    assert page.js("window.__pwned === undefined") is True
    assert page.js("document.querySelectorAll('img[src=\"x\"]').length") == 0
    verdict = page.js("document.querySelector('#results .verdict').textContent")
    assert ARTIST in verdict and "p = " in verdict
    assert page.js("document.querySelectorAll('.chart svg rect').length") > 4
    page.js("document.querySelector('.explain').open = true")
    page.load_all_images()
    page.screenshot("2-check")

    # 3. Side by side: the suspect and its nearest work, both loaded.
    page.click("#results .side-btn")
    page.wait(
        "(() => { const imgs = document.querySelectorAll('.compare:not([hidden]) img');"
        " return imgs.length === 2"
        " && Array.from(imgs).every(i => i.complete && i.naturalWidth > 0);"
        " })()",
        30,
        "the side-by-side view",
    )
    caption = page.js("document.querySelectorAll('.compare figcaption')[1].textContent")
    assert ARTIST in caption
    page.screenshot("3-side-by-side")

    # 4. Evidence: write the report (both languages) and download all three files.
    page.go("evidence")
    assert page.js("document.getElementById('ev-artist').value") == ARTIST
    page.click("#write-report")
    page.wait("!document.getElementById('report-result').hidden", 240, "the report to be written")
    files = page.js(
        "Array.from(document.querySelectorAll('#downloads a')).map(a => a.dataset.file)"
    )
    assert set(files) >= {"report.html", "evidence.json"}
    digest = page.js("document.getElementById('report-digest').textContent")
    page.screenshot("4-evidence")
    page.click("#downloads a[data-file='evidence.json']")
    record_file = _wait_named(downloads, "evidence.json")
    record = json.loads(record_file.read_text(encoding="utf-8"))
    assert record["digest"] == digest
    assert record["case"]["artist"] == ARTIST
    assert record["case"]["languages"] == ["zh", "en"]
    page.click("#downloads a[data-file='report.html']")
    html_file = _wait_named(downloads, "report.html")
    assert digest in html_file.read_text(encoding="utf-8")
    if "report.pdf" in files:
        page.click("#downloads a[data-file='report.pdf']")
        assert _wait_named(downloads, "report.pdf").read_bytes().startswith(b"%PDF-")

    # 5. Verify the downloaded record.
    page.go("verify")
    page.set_files("#verify-input", [record_file])
    ok = page.wait(
        "document.getElementById('verify-verdict') &&"
        " document.getElementById('verify-verdict').dataset.ok",
        240,
        "verification",
    )
    assert ok == "yes", page.js("document.getElementById('verify-result').innerText")
    page.screenshot("5-verify")

    # 6. The whole interface in Chinese.
    page.go("check")
    page.js("window.I18N.setLanguage('zh')")
    zh = page.js("document.body.innerText")
    assert "检查可疑图像" in zh and "画家排名" in zh
    assert page.js("document.documentElement.lang") == "zh-CN"
    page.screenshot("6-check-zh")
    page.go("verify")  # the library's check areas are codes: worded in Chinese too
    assert (
        page.js("document.querySelector('#verify-result td[data-area=\"record\"]').textContent")
        == "记录"
    )
    assert "核验通过" in page.js("document.getElementById('verify-verdict').textContent")
    page.go("portfolio")
    assert page.js("document.querySelector('.group-references h2').textContent").startswith(
        "生成器参考集"
    )
    page.load_all_images()
    page.screenshot("7-portfolio-zh")

    # 7. One plain suspect on its own, in English (the README's picture).
    page.js("window.I18N.setLanguage('en')")
    page.go("check")
    page.click("#clear-suspects")
    page.set_files("#suspect-input", [seeds_dir / "suspects" / "suspect_10.jpg"])
    page.wait("document.querySelectorAll('#results .rank-table').length === 1", 120, "a result")
    page.load_all_images()
    page.screenshot("8-check-one")

    outside, errors = problems(browser, base)
    assert outside == [], f"requests left the app: {outside}"
    assert errors == [], errors


def _wait_named(folder: Path, suffix: str, timeout: float = 60) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for p in folder.iterdir():
            if p.name.endswith(suffix) and p.stat().st_size > 0:
                return p
        time.sleep(0.2)
    raise AssertionError(f"no {suffix} downloaded into {folder}")


def test_empty_index_is_created_by_the_first_works(
    tmp_path: Path, seeds_dir: Path, browser: DevTools
) -> None:
    """A fresh install has no index: the page says so, and adding works creates it."""
    index = tmp_path / "fresh-index"
    with LocalWorkbench(index, tmp_path / "evidence") as server:
        for domain in ("Network", "Page", "Runtime", "Log", "DOM"):
            browser.call(f"{domain}.enable")
        page = Page(browser, server.url, artifacts_dir())
        browser.call("Page.navigate", url=server.url)
        page.wait(READY, 60, "the page to load")
        page.js("window.I18N.setLanguage('en')")
        assert "Nothing is indexed yet" in page.js("document.body.innerText")
        page.js("document.getElementById('artist-name').value = 'Ana'")
        works = sorted((seeds_dir / "artists" / "ana_pastel").iterdir())[:4]
        page.set_files("#works-input", works)
        page.wait("document.querySelectorAll('.group-artist .tile').length === 4", 180, "works")
        assert (index / "CURRENT").is_file()
        api = server.client().request("GET", "/v1/index")
        assert api.status == 200 and api.json()["works"] == 4
        # one artist: uncalibrated, and the reason (a code in the row) is worded in Chinese
        page.js("window.I18N.setLanguage('zh')")
        status = page.js("document.getElementById('index-status').textContent")
        assert "索引中只有一位画家" in status and "uncalibrated" not in status
        outside, errors = problems(browser, server.url)
        assert outside == [] and errors == []
