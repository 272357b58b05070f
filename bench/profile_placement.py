"""Placing a 96-value day-ahead profile (issue 13: p99 <= 50 ms) on a database seeded once,
three ways, with a per-placement breakdown:

- `service`: `parse_profile` + `place_profile` in a unit of work (what
  `bench.day_ahead_product._profiles` times);
- `api`: POST /api/v1/day-ahead/profiles with a bearer token (JSON body, 96 strings), through
  the whole app (middleware, auth, rate limit, the JSON parsing, the response), in process
  (Litestar's test client: no socket, no HTTP parsing by uvicorn);
- `form`: POST /day-ahead/profile as the browser's htmx form does (96 values pasted in the
  textarea, CSRF header, the session cookie), the forms fragment rendered back.

    python -m bench profile_placement --database-url URL --seed        # once, empty database
    python -m bench profile_placement --database-url URL [--count 200] [--paths service,api,form]

The database is seeded as `bench.day_ahead_product` seeds it (5,000 metering points, each
with a standing order placed into the next day: ~480,000 orders), the clock pinned at its
seeding time; each placement is for the day after. Each run adds its placements' orders
(copy a seeded SQLite file, or `createdb -T` a seeded PostgreSQL database, per run).

Per placement: wall and CPU (the whole process's: SQLite's thread too), the time spent in
statements (cursor execute to its return: round trips and the driver), how many statements,
and the time the cyclic garbage collector ran (`gc.callbacks`).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from bench.day_ahead_product import SEEDED_AT

PROFILE_DAY = "2026-12-03"
VALUES = ["0.5"] * 96


class Meter:
    """Statement time and count (engine events), collector time (`gc.callbacks`), and (the
    service path) the commit's time."""

    def __init__(self) -> None:
        self.sql_s = 0.0
        self.statements = 0
        self.gc_s = 0.0
        self.commit_s = 0.0
        self._gc_t0 = 0.0
        self._stack: list[float] = []

    def attach(self, engine: Any) -> None:
        from sqlalchemy import event

        sync = engine.sync_engine
        event.listen(sync, "before_cursor_execute", self._before)
        event.listen(sync, "after_cursor_execute", self._after)
        gc.callbacks.append(self._gc)

    def detach(self) -> None:
        if self._gc in gc.callbacks:
            gc.callbacks.remove(self._gc)

    def _before(self, *_: Any) -> None:
        self._stack.append(time.perf_counter())

    def _after(self, *_: Any) -> None:
        self.sql_s += time.perf_counter() - self._stack.pop()
        self.statements += 1

    def _gc(self, phase: str, _info: dict[str, Any]) -> None:
        if phase == "start":
            self._gc_t0 = time.perf_counter()
        else:
            self.gc_s += time.perf_counter() - self._gc_t0

    def snapshot(self) -> tuple[float, int, float, float]:
        return self.sql_s, self.statements, self.gc_s, self.commit_s


async def _timed(count: int, meter: Meter, one: Callable[[int], Awaitable[None]]) -> dict[str, Any]:
    gc.collect()
    gc.freeze()  # as the app does after starting (`web.app`)
    rows: list[tuple[float, float, float, int, float, float]] = []
    for k in range(-3, count):  # a few first placements not counted: warm statements
        s0, n0, g0, m0 = meter.snapshot()
        t0, c0 = time.perf_counter(), time.process_time()
        await one(k)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        s1, n1, g1, m1 = meter.snapshot()
        if k >= 0:
            rows.append((wall, cpu, s1 - s0, n1 - n0, g1 - g0, m1 - m0))
    return _figures(rows)


def _figures(rows: list[tuple[float, float, float, int, float, float]]) -> dict[str, Any]:
    walls = sorted(r[0] for r in rows)
    cpus = sorted(r[1] for r in rows)
    p99 = min(len(rows) - 1, int(len(rows) * 0.99))
    slowest = sorted(rows, reverse=True)[:3]
    return {
        "median_ms": statistics.median(walls) * 1000,
        "p99_ms": walls[p99] * 1000,
        "max_ms": walls[-1] * 1000,
        "cpu_median_ms": statistics.median(cpus) * 1000,
        "cpu_p99_ms": cpus[p99] * 1000,
        "sql_median_ms": statistics.median(r[2] for r in rows) * 1000,
        "statements": statistics.median(r[3] for r in rows),
        "gc_total_ms": sum(r[4] for r in rows) * 1000,
        "commit_median_ms": statistics.median(r[5] for r in rows) * 1000,
        "slowest": [
            f"{w * 1000:.1f} ms (cpu {c * 1000:.1f}, sql {s * 1000:.1f} in {n}, gc {g * 1000:.1f}"
            f", commit {m * 1000:.1f})"
            for w, c, s, n, g, m in slowest
        ],
    }


