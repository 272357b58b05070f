"""`klaster demo`: the embedded demo in one command.

Migrates the SQLite default (or `DATABASE_URL`), seeds the Staszów demo cluster when the
database is empty, then serves the web app with the gate-closure scheduler in the same
process on a fast clock (one 15-minute interval every `--interval-seconds`), and prints the URL
and the demo logins.
"""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datetime import datetime

    from sqlalchemy.ext.asyncio import AsyncSession

    from market.core.settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument(
        "--interval-seconds",
        type=float,
        default=20.0,
        help="real seconds per 15-minute market interval (default 20; 900 = real time)",
    )
    parser.add_argument("--no-seed", action="store_true", help="do not seed an empty database")


def demo_settings(interval_seconds: float) -> Settings:
    """The environment's settings, with the demo's defaults for what it does not set."""
    from market.core.clock import demo_speed_for
    from market.core.settings import Settings

    return Settings.from_env(
        defaults={
            "KLASTER_DEMO_SPEED": f"{demo_speed_for(interval_seconds):g}",
            # Plain http on localhost: a Secure cookie would not come back from 127.0.0.1.
            "KLASTER_SECURE_COOKIES": "0",
        }
    )


async def market_time_reached(session: AsyncSession) -> datetime | None:
    """How far the market has got in this database: the last gate that closed (an interval
    no longer open). Intervals are created ahead, so their start says nothing."""
    from sqlalchemy import func, select

    from market.core.timegrid import as_utc
    from market.trading.models import Interval, IntervalStatus

    last = await session.scalar(
        select(func.max(Interval.gate_closure_utc)).where(
            Interval.status != IntervalStatus.OPEN.value
        )
    )
    return as_utc(last) if last is not None else None


async def migrate_and_seed(settings: Settings, seed: bool) -> tuple[bool, datetime | None]:
    """Migrate; seed when empty. Returns whether demo data was created now, and the market
    time the database had reached before (the demo's clock resumes from it)."""
    import anyio

    from market.cluster.service import is_empty
    from market.db.engine import create_engine, migrate, session_factory, unit_of_work

    await anyio.to_thread.run_sync(migrate, settings.database_url)
    engine = create_engine(settings.database_url)
    try:
        async with unit_of_work(session_factory(engine)) as session:
            if not seed or not await is_empty(session):
                return False, await market_time_reached(session)
            from market.core.clock import clock_for_speed
            from market.demo.seed import seed_demo

            clock = clock_for_speed(settings.demo_speed)
            await seed_demo(session, clock=clock)
            await demo_day_ahead_gate(session, clock.now())
            return True, None
    finally:
        await engine.dispose()


#: The demo's day-ahead gate closes this long (market time) after seeding, so that a freshly
#: started demo shows a day-ahead result within its first minutes (a real cluster: 12:00).
DEMO_GATE_AFTER = timedelta(minutes=45)


async def demo_day_ahead_gate(session: AsyncSession, now: datetime) -> None:
    """Move the demo cluster's day-ahead gate to shortly after `now` (local time of day)."""
    from zoneinfo import ZoneInfo

    from market.cluster.service import get_cluster

    cluster = await get_cluster(session)
    local = (now + DEMO_GATE_AFTER).astimezone(ZoneInfo(cluster.timezone))
    cluster.day_ahead_gate_minute = local.hour * 60 + local.minute
    await session.flush()


def banner(host: str, port: int, seeded: bool, secret_generated: bool) -> str:
    from market.demo.seed import DEMO_LOGINS, DEMO_PASSWORD

    shown_host = "localhost" if host in ("127.0.0.1", "0.0.0.0") else host
    lines = [
        "",
        "Klaster demo — Staszów energy cluster" + (" (seeded just now)" if seeded else ""),
        f"  open  http://{shown_host}:{port}/",
        "  logins (login / password):",
    ]
    lines += [f"    {role!s:<12} {login} / {DEMO_PASSWORD}" for login, role in DEMO_LOGINS.items()]
    lines.append("  API docs: /schema    live feed in a terminal: klaster watch --login ...")
    if secret_generated:
        lines.append("  (random secret key for this run: sessions end when it stops)")
    lines.append("  Ctrl+C stops the demo.")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    import asyncio

    import uvicorn

    if args.interval_seconds <= 0:
        print("klaster demo: --interval-seconds must be greater than 0", file=sys.stderr)
        return 2
    from market.core.clock import clock_for_speed
    from web.app import create_app

    settings = demo_settings(args.interval_seconds)
    seeded, reached = asyncio.run(migrate_and_seed(settings, not args.no_seed))
    clock = clock_for_speed(settings.demo_speed, resume_from=reached)
    app = create_app(settings, scheduler=True, clock=clock)
    print(banner(args.host, args.port, seeded, settings.secret_generated), flush=True)
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level="warning",
        # uvicorn would otherwise believe X-Forwarded-For from 127.0.0.1, letting anyone on
        # the machine pose as any address (and escape the sign-in limit); the app decides
        # whom to believe (KLASTER_TRUSTED_PROXIES, nobody by default).
        proxy_headers=False,
        ws="websockets-sansio",
        # One rendered fragment goes to many sockets: compressing it per client costs more
        # CPU than the bytes saved (put compression in the reverse proxy if needed).
        ws_per_message_deflate=False,
    )
    return 0
