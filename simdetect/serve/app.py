"""The HTTP routes of `simdetect serve` (FastAPI), over a loaded `ServeEngine`.

Status codes a client must handle: 400 an upload that is not a usable image (the reason
says why), 401 no or unknown API key, 404 no such report, 413 request larger than the
limit, 422 a missing or invalid field (unknown artist, bad language), 429 the server is
at its queue limit (retry after a moment), 503 not ready, shutting down, or no result
within the request timeout. Every error body is `{"detail": "..."}`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal

from fastapi import FastAPI, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from simdetect import __version__
from simdetect.io.images import ImageLoadError
from simdetect.report.case import HTML_NAME, JSON_NAME, record_json
from simdetect.report.errors import ReportError
from simdetect.report.html import CSP
from simdetect.report.i18n import parse_languages
from simdetect.report.record import CaseInfo, check_artist, default_case_id
from simdetect.serve.auth import NO_AUTH_ID, STATE_KEY, ApiKeyMiddleware, ApiKeys
from simdetect.serve.batching import Overloaded, Unavailable
from simdetect.serve.engine import ServeEngine
from simdetect.serve.evidence import CaseReport
from simdetect.serve.limits import BodyLimitMiddleware

log = logging.getLogger(__name__)

MAX_REPORT_IMAGES = 20
MAX_TEXT_FIELD = 500
RETRY_AFTER_BUSY = "1"
RETRY_AFTER_UNAVAILABLE = "5"
HTML_HEADERS = {"content-security-policy": CSP, "x-content-type-options": "nosniff"}

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Not a usable image; `detail` names the file and the reason."},
    401: {"description": "Missing or unknown API key."},
    413: {"description": "Request body larger than the server's --max-request-mb."},
    422: {"description": "Missing or invalid field."},
    429: {"description": "Server at its queue limit; retry after `Retry-After` seconds."},
    503: {"description": "Not ready, shutting down, or no result within the timeout."},
}


class StatusCounter:
    """Counts final response statuses (401 and 413 included) for `/v1/stats`."""

    def __init__(self, app: ASGIApp, engine: ServeEngine) -> None:
        self.app = app
        self.engine = engine

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.engine.responses[int(message["status"])] += 1
            await send(message)

        await self.app(scope, receive, counting_send)


def _requested_by(request: Request) -> str:
    return str(getattr(request.state, STATE_KEY, None) or NO_AUTH_ID)


def _bounded(value: str | None, field: str) -> str | None:
    if value is not None and len(value) > MAX_TEXT_FIELD:
        raise HTTPException(422, f"{field} is longer than {MAX_TEXT_FIELD} characters")
    return value or None


def _report_response(report: CaseReport, fmt: str) -> Response:
    headers = {
        "x-report-id": report.report_id,
        "x-report-digest": report.digest,
        "location": f"/v1/reports/{report.report_id}",
    }
    if fmt == "html":
        return Response(
            report.html_path.read_bytes(),
            media_type="text/html; charset=utf-8",
            headers={**headers, **HTML_HEADERS},
        )
    return Response(record_json(report.record), media_type="application/json", headers=headers)


def add_error_handlers(app: FastAPI) -> None:
    """The status and body each deliberate error gets (the service and the workbench)."""

    @app.exception_handler(ImageLoadError)
    async def bad_image(_: Request, exc: ImageLoadError) -> JSONResponse:
        return JSONResponse({"detail": f"{exc.path}: {exc.reason}"}, status_code=400)

    @app.exception_handler(Overloaded)
    async def busy(_: Request, exc: Overloaded) -> JSONResponse:
        return JSONResponse(
            {"detail": str(exc)}, status_code=429, headers={"retry-after": RETRY_AFTER_BUSY}
        )

    @app.exception_handler(Unavailable)
    async def unavailable(_: Request, exc: Unavailable) -> JSONResponse:
        return JSONResponse(
            {"detail": str(exc)},
            status_code=503,
            headers={"retry-after": RETRY_AFTER_UNAVAILABLE},
        )

    @app.exception_handler(ReportError)
    async def report_error(_: Request, exc: ReportError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=422)


def create_app(engine: ServeEngine, keys: ApiKeys, *, public_docs: bool = False) -> FastAPI:
    """The FastAPI application; middlewares run auth first, then the body-size limit."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await engine.start()
        log.info("serving index %s", engine.snapshot.root)
        try:
            yield
        finally:
            await engine.stop()

    app = FastAPI(
        title="simdetect",
        version=__version__,
        description=(
            "Scan images against an index of artists' works and make evidence reports. "
            "Send `Authorization: Bearer KEY` on every request except `/healthz`."
        ),
        lifespan=lifespan,
    )
    # Added last = outermost: count everything, refuse bad keys before reading a byte of
    # the body, and only then count the body against the size limit.
    app.add_middleware(BodyLimitMiddleware, max_bytes=engine.config.max_request_bytes)
    app.add_middleware(ApiKeyMiddleware, keys=keys, public_docs=public_docs)
    app.add_middleware(StatusCounter, engine=engine)

    add_error_handlers(app)

    @app.get("/healthz", summary="Liveness and readiness (no API key needed)")
    async def healthz() -> JSONResponse:
        # Open to anyone, so it says nothing but liveness: version, generation and work
        # count are in /v1/index, behind a key.
        ready = engine.accepting
        body = {"status": "ok" if ready else "unavailable"}
        return JSONResponse(body, status_code=200 if ready else 503)

    @app.get("/v1/index", summary="The index being served", responses={401: ERRORS[401]})
    async def index_info() -> dict[str, Any]:
        return engine.index_info()

    @app.get("/v1/stats", summary="Queue, batching and response counts", responses=ERRORS)
    async def stats() -> dict[str, Any]:
        return engine.stats()

    @app.post(
        "/v1/scan",
        summary="Scan one image: the same JSON as one row of `simdetect scan --out x.jsonl`",
        responses=ERRORS,
    )
    async def scan(
        request: Request,
        file: Annotated[UploadFile, File(description="The suspect image.")],
    ) -> JSONResponse:
        parts = (await request.form()).getlist("file")  # parsed once; this reads the cache
        if len(parts) != 1:
            raise HTTPException(
                422,
                f"send exactly one `file` part ({len(parts)} were sent); "
                "for several images use one request each, or /v1/report",
            )
        data = await file.read()
        row = await engine.scan(data, file.filename)
        return JSONResponse(row)

    @app.post(
        "/v1/report",
        summary="Evidence record (JSON) or its HTML rendering for one case",
        responses=ERRORS,
    )
    async def report(
        request: Request,
        files: Annotated[
            list[UploadFile], File(description="Suspect images, one `files` part each.")
        ],
        artist: Annotated[str, Form(description="The claimant artist (must be indexed).")],
        case_id: Annotated[str | None, Form(description="Case reference.")] = None,
        claimant: Annotated[str | None, Form(description="Claimant's name.")] = None,
        respondent: Annotated[str | None, Form(description="Respondent's name.")] = None,
        lang: Annotated[str, Form(description="zh, en or both.")] = "both",
        format: Annotated[
            Literal["json", "html"], Query(description="json: the record; html: its rendering.")
        ] = "json",
    ) -> Response:
        if not files:
            raise HTTPException(422, "no image uploaded: send one or more `files` parts")
        if len(files) > MAX_REPORT_IMAGES:
            raise HTTPException(422, f"at most {MAX_REPORT_IMAGES} images per report")
        try:
            languages = parse_languages(lang)
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None
        check_artist(engine.snapshot, artist)
        case = CaseInfo(
            artist=artist,
            case_id=_bounded(case_id, "case_id") or default_case_id(),
            claimant=_bounded(claimant, "claimant"),
            respondent=_bounded(respondent, "respondent"),
            languages=languages,
        )
        uploads = [(await f.read(), f.filename) for f in files]
        made = await engine.report(uploads, case, _requested_by(request))
        return _report_response(made, format)

    @app.get(
        "/v1/reports/{report_id}",
        summary="An earlier report, as made (JSON record or HTML)",
        responses={401: ERRORS[401], 404: {"description": "No such report."}},
    )
    async def stored_report(
        report_id: str,
        format: Annotated[Literal["json", "html"], Query()] = "json",
    ) -> Response:
        folder = engine.stored_report(report_id)
        if folder is None:
            raise HTTPException(404, f"no report {report_id!r}")
        if format == "html":
            return Response(
                (folder / HTML_NAME).read_bytes(),
                media_type="text/html; charset=utf-8",
                headers=HTML_HEADERS,
            )
        return Response((folder / JSON_NAME).read_bytes(), media_type="application/json")

    return app
