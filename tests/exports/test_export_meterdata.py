"""Meter-data parsing: every kind of bad row reported with its line number."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from market.core.errors import ValidationFailed
from market.metering.grid import split_hour, to_cluster_grid
from market.metering.parse import ImportReport, Quality, Reading, read_meter_csv, validate_text

A, B, UNKNOWN = "590543500000000018", "590543500000000025", "590543500001234566"
KNOWN = {A, B}
HEAD = "ppe;interval_start;import_kwh;export_kwh;quality\n"


def check(text: str, **kw: object) -> tuple[list[str], ImportReport]:
    readings, report = validate_text(text, is_known_ppe=KNOWN.__contains__, **kw)
    return [f"{r.line}:{r.ppe[-2:]}:{r.start_utc:%H:%M}" for r in readings], report


def test_good_quarter_hours_with_decimal_comma_and_offsets() -> None:
    got, report = check(
        HEAD
        + f"{A};2026-10-25T02:00:00+02:00;1,250;0;measured\n"
        + f"{A};2026-10-25T02:00:00+01:00;0,5;0,125;E\n"
        + f"{B};2026-10-25T00:15:00Z;0;2;substituted\n"
    )
    assert report.ok and report.resolution_minutes == 15
    assert got == ["2:18:00:00", "3:18:01:00", "4:25:00:15"]


def test_every_bad_row_is_reported_with_its_line() -> None:
    text = (
        HEAD
        + f"{A};2026-06-01T10:00:00Z;1;0;measured\n"  # 2 ok
        + f"{UNKNOWN};2026-06-01T10:00:00Z;1;0;measured\n"  # 3 unknown PPE
        + "590543500000000019;2026-06-01T10:00:00Z;1;0;measured\n"  # 4 bad check digit
        + f"{A};2026-06-01T12:00:00+02:00;1;0;measured\n"  # 5 duplicate of line 2
        + f"{A};2026-06-01T10:15:00Z;-0,5;0;measured\n"  # 6 negative
        + f"{A};2026-10-25T02:30:00;1;0;measured\n"  # 7 ambiguous local time
        + f"{A};2026-03-29T02:15:00;1;0;measured\n"  # 8 does not exist
        + f"{A};2026-06-01T10:07:00Z;1;0;measured\n"  # 9 off the grid
        + f"{A};2026-06-01T10:30:00Z;1,2345;0;measured\n"  # 10 more than Wh
        + f"{A};2026-06-01T10:45:00Z;1;0;guessed\n"  # 11 bad quality
        + f"{A};yesterday;1;0;measured\n"  # 12 not a time
    )
    got, report = check(text)
    assert got == ["2:18:10:00"]
    assert report.error_count == 11 - 1
    by_line = {e.line: (e.field, e.message) for e in report.errors}
    assert sorted(by_line) == [3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
    assert "unknown metering point" in by_line[3][1]
    assert "check digit" in by_line[4][1]
    assert "duplicate interval" in by_line[5][1]
    assert "negative" in by_line[6][1] and by_line[6][0] == "import_kwh"
    assert "ambiguous" in by_line[7][1] and "+01:00" in by_line[7][1]
    assert "does not exist" in by_line[8][1]
    assert "mixed resolutions" in by_line[9][1]
    assert "3 decimals" in by_line[10][1]
    assert by_line[11][0] == "quality"
    assert "ISO 8601" in by_line[12][1]
    assert "line 5: interval_start: duplicate" in report.summary()


def test_row_errors_carry_a_message_id_with_params_and_polish_text() -> None:
    """The page shows row errors in the reader's language: each has a message id (with Polish
    text in the catalogue) and its values as params, not only an English sentence."""
    import json
    from datetime import UTC, datetime

    from web.ui.i18n import LOCALE_DIR

    text = (
        HEAD
        + f"{UNKNOWN};2026-06-01T10:00:00Z;1;0;measured\n"  # 2 unknown PPE
        + f"{A};2026-06-01T10:15:00Z;-0,5;0;measured\n"  # 3 negative
        + f"{A};2026-06-01T10:07:00Z;1;0;measured\n"  # 4 off the grid
        + f"{A};2026-06-01T10:45:00Z;1;0;guessed\n"  # 5 bad quality
        + f"{A};2026-06-01T10:30:00Z\n"  # 6 short row
    )
    _, report = check(text)
    rows = {e.line: (e.field, e.message_id, dict(e.params)) for e in report.errors}
    assert rows == {
        2: ("ppe", "unknown metering point %(ppe)s; register it in the cluster first",
            {"ppe": UNKNOWN}),
        3: ("import_kwh", "negative energy (%(value)s); give import and export as ≥ 0",
            {"value": "-0,5"}),
        4: ("interval_start", "mixed resolutions: %(start)s is not on the %(file_minutes)s-minute "
            "grid of this file",
            {"start": datetime(2026, 6, 1, 10, 7, tzinfo=UTC), "file_minutes": 15}),
        5: ("quality", "unknown quality flag; use measured, estimated or substituted", {}),
        6: ("row", "expected %(expected)s fields, got %(got)s", {"expected": 5, "got": 2}),
    }  # fmt: skip
    catalogue = json.loads((LOCALE_DIR / "pl.json").read_text(encoding="utf-8"))["messages"]
    assert all(catalogue.get(message_id) for _, message_id, _ in rows.values())
    assert report.errors[0].message == (
        f"unknown metering point {UNKNOWN}; register it in the cluster first"
    )


def test_mixed_resolutions_by_column() -> None:
    text = (
        "ppe,interval_start,import_kwh,export_kwh,quality,resolution\n"
        f"{A},2026-06-01T10:00:00Z,4,0,measured,PT60M\n"
        f"{B},2026-06-01T10:00:00Z,1,0,measured,PT15M\n"
        f"{B},2026-06-01T11:00:00Z,1,0,measured,PT60M\n"
    )
    got, report = check(text)
    assert report.resolution_minutes == 60
    assert got == ["2:18:10:00", "4:25:11:00"]
    assert [(e.line, e.field) for e in report.errors] == [(3, "resolution")]
    assert "mixed resolutions" in report.errors[0].message


def test_hourly_file_detected_and_quarter_hour_in_it_refused() -> None:
    text = HEAD + f"{A};2026-06-01T10:00:00Z;4;0;m\n{A};2026-06-01T11:00:00Z;4;0;m\n"
    _, report = check(text)
    assert report.ok and report.resolution_minutes == 60
    _, report = check(text + f"{B};2026-06-01T11:15:00Z;1;0;m\n", resolution_minutes=60)
    assert [e.line for e in report.errors] == [4]


def test_hourly_split_into_exact_quarters() -> None:
    text = HEAD + f"{A};2026-06-01T12:00:00+02:00;1,001;0,003;estimated\n"
    with pytest.raises(ValidationFailed, match="cannot tell 15- from 60-minute"):
        validate_text(text, is_known_ppe=KNOWN.__contains__)
    readings, report = validate_text(text, is_known_ppe=KNOWN.__contains__, resolution_minutes=60)
    assert report.resolution_minutes == 60
    quarters = split_hour(readings[0])
    assert [q.start_utc.minute for q in quarters] == [0, 15, 30, 45]
    assert [q.import_kwh for q in quarters] == [Decimal("0.251")] + [Decimal("0.250")] * 3
    assert sum(q.export_kwh for q in quarters) == Decimal("0.003")
    assert {q.quality for q in quarters} == {Quality.ESTIMATED}


def test_sixty_minute_cluster_sums_complete_hours_only() -> None:
    rows = "".join(
        f"{A};2026-06-01T10:{m:02d}:00Z;0,5;0;{'m' if m else 's'}\n" for m in (0, 15, 30, 45)
    )
    rows += f"{B};2026-06-01T10:00:00Z;1;0;m\n"
    readings, report = validate_text(HEAD + rows, is_known_ppe=KNOWN.__contains__)
    hours = list(to_cluster_grid(readings, 60, report))
    assert len(hours) == 1 and hours[0].import_kwh == Decimal("2.000")
    assert hours[0].quality is Quality.SUBSTITUTED
    assert hours[0].start_utc == datetime(2026, 6, 1, 10, tzinfo=UTC)
    assert [e.line for e in report.errors] == [6]


def test_bad_header_names_the_missing_columns() -> None:
    with pytest.raises(ValidationFailed, match="missing column"):
        list(read_meter_csv(io.StringIO("ppe;start;import\n"), is_known_ppe=bool))


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 10**9), st.integers(0, 10**9))
def test_hour_split_sums_exactly_property(import_wh: int, export_wh: int) -> None:
    hour = Reading(
        1,
        A,
        datetime(2026, 6, 1, 10, tzinfo=UTC),
        60,
        Decimal(import_wh).scaleb(-3),
        Decimal(export_wh).scaleb(-3),
        Quality.MEASURED,
    )
    quarters = split_hour(hour)
    assert sum(q.import_kwh for q in quarters) == hour.import_kwh
    assert sum(q.export_kwh for q in quarters) == hour.export_kwh
    spread = [q.import_kwh for q in quarters]
    assert max(spread) - min(spread) <= Decimal("0.001")
    assert all(q.minutes == 15 for q in quarters)
