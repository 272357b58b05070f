"""What an export or a report asks for, parsed once at the boundary: the same request and the
same messages (ids with params) for the command line, the page and the API."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from market.core.errors import ValidationFailed
from market.export.request import parse_export_request, parse_month
from market.reports.service import Period, parse_report_request


def test_default_tables_follow_the_format() -> None:
    csv = parse_export_request("2026-10-25")
    assert (csv.format, csv.tables) == ("csv", ("metering",))
    assert csv.start == datetime(2026, 10, 24, 22, tzinfo=UTC)
    assert csv.end == datetime(2026, 10, 25, 23, tzinfo=UTC)  # the autumn day has 25 hours
    assert parse_export_request("2026-10", format_="json").tables == (
        "metering",
        "trades",
        "nodes",
        "lines",
        "grid",
        "storage",
        "statutory",
    )
    assert parse_export_request("2026-10", format_="xlsx", table="grid").tables == ("grid",)


def test_refusals_name_the_field_and_carry_params() -> None:
    with pytest.raises(ValidationFailed) as one_table:
        parse_export_request("2026-10", table="all")
    assert one_table.value.field == "table"
    assert one_table.value.message_id == "a %(format)s file holds one table; pick one"
    assert one_table.value.params == {"format": "CSV"}
    with pytest.raises(ValidationFailed) as unknown:
        parse_export_request("2026-10", format_="ods")
    assert unknown.value.field == "format"
    assert unknown.value.params == {"value": "ods", "choices": "csv, json, xlsx"}
    with pytest.raises(ValidationFailed) as backwards:
        parse_export_request("2026-10-25", "2026-10-01T00:00:00Z")
    assert backwards.value.field == "to"
    assert backwards.value.params == {  # aware datetimes, formatted by the page for its reader
        "start": datetime(2026, 10, 24, 22, tzinfo=UTC),
        "end": datetime(2026, 10, 1, tzinfo=UTC),
    }
    with pytest.raises(ValidationFailed, match="not a date or time") as bad:
        parse_export_request("2026-13")
    assert (bad.value.field, bad.value.params) == ("from", {"value": "2026-13"})


def test_report_request_and_month() -> None:
    asked = parse_report_request("2026-10", None, "month")
    assert asked.period is Period.MONTH
    assert (asked.start, asked.end) == (
        datetime(2026, 9, 30, 22, tzinfo=UTC),
        datetime(2026, 10, 31, 23, tzinfo=UTC),
    )
    with pytest.raises(ValidationFailed) as period:
        parse_report_request("2026-10", None, "week")
    assert period.value.field == "period" and period.value.params["value"] == "week"
    assert parse_month("2026-10") == date(2026, 10, 1)
    with pytest.raises(ValidationFailed) as month:
        parse_month("2026-10-25")
    assert month.value.field == "month"
