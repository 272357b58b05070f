"""The market halt from the coordinator's page and API: orders, modifications and
cancellations are refused with the reason; a banner shows it on every page; resuming lets
trading go on; only the coordinator may halt."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.support.world import World, htmx_headers, sign_in, token_for
from tests.web.test_live import receive_until

pytestmark = pytest.mark.anyio

API = "/api/v1"
REASON = "Awaria systemu pomiarowego"


def _order(world: World, client: Any, alice: dict[str, str]) -> dict[str, Any]:
    open_id = client.get(f"{API}/intervals", headers=alice).json()["open"][0]["id"]
    return {"interval_id": open_id, "metering_point_id": world.ids["alice_point"],
            "side": "sell", "quantity_kwh": "1", "price": "0.40"}  # fmt: skip


async def test_halt_refuses_orders_with_the_reason_and_resume_allows_them(
    client: Any, world: World
) -> None:
    alice, coord = token_for(client, "alice"), token_for(client, "coord")
    order = _order(world, client, alice)
    placed = client.post(f"{API}/orders", json=order, headers=alice)
    assert placed.status_code in (200, 201, 202), placed.text
    order_id = placed.json()["id"]

    r = client.post(f"{API}/market/halt", json={"reason": REASON}, headers=coord)
    assert r.status_code == 200 and r.json()["reason"] == REASON, r.text
    refused = client.post(f"{API}/orders", json=order, headers=alice)
    assert refused.status_code == 409, refused.text
    body = refused.json()
    assert body["error"] == "MarketHalted" and body["params"]["reason"] == REASON
    r = client.patch(f"{API}/orders/{order_id}", json={"price": "0.5"}, headers=alice)
    assert r.status_code == 409 and r.json()["params"]["reason"] == REASON
    r = client.delete(f"{API}/orders/{order_id}", headers=alice)
    assert r.status_code == 409 and r.json()["params"]["reason"] == REASON
    mine = client.get(f"{API}/orders", headers=alice).json()
    assert [(o["id"], o["status"]) for o in mine] == [(order_id, "open")]  # nothing changed

    sign_in(client, "alice")
    page = client.get("/my")
    assert 'id="market-halted"' in page.text and REASON in page.text
    form = {k: str(v) for k, v in order.items()} | {"quantity_kwh": "1", "price": "0,40"}
    r = client.post("/my/orders", data=form, headers=htmx_headers(client))
    assert r.status_code in (409, 422) and "wstrzymany" in r.text and REASON in r.text

    r = client.post(f"{API}/market/resume", headers=coord)
    assert r.status_code == 200 and r.json()["halted_at"] is None
    assert client.post(f"{API}/orders", json=order, headers=alice).status_code in (200, 201, 202)
    assert 'id="market-halted"' not in client.get("/my").text
    audit = client.get(f"{API}/audit", headers=coord).json()
    assert {"halt", "resume"} <= {e["action"] for e in audit if e["entity"] == "market"}


async def test_coordinator_page_halts_and_resumes(client: Any, world: World) -> None:
    sign_in(client, "coord")
    assert "halt-form" in client.get("/coordinator/parameters").text
    r = client.post("/coordinator/halt", data={"action": "halt", "reason": ""},
                    headers=htmx_headers(client))  # fmt: skip
    assert r.status_code == 422 and "field-error" in r.text
    r = client.post("/coordinator/halt", data={"action": "halt", "reason": "x" * 201},
                    headers=htmx_headers(client))  # fmt: skip
    assert r.status_code == 422
    r = client.post("/coordinator/halt", data={"action": "halt", "reason": REASON},
                    headers=htmx_headers(client))  # fmt: skip
    assert r.status_code == 200 and "Wznów rynek" in r.text
    assert re.search(r'id="market-halted"[^>]*>.*' + REASON, client.get("/live").text)
    params = client.get("/coordinator/parameters").text
    assert "Wznów rynek" in params and 'id="market-halted"' in params
    r = client.post("/coordinator/halt", data={"action": "resume"}, headers=htmx_headers(client))
    assert r.status_code == 200 and "Wstrzymaj rynek" in r.text


@pytest.mark.parametrize("login", ["alice", "dso"])
async def test_members_and_distributor_cannot_halt(client: Any, world: World, login: str) -> None:
    headers = token_for(client, login)
    assert (
        client.post(f"{API}/market/halt", json={"reason": "x"}, headers=headers).status_code == 403
    )
    assert client.post(f"{API}/market/resume", headers=headers).status_code == 403
    coord = token_for(client, "coord")
    entries = client.get(f"{API}/audit", headers=coord).json()
    assert [e for e in entries if e["entity"] == "market"] == []


async def test_open_pages_get_the_banner_pushed(client: Any, world: World) -> None:
    coord = token_for(client, "coord")
    sign_in(client, "alice")
    with client.websocket_connect("/ws/live?page=my") as ws:
        r = client.post(f"{API}/market/halt", json={"reason": REASON}, headers=coord)
        assert r.status_code == 200
        pushed = receive_until(ws, 'id="market-halt-banner"')
        assert 'hx-swap-oob="true"' in pushed and REASON in pushed
        assert client.post(f"{API}/market/resume", headers=coord).status_code == 200
        pushed = receive_until(ws, 'id="market-halt-banner"')
        assert 'id="market-halted"' not in pushed
