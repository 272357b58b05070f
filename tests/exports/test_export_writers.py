"""Writers: exact CSV bytes, DST numbering, JSON validity, XLSX structure, identical re-export."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from market.core.timegrid import local_day_bounds
from market.export.tables import GRID, METERING, TRADES, MeteringRow, TradeRow, interval_fields
from market.export.writers import CsvDialect, iter_csv, iter_json, write_chunks, write_xlsx

GEN = datetime(2026, 3, 30, 6, 0, tzinfo=UTC)


def row(
    start: datetime,
    ppe: str = "590543500000000018",
    node: str = "LV-1",
    imp: str = "1.25",
    exp: str = "0",
    price: str | None = "0.6123",
    amount: str = "0.77",
    metered: tuple[str, str] | None = None,
    quality: str | None = None,
    minutes: int = 15,
) -> MeteringRow:
    f = interval_fields(start, minutes)
    return MeteringRow(
        "KE/001/2026",
        "Domat Consulting",
        ppe,
        "prosumer",
        node,
        f.start_utc,
        f.end_utc,
        f.local_start,
        f.local_day,
        f.number,
        f.resolution,
        Decimal(imp),
        Decimal(exp),
        None if price is None else Decimal(price),
        Decimal(amount),
        None if metered is None else Decimal(metered[0]),
        None if metered is None else Decimal(metered[1]),
        None,
        None,
        None,
        False,
        quality,
        "7-abcdef01",
        GEN,
    )


def csv_bytes(rows: list[MeteringRow], dialect: CsvDialect) -> bytes:
    return b"".join(iter_csv(METERING, rows, dialect))


def day_rows(day: date) -> Iterator[MeteringRow]:
    start, end = local_day_bounds(day)
    t = start
    while t < end:
        yield row(t)
        t += timedelta(minutes=15)


START = datetime(2026, 3, 29, 0, 45, tzinfo=UTC)  # 01:45+01:00, interval 8 of the spring day


def test_polish_csv_exact_bytes_with_decimal_comma() -> None:
    out = csv_bytes([row(START, node='LV "Zielona; 1"')], CsvDialect.polish(decimal_comma=True))
    header = ";".join(METERING.header)
    line = (
        "KE/001/2026;Domat Consulting;590543500000000018;prosumer;"
        '"LV ""Zielona; 1""";'
        "2026-03-29T00:45:00Z;2026-03-29T01:00:00Z;2026-03-29T01:45:00+01:00;2026-03-29;8;"
        "PT15M;1,250;0,000;0,6123;0,77;;;;;;0;;7-abcdef01;2026-03-30T06:00:00Z"
        ";0,000;0,000;0,000;0,000;0,000;0,000"  # the day-ahead columns
    )
    assert out == ("\ufeff" + header + "\r\n" + line + "\r\n").encode("utf-8")
    assert out.startswith(b"\xef\xbb\xbf")


def test_plain_csv_decimal_point_comma_separator_no_bom() -> None:
    out = csv_bytes([row(START, node="LV, 1", amount="-0.001")], CsvDialect.plain())
    text = out.decode("utf-8")
    assert not text.startswith("\ufeff")
    lines = text.split("\r\n")
    assert lines[0] == ",".join(METERING.header)
    assert ',"LV, 1",' in lines[1]
    # 3 decimals for energy, 4 for the price, 2 for money; no negative zero
    assert ",1.250,0.000,0.6123,0.00," in lines[1]


def test_decimal_comma_needs_polish_separator() -> None:
    with pytest.raises(ValueError, match="decimal comma"):
        CsvDialect(separator=",", decimal_comma=True)


def test_text_that_looks_like_a_formula_is_defused() -> None:
    out = csv_bytes([row(START, node="=HYPERLINK(1)")], CsvDialect.polish()).decode()
    assert ";'=HYPERLINK(1);" in out


@pytest.mark.parametrize(
    ("day", "count", "first_offset", "last_local"),
    [
        (date(2026, 3, 29), 92, "+01:00", "2026-03-29T23:45:00+02:00"),
        (date(2026, 10, 25), 100, "+02:00", "2026-10-25T23:45:00+01:00"),
        (date(2026, 6, 1), 96, "+02:00", "2026-06-01T23:45:00+02:00"),
    ],
)
def test_dst_days_number_intervals_with_offsets(
    day: date, count: int, first_offset: str, last_local: str
) -> None:
    text = csv_bytes(list(day_rows(day)), CsvDialect.plain()).decode()
    body = text.strip("\r\n").split("\r\n")[1:]
    cols = [line.split(",") for line in body]
    idx = {name: k for k, name in enumerate(METERING.header)}
    assert [int(c[idx["interval_no"]]) for c in cols] == list(range(1, count + 1))
    assert {c[idx["local_day"]] for c in cols} == {day.isoformat()}
    assert cols[0][idx["local_start"]] == f"{day.isoformat()}T00:00:00{first_offset}"
    assert cols[-1][idx["local_start"]] == last_local
    if count == 100:  # the repeated hour: 02:00 at +02:00, then 02:00 again at +01:00
        locals_ = [c[idx["local_start"]] for c in cols]
        assert locals_[8] == "2026-10-25T02:00:00+02:00"
        assert locals_[12] == "2026-10-25T02:00:00+01:00"
        assert cols[8][idx["interval_start_utc"]] == "2026-10-25T00:00:00Z"
        assert cols[12][idx["interval_start_utc"]] == "2026-10-25T01:00:00Z"
    if count == 92:  # 02:00–03:00 does not exist
        assert cols[8][idx["local_start"]] == "2026-03-29T03:00:00+02:00"


