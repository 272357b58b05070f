"""What an export asks for, parsed once at the boundary (command line, page, API) into an
`ExportRequest`, so that every entry point gives the same messages.

Ranges: `2026-10` is a local month, `2026-10-25` a local day (as the end, the day is
included); a time with an offset or `Z` is exact (as the end, excluded); a time without an
offset is local time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from market.core.errors import ValidationFailed
from market.core.fields import check_year
from market.core.settings import DEFAULT_TIMEZONE
from market.export.formats.encoder import Encoder
from market.export.formats.registry import FORMATS
from market.export.scope import ExportScope, check_range
from market.export.tables import TABLES, TableSpec
from market.export.writers import CsvDialect

#: The cluster's local time (ranges without an offset are read in it).
LOCAL_TZ = DEFAULT_TIMEZONE
#: The table a one-table format holds when none is named.
DEFAULT_TABLE = "metering"

_MONTH = re.compile(r"^\d{4}-\d{2}$")


def local_midnight(day: date, tz: str = LOCAL_TZ) -> datetime:
    """The UTC instant a local day starts."""
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(tz)).astimezone(UTC)


def month_range(first: date, tz: str = LOCAL_TZ) -> tuple[datetime, datetime]:
    """[start, end) in UTC of the local month of `first`."""
    following = date(first.year + (first.month == 12), first.month % 12 + 1, 1)
    return local_midnight(first.replace(day=1), tz), local_midnight(following, tz)


def parse_month(raw: str, field: str = "month") -> date:
    """`2026-10` → the month's first day."""
    text = raw.strip()
    try:
        if not _MONTH.match(text):
            raise ValueError(text)
        month = date(int(text[:4]), int(text[5:]), 1)
    except ValueError:
        raise ValidationFailed(field, "not a month (%(value)s); use 2026-10", value=raw) from None
    check_year(month.year, field)
    return month


def _parse_moment(raw: str, field: str, is_end: bool, tz: str) -> datetime:
    text = raw.strip()
    try:
        if _MONTH.match(text):
            start, end = month_range(parse_month(text, field), tz)
            return end if is_end else start
        if len(text) == 10:
            day = date.fromisoformat(text)
            check_year(day.year, field)
            return local_midnight(day + timedelta(days=1) if is_end else day, tz)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        check_year(moment.year, field)
    except ValidationFailed as error:
        if error.message_id.startswith("the year"):
            raise
        raise _not_a_moment(field, raw) from None
    except ValueError:
        raise _not_a_moment(field, raw) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(tz))
    return moment.astimezone(UTC)


def _not_a_moment(field: str, raw: str) -> ValidationFailed:
    return ValidationFailed(
        field,
        "not a date or time (%(value)s); use 2026-10, 2026-10-25 or 2026-10-25T00:00:00Z",
        value=raw,
    )


def parse_range(raw_from: str, raw_to: str | None, tz: str = LOCAL_TZ) -> tuple[datetime, datetime]:
    """[start, end) in UTC from user input; `raw_to` may be omitted for a month or a day."""
    start = _parse_moment(raw_from, "from", False, tz)
    end = _parse_moment(raw_to if raw_to else raw_from, "to", True, tz)
    check_range(start, end)
    return start, end


@dataclass(frozen=True, slots=True)
class ExportRequest:
    """A checked request: the range in UTC, a registered format, tables it can hold."""

    start: datetime
    end: datetime
    format: str = FORMATS.default.name
    tables: tuple[str, ...] = (DEFAULT_TABLE,)
    decimal_comma: bool = False
    plain_csv: bool = False

    def __post_init__(self) -> None:
        encoder = FORMATS.get(self.format)
        for name in self.tables:
            if name not in TABLES:
                raise ValidationFailed(
                    "table",
                    "unknown table %(value)s; use one of %(choices)s",
                    value=name,
                    choices=", ".join(TABLES),
                )
        if not encoder.multi_table and len(self.tables) != 1:
            raise ValidationFailed(
                "table", "a %(format)s file holds one table; pick one", format=encoder.label
            )
        if self.decimal_comma and self.plain_csv:
            raise ValidationFailed(
                "decimal_comma", "a decimal comma needs the Polish CSV (';' separator)"
            )

    @property
    def encoder(self) -> Encoder:
        return FORMATS.get(self.format)

    @property
    def media_type(self) -> str:
        return self.encoder.media_type

    @property
    def dialect(self) -> CsvDialect:
        return CsvDialect.plain() if self.plain_csv else CsvDialect.polish(self.decimal_comma)

    @property
    def specs(self) -> tuple[TableSpec, ...]:
        return tuple(TABLES[t] for t in self.tables)

    def filename(self, scope: ExportScope) -> str:
        zone = ZoneInfo(scope.timezone)
        first = scope.start.astimezone(zone).date()
        last = (scope.end - timedelta(microseconds=1)).astimezone(zone).date()
        span = first.isoformat() if first == last else f"{first.isoformat()}_{last.isoformat()}"
        encoder = self.encoder
        table = "" if encoder.multi_table else f"-{self.tables[0]}"
        return f"klaster-{span}{table}-{scope.version}.{encoder.extension}"


def tables_for(encoder: Encoder, table: str | None) -> tuple[str, ...]:
    """The tables asked for: one named table, `all`, or by default every table for a format
    that holds several and the metering table for a one-table format."""
    if table and table != "all":
        return (table,)
    if table == "all" or encoder.multi_table:
        return tuple(TABLES)
    return (DEFAULT_TABLE,)


def parse_export_request(
    start: str,
    end: str | None = None,
    format_: str | None = None,
    table: str | None = None,
    decimal_comma: bool = False,
    plain: bool = False,
    tz: str = LOCAL_TZ,
) -> ExportRequest:
    """An `ExportRequest` from the strings a person types (dates as on the command line)."""
    begin, finish = parse_range(start, end or None, tz)
    encoder = FORMATS.get(format_) if format_ else FORMATS.default
    tables = tables_for(encoder, table)
    return ExportRequest(begin, finish, encoder.name, tables, decimal_comma, plain)
