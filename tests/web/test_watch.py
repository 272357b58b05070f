"""`klaster watch`: formats events, and prints a real event from a running server."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.servers import LiveServer, serve_test_app
from tests.support.world import PASSWORD
from web.commands.watch import describe, feed_url, watch

pytestmark = pytest.mark.anyio


def test_feed_url() -> None:
    assert feed_url("http://127.0.0.1:8000/") == "ws://127.0.0.1:8000/api/v1/feed"
    assert feed_url("https://klaster.example") == "wss://klaster.example/api/v1/feed"


def test_describe_events_in_polish() -> None:
    cleared = {"type": "interval_cleared", "interval_start": "2026-06-15T10:15:00Z",
               "status": "cleared", "prices": {"GPZ": "0.5300", "S1": "0.5300"},
               "local_kwh": "12.5", "import_kwh": "0", "export_kwh": "1.25"}  # fmt: skip
    line = describe(cleared, "pl")
    assert line.startswith("15.06.2026 12:15") and "0,5300\u00a0zł/kWh" in line
    assert "12,500\u00a0kWh" in line
    book = {"type": "orderbook", "interval_start": "2026-06-15T10:15:00Z",
            "data": {"bids": [{"price": "0.6", "quantity_kwh": "2"}], "asks": []}}  # fmt: skip
    assert "2,000\u00a0kWh" in describe(book, "pl")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    yield from serve_test_app(tmp_path)


async def test_watch_prints_an_order_book_event(server: LiveServer, capsys: Any) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        r = await http.post("/api/v1/auth/token", json={"login": "bob", "password": PASSWORD})
        token = r.json()["token"]
        args = argparse.Namespace(url=server.url, token=token, json=False, count=1, lang="pl",
                                  login=None, password=None)  # fmt: skip
        task = asyncio.create_task(watch(args))
        await asyncio.sleep(1.0)  # connected
        headers = {"Authorization": f"Bearer {token}"}
        intervals = (await http.get("/api/v1/intervals", headers=headers)).json()
        interval_id = next(iv["id"] for iv in intervals["open"] if iv["accepting_orders"])
        order = {"interval_id": interval_id, "metering_point_id": server.ids["bob_point"],
                 "side": "buy", "quantity_kwh": "3", "price": "0.5"}  # fmt: skip
        assert (await http.post("/api/v1/orders", json=order, headers=headers)).status_code == 201
        assert await asyncio.wait_for(task, timeout=15) == 0
    out = capsys.readouterr().out
    assert "arkusz zleceń" in out and "3,000\u00a0kWh" in out
