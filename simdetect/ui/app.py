"""The workbench as one ASGI application: its pages and page API beside the service's `/v1`.

`/` and `/ui/...` are the workbench (pages, assets, and the JSON the pages use);
everything else is the unchanged `simdetect serve` application over the same engine.
The pages are served with a strict Content-Security-Policy: scripts, styles and
images from this app only (plus the browser's own `blob:` URLs for the images a
person picks), nothing else, so a hostile name or metadata value shown on a page is
text, never code.
"""

from __future__ import annotations

import asyncio
import logging
from importlib import resources
from typing import Annotated, Any

from fastapi import FastAPI, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from simdetect import __version__
from simdetect.index.lock import IndexLocked
from simdetect.index.store import ROLE_ARTIST, FingerprintMismatch
from simdetect.report.html import CSP as REPORT_CSP
from simdetect.report.i18n import parse_languages
from simdetect.report.pdf import find_chromium
from simdetect.report.record import CaseInfo, check_artist, default_case_id
from simdetect.serve.app import (
    MAX_REPORT_IMAGES,
    MAX_TEXT_FIELD,
    add_error_handlers,
    create_app,
)
from simdetect.serve.auth import STATE_KEY, ApiKeys, key_id
from simdetect.serve.engine import ServeEngine
from simdetect.serve.limits import BodyLimitMiddleware, send_json
from simdetect.ui.security import (
    LOCAL_REQUESTER,
    OriginGuard,
    SessionGuard,
    Sessions,
    allowed_hosts,
    session_cookie,
    session_token,
)
from simdetect.ui.workbench import NoIndexYet, Workbench, WorkbenchError

log = logging.getLogger(__name__)

UI_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
    "connect-src 'self'; font-src 'none'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "content-security-policy": UI_CSP,
    "x-content-type-options": "nosniff",
    # same-origin, not no-referrer: with no-referrer a form post carries `Origin: null`.
    "referrer-policy": "same-origin",
    "cache-control": "no-store",
}
STATIC_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".png": "image/png",
}
MAX_WORK_UPLOADS = 200
FAILED_LOGIN_DELAY_S = 0.5


def _static_files() -> dict[str, bytes]:
    folder = resources.files("simdetect.ui") / "static"
    return {
        entry.name: entry.read_bytes()
        for entry in folder.iterdir()
        if entry.is_file() and any(entry.name.endswith(ext) for ext in STATIC_TYPES)
    }


def _static(files: dict[str, bytes], name: str) -> Response:
    data = files.get(name)
    if data is None:
        raise HTTPException(404, "no such file")
    ext = name[name.rfind(".") :]
    return Response(data, media_type=STATIC_TYPES[ext], headers=PAGE_HEADERS)


def _bounded(value: str | None, field: str) -> str | None:
    if value is not None and len(value) > MAX_TEXT_FIELD:
        raise WorkbenchError(f"{field} is longer than {MAX_TEXT_FIELD} characters")
    return value.strip() or None if value is not None else None


