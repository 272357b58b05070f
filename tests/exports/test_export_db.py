"""Exports and meter import against the database (SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select, update

from market.access.actor import Actor
from market.clearing.models import ClearingRun
from market.core.errors import Forbidden, NotFound, ValidationFailed
from market.export.request import ExportRequest
from market.export.service import open_export, stream_export, write_export
from market.metering.imports import import_meter_data
from market.metering.models import MeterReading
from tests.support.exports import FINISHED, PPE_A, PPE_B, PPE_C, build_cluster

pytestmark = pytest.mark.anyio

D = Decimal
# 2026-10-25: 00:00Z is 02:00+02:00 and 01:00Z is 02:00+01:00 (the repeated hour)
STARTS = [datetime(2026, 10, 25, 0, 0, tzinfo=UTC), datetime(2026, 10, 25, 1, 0, tzinfo=UTC)]
FROM, TO = datetime(2026, 10, 24, 22, tzinfo=UTC), datetime(2026, 10, 25, 23, tzinfo=UTC)
DSO = Actor(2, "distributor", "PGE Dystrybucja")


async def export_bytes(db, req: ExportRequest) -> bytes:  # type: ignore[no-untyped-def]
    async with db.session() as s:
        scope = await open_export(s, DSO, req)
        buf = io.BytesIO()
        if req.format == "xlsx":
            await write_export(s, scope, req, buf)
            return buf.getvalue()
        return b"".join([c async for c in stream_export(s, scope, req)])


def rows_of(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))


async def test_metering_csv_settles_and_numbers_the_repeated_hour(db) -> None:  # type: ignore[no-untyped-def]
    async with db.session() as s:
        await build_cluster(s, STARTS)
    data = await export_bytes(db, ExportRequest(FROM, TO, "csv", decimal_comma=True))
    assert data.startswith(b"\xef\xbb\xbf")
    rows = rows_of(data)
    assert [(r["ppe"], r["local_start"], r["interval_no"]) for r in rows] == [
        (PPE_A, "2026-10-25T02:00:00+02:00", "9"),
        (PPE_B, "2026-10-25T02:00:00+02:00", "9"),
        (PPE_C, "2026-10-25T02:00:00+02:00", "9"),
        (PPE_A, "2026-10-25T02:00:00+01:00", "13"),
        (PPE_B, "2026-10-25T02:00:00+01:00", "13"),
        (PPE_C, "2026-10-25T02:00:00+01:00", "13"),
    ]
    a, b, c = rows[:3]
    assert (a["member_role"], b["member_role"], c["member_role"]) == (
        "prosumer",
        "consumer",
        "producer",
    )
    assert (a["matched_export_kwh"], a["price_pln_per_kwh"], a["amount_pln"]) == (
        "3,000",
        "0,1829",
        "-0,55",
    )
    assert (b["matched_import_kwh"], b["price_pln_per_kwh"], b["amount_pln"]) == (
        "2,500",
        "0,8000",
        "2,00",
    )
    assert c["amount_pln"] == "0,00" and c["metered_import_kwh"] == ""
    # LV-2 is behind the congested line L2
    assert (a["binding_constraint"], b["binding_constraint"]) == ("0", "1")
    assert a["interval_start_utc"] == "2026-10-25T00:00:00Z"
    assert a["interval_end_utc"] == "2026-10-25T00:15:00Z"
    assert a["local_day"] == "2026-10-25" and a["resolution"] == "PT15M"
    assert a["generated_at"] == FINISHED.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert a["version"].startswith("r") and a["cluster_id"] == "KE/001/2026"


async def test_other_tables_and_json(db) -> None:  # type: ignore[no-untyped-def]
    async with db.session() as s:
        await build_cluster(s, STARTS)
    doc = json.loads(
        await export_bytes(
            db,
            ExportRequest(
                FROM, TO, "json", tables=("metering", "trades", "nodes", "lines", "grid")
            ),
        ),
        parse_float=Decimal,
    )
    assert doc["intervals"] == 2 and doc["price_unit"] == "PLN/kWh"
    assert len(doc["metering"]) == 6
    trades = [
        (t["seller_ppe"], t["buyer_ppe"], t["quantity_kwh"], t["trade_no"]) for t in doc["trades"]
    ]
    assert trades[:2] == [(PPE_A, PPE_B, D("2.500"), 1), (PPE_A, "GRID", D("0.500"), 2)]
    assert [(n["node"], n["price_pln_per_kwh"]) for n in doc["nodes"][:3]] == [
        ("GPZ", D("0.1829")),
        ("LV-1", D("0.1829")),
        ("LV-2", D("0.8000")),
    ]
    assert [(ln["line"], ln["congested"]) for ln in doc["lines"][:2]] == [
        ("L1", False),
        ("L2", True),
    ]
    grid = doc["grid"][0]
    assert (grid["node"], grid["export_kwh"], grid["export_revenue_pln"]) == (
        "GPZ",
        D("0.500"),
        D("0.09"),
    )
    # balance per interval: member amounts = rent (1.54) + import cost (0) − export revenue
    total = sum(r["amount_pln"] for r in doc["metering"])
    assert total == 2 * (D("1.54") - D("0.09"))


async def test_reexport_identical_until_recleared(db) -> None:  # type: ignore[no-untyped-def]
    async with db.session() as s:
        cl = await build_cluster(s, STARTS)
    for fmt in ("csv", "json", "xlsx"):
        req = ExportRequest(
            FROM, TO, fmt, tables=("metering",) if fmt == "csv" else ("metering", "trades")
        )
        assert await export_bytes(db, req) == await export_bytes(db, req), fmt
    req = ExportRequest(FROM, TO, "csv")
    before = rows_of(await export_bytes(db, req))
    async with db.session() as s:  # re-clear the second interval
        await s.execute(
            update(ClearingRun)
            .where(ClearingRun.id == cl.run_ids[1])
            .values(result_hash="x" * 64, finished_at=FINISHED + timedelta(hours=1))
        )
        await s.commit()
    after = rows_of(await export_bytes(db, req))
    assert [r["version"] for r in after[:3]] == [r["version"] for r in before[:3]]
    assert after[3]["version"] != before[3]["version"]
    assert after[3]["generated_at"] == "2026-10-25T07:00:07Z"


async def test_empty_range_and_roles(db) -> None:  # type: ignore[no-untyped-def]
    async with db.session() as s:
        cl = await build_cluster(s, STARTS)
        june = ExportRequest(datetime(2026, 6, 1, tzinfo=UTC), datetime(2026, 6, 2, tzinfo=UTC))
        with pytest.raises(NotFound, match="no cleared intervals") as empty:
            await open_export(s, DSO, june)
        assert empty.value.params == {"start": june.start, "end": june.end}  # aware, not text
        member = Actor(cl.member_id, "member", "Anna")
        with pytest.raises(Forbidden):
            await open_export(s, member, ExportRequest(FROM, TO))
        coordinator = Actor(cl.coordinator_id, "coordinator", "K")
        assert (await open_export(s, coordinator, ExportRequest(FROM, TO))).interval_count == 2


async def test_a_row_limited_format_is_refused_on_the_web_beyond_its_limit(db) -> None:  # type: ignore[no-untyped-def]
    from market.export.formats.encoder import Encoder
    from market.export.formats.registry import FORMATS
    from market.export.formats.xlsx import write_xlsx

    async with db.session() as s:
        await build_cluster(s, STARTS)
    tiny = Encoder("tiny", "Tiny", "application/x-tiny", "tiny", True, write_xlsx, web_max_rows=5)
    FORMATS.register(tiny)
    try:
        req = ExportRequest(FROM, TO, "tiny", ("metering",))
        async with db.session() as s:
            with pytest.raises(ValidationFailed) as refused:
                await open_export(s, DSO, req, web=True)
            assert refused.value.field == "format"
            assert refused.value.params["rows"] == 6 and refused.value.params["limit"] == 5
            assert refused.value.params["streamed"] == "CSV, JSON"  # the formats without a limit
            assert (await open_export(s, DSO, req)).interval_count == 2  # no limit off the web
    finally:
        FORMATS.unregister("tiny")


METER_HEAD = "ppe;interval_start;import_kwh;export_kwh;quality;resolution\n"


async def test_meter_import_all_or_nothing_then_residuals(db) -> None:  # type: ignore[no-untyped-def]
    async with db.session() as s:
        await build_cluster(s, STARTS)
    bad = (
        METER_HEAD
        + f"{PPE_A};2026-10-25T02:00:00+02:00;0;2,8;measured;PT15M\n"
        + f"{PPE_B};2026-10-25T02:00:00+02:00;2,7;0;estimated;PT15M\n"
        + "590543500000000049;2026-10-25T02:00:00+02:00;1;0;measured;PT15M\n"
    )
    async with db.session() as s:
        report = await import_meter_data(s, None, io.StringIO(bad), filename="bad.csv")
        assert not report.ok and report.stored == 0
        assert [(e.line, e.field) for e in report.errors] == [(4, "ppe")]
        assert await s.scalar(select(func.count()).select_from(MeterReading)) == 0
    async with db.session() as s:
        report = await import_meter_data(
            s, DSO, io.StringIO(bad), filename="bad.csv", skip_bad_rows=True
        )
        assert report.stored == 2 and report.error_count == 1
        await s.commit()  # the caller owns the transaction
    rows = rows_of(await export_bytes(db, ExportRequest(FROM, TO, "csv")))
    a, b = rows[0], rows[1]
    # A sold 3 but fed in 2.8: 0.2 kWh bought from the grid at 0.89 → 0.18
    assert (a["metered_export_kwh"], a["grid_import_kwh"], a["grid_amount_pln"]) == (
        "2.800",
        "0.200",
        "0.18",
    )
    # B bought 2.5 and used 2.7: 0.2 kWh at 0.89
    assert (b["grid_import_kwh"], b["grid_amount_pln"], b["data_quality"]) == (
        "0.200",
        "0.18",
        "estimated",
    )
    assert "-m" in a["version"] and rows[3]["data_quality"] == ""
    with pytest.raises(Forbidden):
        async with db.session() as s:
            await import_meter_data(s, Actor(3, "member", "x"), io.StringIO(bad), filename="x")


async def test_report_refuses_too_large_a_range(db) -> None:  # type: ignore[no-untyped-def]
    from market.core.errors import ValidationFailed
    from market.reports.service import cluster_report

    async with db.session() as s:
        await build_cluster(s, STARTS)
        coordinator = Actor(1, "coordinator", "K")
        report = await cluster_report(s, coordinator, FROM, TO, "day")
        assert report.totals.intervals == 2 and report.rows[0][0] == "2026-10-25"
        # 2 intervals × 3 metering points = 6 > 5
        with pytest.raises(ValidationFailed, match="shorter range"):
            await cluster_report(s, coordinator, FROM, TO, max_point_intervals=5)
