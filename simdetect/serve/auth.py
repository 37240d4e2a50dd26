"""API keys: where they come from, and the check every request but `/healthz` passes.

The check is an ASGI middleware rather than a route dependency so an unauthenticated
client is refused before its upload is read: nobody without a key can make the server
buffer megabytes.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from starlette.types import ASGIApp, Receive, Scope, Send

from simdetect.errors import AuthConfigError
from simdetect.serve.limits import drain

ENV_VAR = "SIMDETECT_API_KEYS"
PUBLIC_PATHS = frozenset({"/healthz"})
DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/openapi.json", "/redoc"})
MIN_KEY_CHARS = 16


STATE_KEY = "api_key_id"
NO_AUTH_ID = "no API key (server started with --insecure-no-auth)"
UNAUTHENTICATED_DRAIN_BYTES = 1024 * 1024


def key_id(key: bytes) -> str:
    """A name for a key that can be logged and put in a record without revealing it."""
    return "API key sha256:" + hashlib.sha256(key).hexdigest()[:12]


@dataclass(frozen=True)
class ApiKeys:
    """The accepted keys; compared in constant time, all of them, on every request."""

    keys: tuple[bytes, ...]

    @property
    def enabled(self) -> bool:
        return bool(self.keys)

    def accepts(self, presented: bytes) -> bool:
        # No early exit: the time taken says nothing about which key (if any) was close.
        ok = False
        for key in self.keys:
            ok |= hmac.compare_digest(presented, key)
        return ok


def _parse(lines: Iterable[str], source: str) -> list[str]:
    keys = []
    for raw in lines:
        key = raw.strip()
        if not key or key.startswith("#"):
            continue
        if len(key) < MIN_KEY_CHARS:
            raise AuthConfigError(
                f"{source}: an API key is shorter than {MIN_KEY_CHARS} characters; "
                "use long random keys (for example: python -c 'import secrets; "
                "print(secrets.token_urlsafe(32))')"
            )
        keys.append(key)
    return keys


def load_api_keys(keys_file: Path | None, environ: Mapping[str, str] | None = None) -> ApiKeys:
    """Keys from `SIMDETECT_API_KEYS` (comma-separated) and the keys file (one per line)."""
    env = os.environ if environ is None else environ
    keys = _parse(env.get(ENV_VAR, "").split(","), f"environment variable {ENV_VAR}")
    if keys_file is not None:
        try:
            text = keys_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise AuthConfigError(f"{keys_file}: cannot read API keys file: {exc}") from None
        file_keys = _parse(text.splitlines(), str(keys_file))
        if not file_keys:
            raise AuthConfigError(f"{keys_file}: the API keys file holds no keys")
        keys.extend(file_keys)
    return ApiKeys(tuple(dict.fromkeys(k.encode("utf-8") for k in keys)))


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_auth_setup(keys: ApiKeys, insecure_no_auth: bool, host: str) -> None:
    """Refuse to serve without keys unless explicitly allowed, and then only on loopback."""
    if keys.enabled:
        return
    if not insecure_no_auth:
        raise AuthConfigError(
            f"no API keys configured: set {ENV_VAR} (comma-separated) or pass --api-keys-file; "
            "--insecure-no-auth serves without keys on a loopback address only"
        )
    if not is_loopback(host):
        raise AuthConfigError(
            f"--insecure-no-auth only binds to a loopback address (127.0.0.1, ::1), not {host}"
        )


def bearer_token(scope: Scope) -> bytes | None:
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _, token = value.partition(b" ")
            if scheme.lower() == b"bearer" and token.strip():
                return token.strip()
            return None
    return None


class ApiKeyMiddleware:
    """401 for a missing or unknown key on every path except `/healthz` (and, if asked,
    the API documentation)."""

    def __init__(self, app: ASGIApp, keys: ApiKeys, public_docs: bool = False) -> None:
        self.app = app
        self.keys = keys
        self.public = PUBLIC_PATHS | (DOCS_PATHS if public_docs else frozenset())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.keys.enabled or scope["path"] in self.public:
            await self.app(scope, receive, send)
            return
        token = bearer_token(scope)
        if token is not None and self.keys.accepts(token):
            scope.setdefault("state", {})[STATE_KEY] = key_id(token)
            await self.app(scope, receive, send)
            return
        await drain(receive, UNAUTHENTICATED_DRAIN_BYTES)
        detail = "missing API key" if token is None else "invalid API key"
        body = json.dumps(
            {"detail": f"{detail}: send the header 'Authorization: Bearer KEY'"}
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"www-authenticate", b'Bearer realm="simdetect"'),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
