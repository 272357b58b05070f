"""The day-ahead gate's re-placement of forecast standing orders (issue 13, lease13): the demo
scaled to N metering points, every standing order trading day-ahead; the day opens (its
orders placed from the profiles); then either nothing changes, or a week-old day of meter
data arrives for every point (so every forecast changes) before the gate closes. Prints the
gate's wall and CPU seconds and how many orders it replaced.

    python -m bench day_ahead_gate [--members 2000] [--history] [--database-url URL]

SQLite in a temporary directory unless --database-url names an empty database.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import cast

DAY = date(2026, 12, 2)
SEEDED_AT = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


async def _run(url: str, members: int, history: bool) -> dict[str, float]:
    from sqlalchemy import Table, func, select, update

    from market.access.models import AuditEntry
    from market.clearing.day_ahead import close_gate_step, open_day_step
    from market.db import bulk
    from market.db.engine import create_engine, session_factory, unit_of_work
    from market.demo.seed import seed_demo
    from market.metering.models import MeterImport, MeterReading
    from market.trading.day_ahead_models import DayAheadAuction
    from market.trading.models import Interval, Order, StandingOrder

    engine = create_engine(url)
    sessions = session_factory(engine)
    async with unit_of_work(sessions) as s:
        await seed_demo(s, members=members, now=SEEDED_AT)
        await s.execute(update(StandingOrder).values(market="da"))
    t0, c0 = time.perf_counter(), time.process_time()
    await open_day_step(sessions, DAY, SEEDED_AT)
    opened, opened_cpu = time.perf_counter() - t0, time.process_time() - c0
    readings = 0
    if history:
        async with unit_of_work(sessions) as s:
            points = (await s.scalars(select(StandingOrder.metering_point_id).distinct())).all()
            starts = (
                await s.scalars(select(Interval.start_utc).where(Interval.local_day == DAY))
            ).all()
            imp = MeterImport(filename="bench.csv", sha256="0" * 64, resolution_minutes=15,
                              rows=0, stored_readings=0)  # fmt: skip
            s.add(imp)
            await s.flush()
            rows = [
                (start - timedelta(days=7), pid, Decimal("0.100"), Decimal("0.350"), "measured",
                 15, imp.id)
                for pid in points for start in starts
            ]  # fmt: skip
            readings = len(rows)
            await bulk.insert_rows(
                s, cast(Table, MeterReading.__table__),
                ["start_utc", "metering_point_id", "import_kwh", "export_kwh", "quality",
                 "source_minutes", "import_id"], rows,
            )  # fmt: skip
    async with sessions() as s:
        auction_id = int(await s.scalar(select(DayAheadAuction.id)) or 0)
    t0, c0 = time.perf_counter(), time.process_time()
    assert await close_gate_step(sessions, auction_id, "bench", SEEDED_AT) == DAY
    gate, gate_cpu = time.perf_counter() - t0, time.process_time() - c0
    async with sessions() as s:
        replaced = await s.scalar(
            select(func.count()).select_from(AuditEntry)
            .where(AuditEntry.action == "forecast_replaced")
        )  # fmt: skip
        open_orders = await s.scalar(
            select(func.count()).select_from(Order)
            .where(Order.market == "da", Order.status == "open")
        )  # fmt: skip
    await engine.dispose()
    return {
        "open_day_s": opened,
        "open_day_cpu_s": opened_cpu,
        "meter_readings": float(readings),
        "close_gate_s": gate,
        "close_gate_cpu_s": gate_cpu,
        "rules_replaced": float(replaced or 0),
        "open_day_orders": float(open_orders or 0),
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench day_ahead_gate")
    parser.add_argument("--members", type=int, default=2000)
    parser.add_argument("--history", action="store_true", help="meter data for every point")
    parser.add_argument("--database-url", help="an empty database (default: a fresh SQLite)")
    args = parser.parse_args(argv)
    from market.db.engine import migrate

    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        migrate(url)
        figures = asyncio.run(_run(url, args.members, args.history))
    backend = url.split(":", 1)[0]
    print(f"day-ahead gate, {args.members} members, history={args.history}, {backend}, "
          f"load {os.getloadavg()[0]:.1f}")  # fmt: skip
    for key, value in figures.items():
        print(f"  {key:20} {value:12.3f}")
    return 0


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
