"""The workbench over HTTP: sign-in, who may call it, limits, index changes, and the
reading of copy findings. One real `simdetect ui` on loopback, with an API key (as
any address other than loopback requires), serves the HTTP tests.
"""

from __future__ import annotations

import io
import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from test_report_browser import CHROMIUM, DevTools
from test_ui_browser import HEIGHT, READY, WIDTH, Page, artifacts_dir, problems
from typer.testing import CliRunner

from simdetect.cli import app
from simdetect.serve.client import Reply, ServeClient, multipart
from simdetect.ui.findings import copy_finding, normalised_box, undecided_reason
from simdetect.ui.local import LocalWorkbench

ARTIST = "水墨山人"


# -- reading copy findings (pure) -----------------------------------------------------


def test_regions_in_pixels_fractions_boxes_and_polygons_become_fractions() -> None:
    assert normalised_box({"x": 10, "y": 20, "w": 50, "h": 40}, 100, 200) == [0.1, 0.1, 0.6, 0.3]
    assert normalised_box([0.1, 0.2, 0.5, 0.6], None, None) == [0.1, 0.2, 0.5, 0.6]
    assert normalised_box({"polygon": [[10, 10], [90, 20], [80, 90]]}, 100, 100) == [
        0.1,
        0.1,
        0.9,
        0.9,
    ]
    assert normalised_box({"left": 0, "top": 0, "right": 300, "bottom": 150}, 200, 100) == [
        0.0,
        0.0,
        1.0,
        1.0,
    ]
    assert normalised_box({"x": 5, "y": 5, "w": 10, "h": 10}, None, None) is None  # no size
    assert normalised_box("somewhere", 10, 10) is None
    assert normalised_box([0.5, 0.5, 0.5, 0.9], 1, 1) is None  # empty


def test_copy_finding_present_absent_and_negative() -> None:
    row = {"width": 800, "height": 600, "ranking": [], "matches": []}
    assert copy_finding(row, {}) is None
    assert copy_finding({**row, "copy": None}, {}) is None
    assert copy_finding({**row, "copy": {"is_copy": False, "source": {"sha256": "ab"}}}, {}) is None
    # the copy detector's schema (issue 12): pixel boxes, the source's own size
    found = copy_finding(
        {
            **row,
            "copy": {
                "source": {
                    "path": "portfolio/水墨山人_05.png",
                    "sha256": "ab",
                    "artist": ARTIST,
                    "width": 1200,
                    "height": 900,
                },
                "decided_by": "geometry",
                "region": {
                    "suspect": {"x0": 0, "y0": 0, "x1": 800, "y1": 600},
                    "source": {"x0": 300, "y0": 90, "x1": 900, "y1": 540},
                    "source_polygon": [[215.0, 120.0], [1012.0, 218.0], [937.0, 812.0]],
                },
                "transform": {"scale": 1.02, "rotation_degrees": 7.1, "mirrored": False},
                "confidence": 0.9993,
                "p_value": 0.0007,
            },
            "copy_check": {"state": "copy", "reason": None, "candidates": 3},
        },
        {},
    )
    assert found is not None
    assert found["source_name"] == "水墨山人_05.png"
    assert found["source_artist"] == ARTIST
    assert found["signal"] == "geometry"
    assert found["suspect_box"] == [0.0, 0.0, 1.0, 1.0]
    assert found["source_box"] == [0.25, 0.1, 0.75, 0.6]
    assert found["transform"]["rotation_degrees"] == 7.1
    assert found["confidence"] == 0.9993 and found["p_value"] == 0.0007
    # another spelling: a flat region in pixels, the source's size from the index
    other = copy_finding(
        {**row, "copy": {"work": "w.png", "sha256": "cd", "source_region": [0, 0, 50, 50]}},
        {"cd": (100, 100)},
    )
    assert other is not None and other["source_box"] == [0.0, 0.0, 0.5, 0.5]


def test_undecided_reasons_become_codes_the_page_words_in_each_language() -> None:
    entry = {
        "artist": ARTIST,
        "decision": None,
        "n_impostors": 5,
        "target_fpr": 0.01,
        "reason": "too few impostor works (5) to decide at a 1.00% false-positive rate",
    }
    too_few = undecided_reason(entry, calibrated=True)
    assert too_few["reason_code"] == "too_few_impostors" and too_few["needed_impostors"] == 99
    assert too_few["reason"] == entry["reason"]  # the scan's words are kept beside the code
    assert undecided_reason(entry, calibrated=False)["reason_code"] == "uncalibrated"
    other = undecided_reason({**entry, "n_impostors": 500, "reason": "x"}, calibrated=True)
    assert other["reason_code"] is None and other["needed_impostors"] is None
    decided = undecided_reason({**entry, "decision": False}, calibrated=False)
    assert decided["reason_code"] is None


# -- the CLI's safety rule ----------------------------------------------------------


