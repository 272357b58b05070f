"""The distributor's page: export downloads (streamed), meter-data upload; the export and
meter-data API. The formats offered come from `market.export.formats.registry`.

`HANDLERS` also carries the report and statement pages of `web.pages.reports`.
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromQuery, MultipartBody
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Stream, Template
from sqlalchemy.ext.asyncio import AsyncSession

from market.core.errors import ValidationFailed
from market.core.fields import every_error
from market.export.formats.registry import FORMATS
from market.export.request import ExportRequest, parse_export_request
from market.export.scope import ExportScope, cleared_span
from market.export.service import open_export, stream_in_own_session
from market.metering.imports import import_meter_data, recent_imports
from market.metering.parse import UNDETECTED_RESOLUTION, ImportReport
from market.metering.textfile import open_text
from web.api.responses import document_errors, error_spec
from web.auth import requires_role, signed_in
from web.deps import CurrentActor, Db, SettingsDep
from web.errors import ErrorBody
from web.pages import reports
from web.ui.i18n import N_, connection_locale, translate_message
from web.ui.render import expect_form, render

#: Dates that stand in for a refused one while the form's other errors are looked for.
EXPORT_STAND_INS = {"start": ("2026-06",), "end": ("",)}
#: The range's fields as `parse_range` names them → the form's boxes.
BOX = {"from": "start", "to": "end"}

#: Meter-data uploads up to 200 MB (a month of quarter-hours for ~700 metering points).
MAX_UPLOAD = 200 * 1024 * 1024


@dataclass
class MeterUpload:
    file: UploadFile
    skip_bad_rows: bool = False
    #: "" (read from the file), "15" or "60" minutes a row
    resolution: str = ""


#: `parse.UNDETECTED_RESOLUTION` in the web form's words (its Resolution field, not the
#: command line's option).
UNDETECTED_RESOLUTION_WEB = N_(
    "cannot tell 15- from 60-minute data from the first rows; add a resolution column "
    "(PT15M or PT60M) or choose 15 or 60 minutes in the Resolution field of this form"
)


#: The same for a program: the API's query parameter.
UNDETECTED_RESOLUTION_API = (
    "cannot tell 15- from 60-minute data from the first rows; add a resolution column "
    "(PT15M or PT60M) or give the query parameter resolution=15 or resolution=60"
)


def _upload_resolution(raw: str) -> int | None:
    value = raw.strip()
    if not value:
        return None
    if value not in ("15", "60"):
        raise ValidationFailed("resolution", "must be 15 or 60")
    return int(value)


def _stream(request: Request[Any, Any, Any], scope: ExportScope, export: ExportRequest) -> Stream:
    return Stream(
        stream_in_own_session(request.app.state.services.session_factory, scope, export),
        media_type=export.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{export.filename(scope)}"',
            "ETag": f'"{scope.version}"',
            "X-Klaster-Export-Version": scope.version,
        },
    )


async def _spool(chunks: AsyncIterable[bytes]) -> Path:
    """Spool an upload to a temporary file (the import reads it twice)."""
    with tempfile.NamedTemporaryFile(prefix="klaster-meter-", suffix=".csv", delete=False) as out:
        async for chunk in chunks:
            out.write(chunk)
    return Path(out.name)


async def _upload_chunks(upload: UploadFile) -> AsyncIterable[bytes]:
    while chunk := await upload.read(1 << 20):
        yield chunk


@contextmanager
def _text(path: Path) -> Iterator[IO[str]]:
    """The spooled file as text in its encoding (`market.metering.textfile`); removed
    afterwards."""
    try:
        with open_text(path) as stream:
            yield stream
    finally:
        path.unlink(missing_ok=True)


def _status(report: ImportReport) -> int:
    return 422 if report.stored == 0 and not report.ok else 200


async def _page_context(db: AsyncSession) -> dict[str, Any]:
    return {
        "section": "distributor",
        "span": await cleared_span(db),
        "imports": await recent_imports(db),
        "formats": list(FORMATS),
    }


class DistributorController(Controller):
    path = "/distributor"
    guards = [requires_role("distributor", "coordinator")]  # noqa: RUF012 - Litestar style

    @get("/")
    async def index(self, request: HTMXRequest, db: Db) -> Template:
        return render(request, "distributor/index.html", **await _page_context(db))

    @get("/export")
    async def download(
        self,
        request: HTMXRequest,
        db: Db,
        actor: CurrentActor,
        settings: SettingsDep,
        start: FromQuery[str],
        end: FromQuery[str | None] = None,
        format: FromQuery[str | None] = None,
        table: FromQuery[str | None] = None,
        decimal_comma: FromQuery[bool] = False,
        plain: FromQuery[bool] = False,
    ) -> Stream | Template:
        """The form's download: the same parameters and answers as `api_export`; a range with
        nothing cleared shows the page with an empty state instead of an error."""
        typed = {"start": start, "end": end or "", "format": format or "", "table": table or ""}

        def parse(f: Mapping[str, object]) -> ExportRequest:
            try:
                return parse_export_request(str(f["start"]), str(f["end"]) or None, format,
                                            table, decimal_comma, plain)  # fmt: skip
            except ValidationFailed as error:  # the range's own names are the CLI's
                if error.field not in BOX:
                    raise
                raise ValidationFailed(BOX[error.field], error.message_id, **error.params) from None

        problems = every_error(parse, typed, stand_ins=EXPORT_STAND_INS)
        if problems:  # the form again with every field's error, as the other forms do
            locale, tz = connection_locale(request), settings.timezone
            errors = {
                e.field if e.field in typed else "__all__": translate_message(
                    e.message_id, e.params, locale, tz
                )
                for e in reversed(problems)
            }
            return render(request, "distributor/index.html", status_code=422, errors=errors,
                          form=typed, **await _page_context(db))  # fmt: skip
        export = parse(typed)
        scope = await reports.unless_empty(open_export(db, actor, export, web=True))
        if scope is None:
            context = await _page_context(db)
            return render(request, "distributor/index.html", empty_range=start, **context)
        return _stream(request, scope, export)

    @post("/meter-data", request_max_body_size=MAX_UPLOAD)
    async def upload(
        self, request: HTMXRequest, db: Db, actor: CurrentActor, data: MultipartBody[MeterUpload]
    ) -> Template:
        expect_form(request, "distributor/_meter_report.html", report=None)
        resolution = _upload_resolution(data.resolution)
        with _text(await _spool(_upload_chunks(data.file))) as stream:
            try:
                report = await import_meter_data(
                    db, actor, stream, filename=data.file.filename,
                    skip_bad_rows=data.skip_bad_rows, resolution_minutes=resolution,
                )  # fmt: skip
            except ValidationFailed as error:
                if error.message_id != UNDETECTED_RESOLUTION:
                    raise
                raise ValidationFailed("resolution", UNDETECTED_RESOLUTION_WEB) from None
        htmx = request.headers.get("hx-request") == "true"
        template = "distributor/_meter_report.html" if htmx else "distributor/index.html"
        context = await _page_context(db)
        return render(request, template, status_code=_status(report), report=report, **context)


@get(
    "/api/v1/exports",
    guards=[signed_in],
    summary="Export cleared results (distributor and coordinator)",
)
async def api_export(
    request: Request[Any, Any, Any],
    db: Db,
    actor: CurrentActor,
    start: FromQuery[str],
    end: FromQuery[str | None] = None,
    format: FromQuery[str | None] = None,
    table: FromQuery[str | None] = None,
    decimal_comma: FromQuery[bool] = False,
    plain: FromQuery[bool] = False,
) -> Stream:
    """Streams the export. `start`/`end`: 2026-10, 2026-10-25 or ISO times; `format`: a
    registered format (csv by default; one with a row limit, such as XLSX, up to that limit).
    Other roles get 403, an empty range 404 naming the range."""
    export = parse_export_request(start, end, format, table, decimal_comma, plain)
    scope = await open_export(db, actor, export, web=True)
    return _stream(request, scope, export)


@dataclass
class RowErrorView:
    line: int
    field: str
    message: str


@dataclass
class MeterDataReport:
    """What an import stored (200), or why nothing was (422, with the bad rows)."""

    stored: int
    rows: int
    valid_rows: int
    error_count: int
    resolution: str
    errors: list[RowErrorView]


@post(
    "/api/v1/meter-data",
    guards=[signed_in],
    status_code=200,
    request_max_body_size=MAX_UPLOAD,
    summary="Import meter data (CSV body; distributor and coordinator)",
)
async def api_meter_data(
    request: Request[Any, Any, Any],
    db: Db,
    actor: CurrentActor,
    skip_bad_rows: FromQuery[bool] = False,
    resolution: FromQuery[str] = "",
) -> Response[dict[str, Any]]:
    """The CSV as the request body (`Content-Type: text/csv`). 200 with what was stored, or
    422 listing the bad rows (line, field, message) when nothing was stored. `resolution`:
    15 or 60 minutes a row, for a file without a resolution column whose first rows do not
    tell."""
    minutes = _upload_resolution(resolution)
    with _text(await _spool(request.stream())) as stream:
        try:
            report = await import_meter_data(
                db, actor, stream, filename="api.csv", skip_bad_rows=skip_bad_rows,
                resolution_minutes=minutes,
            )  # fmt: skip
        except ValidationFailed as error:
            if error.message_id != UNDETECTED_RESOLUTION:
                raise
            raise ValidationFailed("resolution", UNDETECTED_RESOLUTION_API) from None
    body = {
        "stored": report.stored,
        "rows": report.rows,
        "valid_rows": report.valid_rows,
        "error_count": report.error_count,
        "resolution": f"PT{report.resolution_minutes}M",
        "errors": [{"line": e.line, "field": e.field, "message": e.message} for e in report.errors],
    }
    return Response(body, status_code=_status(report))


HANDLERS: list[Any] = [
    DistributorController,
    *document_errors([api_export], {404: error_spec(404, "No cleared interval in the range.")}),
    *document_errors(
        [api_meter_data],
        {
            200: ResponseSpec(MeterDataReport, description="What was stored."),
            422: ResponseSpec(
                MeterDataReport | ErrorBody,  # type: ignore[arg-type]
                description="Nothing stored: the bad rows, or why the file was refused.",
            ),
        },
    ),
    *reports.HANDLERS,
]
