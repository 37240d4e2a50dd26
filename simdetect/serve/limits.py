"""Request-size limit, enforced on the bytes actually received.

A `Content-Length` header can lie or be absent (chunked uploads), so the count is kept
while the body streams in: the request is refused with 413 as soon as it passes the
limit, before the rest is buffered anywhere. The refused remainder is read and
discarded up to a cap past the limit, because a server that closes on unread data makes the client's
TCP stack reset the connection, and the client never sees the 413 it should get.
"""

from __future__ import annotations

import json

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

DRAIN_CAP_BYTES = 8 * 1024 * 1024


async def drain(receive: Receive, cap: int = DRAIN_CAP_BYTES) -> None:
    """Read and drop what is left of a request body, up to `cap` bytes."""
    seen = 0
    while seen <= cap:
        message = await receive()
        if message["type"] != "http.request":
            return
        seen += len(message.get("body", b""))
        if not message.get("more_body", False):
            return


async def send_json(send: Send, status: int, detail: str, headers: dict[str, str]) -> None:
    body = json.dumps({"detail": detail}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class BodyTooLarge(HTTPException):
    """Raised from `receive` once a body passes the limit.

    An HTTPException, because FastAPI turns any other error met while parsing a form
    into a 400 "error parsing the body"; this one passes through as the 413 it is.
    """

    def __init__(self, detail: str) -> None:
        super().__init__(status_code=413, detail=detail, headers={"connection": "close"})


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class BodyLimitMiddleware:
    """413 for any request whose body exceeds `max_bytes`, announced or streamed."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _detail(self) -> str:
        mb = self.max_bytes / (1024 * 1024)
        return (
            f"request too large: the body exceeds the limit of {self.max_bytes:,} bytes "
            f"({mb:g} MiB; the server's --max-request-mb)"
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        announced = _content_length(scope)
        if announced is not None and announced > self.max_bytes:
            # Read what was announced when it is not far over the limit, so the client
            # gets to read the 413; a body far larger is not worth reading.
            if announced <= self.max_bytes + DRAIN_CAP_BYTES:
                await drain(receive, announced)
            await send_json(send, 413, self._detail(), {"connection": "close"})
            return
        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    if message.get("more_body", False):
                        await drain(receive)
                    raise BodyTooLarge(self._detail())
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, tracking_send)
        except BodyTooLarge:
            if started:
                raise
            await send_json(send, 413, self._detail(), {"connection": "close"})
