"""A small stdlib HTTP client for the service (benchmark and tests; also a usage example)."""

from __future__ import annotations

import http.client
import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def multipart(
    fields: Mapping[str, str], files: Sequence[tuple[str, str, bytes]]
) -> tuple[bytes, str]:
    """Encode form fields and `(field, filename, bytes)` files as multipart/form-data."""
    boundary = "simdetect-" + secrets.token_hex(12)
    parts: list[bytes] = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
            + value.encode("utf-8")
            + b"\r\n"
        )
    for name, filename, data in files:
        quoted = filename.replace("\\", "\\\\").replace('"', "%22")
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{quoted}"\r\nContent-Type: application/octet-stream\r\n\r\n'
        )
        parts.append(head.encode("utf-8") + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


# What a reused keep-alive connection raises when the server had already closed it.
_STALE: tuple[type[BaseException], ...] = (
    http.client.RemoteDisconnected,
    ConnectionResetError,
    BrokenPipeError,
)


class ServeClient:
    """One keep-alive connection to a `simdetect serve`; reconnects after a failure."""

    def __init__(
        self, host: str, port: int, api_key: str | None = None, timeout: float = 120.0
    ) -> None:
        self.host = host
        self.port = port
        self.api_key = api_key
        self.timeout = timeout
        self._conn: http.client.HTTPConnection | None = None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        auth: bool = True,
    ) -> Reply:
        sent = dict(headers or {})
        if auth and self.api_key is not None:
            sent["Authorization"] = f"Bearer {self.api_key}"
        reused = self._conn is not None
        try:
            response, data = self._send(method, path, body, sent)
        except _STALE:
            self.close()
            if not reused:
                raise
            # The server closed an idle keep-alive connection before reading this request
            # (uvicorn does after 5 s): nothing was processed, so send it once more, fresh.
            try:
                response, data = self._send(method, path, body, sent)
            except BaseException:
                self.close()
                raise
        except BaseException:
            self.close()
            raise
        reply = Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, data)
        if reply.headers.get("connection", "").lower() == "close":
            self.close()
        return reply

    def _send(
        self, method: str, path: str, body: bytes | None, headers: Mapping[str, str]
    ) -> tuple[http.client.HTTPResponse, bytes]:
        if self._conn is None:
            self._conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        self._conn.request(method, path, body=body, headers=dict(headers))
        response = self._conn.getresponse()
        return response, response.read()

    def post_form(
        self,
        path: str,
        fields: Mapping[str, str],
        files: Sequence[tuple[str, str, bytes]],
        auth: bool = True,
    ) -> Reply:
        body, content_type = multipart(fields, files)
        return self.request("POST", path, body, {"Content-Type": content_type}, auth=auth)

    def scan(self, data: bytes, filename: str) -> Reply:
        return self.post_form("/v1/scan", {}, [("file", filename, data)])
