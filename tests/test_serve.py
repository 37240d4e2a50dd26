"""The HTTP service: real `simdetect serve` processes on loopback, talked to over real HTTP."""

from __future__ import annotations

import http.client
import json
import math
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from simdetect.cli import app
from simdetect.index.store import open_index
from simdetect.report.verify import verify_report
from simdetect.serve.auth import ApiKeys, AuthConfigError, load_api_keys
from simdetect.serve.client import ServeClient, multipart
from simdetect.serve.local import LocalServer

HOSTILE = "<img src=x onerror=alert(1)>.jpg"
MAX_REQUEST_MB = 1


@pytest.fixture(scope="module")
def serve_index(module_index: Path) -> Path:
    return module_index


@pytest.fixture(scope="module")
def servers(
    serve_index: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[LocalServer, LocalServer]]:
    """A keyed server with a 1 MiB limit and a generous batch wait, and a keyless one
    whose queue holds a single request. Started side by side to save time."""
    evidence = tmp_path_factory.mktemp("evidence")
    main = LocalServer(
        serve_index,
        [
            "--max-request-mb",
            str(MAX_REQUEST_MB),
            "--max-batch",
            "8",
            "--batch-wait-ms",
            "150",
            "--evidence-dir",
            str(evidence),
        ],
    )
    tiny = LocalServer(
        serve_index,
        [
            "--insecure-no-auth",
            "--queue-size",
            "1",
            "--no-batching",
            "--evidence-dir",
            str(evidence),
        ],
        api_key=None,
    )
    try:
        main.start(wait=False)
        tiny.start(wait=False)
        main.wait_ready()
        tiny.wait_ready()
        yield main, tiny
    finally:
        for server in (main, tiny):
            server.__exit__(None, None, None)


@pytest.fixture(scope="module")
def server(servers: tuple[LocalServer, LocalServer]) -> LocalServer:
    return servers[0]


def _suspect(seeds_dir: Path, name: str) -> bytes:
    return (seeds_dir / "suspects" / name).read_bytes()


