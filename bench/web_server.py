"""A seeded Klaster server in a subprocess, for the web benchmarks.

Embedded default: a fresh SQLite file in a temporary directory. With `--postgres URL` a fresh
database is created on that server (and dropped afterwards); with `--redis URL` the live
channels, sessions and rate counters go through Redis (a unique channel prefix per run).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Server:
    url: str
    database_url: str
    process: subprocess.Popen[bytes]
    #: every app process's URL (`url` is the first)
    urls: list[str] = field(default_factory=list)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _seed(url: str, speed: float, members: int | None) -> None:
    from market.core.clock import clock_for_speed
    from market.db.engine import create_engine, session_factory, unit_of_work
    from market.demo.seed import seed_demo

    engine = create_engine(url)
    try:
        async with unit_of_work(session_factory(engine)) as session:
            await seed_demo(session, clock=clock_for_speed(speed), members=members)
    finally:
        await engine.dispose()


async def _pg_admin(url: str, sql: str) -> None:
    import asyncpg
    from sqlalchemy.engine import make_url

    dsn = make_url(url).set(drivername="postgresql", database="postgres")
    conn = await asyncpg.connect(dsn.render_as_string(hide_password=False))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextlib.contextmanager
def running_server(
    *,
    postgres: str | None = None,
    redis: str | None = None,
    interval_seconds: float = 3600.0,
    members: int | None = None,
    extra_env: dict[str, str] | None = None,
    apps: int = 1,
) -> Iterator[Server]:
    """Seed a fresh database, start `klaster demo --no-seed` on it (scheduler in process, the
    market clock running `900 / interval_seconds` times faster), yield, stop.

    With `apps` > 1 (PostgreSQL and Redis only) the production topology instead: one
    `klaster worker` and `apps` `klaster serve` processes (`tests/support/topology.py`)."""
    if apps > 1 and not (postgres and redis):
        raise ValueError("several app processes need --postgres and --redis")
    from sqlalchemy.engine import make_url

    from market.core.clock import demo_speed_for
    from market.db.engine import migrate

    tmp = Path(tempfile.mkdtemp(prefix="klaster-bench-"))
    speed = demo_speed_for(interval_seconds)
    pg_name = None
    if postgres:
        pg_name = f"klaster_bench_{uuid.uuid4().hex[:8]}"
        asyncio.run(_pg_admin(postgres, f'CREATE DATABASE "{pg_name}"'))
        db_url = make_url(postgres).set(database=pg_name).render_as_string(hide_password=False)
    else:
        db_url = f"sqlite+aiosqlite:///{tmp / 'klaster.db'}"
    port = _free_port()
    log = (tmp / "server.log").open("wb")
    process = None
    try:
        migrate(db_url)
        asyncio.run(_seed(db_url, speed, members))
        env = {
            **os.environ,
            "DATABASE_URL": db_url,
            "KLASTER_DATA_DIR": str(tmp),
            "KLASTER_DEMO_SPEED": f"{speed:g}",
            "KLASTER_SECURE_COOKIES": "0",
            "KLASTER_ORDER_RATE": "1000000/second",
            "KLASTER_SIGNIN_RATE": "100000/minute",
            **(extra_env or {}),
        }
        env.pop("REDIS_URL", None)
        if apps > 1:
            yield from _topology(db_url, redis or "", tmp, speed, apps, env)
            return
        if redis:
            env["REDIS_URL"] = redis
            env["KLASTER_CHANNEL_PREFIX"] = f"bench{uuid.uuid4().hex[:8]}."
        cmd = [sys.executable, "-m", "web.cli", "demo", "--no-seed", "--port", str(port),
               "--interval-seconds", f"{interval_seconds:g}"]  # fmt: skip
        process = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=log)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"server exited; see {tmp / 'server.log'}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url + "/health", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.2)
        yield Server(url, db_url, process, [url])
    finally:
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        log.close()
        if pg_name and postgres:
            asyncio.run(_pg_admin(postgres, f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)'))


async def analyze(database_url: str) -> None:
    """`ANALYZE` a PostgreSQL benchmark database (what autovacuum does within a minute)."""
    import asyncpg
    from sqlalchemy.engine import make_url

    dsn = make_url(database_url).set(drivername="postgresql")
    conn = await asyncpg.connect(dsn.render_as_string(hide_password=False))
    try:
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


def _topology(
    db_url: str, redis: str, tmp: Path, speed: float, apps: int, env: dict[str, str]
) -> Iterator[Server]:
    from tests.support.topology import Topology

    keep = ("KLASTER_ORDER_RATE", "KLASTER_SIGNIN_RATE")
    topo = Topology(
        db_url,
        redis,
        tmp,
        env={
            **{k: env[k] for k in keep},
            "KLASTER_DEMO_SPEED": f"{speed:g}",
            "KLASTER_CHANNEL_PREFIX": f"bench{uuid.uuid4().hex[:8]}.",
        },
    )
    try:
        worker = topo.start_worker("worker")
        procs = [topo.start_app(f"app{i}") for i in range(apps)]
        for proc in procs:
            topo.wait_ready(proc, timeout=120)
        urls = [proc.url for proc in procs]
        yield Server(urls[0], db_url, worker.popen, urls)
    finally:
        topo.stop_all()


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]
