"""Export services: who may export, which range, and the bytes in each format.

Used by `klaster export` (files, with progress) and by the web (streamed responses).
CSV holds one table per file; JSON and XLSX hold all tables. Only the distributor and the
coordinator may export (`Forbidden` otherwise).
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import IO, Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.access.actor import Actor, require_role
from market.access.models import Role
from market.core.errors import ValidationFailed
from market.export.query import BATCHES
from market.export.scope import ExportScope, load_scope
from market.export.tables import TABLES, TableSpec
from market.export.writers import XLSX_MAX_ROWS, CsvDialect, CsvEncoder, JsonEncoder, XlsxBuilder

FORMATS = ("csv", "json", "xlsx")
EXPORT_ROLES = (Role.DISTRIBUTOR, Role.COORDINATOR)
#: Longest range a web request may ask for (CSV/JSON stream; XLSX is limited by rows).
WEB_MAX_DAYS = 92

Progress = Callable[[str, int, int], None]  # (table, intervals done, rows written)


def authorize(actor: Actor) -> None:
    """Exports are for the distributor and the coordinator only."""
    require_role(actor, *EXPORT_ROLES)


_MONTH = re.compile(r"^\d{4}-\d{2}$")


def parse_range(
    raw_from: str, raw_to: str | None, tz: str = "Europe/Warsaw"
) -> tuple[datetime, datetime]:
    """[start, end) in UTC from user input.

    `2026-10` is a local month; `2026-10-25` a local day (as `--to`, the day is included);
    a time with an offset or `Z` is exact (as `--to`, excluded); a time without an offset is
    local time. `raw_to` may be omitted for a month or a day.
    """
    zone = ZoneInfo(tz)

    def local_midnight(d: date) -> datetime:
        return datetime.combine(d, time(0), tzinfo=zone).astimezone(UTC)

    def parse(raw: str, field: str, is_end: bool) -> datetime:
        text = raw.strip()
        try:
            if _MONTH.match(text):
                year, month = int(text[:4]), int(text[5:])
                first = date(year, month, 1)
                if not is_end:
                    return local_midnight(first)
                nxt = date(year + (month == 12), month % 12 + 1, 1)
                return local_midnight(nxt)
            if len(text) == 10:
                d = date.fromisoformat(text)
                return local_midnight(d + timedelta(days=1) if is_end else d)
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ValidationFailed(
                field,
                f"not a date or time ({raw!r}); use 2026-10, 2026-10-25 or 2026-10-25T00:00:00Z",
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=zone)
        return moment.astimezone(UTC)

    start = parse(raw_from, "from", False)
    end = parse(raw_to if raw_to else raw_from, "to", True)
    if end <= start:
        raise ValidationFailed("to", "the end of the range must be after its start")
    return start, end


@dataclass(frozen=True, slots=True)
class ExportRequest:
    start: datetime
    end: datetime
    format: str = "csv"
    tables: tuple[str, ...] = ("metering",)
    decimal_comma: bool = False
    plain_csv: bool = False

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ValidationFailed(
                "format", f"unknown format {self.format!r}; use csv, json or xlsx"
            )
        for name in self.tables:
            if name not in TABLES:
                raise ValidationFailed(
                    "table", f"unknown table {name!r}; use one of {', '.join(TABLES)}"
                )
        if self.format == "csv" and len(self.tables) != 1:
            raise ValidationFailed("table", "a CSV file holds one table; pick one")
        if self.decimal_comma and self.plain_csv:
            raise ValidationFailed(
                "decimal_comma", "a decimal comma needs the Polish CSV (';' separator)"
            )

    @property
    def dialect(self) -> CsvDialect:
        return CsvDialect.plain() if self.plain_csv else CsvDialect.polish(self.decimal_comma)

    @property
    def specs(self) -> list[TableSpec]:
        return [TABLES[t] for t in self.tables]

    def filename(self, scope: ExportScope) -> str:
        start = scope.start.astimezone(ZoneInfo(scope.timezone)).date()
        last = (scope.end - timedelta(microseconds=1)).astimezone(ZoneInfo(scope.timezone)).date()
        span = start.isoformat() if start == last else f"{start.isoformat()}_{last.isoformat()}"
        table = f"-{self.tables[0]}" if self.format == "csv" else ""
        return f"klaster-{span}{table}-{scope.version}.{self.format}"

    @property
    def media_type(self) -> str:
        return {
            "csv": "text/csv; charset=utf-8",
            "json": "application/json",
            "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        }[self.format]


async def open_export(
    session: AsyncSession, actor: Actor | None, request: ExportRequest, *, web: bool = False
) -> ExportScope:
    """Check the actor (None: the command line, trusted) and load the scope.

    For a web request, the range is limited to `WEB_MAX_DAYS` and an XLSX to one sheet of
    rows, with a message saying what to do instead (never a timeout or a full memory).
    """
    if actor is not None:
        authorize(actor)
    scope = await load_scope(
        session, request.start, request.end, max_days=WEB_MAX_DAYS if web else None
    )
    if web and request.format == "xlsx":
        rows = max(
            scope.metering_rows_estimate if "metering" in request.tables else 0,
            scope.interval_count,
        )
        if rows > XLSX_MAX_ROWS:
            raise ValidationFailed(
                "format",
                f"about {rows:,} rows do not fit one spreadsheet sheet; download CSV or JSON "
                "(streamed), or use `klaster export --format xlsx` (splits into sheets)",
            )
    return scope


async def _rows(session: AsyncSession, scope: ExportScope, table: str) -> AsyncIterator[list[Any]]:
    async for batch in BATCHES[table](session, scope):
        yield batch


async def stream_export(
    session: AsyncSession,
    scope: ExportScope,
    request: ExportRequest,
    progress: Progress | None = None,
) -> AsyncIterator[bytes]:
    """CSV or JSON as byte chunks, produced as the database is read."""
    rows_done = 0
    if request.format == "csv":
        spec = request.specs[0]
        enc = CsvEncoder(spec, request.dialect)
        yield enc.header()
        k = 0
        async for batch in _rows(session, scope, spec.name):
            k += 1
            rows_done += len(batch)
            yield enc.rows(batch)
            if progress:
                progress(spec.name, k, rows_done)
        return
    if request.format != "json":
        raise ValidationFailed("format", "only CSV and JSON stream; XLSX is written to a file")
    jenc = JsonEncoder()
    yield jenc.begin(scope.meta())
    for spec in request.specs:
        yield jenc.table_begin(spec)
        k = 0
        async for batch in _rows(session, scope, spec.name):
            k += 1
            rows_done += len(batch)
            yield jenc.rows(batch)
            if progress:
                progress(spec.name, k, rows_done)
        yield jenc.table_end()
    yield jenc.end()


async def write_export(
    session: AsyncSession,
    scope: ExportScope,
    request: ExportRequest,
    target: str | IO[bytes],
    progress: Progress | None = None,
) -> int:
    """Write the export to a file (any format); returns the number of rows."""
    if request.format == "xlsx":
        book = XlsxBuilder(target, scope.meta())
        total = 0
        for spec in request.specs:
            book.table_begin(spec)
            k = 0
            async for batch in _rows(session, scope, spec.name):
                k += 1
                total += len(batch)
                book.rows(batch)
                if progress:
                    progress(spec.name, k, total)
        book.close()
        return total
    rows = 0

    def counting(table: str, k: int, n: int) -> None:
        nonlocal rows
        rows = n
        if progress:
            progress(table, k, n)

    if isinstance(target, str):
        with open(target, "wb") as out:
            async for chunk in stream_export(session, scope, request, counting):
                out.write(chunk)
    else:
        async for chunk in stream_export(session, scope, request, counting):
            target.write(chunk)
    return rows


def tables_for(format_: str, table: str | None) -> tuple[str, ...]:
    """Default tables: CSV the metering table, JSON/XLSX all of them."""
    if table and table != "all":
        return (table,)
    if format_ == "csv" and table != "all":
        return ("metering",)
    return tuple(TABLES)


def all_tables() -> Sequence[str]:
    return tuple(TABLES)


async def stream_in_own_session(
    sessions: async_sessionmaker[AsyncSession], scope: ExportScope, request: ExportRequest
) -> AsyncIterator[bytes]:
    """The export's bytes for an HTTP response. It reads in its own session, because a
    streamed response outlives the request handler (and its session)."""
    async with sessions() as session:
        if request.format != "xlsx":
            async for chunk in stream_export(session, scope, request):
                yield chunk
            return
        with tempfile.NamedTemporaryFile(prefix="klaster-", suffix=".xlsx") as tmp:
            await write_export(session, scope, request, tmp.name)
            with open(tmp.name, "rb") as done:
                while chunk := done.read(1 << 16):
                    yield chunk


def web_request(
    start: str,
    end: str | None,
    format_: str = "csv",
    table: str | None = None,
    decimal_comma: bool = False,
    plain: bool = False,
    tz: str = "Europe/Warsaw",
) -> ExportRequest:
    """An `ExportRequest` from query parameters (dates as on the command line)."""
    begin, finish = parse_range(start, end or None, tz)
    return ExportRequest(begin, finish, format_, tables_for(format_, table), decimal_comma, plain)