def test_ui_refuses_another_address_without_api_keys(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["ui", "--index", str(tmp_path / "i"), "--host", "0.0.0.0"],
        env={"SIMDETECT_API_KEYS": ""},
    )
    assert result.exit_code == 1
    assert "loopback" in result.output and "API keys" in result.output


# -- one server with an API key -------------------------------------------------------


@pytest.fixture(scope="module")
def keyed(built_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalWorkbench]:
    import shutil

    work = tmp_path_factory.mktemp("ui-http")
    index = work / "index"
    shutil.copytree(built_index, index)
    server = LocalWorkbench(
        index,
        work / "evidence",
        ["--max-request-mb", "1", "--max-pixels", "100000"],
        api_key=secrets.token_urlsafe(24),
    )
    with server:
        yield server


@pytest.fixture(scope="module")
def cookie(keyed: LocalWorkbench) -> str:
    client = keyed.client()
    body = f"key={keyed.api_key}".encode()
    reply = client.request(
        "POST",
        "/ui/login",
        body,
        {"Content-Type": "application/x-www-form-urlencoded"},
        auth=False,
    )
    assert reply.status == 303 and reply.headers["location"] == "/"
    set_cookie = reply.headers["set-cookie"]
    for flag in ("HttpOnly", "SameSite=Strict", "Path=/"):
        assert flag in set_cookie
    assert keyed.api_key is not None and keyed.api_key not in set_cookie
    return set_cookie.split(";", 1)[0]


