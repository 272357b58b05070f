"""The live market: page, pushes over /ws/live (htmx out-of-band fragments), JSON feed."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import pytest
from litestar.exceptions import WebSocketDisconnect

from tests.support.world import World, htmx_headers, sign_in, tick

pytestmark = pytest.mark.anyio


def first_open_interval(client: Any) -> str:
    page = client.get("/my")
    return re.search(r'name="interval_id"[^>]*>\s*<option value="(\d+)"', page.text).group(1)


def place(client: Any, world: World, who: str, side: str, qty: str, price: str) -> Any:
    form = {"interval_id": first_open_interval(client), "side": side, "quantity_kwh": qty,
            "price": price, "metering_point_id": str(world.ids[f"{who}_point"])}  # fmt: skip
    r = client.post("/my/orders", data=form, headers=htmx_headers(client))
    assert r.status_code == 200, r.text
    return r


def receive_until(ws: Any, needle: str, limit: int = 10) -> str:
    for _ in range(limit):
        message = ws.receive_text(timeout=10)
        if needle in message:
            return message
    raise AssertionError(f"no message with {needle!r}")


async def test_live_page_needs_sign_in_and_renders_regions(client: Any, world: World) -> None:
    r = client.get("/live", follow_redirects=False)
    assert r.status_code in (302, 303) and r.headers["location"].startswith("/login")
    sign_in(client, "coord")
    r = client.get("/live")
    assert r.status_code == 200
    for region in ("live-book", "live-summary", "live-map", "live-cleared"):
        assert f'id="{region}"' in r.text
    assert 'ws-connect="/ws/live?page=live"' in r.text
    assert "<svg" in r.text and 'data-line="L1"' in r.text  # the network map


async def test_order_appears_in_live_book_push_and_cleared_result_follows(
    client: Any, world: World
) -> None:
    sign_in(client, "alice")
    with client.websocket_connect("/ws/live?page=live") as ws:
        place(client, world, "alice", "sell", "2", "0,40")
        book = receive_until(ws, 'id="live-book"')
        assert 'hx-swap-oob="true"' in book and 'data-live-event="orderbook"' in book
        assert "0,4000" in book and "2,000" in book  # the offer's price step and volume
        assert "Alicja" not in book  # aggregated, no identities
    client.post("/logout", headers=htmx_headers(client))
    sign_in(client, "bob")
    place(client, world, "bob", "buy", "1,5", "0,60")
    with client.websocket_connect("/ws/live?page=live") as ws:
        world.clock.advance(minutes=30)  # past the gate and the delivery start
        tick(client)
        cleared = receive_until(ws, 'data-live-event="interval_cleared"')
        assert 'id="live-summary"' in cleared and 'id="live-map"' in cleared
        assert 'id="live-cleared"' in cleared and "1,5" in cleared
    fills = client.get("/my/fills", headers=htmx_headers(client))
    assert 'class="fill"' in fills.text and "1,500" in fills.text


async def test_member_page_socket_gets_only_the_signal(client: Any, world: World) -> None:
    sign_in(client, "alice")
    with client.websocket_connect("/ws/live?page=my") as ws:
        place(client, world, "alice", "sell", "1", "0,45")
        message = receive_until(ws, "data-live-event")
        assert 'id="live-events"' in message and 'id="live-book"' not in message


async def test_socket_refuses_anonymous(client: Any, world: World) -> None:
    with pytest.raises(WebSocketDisconnect), client.websocket_connect("/ws/live") as ws:
        ws.receive_text(timeout=5)


async def test_json_feed_with_token(client: Any, world: World) -> None:
    r = client.post("/api/v1/auth/token", json={"login": "bob", "password": "haslo-demo-1"})
    assert r.status_code == 201
    token = r.json()["token"]
    with client.websocket_connect(f"/api/v1/feed?token={token}") as ws:
        headers = {"Authorization": f"Bearer {token}"}
        interval_id = int(first_open_interval_api(client, headers))
        order = {"interval_id": interval_id, "side": "buy", "quantity_kwh": "3", "price": "0.5",
                 "metering_point_id": world.ids["bob_point"]}  # fmt: skip
        assert client.post("/api/v1/orders", json=order, headers=headers).status_code == 201
        event = json.loads(ws.receive_text(timeout=10))
        assert event["type"] == "orderbook"
        assert event["data"]["bids"][0]["quantity_kwh"] == "3.000"


def first_open_interval_api(client: Any, headers: dict[str, str]) -> str:
    r = client.get("/api/v1/intervals", headers=headers)
    assert r.status_code == 200, r.text
    return str(next(iv["id"] for iv in r.json()["open"] if iv["accepting_orders"]))


async def test_clock_advance_is_a_real_gate(client: Any, world: World) -> None:
    sign_in(client, "alice")
    interval_id = first_open_interval(client)
    world.clock.advance(minutes=12)
    form = {"interval_id": interval_id, "side": "sell", "quantity_kwh": "1", "price": "0,45",
            "metering_point_id": str(world.ids["alice_point"])}  # fmt: skip
    r = client.post("/my/orders", data=form, headers=htmx_headers(client))
    assert r.status_code in (409, 422)
    assert "alert error" in r.text
    assert timedelta(minutes=12)  # the clock moved, nothing else did
