"""Two app processes, one PostgreSQL, one Redis: an order placed through one process appears on
a WebSocket held by the other (Litestar channels over Redis pub/sub).

Skips with a message when Redis or PostgreSQL is not reachable. Channel names get a unique
prefix, so concurrent runs on the same Redis do not see each other's events.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from market.core.clock import ManualClock
from tests.support.servers import redis_url
from tests.support.world import PASSWORD, build_cluster

pytestmark = [pytest.mark.anyio, pytest.mark.redis, pytest.mark.postgres]

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"app process exited with {proc.returncode}")
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not become healthy")


def start_apps(count: int, env: dict[str, str], log_dir: Path) -> Iterator[list[str]]:
    procs: list[subprocess.Popen[bytes]] = []
    logs = []
    urls = []
    try:
        for i in range(count):
            port = free_port()
            log = (log_dir / f"app{i}.log").open("wb")
            logs.append(log)
            cmd = [sys.executable, "-m", "uvicorn", "--factory", "web.app:create_app_from_env",
                   "--host", "127.0.0.1", "--port", str(port), "--ws", "websockets-sansio",
                   "--log-level", "warning"]  # fmt: skip
            procs.append(subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=log))
            urls.append(f"http://127.0.0.1:{port}")
        for url, proc in zip(urls, procs, strict=True):
            wait_healthy(url, proc)
        yield urls
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for log in logs:
            log.close()


@pytest.fixture
def two_apps(pg_db: Any, tmp_path: Path) -> Iterator[tuple[list[str], dict[str, int]]]:
    redis = redis_url()
    ids = asyncio.run(build_cluster_sync(pg_db))
    env = {
        **os.environ,
        "DATABASE_URL": pg_db.url,
        "REDIS_URL": redis,
        "KLASTER_CHANNEL_PREFIX": f"t{uuid.uuid4().hex[:10]}.",
        "KLASTER_SECRET_KEY": "shared-secret-for-both-apps",
        "KLASTER_SECURE_COOKIES": "0",
        "KLASTER_DATA_DIR": str(tmp_path),
    }
    env.pop("KLASTER_DEMO_SPEED", None)
    yield from ((urls, ids) for urls in start_apps(2, env, tmp_path))


async def build_cluster_sync(pg_db: Any) -> dict[str, int]:
    from market.db.engine import create_engine, session_factory

    class Db:
        def __init__(self) -> None:
            self.engine = create_engine(pg_db.url)
            self.sessions = session_factory(self.engine)

        def session(self) -> Any:
            return self.sessions()

    db = Db()
    try:
        return await build_cluster(db, ManualClock(datetime.now(UTC)))
    finally:
        await db.engine.dispose()


async def test_order_through_one_app_reaches_socket_on_the_other(two_apps: Any) -> None:
    import websockets

    (app_a, app_b), ids = two_apps
    async with httpx.AsyncClient(timeout=10) as http:
        r = await http.post(
            app_a + "/api/v1/auth/token", json={"login": "alice", "password": PASSWORD}
        )
        assert r.status_code == 201, r.text
        headers = {"Authorization": f"Bearer {r.json()['token']}"}
        feed = app_b.replace("http://", "ws://") + "/api/v1/feed"
        async with websockets.connect(feed, additional_headers=headers) as ws:
            intervals = (await http.get(app_a + "/api/v1/intervals", headers=headers)).json()
            interval_id = next(iv["id"] for iv in intervals["open"] if iv["accepting_orders"])
            order = {"interval_id": interval_id, "metering_point_id": ids["alice_point"],
                     "side": "sell", "quantity_kwh": "2.125", "price": "0.4321"}  # fmt: skip
            placed = await http.post(app_a + "/api/v1/orders", json=order, headers=headers)
            assert placed.status_code == 201, placed.text
            event = json.loads(await asyncio.wait_for(ws.recv(), timeout=10))
    assert event["type"] == "orderbook" and event["interval_id"] == interval_id
    assert event["data"]["asks"][0]["price"] == "0.4321"
    assert event["data"]["asks"][0]["quantity_kwh"] == "2.125"


async def test_session_made_on_one_app_works_on_the_other(two_apps: Any) -> None:
    """Sessions live in Redis: sign in through A, use the cookie on B."""
    (app_a, app_b), _ids = two_apps
    async with httpx.AsyncClient(timeout=10) as http:
        page = await http.get(app_a + "/login")
        token = page.cookies.get("csrftoken")
        form = {"login": "alice", "password": PASSWORD, "_csrf_token": token}
        r = await http.post(app_a + "/login", data=form)
        assert r.status_code in (302, 303)
        mine = await http.get(app_b + "/my")
        assert mine.status_code == 200 and "590543500000000018" in mine.text
