"""Servers the tests talk to over sockets: the test Redis, and the small test cluster's app
served on a loopback port from a thread (the browser journey and `klaster watch`)."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from tests.support.topology import DEFAULT_REDIS, free_port

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
#: Screenshots of the browser tests (git-ignored); `KLASTER_ARTIFACTS` puts them elsewhere (CI).
ARTIFACTS = Path(
    os.environ.get("KLASTER_ARTIFACTS") or Path(__file__).resolve().parents[2] / "test-artifacts"
)


def redis_url() -> str:
    """The test Redis (`KLASTER_TEST_REDIS_URL`), or skip the test saying why."""
    url = os.environ.get("KLASTER_TEST_REDIS_URL") or DEFAULT_REDIS
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 6379), 2):
            pass
    except OSError as exc:
        pytest.skip(f"Redis not reachable at {url} ({exc}); set KLASTER_TEST_REDIS_URL")
    return url


@dataclass
class LiveServer:
    url: str
    clock: Any
    ids: dict[str, int]
    db_url: str
    #: the served Litestar app (the browser sweep reads its routes)
    app: Any = None


class _Db:
    def __init__(self, url: str) -> None:
        from market.db.engine import create_engine, session_factory

        self.engine = create_engine(url)
        self.sessions = session_factory(self.engine)

    def session(self) -> Any:
        return self.sessions()


def serve_test_app(tmp_path: Path) -> Iterator[LiveServer]:
    """The small test cluster served on a loopback port from a thread, with a manual market
    clock the test moves and the in-process scheduler ticking every 0.2 s."""
    import uvicorn

    from market.core.clock import ManualClock
    from market.core.settings import Settings
    from market.db.engine import migrate
    from tests.support.world import START, build_cluster
    from web.app import create_app
    from web.config import WebConfig

    url = f"sqlite+aiosqlite:///{tmp_path / 'browser.db'}"
    migrate(url)
    clock = ManualClock(START)

    async def setup() -> dict[str, int]:
        db = _Db(url)
        try:
            return await build_cluster(db, clock)
        finally:
            await db.engine.dispose()

    ids = asyncio.run(setup())
    settings = Settings(
        data_dir=tmp_path, database_url=url, secret_key="browser-test", tick_seconds=0.2
    )
    config = WebConfig(secure_cookies=False, signin_rate=("minute", 50))
    app = create_app(settings, config=config, clock=clock, scheduler=True)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", ws="websockets-sansio"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", clock, ids, url, app)
    finally:
        server.should_exit = True
        thread.join(timeout=15)