def create_ui_app(
    workbench: Workbench, keys: ApiKeys, sessions: Sessions, *, secure_cookie: bool = False
) -> FastAPI:
    """The workbench's own routes: pages, assets, sign-in, and the JSON the pages use."""
    files = _static_files()
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(SessionGuard, sessions=sessions, enabled=keys.enabled)
    add_error_handlers(app)

    @app.exception_handler(WorkbenchError)
    async def refused(_: Request, exc: WorkbenchError) -> JSONResponse:
        status = 409 if isinstance(exc, NoIndexYet) else 422
        return JSONResponse({"detail": str(exc)}, status_code=status)

    @app.exception_handler(IndexLocked)
    async def locked(_: Request, exc: IndexLocked) -> JSONResponse:
        return JSONResponse(
            {"detail": f"the index is being changed by another program; try again ({exc})"},
            status_code=409,
        )

    @app.exception_handler(FingerprintMismatch)
    async def mismatch(_: Request, exc: FingerprintMismatch) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=409)

    def requester(request: Request) -> str:
        return str(getattr(request.state, STATE_KEY, None) or LOCAL_REQUESTER)

    @app.get("/")
    async def page() -> Response:
        return _static(files, "index.html")

    @app.get("/ui/login")
    async def login_page() -> Response:
        return _static(files, "login.html")

    @app.post("/ui/login")
    async def login(key: Annotated[str, Form()] = "") -> Response:
        token = key.strip().encode("utf-8")
        if not keys.enabled:
            return Response(status_code=303, headers={"location": "/"})
        if not token or not keys.accepts(token):
            await asyncio.sleep(FAILED_LOGIN_DELAY_S)
            return Response(status_code=303, headers={"location": "/ui/login?failed=1"})
        cookie = session_cookie(sessions.create(key_id(token)))
        if secure_cookie:
            cookie += "; Secure"
        return Response(status_code=303, headers={"location": "/", "set-cookie": cookie})

    @app.post("/ui/logout")
    async def logout(request: Request) -> Response:
        sessions.drop(session_token(request.scope))
        return Response(
            status_code=303, headers={"location": "/ui/login", "set-cookie": session_cookie("", 0)}
        )

    @app.get("/ui/static/{name}")
    async def static(name: str) -> Response:
        return _static(files, name)

    @app.get("/ui/api/config")
    async def config() -> dict[str, Any]:
        c = workbench.config
        return {
            "version": __version__,
            "auth": keys.enabled,
            "max_request_bytes": c.max_request_bytes,
            "max_pixels": c.max_pixels,
            "max_report_images": MAX_REPORT_IMAGES,
            "max_work_uploads": MAX_WORK_UPLOADS,
            "pdf": find_chromium() is not None,
        }

    @app.get("/ui/api/portfolio")
    async def portfolio() -> JSONResponse:
        return JSONResponse(workbench.portfolio(), headers={"cache-control": "no-store"})

    @app.get("/ui/api/thumb/{sha256}")
    async def thumb(sha256: str, side: int = 256) -> Response:
        data = await workbench.thumbnail(sha256, side)
        if data is None:
            raise HTTPException(404, "no indexed work with these bytes")
        return Response(data, media_type="image/jpeg", headers={"cache-control": "private"})

    @app.post("/ui/api/works")
    async def add_works(
        files: Annotated[list[UploadFile], File()],
        artist: Annotated[str, Form()],
        role: Annotated[str, Form()] = ROLE_ARTIST,
    ) -> dict[str, Any]:
        if len(files) > MAX_WORK_UPLOADS:
            raise WorkbenchError(f"at most {MAX_WORK_UPLOADS} files per upload")
        uploads = [(await f.read(), f.filename) for f in files]
        result = await workbench.add_works(uploads, artist, role)
        return {
            "added": result.added,
            "already_indexed": result.already_indexed,
            "skipped": [{"name": n, "reason": r} for n, r in result.skipped],
            "conflicts": [{"name": n, "artist": a} for n, a in result.conflicts],
        }

    @app.delete("/ui/api/works/{sha256}")
    async def remove_work(sha256: str) -> dict[str, Any]:
        removed = await workbench.remove_work(sha256)
        if removed == 0:
            raise HTTPException(404, "no indexed work with these bytes")
        return {"removed": removed}

    @app.post("/ui/api/check")
    async def check(file: Annotated[UploadFile, File()]) -> JSONResponse:
        data = await file.read()
        return JSONResponse(await workbench.check(data, file.filename))

    @app.post("/ui/api/report")
    async def report(
        request: Request,
        files: Annotated[list[UploadFile], File()],
        artist: Annotated[str, Form()],
        lang: Annotated[str, Form()] = "both",
        case_id: Annotated[str | None, Form()] = None,
        claimant: Annotated[str | None, Form()] = None,
        respondent: Annotated[str | None, Form()] = None,
    ) -> dict[str, Any]:
        engine = workbench.require_engine()
        if len(files) > MAX_REPORT_IMAGES:
            raise WorkbenchError(f"at most {MAX_REPORT_IMAGES} images per report")
        try:
            languages = parse_languages(lang)
        except ValueError as exc:
            raise WorkbenchError(str(exc)) from None
        check_artist(engine.snapshot, artist)
        case = CaseInfo(
            artist=artist,
            case_id=_bounded(case_id, "case reference") or default_case_id(),
            claimant=_bounded(claimant, "claimant"),
            respondent=_bounded(respondent, "respondent"),
            languages=languages,
        )
        uploads = [(await f.read(), f.filename) for f in files]
        return await workbench.report(uploads, case, requester(request))

    @app.get("/ui/api/reports/{report_id}/{name}")
    async def report_file(report_id: str, name: str) -> Response:
        path = workbench.report_file(report_id, name)
        if path is None:
            raise HTTPException(404, "no such report file")
        media = {
            "evidence.json": "application/json",
            "report.html": "text/html; charset=utf-8",
            "report.pdf": "application/pdf",
        }[name]
        headers = {
            "content-disposition": f'attachment; filename="{report_id}-{name}"',
            "x-content-type-options": "nosniff",
            "content-security-policy": REPORT_CSP,
        }
        return Response(path.read_bytes(), media_type=media, headers=headers)

    @app.post("/ui/api/verify")
    async def verify(file: Annotated[UploadFile, File()]) -> dict[str, Any]:
        return await workbench.verify(await file.read())

    return app


async def _no_index(scope: Scope, receive: Receive, send: Send) -> None:
    """The service's API before anything is indexed."""
    if scope["type"] != "http":
        return
    await send_json(send, 503, "nothing indexed yet: add works in the workbench (/) first", {})


class WorkbenchApp:
    """Routes `/` and `/ui/*` to the workbench and the rest to the service's application.

    Runs the lifespan itself: the engine starts and stops with the workbench, which
    also starts it when the first works create the index (the service's routes then
    appear over it).
    """

    def __init__(
        self,
        workbench: Workbench,
        keys: ApiKeys,
        *,
        host: str,
        port: int,
        public_docs: bool = False,
    ) -> None:
        self.workbench = workbench
        self.keys = keys
        self.public_docs = public_docs
        self.sessions = Sessions()
        ui = create_ui_app(workbench, keys, self.sessions)
        self.ui: ASGIApp = BodyLimitMiddleware(ui, max_bytes=workbench.config.max_request_bytes)
        self.guarded: ASGIApp = OriginGuard(self._dispatch, allowed_hosts(host, port))
        self.api: ASGIApp = _no_index
        if workbench.engine is not None:
            self._serve(workbench.engine)
        workbench.on_engine = self._serve

    def _serve(self, engine: ServeEngine) -> None:
        self.api = create_app(engine, self.keys, public_docs=self.public_docs)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        await self.guarded(scope, receive, send)

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if path == "/" or path.startswith("/ui/") or path == "/ui":
            await self.ui(scope, receive, send)
        else:
            await self.api(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.workbench.start()
                except Exception as exc:
                    log.exception("workbench failed to start")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.workbench.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return
