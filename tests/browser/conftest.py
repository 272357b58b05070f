"""A real server for the browser journey: the app on a loopback port in a thread, with a
manual market clock the test moves and the in-process scheduler ticking every 0.2 s."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@dataclass
class LiveServer:
    url: str
    clock: Any
    ids: dict[str, int]
    db_url: str


class _Db:
    def __init__(self, url: str) -> None:
        from market.db.engine import create_engine, session_factory

        self.engine = create_engine(url)
        self.sessions = session_factory(self.engine)

    def session(self) -> Any:
        return self.sessions()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[LiveServer]:
    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    yield from serve_test_app(tmp_path)


def serve_test_app(tmp_path: Path) -> Iterator[LiveServer]:
    """The small test cluster served on a loopback port from a thread (also used by the
    `klaster watch` test)."""
    import uvicorn

    from market.core.clock import ManualClock
    from market.core.settings import Settings
    from market.db.engine import migrate
    from tests.web.conftest import START, build_cluster
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
    port = _free_port()
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
        yield LiveServer(f"http://127.0.0.1:{port}", clock, ids, url)
    finally:
        server.should_exit = True
        thread.join(timeout=15)