def _ui(
    server: LocalWorkbench,
    cookie: str,
    method: str,
    path: str,
    fields: dict[str, str] | None = None,
    files: list[tuple[str, str, bytes]] | None = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    client: ServeClient = server.client()
    sent = {"Cookie": cookie, **(headers or {})}
    if files is not None:
        body, ctype = multipart(fields or {}, files)
        return client.request(method, path, body, {**sent, "Content-Type": ctype}, auth=False)
    return client.request(method, path, None, sent, auth=False)


def _png(side: int, colour: tuple[int, int, int] = (200, 40, 40)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (side, side), colour).save(buf, "PNG")
    return buf.getvalue()


def test_sign_in_is_required_and_keeps_the_key_out_of_urls(keyed: LocalWorkbench) -> None:
    client = keyed.client()
    page = client.request("GET", "/", auth=False)
    assert page.status == 303 and page.headers["location"] == "/ui/login"
    assert client.request("GET", "/ui/api/portfolio", auth=False).status == 401
    login = client.request("GET", "/ui/login", auth=False)
    assert login.status == 200 and b'method="post"' in login.body
    assert "script-src 'self'" in login.headers["content-security-policy"]
    wrong = client.request(
        "POST",
        "/ui/login",
        b"key=not-the-key-at-all-1234",
        {"Content-Type": "application/x-www-form-urlencoded"},
        auth=False,
    )
    assert wrong.status == 303 and wrong.headers["location"] == "/ui/login?failed=1"
    assert "set-cookie" not in wrong.headers


def test_session_opens_the_pages_but_not_the_api_without_its_key(
    keyed: LocalWorkbench, cookie: str
) -> None:
    assert _ui(keyed, cookie, "GET", "/").status == 200
    portfolio = _ui(keyed, cookie, "GET", "/ui/api/portfolio").json()
    assert portfolio["ready"] and portfolio["count"] == 128
    assert _ui(keyed, cookie, "GET", "/v1/index").status == 401  # the service wants its key
    assert keyed.client().request("GET", "/v1/index").status == 200


def test_foreign_host_and_cross_site_posts_are_refused(keyed: LocalWorkbench, cookie: str) -> None:
    rebinding = _ui(keyed, cookie, "GET", "/ui/api/portfolio", headers={"Host": "evil.example"})
    assert rebinding.status == 400
    cross = _ui(
        keyed,
        cookie,
        "POST",
        "/ui/api/check",
        files=[("file", "a.png", _png(64))],
        headers={"Origin": "http://evil.example"},
    )
    assert cross.status == 403
    same_site = _ui(
        keyed,
        cookie,
        "DELETE",
        "/ui/api/works/" + "0" * 64,
        headers={"Sec-Fetch-Site": "same-site"},  # another port or sub-domain
    )
    assert same_site.status == 403


def test_uploads_obey_the_size_and_pixel_limits(
    keyed: LocalWorkbench, cookie: str, seeds_dir: Path
) -> None:
    big = _ui(
        keyed, cookie, "POST", "/ui/api/check", files=[("file", "big.bin", b"\0" * 1_200_000)]
    )
    assert big.status == 413
    wide = _ui(keyed, cookie, "POST", "/ui/api/check", files=[("file", "wide.png", _png(400))])
    assert wide.status == 400 and "wide.png" in wide.json()["detail"]
    ok = _ui(
        keyed,
        cookie,
        "POST",
        "/ui/api/check",
        files=[("file", "s.jpg", (seeds_dir / "suspects" / "suspect_10.jpg").read_bytes())],
    )
    assert ok.status == 200
    view = ok.json()
    assert view["ranking"][0]["artist"] == ARTIST
    assert view["copy"] is None  # today's rows carry no copy object
    assert {s["kind"] for s in view["provenance"]["signals"]} >= {"c2pa", "exif"}
    assert view["charts"][ARTIST]["histogram"]["edges"]


def test_works_are_added_and_removed_through_the_locked_writer(
    keyed: LocalWorkbench, cookie: str
) -> None:
    hostile = '<b onmouseover="x()">new</b>.png'
    added = _ui(
        keyed,
        cookie,
        "POST",
        "/ui/api/works",
        fields={"artist": "  新画家 "},
        files=[
            ("files", hostile, _png(96, (10, 120, 200))),
            ("files", "notes.txt", b"not an image"),
        ],
    ).json()
    assert added["added"] == 1
    assert added["skipped"][0]["name"] == "notes.txt"
    portfolio = _ui(keyed, cookie, "GET", "/ui/api/portfolio").json()
    group = next(g for g in portfolio["groups"] if g["artist"] == "新画家")
    # kept as sent, markup and all (the pages show it as text); "/" cannot be in a file name
    assert group["works"][0]["name"].startswith("<b onmouseover=")
    assert group["works"][0]["name"].endswith(">new<_b>.png")
    sha = group["works"][0]["sha256"]
    thumb = _ui(keyed, cookie, "GET", f"/ui/api/thumb/{sha}?side=256")
    assert thumb.status == 200 and thumb.body.startswith(b"\xff\xd8")
    # the service's API serves the same, new generation
    assert keyed.client().request("GET", "/v1/index").json()["works"] == 129
    assert _ui(keyed, cookie, "DELETE", f"/ui/api/works/{sha}").json() == {"removed": 1}
    assert _ui(keyed, cookie, "DELETE", f"/ui/api/works/{sha}").status == 404
    assert keyed.client().request("GET", "/v1/index").json()["works"] == 128
    assert _ui(keyed, cookie, "GET", f"/ui/api/thumb/{sha}").status == 404


def test_portfolio_lists_generator_reference_sets_read_only(
    keyed: LocalWorkbench, cookie: str, seeds_dir: Path
) -> None:
    from simdetect.index.references import add_reference

    before = _ui(keyed, cookie, "GET", "/ui/api/portfolio").json()
    assert before["references"] == [] and before["references_error"] is None
    images = sorted(str(p) for p in (seeds_dir / "suspects").iterdir())[:3]
    ref, _ = add_reference(keyed.index, "gen-app", images)
    after = _ui(keyed, cookie, "GET", "/ui/api/portfolio").json()
    assert after["references"] == [
        {"name": "gen-app", "count": ref.count, "backbone": ref.backbone}
    ]
    assert after["count"] == before["count"]  # not works: the index is unchanged


def test_verify_says_why_a_damaged_record_fails(keyed: LocalWorkbench, cookie: str) -> None:
    reply = _ui(
        keyed, cookie, "POST", "/ui/api/verify", files=[("file", "evidence.json", b"{not json")]
    )
    assert reply.status == 200
    result = reply.json()
    assert result["ok"] is False
    assert "not valid JSON" in result["checks"][0]["detail"]


@pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is absent")
def test_sign_in_page_sets_a_session_and_never_puts_the_key_in_a_url(
    keyed: LocalWorkbench, tmp_path: Path
) -> None:
    """In Chromium: the sign-in form, then the workbench; the key never in a URL."""
    key, server = keyed.api_key, keyed
    assert key is not None
    browser = DevTools(tmp_path / "profile")
    try:
        for domain in ("Network", "Page", "Runtime", "Log", "DOM"):
            browser.call(f"{domain}.enable")
        browser.call(
            "Emulation.setDeviceMetricsOverride",
            width=WIDTH,
            height=HEIGHT,
            deviceScaleFactor=1,
            mobile=False,
        )
        page = Page(browser, server.url, artifacts_dir())
        browser.call("Page.navigate", url=server.url)
        page.wait("location.pathname === '/ui/login' && document.readyState === 'complete'", 30)
        page.js("window.I18N.setLanguage('zh')")
        assert "API 密钥" in page.js("document.body.innerText")
        page.screenshot("0-sign-in-zh")
        page.js(f"document.getElementById('key').value = {json.dumps(key)}")
        page.js("document.querySelector('form').submit()")
        page.wait(READY, 60, "the workbench after signing in")
        assert page.js("document.cookie") == ""  # HttpOnly: not readable by page script
        assert page.js("document.getElementById('logout-form').hidden") is False
        urls = [
            e["params"]["request"]["url"]
            for e in browser.events
            if e.get("method") == "Network.requestWillBeSent"
        ]
        assert urls and not any(key in u for u in urls)
        outside, errors = problems(browser, server.url)
        assert outside == [] and errors == []
    finally:
        browser.close()
