"""A member's own live messages over /ws/live: a standing order's refused order (stored, with
the reason) reaches only its member's sockets and the notifications page lists it; at a gate
closure a member with nothing placed in the next interval is warned."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.support.world import World, htmx_headers, sign_in, tick

pytestmark = pytest.mark.anyio

REASON = "przegląd stacji"


def receive_until(ws: Any, needle: str, seen: list[str], limit: int = 12) -> str:
    for _ in range(limit):
        message = ws.receive_text(timeout=10)
        seen.append(message)
        if needle in message:
            return message
    raise AssertionError(f"no message with {needle!r}")


async def test_refused_standing_order_is_pushed_to_its_member_only(
    client: Any, world: World
) -> None:
    sign_in(client, "alice")
    form = {"metering_point_id": str(world.ids["alice_point"]), "side": "sell", "mode": "fixed",
            "quantity_kwh": "0,5", "price": "0,41", "weekdays": "1234567", "hour_from": "0",
            "hour_to": "24"}  # fmt: skip
    assert client.post("/my/standing", data=form, headers=htmx_headers(client)).status_code == 200
    sign_in(client, "coord")
    r = client.post("/coordinator/halt", data={"action": "halt", "reason": REASON},
                    headers=htmx_headers(client))  # fmt: skip
    assert r.status_code == 200, r.text[:500]
    sign_in(client, "alice")
    alice_seen: list[str] = []
    with client.websocket_connect("/ws/live?page=my") as ws:
        world.clock.advance(minutes=30)  # new intervals: the rule's orders are refused
        tick(client)
        pushed = receive_until(ws, "nie złożyło", alice_seen)
    assert 'hx-swap-oob="afterbegin:#live-notices"' in pushed
    assert f"rynek jest wstrzymany: {REASON}" in pushed
    assert 'data-live-event="notification"' in pushed
    listed = client.get("/my/notifications").text
    assert "nie złożyło zlecenia" in listed and REASON in listed
    assert 'id="live-notices"' in client.get("/live").text  # every member page can show them

    sign_in(client, "bob")
    bob_seen: list[str] = []
    with client.websocket_connect("/ws/live?page=live") as ws:
        world.clock.advance(minutes=15)  # another gate closes: Bob has nothing in the next
        tick(client)
        warning = receive_until(ws, "gate-soon", bob_seen)
    assert re.search(r"Bramka dla .* zamyka się za", warning), warning
    assert not any("nie złożyło" in m for m in bob_seen)  # Alice's message is hers


async def test_how_my_order_ended_is_pushed_to_me_when_the_interval_clears(
    client: Any, world: World
) -> None:
    sign_in(client, "bob")
    page = client.get("/my").text
    iv = re.search(r'name="interval_id"[^>]*>\s*<option value="(\d+)"', page).group(1)
    bid = {"interval_id": iv, "side": "buy", "quantity_kwh": "2", "price": "0,60",
           "metering_point_id": str(world.ids["bob_point"])}  # fmt: skip
    assert client.post("/my/orders", data=bid, headers=htmx_headers(client)).status_code == 200
    sign_in(client, "alice")
    offer = {"interval_id": iv, "side": "sell", "quantity_kwh": "1,5", "price": "0,42",
             "metering_point_id": str(world.ids["alice_point"])}  # fmt: skip
    assert client.post("/my/orders", data=offer, headers=htmx_headers(client)).status_code == 200
    seen: list[str] = []
    with client.websocket_connect("/ws/live?page=live") as ws:
        world.clock.advance(minutes=30)
        tick(client)
        pushed = receive_until(ws, "toast notice filled", seen)
    assert "Twoja oferta" in pushed and "1,500" in pushed, pushed
    assert "kupna" not in pushed  # Bob's bid is his own message, not Alice's
