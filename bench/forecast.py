"""Forecast benchmark: the meter-history forecast of standing orders
(`market.metering.forecast.history_net_kwh`) for every metering point of the demo cluster
scaled to `--members`, with four weeks of same-weekday readings, for one target day (96
quarter-hours): one query, grouped in the database. Prints wall and CPU seconds of the query
(CPU of this process: the database's own work on PostgreSQL is not in it), rows in, pairs out.

    .venv/bin/python -m bench forecast --members 1000
    .venv/bin/python -m bench forecast --members 5000 --database-url postgresql+asyncpg://...
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

TARGET = date(2026, 11, 30)  # a Monday; history on 2, 9, 16 and 23 November
TZ = "Europe/Warsaw"


async def _run(url: str, members: int) -> dict[str, float]:
    from sqlalchemy import insert, select

    from market.core.timegrid import intervals_in_local_day
    from market.db.engine import create_engine, session_factory, unit_of_work
    from market.demo.seed import seed_demo
    from market.metering.forecast import history_days, history_net_kwh
    from market.metering.models import MeterImport, MeterReading
    from market.network.models import MeteringPoint

    engine = create_engine(url)
    sessions = session_factory(engine)
    async with unit_of_work(sessions) as s:
        await seed_demo(s, members=members, now=datetime(2026, 11, 30, 8, tzinfo=UTC))
    async with unit_of_work(sessions) as s:
        pids = list((await s.scalars(select(MeteringPoint.id))).all())
        imp = MeterImport(filename="bench", sha256="0" * 64, resolution_minutes=15, rows=0,
                          stored_readings=0)  # fmt: skip
        s.add(imp)
        await s.flush()
        import_id = imp.id
    t0 = time.perf_counter()
    rows = 0
    for past in history_days(TARGET):
        starts = intervals_in_local_day(past, 15, TZ)
        batch = []
        for start in starts:
            for k, pid in enumerate(pids):
                batch.append({"start_utc": start, "metering_point_id": pid,
                              "import_kwh": Decimal((k % 7) * 0.125).quantize(Decimal("0.001")),
                              "export_kwh": Decimal((k % 3) * 0.25).quantize(Decimal("0.001")),
                              "quality": "measured", "source_minutes": 15,
                              "import_id": import_id})  # fmt: skip
        async with unit_of_work(sessions) as s:
            for k in range(0, len(batch), 20_000):
                await s.execute(insert(MeterReading), batch[k : k + 20_000])
        rows += len(batch)
    load_s = time.perf_counter() - t0
    targets = intervals_in_local_day(TARGET, 15, TZ)
    async with sessions() as s:
        wall, cpu = time.perf_counter(), time.process_time()
        got = await history_net_kwh(s, pids, targets, TZ)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    await engine.dispose()
    assert len(got) == len(pids) * len(targets), (len(got), len(pids))
    return {
        "points": float(len(pids)),
        "readings_in_history": float(rows),
        "pairs_out": float(len(got)),
        "insert_s": load_s,
        "query_wall_s": wall,
        "query_cpu_s": cpu,
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench forecast")
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--database-url", help="an empty database (default: a fresh SQLite)")
    args = parser.parse_args(argv)
    from market.db.engine import migrate

    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        migrate(url)
        figures = asyncio.run(_run(url, args.members))
    backend = url.split(":", 1)[0]
    print(f"forecast from meter history, {backend}, load {os.getloadavg()[0]:.1f}")
    for key, value in figures.items():
        print(f"  {key:20} {value:12.3f}")
    return 0


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