def _close(a: Any, b: Any, path: str = "") -> None:
    """Equal JSON values, floats within the 6 decimals rows are rounded to."""
    if isinstance(a, float) or isinstance(b, float):
        assert a is not None and b is not None, path
        assert math.isclose(a, b, abs_tol=2e-6), f"{path}: {a} != {b}"
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            _close(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _close(x, y, f"{path}[{i}]")
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


def test_api_keys_are_required_except_for_healthz(server: LocalServer, serve_index: Path) -> None:
    anonymous = ServeClient("127.0.0.1", server.port, api_key=None)
    health = anonymous.request("GET", "/healthz")
    assert health.status == 200 and health.json()["status"] == "ok"
    for path in ("/v1/index", "/v1/stats", "/openapi.json"):
        reply = anonymous.request("GET", path)
        assert reply.status == 401, path
        assert "bearer" in reply.headers["www-authenticate"].lower()
        assert "missing API key" in reply.json()["detail"]
    wrong = ServeClient("127.0.0.1", server.port, api_key="x" * 32)
    assert wrong.request("GET", "/v1/index").status == 401
    assert wrong.scan(b"whatever", "a.png").status == 401

    client = server.client()
    info = client.request("GET", "/v1/index").json()
    snap = open_index(serve_index)
    assert info["works"] == snap.count == 128
    assert info["snapshot_digest"] == snap.snapshot_digest()
    assert info["fingerprint"] == snap.manifest.fingerprint.digest()
    assert info["generation"] == snap.manifest.generation and info["stale"] is False
    assert info["calibration"]["state"] == "calibrated"
    spec = client.request("GET", "/openapi.json").json()
    assert {"/v1/scan", "/v1/report", "/v1/index", "/healthz"} <= set(spec["paths"])


def test_keys_from_file_and_environment(tmp_path: Path) -> None:
    keys_file = tmp_path / "keys.txt"
    keys_file.write_text("# service keys\nfile-key-0123456789abcdef\n\n", encoding="utf-8")
    keys = load_api_keys(keys_file, {"SIMDETECT_API_KEYS": "env-key-0123456789abcdef, "})
    assert keys.accepts(b"file-key-0123456789abcdef")
    assert keys.accepts(b"env-key-0123456789abcdef")
    assert not keys.accepts(b"file-key-0123456789abcdeX")
    assert not ApiKeys(()).accepts(b"")
    keys_file.write_text("short\n", encoding="utf-8")
    with pytest.raises(AuthConfigError, match="shorter than 16"):
        load_api_keys(keys_file, {})


def test_serve_refuses_to_start_without_keys(
    serve_index: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SIMDETECT_API_KEYS", raising=False)
    runner = CliRunner()
    result = runner.invoke(app, ["serve", "--index", str(serve_index)])
    assert result.exit_code == 1
    assert "no API keys configured" in result.output and "SIMDETECT_API_KEYS" in result.output
    result = runner.invoke(
        app, ["serve", "--index", str(serve_index), "--host", "0.0.0.0", "--insecure-no-auth"]
    )
    assert result.exit_code == 1 and "loopback" in result.output


def test_scan_equals_the_cli_scan_row(
    server: LocalServer, serve_index: Path, seeds_dir: Path, tmp_path: Path
) -> None:
    path = seeds_dir / "suspects" / "suspect_02.jpg"
    out = tmp_path / "x.jsonl"
    result = CliRunner().invoke(
        app, ["scan", str(path), "--index", str(serve_index), "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    cli_row = json.loads(out.read_text(encoding="utf-8").splitlines()[0])

    reply = server.client().scan(path.read_bytes(), "suspect_02.jpg")
    assert reply.status == 200, reply.body
    row = reply.json()
    assert row["suspect"] == "suspect_02.jpg" and cli_row["suspect"] == str(path)
    assert [r["artist"] for r in row["ranking"]] == [r["artist"] for r in cli_row["ranking"]]
    assert [m["path"] for m in row["matches"]] == [m["path"] for m in cli_row["matches"]]
    _close({**row, "suspect": None}, {**cli_row, "suspect": None})


def test_bad_images_get_400_with_the_reason(server: LocalServer, seeds_dir: Path) -> None:
    client = server.client()
    reply = client.scan(b"this is not an image", "notes.png")
    assert reply.status == 400
    assert reply.json()["detail"] == "notes.png: not an image (cannot identify format)"
    truncated = _suspect(seeds_dir, "suspect_02.jpg")[:2000]
    reply = client.scan(truncated, "cut.jpg")
    assert reply.status == 400
    assert reply.json()["detail"].startswith("cut.jpg: truncated or corrupt image data")
    assert client.scan(b"", "empty.jpg").json()["detail"] == "empty.jpg: zero-byte file"


def test_oversize_requests_get_413_announced_or_streamed(
    server: LocalServer, seeds_dir: Path
) -> None:
    big = b"\0" * (MAX_REQUEST_MB * 1024 * 1024 + 300_000)
    reply = server.client().scan(big, "big.png")  # Content-Length over the limit
    assert reply.status == 413 and "too large" in reply.json()["detail"]

    # Chunked upload: no length announced, so the limit must hold while reading.
    body, content_type = multipart({}, [("file", "big.png", big)])
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    conn.request(
        "POST",
        "/v1/scan",
        body=(body[i : i + 65536] for i in range(0, len(body), 65536)),
        headers={
            "Content-Type": content_type,
            "Authorization": f"Bearer {server.api_key}",
            "Transfer-Encoding": "chunked",
        },
        encode_chunked=True,
    )
    response = conn.getresponse()
    assert response.status == 413 and b"too large" in response.read()
    conn.close()
    ok = server.client().scan(_suspect(seeds_dir, "suspect_03.jpg"), "s.jpg")
    assert ok.status == 200  # the server carries on


def test_report_json_verifies_and_html_escapes_names(
    server: LocalServer, seeds_dir: Path, tmp_path: Path
) -> None:
    client = server.client()
    files = [
        ("files", HOSTILE, _suspect(seeds_dir, "suspect_02.jpg")),
        ("files", "suspect_03.jpg", _suspect(seeds_dir, "suspect_03.jpg")),
    ]
    fields = {"artist": "lena_wash", "case_id": "<b>case</b>", "claimant": "Lena 王"}
    reply = client.post_form("/v1/report", fields, files)
    assert reply.status == 200, reply.body
    record = reply.json()
    assert record["digest"] == reply.headers["x-report-digest"]
    assert record["case"]["id"] == "<b>case</b>" and record["case"]["artist"] == "lena_wash"
    assert any(HOSTILE in note for note in record["case"]["notes"])
    stored = Path(record["suspects"][0]["path"])
    assert stored.is_file() and stored.name == HOSTILE
    saved = tmp_path / "evidence.json"
    saved.write_bytes(reply.body)
    verification = verify_report(saved)
    assert verification.ok, [c for c in verification.checks if c.failed]
    assert any(c.area == "scores" and c.status == "ok" for c in verification.checks)

    report_id = reply.headers["x-report-id"]
    page = client.request("GET", f"/v1/reports/{report_id}?format=html")
    assert page.status == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in page.headers["content-security-policy"]
    html = page.body.decode("utf-8")
    assert "&lt;img src=x onerror=alert(1)&gt;.jpg" in html
    assert "<img src=x" not in html and "<b>case</b>" not in html
    again = client.request("GET", f"/v1/reports/{report_id}")
    assert json.loads(again.body)["digest"] == record["digest"]
    assert client.request("GET", "/v1/reports/R-nope").status == 404

    unknown = client.post_form("/v1/report", {"artist": "nobody"}, files[1:])
    assert unknown.status == 422 and "not in index" in unknown.json()["detail"]


def _concurrent_scans(server: LocalServer, images: list[bytes]) -> list[int]:
    statuses: list[int] = []
    barrier = threading.Barrier(len(images))

    def one(i: int) -> None:
        client = server.client(timeout=60)
        barrier.wait()
        statuses.append(client.scan(images[i], f"c{i}.jpg").status)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(images))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    assert not any(t.is_alive() for t in threads), "a request hung"
    return statuses


def test_concurrent_requests_share_a_forward_pass(server: LocalServer, seeds_dir: Path) -> None:
    names = sorted(p.name for p in (seeds_dir / "suspects").glob("*.jpg"))[:8]
    statuses = _concurrent_scans(server, [_suspect(seeds_dir, n) for n in names])
    assert statuses == [200] * len(names)
    batching = server.client().request("GET", "/v1/stats").json()["batching"]
    assert batching["enabled"] is True
    assert batching["largest_batch"] > 1, batching
    assert sum(int(k) * v for k, v in batching["batch_sizes"].items()) == batching["items"]


def test_overload_gets_429_never_a_hang(
    servers: tuple[LocalServer, LocalServer], seeds_dir: Path
) -> None:
    tiny = servers[1]
    data = _suspect(seeds_dir, "suspect_02.jpg")
    statuses = _concurrent_scans(tiny, [data] * 12)
    assert set(statuses) <= {200, 429}
    assert 429 in statuses and 200 in statuses
    client = tiny.client()
    assert client.scan(data, "again.jpg").status == 200
    stats = client.request("GET", "/v1/stats").json()  # keyless server: no key needed
    assert stats["refused_busy"] == statuses.count(429)
    assert stats["batching"]["largest_batch"] == 1  # --no-batching
