"""`klaster report statutory` on the export tests' cluster, computed by hand.

Cleared (tests.support.exports): 2026-10-25 00:00Z and 01:00Z (02:00+02:00 and the repeated
02:00+01:00), each: A (PV) sells 3 kWh, B (bakery, C11) buys 2.5 kWh. Meter data imported for
00:00Z and 00:15Z: A exports 2 + 2, B imports 1.5 + 1.5, C (PV, 50 kWp) exports 0.5 + 0.5.

- hour 00Z (meter data): renewable 4 + 1 = 5, consumption 3, matched = exempt = 3 (all to B);
  avoided 3 × (0.0035 + 0.0068) = 0.0309; discount base 3 × (0.30 + 0.0331) = 0.9993.
- hour 01Z (cleared): renewable 3, consumption 2.5, matched 2.5; avoided 0.02575 → 0.0258;
  base 2.5 × 0.3331 = 0.83275 → 0.8328.
- October: matched 5.5 of renewable 8 → ratio 0.6875 → tier 1 (pay 95 %), discount
  (0.9993 + 0.8328) × 0.05 = 0.091605 → 0.0916; avoided 0.0567; source mixed.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import anyio
import pytest
from sqlalchemy import select, update

from market.metering.models import MeterImport, MeterReading
from market.network.models import MeteringPoint
from market.statutory.models import FeeRate
from market.statutory.rates import DEMO_RATES_2026
from tests.support.exports import PPE_A, PPE_B, PPE_C, STARTS, build_cluster
from web.cli import main

pytestmark = pytest.mark.anyio

READINGS = {  # (minute of 00:00Z, ppe) → (import, export)
    (0, PPE_A): ("0", "2"),
    (15, PPE_A): ("0", "2"),
    (0, PPE_B): ("1.5", "0"),
    (15, PPE_B): ("1.5", "0"),
    (0, PPE_C): ("0", "0.5"),
    (15, PPE_C): ("0", "0.5"),
}


@pytest.fixture
async def cli_db(db: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    from market.core.settings import get_settings

    async with db.session() as s:
        await build_cluster(s, STARTS)
        await s.execute(
            update(MeteringPoint)
            .where(MeteringPoint.ppe_code.in_([PPE_A, PPE_C]))
            .values(technology="pv")
        )
        s.add_all(
            FeeRate(
                fee=r.fee.value,
                tariff_group=r.tariff_group,
                rate_pln_per_kwh=r.rate_pln_per_kwh,
                valid_from=r.valid_from,
                valid_to=r.valid_to,
                note=r.note,
            )
            for r in DEMO_RATES_2026
        )
        imp = MeterImport(
            filename="m.csv", sha256="0" * 64, resolution_minutes=15, rows=6, stored_readings=6
        )
        s.add(imp)
        await s.flush()
        points = await s.execute(select(MeteringPoint.ppe_code, MeteringPoint.id))
        ids: dict[str, int] = {ppe: pid for ppe, pid in points}
        for (minute, ppe), (i, e) in READINGS.items():
            s.add(
                MeterReading(
                    start_utc=datetime(2026, 10, 25, 0, minute, tzinfo=UTC),
                    metering_point_id=ids[ppe],
                    import_kwh=D(i),
                    export_kwh=D(e),
                    quality="measured",
                    source_minutes=15,
                    import_id=imp.id,
                )
            )
        await s.commit()
    monkeypatch.setenv("DATABASE_URL", db.url)
    get_settings.cache_clear()
    yield db
    get_settings.cache_clear()


async def klaster(*argv: str) -> int:
    return int(await anyio.to_thread.run_sync(main, list(argv)))


async def _json(tmp_path: Path, *argv: str) -> list[dict[str, Any]]:
    out = tmp_path / "r.json"
    assert await klaster("report", "statutory", *argv, "--format", "json", "-o", str(out)) == 0
    doc = json.loads(out.read_text("utf-8"))
    assert doc["rules_version"] and doc["report"] == "statutory"
    rows: list[dict[str, Any]] = doc["rows"]
    return rows


async def test_hours_on_the_repeated_hour(cli_db: Any, tmp_path: Path) -> None:
    rows = await _json(tmp_path, "--from", "2026-10-25", "--granularity", "hour")
    assert [r["period_start"] for r in rows] == [
        "2026-10-25T02:00:00+02:00",
        "2026-10-25T02:00:00+01:00",
    ]
    first, second = rows
    assert first["source"] == "meter_data" and second["source"] == "cleared_positions"
    assert D(first["renewable_fed_in_kwh"]) == 5 and D(first["member_consumption_kwh"]) == 3
    assert D(first["matched_kwh"]) == D(first["exempt_kwh"]) == 3
    assert D(first["avoided_fees_pln"]) == D("0.0309")
    assert D(second["matched_kwh"]) == D("2.5") and D(second["avoided_fees_pln"]) == D("0.0258")
    assert first["discount_pln"] is None  # the discount is settled per month
    assert D(first["self_consumption_ratio"]) == D("0.6") and first["discount_tier"] == 0


async def test_month_and_year(cli_db: Any, tmp_path: Path) -> None:
    (month,) = await _json(tmp_path, "--from", "2026-10")
    assert month["period_start"] == "2026-10-01T00:00:00+02:00" and month["source"] == "mixed"
    assert D(month["matched_kwh"]) == D("5.5") and D(month["renewable_fed_in_kwh"]) == 8
    assert D(month["self_consumption_ratio"]) == D("0.6875") and month["discount_tier"] == 1
    assert D(month["discount_pln"]) == D("0.0916") and D(month["avoided_fees_pln"]) == D("0.0567")
    assert D(month["renewable_share"]) == 1
    conditions = {c["name"]: c for c in month["conditions"]}
    assert conditions["renewable_share"]["threshold"] == "0.30"
    assert conditions["renewable_share"]["valid_from"] == "2024-07-02"
    assert conditions["renewable_share"]["met"] is True
    assert conditions["installed_capacity_mw"]["value"] == "0.058"
    assert conditions["storage_share"]["met"] is False  # no storage
    (year,) = await _json(tmp_path, "--from", "2026-01", "--to", "2026-12", "--granularity", "year")
    assert year["period_start"] == "2026-01-01T00:00:00+01:00"
    assert D(year["discount_pln"]) == D("0.0916") and D(year["exempt_kwh"]) == D("5.5")


async def test_csv_through_the_product_writer(cli_db: Any, tmp_path: Path) -> None:
    out = tmp_path / "r.csv"
    argv = ("report", "statutory", "--from", "2026-10", "--format", "csv", "--decimal-comma")
    assert await klaster(*argv, "-o", str(out)) == 0
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    header, line = raw.decode("utf-8-sig").strip().split("\r\n")
    cells = dict(zip(header.split(";"), line.split(";"), strict=True))
    assert cells["matched_kwh"] == "5,500" and cells["discount_pln"] == "0,0916"
    assert cells["renewable_share_threshold"] == "0,3000" and cells["renewable_share_met"] == "1"


@pytest.mark.parametrize(
    ("argv", "field"),
    [
        (("--from", "2026-13"), "from:"),
        (("--from", "2026-10", "--to", "2026-09"), "to:"),
        (("--from", "2026-10", "--granularity", "week"), "granularity:"),
        (("--from", "2026-10", "--format", "xml"), "--format"),
    ],
)
async def test_bad_input_exits_2_naming_the_field(
    cli_db: Any, capsys: Any, argv: tuple[str, ...], field: str
) -> None:
    assert await klaster("report", "statutory", *argv) == 2
    err = capsys.readouterr().err
    assert field in err and "Traceback" not in err


async def test_per_metering_point(cli_db: Any, tmp_path: Path) -> None:
    hours = await _json(tmp_path, "--from", "2026-10-25", "--granularity", "hour", "--by", "point")
    first = {r["ppe_code"]: r for r in hours if r["period_start"].endswith("+02:00")}
    second = {r["ppe_code"]: r for r in hours if r["period_start"].endswith("+01:00")}
    assert set(first) == {PPE_A, PPE_B, PPE_C} and set(second) == {PPE_A, PPE_B}
    assert D(first[PPE_B]["exempt_kwh"]) == 3 and D(first[PPE_B]["avoided_fees_pln"]) == D("0.0309")
    assert D(first[PPE_A]["fed_in_kwh"]) == 4 and D(first[PPE_A]["exempt_kwh"]) == 0
    assert first[PPE_C]["renewable"] is True and first[PPE_C]["source"] == "meter_data"
    assert D(second[PPE_B]["exempt_kwh"]) == D("2.5")
    assert second[PPE_B]["source"] == "cleared_positions"
    month = {r["ppe_code"]: r for r in await _json(tmp_path, "--from", "2026-10", "--by", "point")}
    assert D(month[PPE_B]["consumption_kwh"]) == D("5.5") and month[PPE_A]["source"] == "mixed"
    assert sum(D(r["exempt_kwh"]) for r in month.values()) == D("5.5")  # = the cluster's
    assert sum(D(r["avoided_fees_pln"]) for r in month.values()) == D("0.0567")
    out = tmp_path / "p.csv"
    argv = ("report", "statutory", "--from", "2026-10", "--by", "point", "--format", "csv")
    assert await klaster(*argv, "-o", str(out)) == 0
    lines = out.read_bytes().decode("utf-8-sig").strip().split("\r\n")
    assert lines[0].startswith("period_start;ppe_code;member;technology;renewable")
    assert len(lines) == 4


async def test_spring_day_has_23_hours_from_quarter_hour_meter_data(
    cli_db: Any, tmp_path: Path
) -> None:
    from datetime import timedelta

    async with cli_db.session() as s:
        ids = {ppe: pid for ppe, pid in await s.execute(
            select(MeteringPoint.ppe_code, MeteringPoint.id))}  # fmt: skip
        imp = MeterImport(
            filename="s.csv", sha256="1" * 64, resolution_minutes=15, rows=184, stored_readings=184
        )
        s.add(imp)
        await s.flush()
        first = datetime(2026, 3, 28, 23, tzinfo=UTC)  # 2026-03-29 00:00+01:00
        for k in range(92):
            for ppe, i, e in ((PPE_A, "0", "0.5"), (PPE_B, "0.25", "0")):
                s.add(
                    MeterReading(
                        start_utc=first + timedelta(minutes=15 * k), metering_point_id=ids[ppe],
                        import_kwh=D(i), export_kwh=D(e), quality="measured",
                        source_minutes=15, import_id=imp.id,
                    )
                )  # fmt: skip
        await s.commit()
    rows = await _json(tmp_path, "--from", "2026-03-29", "--granularity", "hour")
    starts = [r["period_start"] for r in rows]
    assert len(rows) == 23 and starts[0] == "2026-03-29T00:00:00+01:00"
    assert "2026-03-29T01:00:00+01:00" in starts and "2026-03-29T03:00:00+02:00" in starts
    assert all(D(r["matched_kwh"]) == 1 and D(r["renewable_fed_in_kwh"]) == 2 for r in rows)
    (day,) = await _json(tmp_path, "--from", "2026-03", "--granularity", "month")
    assert day["hours"] == 23 and D(day["matched_kwh"]) == 23
    assert D(day["self_consumption_ratio"]) == D("0.5") and day["discount_tier"] == 0
