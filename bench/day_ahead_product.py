"""Day-ahead product benchmark (issue 13): the demo cluster scaled to N metering points, every
standing order trading day-ahead, 5 % of the points with a storage unit and a daily storage
order, 50 daily block groups; then the day-ahead clearing of one day from the database to
stored results and push (`market.clearing.day_ahead.clear_day`), with the event loop's
longest stall measured meanwhile (a 10 ms ticker), and the time to place a 96-value profile.

    python -m bench day_ahead_product [--members 5000] [--database-url URL] [--profiles 200]

SQLite in a temporary directory unless --database-url names an empty database.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

DAY = date(2026, 12, 2)
SEEDED_AT = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


async def _prepare(url: str, members: int) -> dict[str, float]:
    from sqlalchemy import select, update

    from market.db.engine import create_engine, session_factory, unit_of_work
    from market.demo.seed import seed_demo
    from market.network.models import MeteringPoint, Technology
    from market.network.storage_models import StorageUnit
    from market.trading.day_ahead_models import BlockGroup, StorageOrder
    from market.trading.models import StandingOrder

    engine = create_engine(url)
    sessions = session_factory(engine)
    t0 = time.perf_counter()
    async with unit_of_work(sessions) as s:
        await seed_demo(s, members=members, now=SEEDED_AT)
    seeded = time.perf_counter() - t0
    rng = random.Random(13)
    async with unit_of_work(sessions) as s:
        await s.execute(update(StandingOrder).values(market="da"))
        points = list((await s.scalars(select(MeteringPoint).order_by(MeteringPoint.id))).all())
        has_storage = {u for u in (await s.scalars(select(StorageUnit.metering_point_id))).all()}
        for mp in rng.sample(points, max(1, len(points) // 20)):
            if mp.id in has_storage:
                continue
            mp.technology = Technology.STORAGE.value
            power = min(mp.contracted_power_kw, Decimal(10))
            s.add(StorageUnit(metering_point_id=mp.id, energy_kwh=power * 2, charge_kw=power,
                              discharge_kw=power, efficiency_charge=Decimal("0.95"),
                              efficiency_discharge=Decimal("0.95")))  # fmt: skip
            s.add(StorageOrder(member_id=mp.member_id, metering_point_id=mp.id, daily=True,
                               soc_initial_kwh=power, created_at=SEEDED_AT))  # fmt: skip
        for mp in rng.sample(points, 50):
            s.add(BlockGroup(member_id=mp.member_id, metering_point_id=mp.id, daily=True,
                             side="buy", power_kw=min(mp.contracted_power_kw, Decimal(5)),
                             duration_minutes=120, start_from=600, start_to=960,
                             start_step_minutes=60, price=Decimal("0.80"),
                             created_at=SEEDED_AT))  # fmt: skip
    await engine.dispose()
    return {"seed_s": seeded}


async def _clear(url: str, processes: bool) -> dict[str, float]:
    from datetime import timedelta

    from sqlalchemy import select

    from market.clearing.day_ahead import (
        claim_day,
        clear_claimed_day,
        close_gate,
        open_day_step,
    )
    from market.core.events import RecordingPublisher
    from market.db.engine import create_engine, session_factory
    from market.db.offload import ProcessOffload
    from market.trading.day_ahead_models import DayAheadAuction

    engine = create_engine(url)
    sessions = session_factory(engine)
    stalls: list[float] = []
    long_stalls: list[tuple[float, float]] = []  # (when, how long) over 30 ms
    stop = asyncio.Event()

    async def ticker() -> None:
        last = time.perf_counter()
        while not stop.is_set():
            await asyncio.sleep(0.01)
            now = time.perf_counter()
            stalls.append(now - last - 0.01)
            if stalls[-1] > 0.03:
                long_stalls.append((now, stalls[-1]))
            last = now

    offload = None
    if processes:
        # The worker's pool is started (and its imports done) when the worker starts.
        offload = ProcessOffload()
        await offload.warm("market.clearing.day_ahead", "matching")
    task = asyncio.create_task(ticker())
    # The machine's own share of the stalls: the same ticker with nothing else to do (on a
    # shared machine, a process that waits for a core stalls its loop too).
    await asyncio.sleep(5)
    idle_stall = max(stalls, default=0.0)
    stalls.clear()
    publisher = RecordingPublisher()
    marks: list[tuple[float, float]] = []
    worker_cpu = [0.0]

    def mark(worker: ProcessOffload | None = None) -> None:
        """Wall and CPU seconds so far (this process's and its worker's)."""
        worker_cpu[0] += worker.last_cpu_s if worker is not None else 0.0
        marks.append((time.perf_counter(), time.process_time() + worker_cpu[0]))

    def run(step: Any, *args: Any) -> Any:
        return step(sessions, *args) if offload is None else offload.run(sessions, step, *args)

    mark()
    # The day opens (a day before its gate): its intervals, auction and daily orders.
    await run(open_day_step, DAY, SEEDED_AT)
    mark(offload)
    stall_open = max(stalls, default=0.0)
    async with sessions() as s:
        auction_id = int(await s.scalar(select(DayAheadAuction.id)) or 0)
    # The gate: it closes (placing what was added since the day opened), clear, store, push.
    await close_gate(sessions, auction_id, "bench", publisher, SEEDED_AT, offload=offload)
    mark(offload)
    assert await claim_day(sessions, auction_id, "bench", timedelta(minutes=30))
    stored = await clear_claimed_day(sessions, auction_id, "bench", publisher, offload=offload)
    mark(offload)
    if offload is not None:
        offload.shutdown()
    stop.set()
    await task
    await engine.dispose()
    assert stored is not None
    (t0, c0), (t1, c1), (t2, c2), (t3, c3) = marks
    if "--stalls" in sys.argv:
        for when, length in long_stalls:
            at = [round(m[0] - t0, 2) for m in marks]
            print(f"stall {length * 1000:.0f} ms at {when - t0:.2f} s (steps end at {at})")
    return {
        "open_day_orders_s": t1 - t0,
        "open_day_orders_cpu_s": c1 - c0,
        "close_gate_s": t2 - t1,
        "close_gate_cpu_s": c2 - c1,
        "clear_store_s": t3 - t2,
        "clear_store_cpu_s": c3 - c2,
        "gate_to_results_s": t3 - t1,
        "gate_to_results_cpu_s": c3 - c1,
        "total_s": t3 - t0,
        "total_cpu_s": c3 - c0,
        **{f"phase_{k}": v for k, v in stored.phases.items()},
        "max_stall_idle_ms": idle_stall * 1000,
        "max_stall_open_ms": stall_open * 1000,
        "max_stall_ms": max(stalls, default=0.0) * 1000,
        "events": float(len(publisher.events)),
        "status_optimal": float(stored.status == "optimal"),
        "positions": float(stored.positions),
    }


async def _profiles(url: str, count: int) -> dict[str, float]:
    from sqlalchemy import select

    from market.access.actor import Actor
    from market.core.clock import ManualClock
    from market.db.engine import create_engine, session_factory, unit_of_work
    from market.network.models import MeteringPoint
    from market.trading.day_ahead import parse_profile, place_profile

    engine = create_engine(url)
    sessions = session_factory(engine)
    clock = ManualClock(SEEDED_AT)
    async with sessions() as s:
        points = (await s.execute(select(MeteringPoint.id, MeteringPoint.member_id))).all()
    # As the app does after starting (`web.app`): what is loaded stays out of the
    # collector's full passes, which otherwise cost a placement ~20 ms now and then.
    gc.collect()
    gc.freeze()
    times: list[float] = []
    cpu: list[float] = []  # the whole process's, SQLite's thread included
    # One placement first, not counted: a running server has its imports and statements warm.
    for k in range(-1, count):
        pid, member = points[k % len(points)]
        raw = {"local_day": "2026-12-03", "metering_point_id": pid, "side": "buy",
               "price": "0.5", "quantities_kwh": ["0.5"] * 96}  # fmt: skip
        t0, c0 = time.perf_counter(), time.process_time()
        async with unit_of_work(sessions) as s:
            await place_profile(s, Actor(member, "member", ""), clock,
                                parse_profile(raw, minutes=15, tz="Europe/Warsaw"))  # fmt: skip
        if k >= 0:
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
    await engine.dispose()
    times.sort()
    cpu.sort()
    p99 = min(len(times) - 1, int(len(times) * 0.99))
    return {
        "profile_median_ms": statistics.median(times) * 1000,
        "profile_p99_ms": times[p99] * 1000,
        "profile_cpu_median_ms": statistics.median(cpu) * 1000,
        "profile_cpu_p99_ms": cpu[p99] * 1000,
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench day_ahead_product")
    parser.add_argument("--members", type=int, default=5000)
    parser.add_argument("--database-url")
    parser.add_argument("--profiles", type=int, default=200)
    parser.add_argument("--stalls", action="store_true", help="print each stall over 30 ms")
    parser.add_argument(
        "--in-process", action="store_true",
        help="run the day's steps in the loop's process (threads), not a worker process",
    )  # fmt: skip
    args = parser.parse_args(argv)
    from market.db.engine import migrate

    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        migrate(url)
        from market.core.errors import Conflict

        try:
            figures = asyncio.run(_prepare(url, args.members))
        except Conflict as exc:  # a --database-url that already holds a cluster
            print(f"--database-url: {exc}", file=sys.stderr)
            return 2
        figures |= asyncio.run(_clear(url, not args.in_process))
        figures |= asyncio.run(_profiles(url, args.profiles))
    import os

    print(f"day-ahead product, {args.members} metering points, load {os.getloadavg()[0]:.1f}")
    for key, value in figures.items():
        print(f"  {key:20} {value:10.1f}")
    return 0


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
