"""Who may use the workbench, and from which page.

On a loopback address without API keys the workbench is open to this machine only, so
two things a web page elsewhere could try are refused: a DNS-rebinding page (a foreign
`Host` header) and a cross-site form post (a foreign `Origin`). With API keys (required
by the service's rules on any other address) a person signs in once with a key through
a form; the browser then holds a random session token in an HttpOnly, SameSite=Strict
cookie, so the key itself never appears in a URL, in page script or in browser history.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from http.cookies import SimpleCookie

from starlette.types import ASGIApp, Receive, Scope, Send

from simdetect.serve.auth import (
    ENV_VAR,
    STATE_KEY,
    UNAUTHENTICATED_DRAIN_BYTES,
    ApiKeys,
    AuthConfigError,
    is_loopback,
)
from simdetect.serve.limits import drain, send_json

SESSION_COOKIE = "simdetect_session"
SESSION_SECONDS = 12 * 3600
MAX_SESSIONS = 1000
LOCAL_REQUESTER = "local workbench on a loopback address (no API key)"
PUBLIC_PREFIXES = ("/ui/static/",)
PUBLIC_PATHS = frozenset({"/ui/login"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
NO_STORE = {"cache-control": "no-store"}


@dataclass
class Session:
    key_id: str
    expires: float


class Sessions:
    """Signed-in browsers: random token → which key signed in, until it expires."""

    def __init__(self, lifetime: float = SESSION_SECONDS) -> None:
        self.lifetime = lifetime
        self._items: OrderedDict[str, Session] = OrderedDict()

    def create(self, key_id: str) -> str:
        token = secrets.token_urlsafe(32)
        self._items[token] = Session(key_id, time.monotonic() + self.lifetime)
        while len(self._items) > MAX_SESSIONS:
            self._items.popitem(last=False)
        return token

    def key_id(self, token: str | None) -> str | None:
        if not token:
            return None
        session = self._items.get(token)
        if session is None:
            return None
        if session.expires < time.monotonic():
            del self._items[token]
            return None
        return session.key_id

    def drop(self, token: str | None) -> None:
        if token:
            self._items.pop(token, None)


def header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def session_token(scope: Scope) -> str | None:
    raw = header(scope, b"cookie")
    if not raw:
        return None
    cookie: SimpleCookie = SimpleCookie()
    try:
        cookie.load(raw)
    except Exception:
        return None
    morsel = cookie.get(SESSION_COOKIE)
    return morsel.value if morsel is not None else None


def session_cookie(token: str, max_age: int = SESSION_SECONDS) -> str:
    return f"{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}"


def check_workbench_auth(keys: ApiKeys, host: str) -> None:
    """Without API keys the workbench listens on a loopback address only."""
    if not keys.enabled and not is_loopback(host):
        raise AuthConfigError(
            f"the workbench serves {host} only with API keys (environment variable {ENV_VAR} "
            "or a keys file); without keys it listens on a loopback address only "
            "(127.0.0.1, ::1)"
        )


def allowed_hosts(host: str, port: int) -> frozenset[str] | None:
    """Host headers a loopback workbench answers to; None (any) on other addresses."""
    if not is_loopback(host):
        return None
    bound = host if ":" not in host else f"[{host}]"
    names: Iterable[str] = {"127.0.0.1", "localhost", "[::1]", bound}
    return frozenset(f"{n}:{port}" for n in names) | frozenset(names)


class OriginGuard:
    """400 for a foreign Host on loopback; 403 for a cross-site request that changes state."""

    def __init__(self, app: ASGIApp, hosts: frozenset[str] | None) -> None:
        self.app = app
        self.hosts = hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        host = (header(scope, b"host") or "").lower()
        if self.hosts is not None and host not in self.hosts:
            detail = "unexpected Host header: open the address the workbench printed"
            await send_json(send, 400, detail, NO_STORE)
            return
        if scope["method"] not in SAFE_METHODS:
            # Browsers say where a request comes from: Sec-Fetch-Site where supported,
            # else Origin. Clients that are not browsers send neither and pass.
            origin = header(scope, b"origin")
            site = header(scope, b"sec-fetch-site")
            if site is not None:
                foreign = site not in ("same-origin", "none")
            else:
                foreign = origin is not None and origin.lower() != f"http://{host}"
            if foreign:
                await send_json(send, 403, "request from another site refused", NO_STORE)
                return
        await self.app(scope, receive, send)


class SessionGuard:
    """Pages and their API need a signed-in session when the server has API keys."""

    def __init__(self, app: ASGIApp, sessions: Sessions, enabled: bool) -> None:
        self.app = app
        self.sessions = sessions
        self.enabled = enabled

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        state = scope.setdefault("state", {})
        if not self.enabled:
            state[STATE_KEY] = LOCAL_REQUESTER
            await self.app(scope, receive, send)
            return
        if path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES):
            await self.app(scope, receive, send)
            return
        key_id = self.sessions.key_id(session_token(scope))
        if key_id is not None:
            state[STATE_KEY] = key_id
            await self.app(scope, receive, send)
            return
        await drain(receive, UNAUTHENTICATED_DRAIN_BYTES)
        if path.startswith("/ui/api/"):
            await send_json(
                send, 401, "not signed in: open the page and sign in with an API key", NO_STORE
            )
            return
        await send(
            {
                "type": "http.response.start",
                "status": 303,
                "headers": [(b"location", b"/ui/login"), (b"content-length", b"0")],
            }
        )
        await send({"type": "http.response.body", "body": b""})