def trade(start: datetime, k: int) -> TradeRow:
    f = interval_fields(start, 15)
    return TradeRow(
        "KE/001/2026",
        f.start_utc,
        f.local_day,
        f.number,
        k,
        "590543500000000025",
        "LV-2",
        "GRID" if k == 2 else "590543500000000018",
        "GPZ" if k == 2 else "LV-1",
        Decimal("2.5"),
        Decimal("0.55"),
        Decimal("0.5623"),
        "7-abcdef01",
    )


def test_json_is_valid_and_exact() -> None:
    meta = {"format": "klaster-export", "version": "abc", "generated_at": GEN}
    rows = [row(START, metered=("1.3", "0"), quality="measured"), row(START, price=None)]
    data = b"".join(
        iter_json(
            meta, [(METERING, rows), (TRADES, [trade(START, 1), trade(START, 2)]), (GRID, [])]
        )
    )
    doc = json.loads(data, parse_float=Decimal)
    assert doc["format"] == "klaster-export"
    assert doc["generated_at"] == "2026-03-30T06:00:00Z"
    assert doc["metering_units"]["price_pln_per_kwh"] == "PLN/kWh"
    first = doc["metering"][0]
    assert first["matched_import_kwh"] == Decimal("1.250")
    assert first["metered_import_kwh"] == Decimal("1.300")
    assert first["grid_import_kwh"] is None
    assert first["binding_constraint"] is False
    assert first["local_start"] == "2026-03-29T01:45:00+01:00"
    assert doc["metering"][1]["price_pln_per_kwh"] is None
    assert [t["buyer_ppe"] for t in doc["trades"]] == ["590543500000000018", "GRID"]
    assert doc["grid"] == []


def test_json_streams_in_chunks() -> None:
    rows = (row(START) for _ in range(2000))
    chunks = list(iter_json({}, [(METERING, rows)]))
    assert len(chunks) > 3  # header, table start, several batches, end
    assert len(json.loads(b"".join(chunks))["metering"]) == 2000


def xlsx_bytes(rows: list[MeteringRow], max_rows: int = 1_048_575) -> bytes:
    buf = io.BytesIO()
    meta = {"title": "test", "version": "abc", "generated_at": GEN}
    write_xlsx(
        buf, meta, [(METERING, rows), (TRADES, [trade(START, 1)])], max_rows_per_sheet=max_rows
    )
    return buf.getvalue()


def test_xlsx_opens_and_splits_long_tables() -> None:
    data = xlsx_bytes([row(START) for _ in range(5)], max_rows=2)
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert z.testzip() is None
        workbook = z.read("xl/workbook.xml").decode()
        core = z.read("docProps/core.xml").decode()
        sheets = [z.read(f"xl/worksheets/sheet{k}.xml").decode() for k in range(1, 6)]
    for name in ("export", "metering", "metering (2)", "metering (3)", "trades"):
        assert f'name="{name}"' in workbook
    assert "2026-03-30T06:00:00Z" in core
    # 5 rows at 2 per sheet: 2 + 2 + 1 data rows, each sheet with its header
    assert [s.count("<row ") for s in sheets[1:4]] == [3, 3, 2]
    assert "590543500000000018" in sheets[1] and "matched_import_kwh" in sheets[3]


def test_reexport_is_byte_identical() -> None:
    rows = list(day_rows(date(2026, 10, 25)))
    assert csv_bytes(rows, CsvDialect.polish(True)) == csv_bytes(
        list(rows), CsvDialect.polish(True)
    )
    meta = {"version": "abc", "generated_at": GEN}
    assert b"".join(iter_json(meta, [(METERING, rows)])) == b"".join(
        iter_json(meta, [(METERING, list(rows))])
    )
    assert xlsx_bytes(rows) == xlsx_bytes(list(rows))


def test_write_chunks_counts_bytes() -> None:
    buf = io.BytesIO()
    size = write_chunks(buf, iter_csv(METERING, [row(START)], CsvDialect.plain()))
    assert size == len(buf.getvalue()) > 0