async def _service(url: str, count: int) -> dict[str, Any]:
    from sqlalchemy import select

    # The app's pool (`web.app._pool_options`): on SQLite a request takes an open connection;
    # `bench.day_ahead_product._profiles` opens one per placement (NullPool), ~10 ms more.
    from sqlalchemy.pool import AsyncAdaptedQueuePool

    from market.access.actor import Actor
    from market.core.clock import ManualClock
    from market.db.engine import commit_or_conflict, create_engine, session_factory
    from market.network.models import MeteringPoint
    from market.trading.day_ahead import parse_profile, place_profile

    pool = {"poolclass": AsyncAdaptedQueuePool, "pool_size": 4, "max_overflow": 4}
    engine = create_engine(url, **(pool if "sqlite" in url else {}))
    sessions = session_factory(engine)
    meter = Meter()
    meter.attach(engine)
    clock = ManualClock(SEEDED_AT)
    async with sessions() as s:
        points = (await s.execute(select(MeteringPoint.id, MeteringPoint.member_id))).all()

    async def one(k: int) -> None:
        pid, member = points[k % len(points)]
        raw = {"local_day": PROFILE_DAY, "metering_point_id": pid, "side": "buy",
               "price": "0.5", "quantities_kwh": list(VALUES)}  # fmt: skip
        async with sessions() as s:
            try:
                await place_profile(s, Actor(member, "member", ""), clock,
                                    parse_profile(raw, minutes=15, tz="Europe/Warsaw"))  # fmt: skip
                t0 = time.perf_counter()
                await commit_or_conflict(s)  # (what `unit_of_work` does)
                meter.commit_s += time.perf_counter() - t0
            except BaseException:
                await s.rollback()
                raise

    try:
        return await _timed(count, meter, one)
    finally:
        meter.detach()
        await engine.dispose()


async def _web(url: str, count: int, path: str) -> dict[str, Any]:
    import re
    from pathlib import Path

    from litestar.testing import AsyncTestClient

    from market.core.clock import ManualClock
    from market.core.settings import Settings
    from market.demo.seed import DEMO_PASSWORD
    from web.app import create_app
    from web.config import WebConfig

    settings = Settings(data_dir=Path("."), database_url=url, secret_key="bench-secret")
    config = WebConfig(secure_cookies=False, signin_rate=("minute", 1000),
                       order_rate=("second", 100000))  # fmt: skip
    app = create_app(settings, config=config, clock=ManualClock(SEEDED_AT))
    meter = Meter()
    async with AsyncTestClient(app=app) as client:
        from web.config import app_services

        meter.attach(app_services(app).engine)
        if path == "api":
            login = {"login": "prosument", "password": DEMO_PASSWORD}
            r = await client.post("/api/v1/auth/token", json=login)
            assert r.status_code == 201, r.text
            headers = {"Authorization": f"Bearer {r.json()['token']}"}
            points = (await client.get("/api/v1/metering-points", headers=headers)).json()
            point = points[0]["id"]

            async def one(k: int) -> None:
                body = {"local_day": PROFILE_DAY, "metering_point_id": point, "side": "buy",
                        "price": "0.5", "quantities_kwh": VALUES}  # fmt: skip
                r = await client.post("/api/v1/day-ahead/profiles", json=body, headers=headers)
                assert r.status_code == 201, r.text[:300]

        else:
            page = await client.get("/login")
            token = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
            assert token
            r = await client.post("/login", data={"login": "prosument", "password": DEMO_PASSWORD,
                                                  "_csrf_token": token.group(1)})  # fmt: skip
            assert r.status_code in (200, 201, 302, 303), r.status_code
            text = (await client.get("/day-ahead")).text
            point = text.split('name="metering_point_id"', 1)[1].split('value="', 1)[1]
            point = point.split('"', 1)[0]
            csrf = client.cookies.get("csrftoken") or ""
            headers = {"HX-Request": "true", "x-csrftoken": csrf}

            async def one(k: int) -> None:
                form = {"local_day": PROFILE_DAY, "metering_point_id": point, "side": "buy",
                        "price": "0,5", "quantities_kwh": "\n".join(VALUES)}  # fmt: skip
                r = await client.post("/day-ahead/profile", data=form, headers=headers)
                assert r.status_code == 200 and "da-profile-form" in r.text, r.text[:300]

        try:
            return await _timed(count, meter, one)
        finally:
            meter.detach()


async def _seed(url: str) -> None:
    from bench.day_ahead_product import _clear, _prepare

    await _prepare(url, 5000)
    await _clear(url, False)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench profile_placement")
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--seed", action="store_true", help="seed the (empty) database first")
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--paths", default="service,api,form")
    args = parser.parse_args(argv)
    if args.seed:
        from market.db.engine import migrate

        migrate(args.database_url)
        asyncio.run(_seed(args.database_url))
        return 0
    print(f"96-value profile placement, {args.count} each, load {os.getloadavg()[0]:.2f}")
    for path in args.paths.split(","):
        if path == "service":
            figures = asyncio.run(_service(args.database_url, args.count))
        else:
            figures = asyncio.run(_web(args.database_url, args.count, path))
        print(f"  {path}: " + ", ".join(
            f"{k} {v:.1f}" for k, v in figures.items() if isinstance(v, float | int)
        ))  # fmt: skip
        print(f"    slowest: {'; '.join(figures['slowest'])}")
    print(f"  load after {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
