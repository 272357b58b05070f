"""The production topology on loopback, without Docker (`make cluster-test`).

Two `klaster serve` processes and a `klaster worker` against a fresh PostgreSQL database and
Redis, on a fast market clock:

1. orders placed through both apps, WebSocket clients held on both, gates close: every
   interval is cleared exactly once and every client receives every event;
2. the worker is killed with SIGKILL in the middle of a clearing and restarted: the interval
   ends up cleared once, by the new worker, with complete results;
3. Redis (a private `redis-server`, never the shared one) stops for a few seconds: the apps
   keep taking orders, the pages are told that live updates paused, and they resume when
   Redis is back.

Skips with a message when PostgreSQL or Redis is unreachable.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from tests.support.topology import DEFAULT_REDIS, Topology, private_redis, redis_reachable
from tests.support.world import PASSWORD, build_cluster

pytestmark = [pytest.mark.anyio, pytest.mark.postgres, pytest.mark.redis]

SPEED = "120"  # one 15-minute interval every 7.5 s; the gate closes 2.5 s before the start


def shared_redis() -> str:
    url = os.environ.get("KLASTER_TEST_REDIS_URL") or DEFAULT_REDIS
    if why := redis_reachable(url):
        pytest.skip(f"Redis not reachable ({why}); set KLASTER_TEST_REDIS_URL")
    return url


class Db:
    def __init__(self, url: str) -> None:
        from market.db.engine import create_engine, session_factory

        self.engine = create_engine(url)
        self.sessions = session_factory(self.engine)

    def session(self) -> Any:
        return self.sessions()


@contextlib.asynccontextmanager
async def cluster_db(url: str, *, start: datetime | None = None) -> AsyncIterator[tuple[Db, Any]]:
    from market.core.clock import ManualClock

    db = Db(url)
    try:
        ids = await build_cluster(db, ManualClock(start or datetime.now(UTC)))
        yield db, ids
    finally:
        await db.engine.dispose()


class Feed:
    """A WebSocket client collecting every message (JSON events or HTML pushes)."""

    def __init__(self, name: str, url: str, token: str, path: str = "/api/v1/feed") -> None:
        self.name = name
        self.url = url.replace("http://", "ws://") + path
        self.token = token
        self.messages: list[Any] = []
        self.task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()

    async def _run(self) -> None:
        import websockets

        headers = {"Authorization": f"Bearer {self.token}"}
        async with websockets.connect(self.url, additional_headers=headers) as ws:
            self.connected.set()
            async for raw in ws:
                text = raw if isinstance(raw, str) else raw.decode()
                self.messages.append(json.loads(text) if text.startswith("{") else text)

    async def start(self) -> None:
        self.task = asyncio.create_task(self._run())
        with anyio.fail_after(15):
            await self.connected.wait()

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task

    def events(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if isinstance(m, dict) and m.get("type") == kind]

    def html_with(self, needle: str) -> list[str]:
        return [m for m in self.messages if isinstance(m, str) and needle in m]


async def eventually(check: Callable[[], Any], timeout: float, what: str) -> Any:
    """Await until `check()` (sync or async) is truthy; bounded in time and count."""
    deadline = time.monotonic() + timeout
    for _ in range(int(timeout / 0.05) + 10):
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            break
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out after {timeout:.0f} s: {what}")


async def token(http: httpx.AsyncClient, app: str, login: str) -> str:
    r = await http.post(app + "/api/v1/auth/token", json={"login": login, "password": PASSWORD})
    assert r.status_code == 201, r.text
    return str(r.json()["token"])


async def accepting(http: httpx.AsyncClient, app: str, tok: str) -> list[int]:
    r = await http.get(app + "/api/v1/intervals", headers={"Authorization": f"Bearer {tok}"})
    return [iv["id"] for iv in r.json()["open"] if iv["accepting_orders"]]


async def place(
    http: httpx.AsyncClient,
    app: str,
    tok: str,
    point: int,
    interval_id: int,
    side: str,
    price: str,
    qty: str = "2.000",
) -> httpx.Response:
    order = {
        "interval_id": interval_id,
        "metering_point_id": point,
        "side": side,
        "quantity_kwh": qty,
        "price": price,
    }
    return await http.post(
        app + "/api/v1/orders", json=order, headers={"Authorization": f"Bearer {tok}"}
    )


async def interval_rows(db: Db, ids: list[int]) -> dict[int, tuple[str, int]]:
    """interval id -> (status, number of clearing runs)."""
    from sqlalchemy import func, select

    from market.clearing.models import ClearingRun
    from market.trading.models import Interval

    async with db.session() as s:
        status = dict(
            (
                await s.execute(select(Interval.id, Interval.status).where(Interval.id.in_(ids)))
            ).all()
        )
        runs = dict(
            (
                await s.execute(
                    select(ClearingRun.interval_id, func.count())
                    .where(ClearingRun.interval_id.in_(ids))
                    .group_by(ClearingRun.interval_id)
                )
            ).all()
        )
    return {i: (status[i], runs.get(i, 0)) for i in ids}


def fail_with_logs(topo: Topology, exc: BaseException) -> None:
    logs = "\n".join(f"--- {p.name} ---\n{p.tail(15)}" for p in topo.procs)
    raise AssertionError(f"{exc}\n{logs}") from exc


async def test_two_apps_and_a_worker_clear_each_interval_once_and_every_client_sees_it(
    pg_db: Any, tmp_path: Path
) -> None:
    redis = shared_redis()
    async with cluster_db(pg_db.url) as (db, ids):
        topo = Topology(
            pg_db.url,
            redis,
            tmp_path,
            env={
                "KLASTER_CHANNEL_PREFIX": f"ops{uuid.uuid4().hex[:10]}.",
                "KLASTER_DEMO_SPEED": SPEED,
                "KLASTER_TICK_SECONDS": "0.2",
                "KLASTER_ORDER_RATE": "1000/second",
            },
        )
        feeds: list[Feed] = []
        try:
            worker = topo.start_worker("worker")
            apps = [topo.start_app("app-a"), topo.start_app("app-b")]
            for app in apps:
                await anyio.to_thread.run_sync(topo.wait_ready, app)
            a, b = apps[0].url, apps[1].url
            async with httpx.AsyncClient(timeout=10) as http:
                alice, bob = await token(http, a, "alice"), await token(http, b, "bob")
                for app in (a, b):
                    for k in range(2):
                        feeds.append(Feed(f"{app[-5:]}-{k}", app, alice if k else bob))
                feeds.append(Feed("html-a", a, alice, "/ws/live?page=live"))
                for feed in feeds:
                    await feed.start()
                # The first interval still open may close any moment: trade in the next two.
                targets = (await accepting(http, a, alice))[1:3]
                assert len(targets) == 2, "the worker should keep four intervals ahead"
                for iv in targets:
                    sold = await place(http, a, alice, ids["alice_point"], iv, "sell", "0.4000")
                    bought = await place(http, b, bob, ids["bob_point"], iv, "buy", "0.6000")
                    assert (sold.status_code, bought.status_code) == (201, 201), bought.text

                async def all_cleared() -> bool:
                    rows = await interval_rows(db, targets)
                    return all(status == "cleared" for status, _ in rows.values())

                await eventually(all_cleared, 45, f"intervals {targets} cleared")
                await eventually(
                    lambda: all(
                        {e["interval_id"] for e in f.events("interval_cleared")} >= set(targets)
                        for f in feeds
                        if not f.name.startswith("html")
                    ),
                    15,
                    "every JSON client got every interval_cleared event",
                )
                await eventually(
                    lambda: all(feeds[-1].html_with(f'data-interval="{iv}"') for iv in targets),
                    15,
                    "the page socket got the pushes",
                )
        except (AssertionError, TimeoutError, RuntimeError) as exc:
            fail_with_logs(topo, exc)
        finally:
            for feed in feeds:
                await feed.stop()
            topo.stop_all()
        assert worker.popen.returncode in (0, -signal.SIGTERM)

        rows = await interval_rows(db, targets)
        assert rows == {iv: ("cleared", 1) for iv in targets}  # cleared, exactly once
        for feed in feeds[:-1]:
            for iv in targets:
                assert [e["interval_id"] for e in feed.events("gate_closed")].count(iv) == 1
                cleared = [e for e in feed.events("interval_cleared") if e["interval_id"] == iv]
                assert len(cleared) == 1, (feed.name, iv)  # published once, delivered once
                assert cleared[0]["status"] == "optimal" and Decimal(cleared[0]["local_kwh"]) > 0
            # Order-book events are coalesced by each app's hub (a few a second), so a client
            # sees the latest change, not every one.
            books = feed.events("orderbook")
            assert {e["interval_id"] for e in books} & set(targets), feed.name


async def _insert_orders(db: Db, ids: dict[str, int], interval_ids: list[int], n: int) -> None:
    """Many orders per interval (directly, as standing orders would) so a clearing takes a
    while: long enough to be killed in the middle of it."""
    from sqlalchemy import insert

    from market.trading.models import Order

    rows = []
    for iv in interval_ids:
        for k in range(n):
            sell = k % 2 == 0
            who = "alice" if sell else "bob"
            rows.append(
                {
                    "member_id": ids[who],
                    "metering_point_id": ids[f"{who}_point"],
                    "interval_id": iv,
                    "side": "sell" if sell else "buy",
                    "quantity_kwh": Decimal("0.100") + Decimal(k % 7) / 100,
                    "price": Decimal("0.3000") + Decimal(k % 50) / 100,
                    "status": "open",
                }
            )
    async with db.session() as s:
        await s.execute(insert(Order), rows)
        await s.commit()


async def test_worker_killed_mid_clearing_is_replaced_and_the_interval_cleared_once(
    pg_db: Any, tmp_path: Path
) -> None:
    import asyncpg
    from sqlalchemy import func, select
    from sqlalchemy.engine import make_url

    from market.clearing.models import ClearingRun, NodePrice
    from market.trading.models import Interval, Order

    redis = shared_redis()
    # Intervals from an hour ago: all overdue, so the worker closes and clears them at once.
    async with cluster_db(pg_db.url, start=datetime.now(UTC) - timedelta(hours=2)) as (db, ids):
        async with db.session() as s:
            overdue = list(
                (await s.scalars(select(Interval.id).order_by(Interval.start_utc))).all()
            )
        await _insert_orders(db, ids, overdue, 3000)
        dsn = make_url(pg_db.url).set(drivername="postgresql").render_as_string(False)
        conn = await asyncpg.connect(dsn)
        topo = Topology(
            pg_db.url,
            redis,
            tmp_path,
            env={
                "KLASTER_CHANNEL_PREFIX": f"ops{uuid.uuid4().hex[:10]}.",
                "KLASTER_CLEARING_LEASE_SECONDS": "2",
                "KLASTER_TICK_SECONDS": "0.2",
            },
        )
        try:
            first = topo.start_worker("w1")
            victim = None
            deadline = time.monotonic() + 60
            for _ in range(200_000):  # a tight poll: a clearing lasts a fraction of a second
                row = await conn.fetchrow(
                    "SELECT id FROM intervals WHERE status = 'clearing' AND claimed_by = 'w1'"
                )
                if row is not None:
                    first.popen.send_signal(signal.SIGKILL)
                    victim = int(row["id"])
                    break
                done = await conn.fetchval("SELECT count(*) FROM clearing_runs")
                if not first.alive() or done >= len(overdue) or time.monotonic() > deadline:
                    break
            first.popen.wait(timeout=10)
            assert victim is not None, "never saw w1 clearing:\n" + first.tail()
            state = await conn.fetchrow(
                "SELECT status, claimed_by FROM intervals WHERE id = $1", victim
            )
            runs = await conn.fetchval(
                "SELECT count(*) FROM clearing_runs WHERE interval_id = $1", victim
            )
            assert (state["status"], state["claimed_by"], runs) == ("clearing", "w1", 0)

            topo.start_worker("w2")

            async def all_done() -> bool:
                n = await conn.fetchval(
                    "SELECT count(*) FROM intervals WHERE id = ANY($1::int[]) "
                    "AND status = 'cleared'",
                    overdue,
                )
                return bool(n == len(overdue))

            await eventually(all_done, 60, "w2 clears every overdue interval")
        except (AssertionError, TimeoutError, RuntimeError) as exc:
            fail_with_logs(topo, exc)
        finally:
            await conn.close()
            topo.stop_all()

        async with db.session() as s:
            run = (
                await s.scalars(select(ClearingRun).where(ClearingRun.interval_id == victim))
            ).one()  # exactly one run
            assert run.worker_id == "w2" and run.status == "optimal"
            orders = (await s.scalars(select(Order).where(Order.interval_id == victim))).all()
            assert len(orders) == run.order_count == 3000
            assert all(o.status != "open" and o.accepted_kwh is not None for o in orders)
            assert sum(o.accepted_kwh or 0 for o in orders) > 0
            prices = await s.scalar(select(func.count()).where(NodePrice.run_id == run.id))
            assert prices == 2  # both nodes priced
            per_interval = dict(
                (
                    await s.execute(
                        select(ClearingRun.interval_id, func.count()).group_by(
                            ClearingRun.interval_id
                        )
                    )
                ).all()
            )
            assert all(per_interval.get(iv) == 1 for iv in overdue)


async def test_redis_outage_apps_keep_taking_orders_and_live_updates_resume(
    pg_db: Any, tmp_path: Path
) -> None:
    shared_redis()  # the topology's servers are here anyway; skip alike where Redis is absent
    with private_redis(tmp_path) as redis:
        async with cluster_db(pg_db.url) as (_db, ids):
            topo = Topology(
                pg_db.url,
                redis.url,
                tmp_path,
                env={
                    "KLASTER_DEMO_SPEED": SPEED,
                    "KLASTER_TICK_SECONDS": "0.2",
                    "KLASTER_ORDER_RATE": "1000/second",
                },
            )
            feeds: list[Feed] = []
            try:
                topo.start_worker("worker")
                apps = [topo.start_app("app-a"), topo.start_app("app-b")]
                for app in apps:
                    await anyio.to_thread.run_sync(topo.wait_ready, app)
                a, b = apps[0].url, apps[1].url
                async with httpx.AsyncClient(timeout=10) as http:
                    alice, bob = await token(http, a, "alice"), await token(http, b, "bob")
                    feeds = [
                        Feed("json-a", a, bob),
                        Feed("json-b", b, alice),
                        Feed("page-b", b, alice, "/ws/live?page=live"),
                    ]
                    for feed in feeds:
                        await feed.start()
                    iv = (await accepting(http, a, alice))[1]
                    r = await place(http, a, alice, ids["alice_point"], iv, "sell", "0.4000")
                    assert r.status_code == 201
                    await eventually(lambda: all(f.messages for f in feeds), 15, "live works")

                    redis.stop()  # the outage
                    await eventually(
                        lambda: (
                            all(f.events("live_paused") for f in feeds[:2])
                            and feeds[2].html_with('data-live-event="live_paused"')
                        ),
                        15,
                        "every socket is told that live updates paused",
                    )
                    ready = await http.get(b + "/ready")
                    assert ready.status_code == 503 and ready.json()["redis"] != "ok"
                    iv = (await accepting(http, b, bob))[1]
                    during = [
                        await place(http, b, bob, ids["bob_point"], iv, "buy", "0.6000"),
                        await place(http, a, alice, ids["alice_point"], iv, "sell", "0.4100"),
                    ]
                    assert [r.status_code for r in during] == [201, 201], during[0].text
                    seen_before = {f.name: len(f.messages) for f in feeds}

                    redis.start()  # back, on the same port
                    await eventually(
                        lambda: (
                            all(f.events("live_resumed") for f in feeds[:2])
                            and feeds[2].html_with('data-live-event="live_resumed"')
                        ),
                        20,
                        "every socket is told that live updates resumed",
                    )
                    assert 'id="live-book"' in feeds[2].html_with("live_resumed")[-1]
                    await eventually(
                        lambda: httpx.get(a + "/ready").status_code == 200, 10, "ready again"
                    )
                    mark = {f.name: len(f.messages) for f in feeds}
                    r = await place(http, a, alice, ids["alice_point"], iv, "sell", "0.4200")
                    assert r.status_code == 201
                    await eventually(
                        lambda: all(
                            any(
                                isinstance(m, dict) and m.get("type") == "orderbook"
                                for m in f.messages[mark[f.name] :]
                            )
                            for f in feeds[:2]
                        ),
                        15,
                        "order book pushes through Redis again",
                    )
                    # The worker's events flow again too (its Redis client reconnects).
                    await eventually(
                        lambda: all(
                            any(
                                isinstance(m, dict) and m.get("type") == "interval_cleared"
                                for m in f.messages[mark[f.name] :]
                            )
                            for f in feeds[:2]
                        ),
                        30,
                        "interval_cleared from the worker after the outage",
                    )
                    assert all(len(f.messages) >= seen_before[f.name] for f in feeds)
            except (AssertionError, TimeoutError, RuntimeError) as exc:
                fail_with_logs(topo, exc)
            finally:
                for feed in feeds:
                    await feed.stop()
                topo.stop_all()
