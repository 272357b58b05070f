"""The distributor's page: export downloads (streamed), meter-data upload; the export API.

Registered through `web.controllers.route_handlers` (it imports this module's `HANDLERS`,
which also carry the report and statement pages of `web.controllers.reports`).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.params import FromQuery, MultipartBody
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Stream, Template
from sqlalchemy.ext.asyncio import AsyncSession

from market.export.scope import cleared_span
from market.export.service import open_export, stream_in_own_session, web_request
from market.metering.imports import import_meter_data, recent_imports
from web.auth import requires_role
from web.ui.render import expect_form, render

Db = NamedDependency[AsyncSession]
ActorDep = NamedDependency[Any]
#: Meter-data uploads up to 200 MB (a month of quarter-hours for ~700 metering points).
MAX_UPLOAD = 200 * 1024 * 1024


@dataclass
class MeterUpload:
    file: UploadFile
    skip_bad_rows: bool = False


async def _download(
    request: Request[Any, Any, Any], db: AsyncSession, actor: Any, params: dict[str, Any]
) -> Stream:
    req = web_request(**params)
    scope = await open_export(db, actor, req, web=True)
    return Stream(
        stream_in_own_session(request.app.state.services.session_factory, scope, req),
        media_type=req.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{req.filename(scope)}"',
            "ETag": f'"{scope.version}"',
            "X-Klaster-Export-Version": scope.version,
        },
    )


async def _save_upload(upload: UploadFile) -> Path:
    """Spool the upload to a temporary file (the import reads it twice)."""
    with tempfile.NamedTemporaryFile(prefix="klaster-meter-", suffix=".csv", delete=False) as out:
        while chunk := await upload.read(1 << 20):
            out.write(chunk)
    return Path(out.name)


class DistributorController(Controller):
    path = "/distributor"
    guards = [requires_role("distributor", "coordinator")]  # noqa: RUF012 - Litestar style

    @get("/")
    async def index(self, request: HTMXRequest, db: Db) -> Template:
        return render(
            request,
            "distributor/index.html",
            section="distributor",
            span=await cleared_span(db),
            imports=await recent_imports(db),
        )

    @get("/export")
    async def download(
        self,
        request: HTMXRequest,
        db: Db,
        actor: ActorDep,
        start: FromQuery[str],
        end: FromQuery[str | None] = None,
        format: FromQuery[str] = "csv",
        table: FromQuery[str | None] = None,
        decimal_comma: FromQuery[bool] = False,
        plain: FromQuery[bool] = False,
    ) -> Stream:
        params = {
            "start": start,
            "end": end,
            "format_": format,
            "table": table,
            "decimal_comma": decimal_comma,
            "plain": plain,
        }
        return await _download(request, db, actor, params)

    @post("/meter-data", request_max_body_size=MAX_UPLOAD)
    async def upload(
        self, request: HTMXRequest, db: Db, actor: ActorDep, data: MultipartBody[MeterUpload]
    ) -> Template:
        expect_form(request, "distributor/_meter_report.html", report=None)
        path = await _save_upload(data.file)
        try:
            with path.open(encoding="utf-8-sig", newline="") as stream:
                report = await import_meter_data(
                    db, actor, stream, filename=data.file.filename, skip_bad_rows=data.skip_bad_rows
                )
        finally:
            path.unlink(missing_ok=True)
        status = 422 if report.stored == 0 and not report.ok else 200
        htmx = request.headers.get("hx-request") == "true"
        template = "distributor/_meter_report.html" if htmx else "distributor/index.html"
        return render(
            request,
            template,
            status_code=status,
            section="distributor",
            report=report,
            imports=await recent_imports(db),
            span=await cleared_span(db),
        )


@get("/api/v1/exports", summary="Export cleared results (distributor and coordinator)")
async def api_export(
    request: HTMXRequest,
    db: Db,
    actor: ActorDep,
    start: FromQuery[str],
    end: FromQuery[str | None] = None,
    format: FromQuery[str] = "csv",
    table: FromQuery[str | None] = None,
    decimal_comma: FromQuery[bool] = False,
    plain: FromQuery[bool] = False,
) -> Stream:
    """Streams CSV/JSON (XLSX up to one sheet). `start`/`end`: 2026-10, 2026-10-25 or
    ISO times; other roles get 403, an empty range 404 naming the range."""
    _require_token(actor)
    params = {
        "start": start,
        "end": end,
        "format_": format,
        "table": table,
        "decimal_comma": decimal_comma,
        "plain": plain,
    }
    return await _download(request, db, actor, params)


@post(
    "/api/v1/meter-data",
    request_max_body_size=MAX_UPLOAD,
    summary="Import meter data (CSV body; distributor and coordinator)",
)
async def api_meter_data(
    request: HTMXRequest, db: Db, actor: ActorDep, skip_bad_rows: FromQuery[bool] = False
) -> Response[dict[str, Any]]:
    """The CSV as the request body (`Content-Type: text/csv`). 200 with what was stored, or
    422 listing the bad rows (line, field, message) when nothing was stored."""
    _require_token(actor)
    path = await _save_body(request)
    try:
        with path.open(encoding="utf-8-sig", newline="") as stream:
            report = await import_meter_data(
                db, actor, stream, filename="api.csv", skip_bad_rows=skip_bad_rows
            )
    finally:
        path.unlink(missing_ok=True)
    body = {
        "stored": report.stored,
        "rows": report.rows,
        "valid_rows": report.valid_rows,
        "error_count": report.error_count,
        "resolution": f"PT{report.resolution_minutes}M",
        "errors": [{"line": e.line, "field": e.field, "message": e.message} for e in report.errors],
    }
    return Response(body, status_code=422 if report.stored == 0 and not report.ok else 200)


def _require_token(actor: Any) -> None:
    from market.access.actor import Actor
    from market.core.errors import NotAuthenticated

    if not isinstance(actor, Actor):
        raise NotAuthenticated("token", "send Authorization: Bearer <token>")


async def _save_body(request: Request[Any, Any, Any]) -> Path:
    with tempfile.NamedTemporaryFile(prefix="klaster-meter-", suffix=".csv", delete=False) as out:
        async for chunk in request.stream():
            out.write(chunk)
    return Path(out.name)


def _handlers() -> list[Any]:
    from web.pages import reports

    return [DistributorController, api_export, api_meter_data, *reports.HANDLERS]


HANDLERS: list[Any] = _handlers()
