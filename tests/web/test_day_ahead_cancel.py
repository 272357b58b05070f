"""Members cancel their own storage orders and block groups (daily ones with their copies in
days still before the gate) from the day-ahead page (htmx, Polish) and the API; a closed
gate answers 409 naming `local_day`, someone else's order 404 naming its id field."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy import text as sql

from market.trading.day_ahead_models import BlockGroup, StorageOrder
from tests.support.world import World, htmx_headers, sign_in, token_for

pytestmark = pytest.mark.anyio

DAY = "2026-06-17"  # at 2026-06-15 12:00 local its gate is a day ahead


async def _storage_point(client: Any, world: World) -> None:
    async with world.db.engine.begin() as conn:
        await conn.execute(sql("UPDATE metering_points SET technology = 'storage' WHERE id = :i"),
                           {"i": world.ids["bob_point"]})  # fmt: skip
    unit = {"metering_point_id": str(world.ids["bob_point"]), "energy_kwh": "100",
            "charge_kw": "20", "discharge_kw": "20", "efficiency_charge": "0,9",
            "efficiency_discharge": "0,9"}  # fmt: skip
    r = client.post("/day-ahead/storage-unit", data=unit, headers=htmx_headers(client))
    assert r.status_code == 200, r.text[:500]


async def _rows(world: World, model: Any) -> list[Any]:
    async with world.db.session() as s:
        return list((await s.scalars(select(model).order_by(model.id))).all())


async def test_page_cancels_own_orders_and_refuses_others_and_closed_gates(
    client: Any, world: World
) -> None:
    sign_in(client, "bob")
    await _storage_point(client, world)
    point = str(world.ids["bob_point"])
    storage = {"metering_point_id": point, "local_day": DAY, "soc_initial_kwh": "50"}
    blocks = {"local_day": DAY, "metering_point_id": point, "side": "buy", "power_kw": "10",
              "duration_hours": "1", "start_from": "11:00", "start_to": "12:00",
              "price": "0,7"}  # fmt: skip
    for path, data in (("/day-ahead/storage", storage), ("/day-ahead/blocks", blocks)):
        assert client.post(path, data=data, headers=htmx_headers(client)).status_code == 200
    (order,) = await _rows(world, StorageOrder)
    (group,) = await _rows(world, BlockGroup)
    page = client.get("/day-ahead").text
    assert f'hx-post="/day-ahead/storage/{order.id}/cancel"' in page
    assert f'hx-post="/day-ahead/blocks/{group.id}/cancel"' in page
    mine = client.get("/my").text  # the same list, with its buttons, on "My market"
    assert 'id="da-mine-list"' in mine and f"/day-ahead/blocks/{group.id}/cancel" in mine

    r = client.post(f"/day-ahead/storage/{order.id}/cancel", headers=htmx_headers(client))
    assert r.status_code == 200 and "Zlecenie magazynu anulowane" in r.text
    assert r.text.startswith('<div id="da-mine-list">')  # the list fragment, swapped in place
    assert f"/day-ahead/storage/{order.id}/cancel" not in r.text
    assert [o.cancelled for o in await _rows(world, StorageOrder)] == [True]

    # Alice may not cancel Bob's group: as if it did not exist, the field named, in Polish.
    client.cookies.clear()
    sign_in(client, "alice")
    r = client.post(f"/day-ahead/blocks/{group.id}/cancel", headers=htmx_headers(client))
    assert r.status_code == 404 and f"nie ma grupy bloków {group.id}" in r.text
    assert [g.cancelled for g in await _rows(world, BlockGroup)] == [False]

    # Past the day's gate (16 June 12:00 local) the group is firm.
    client.cookies.clear()
    sign_in(client, "bob")
    world.clock.advance(hours=24)
    r = client.post(f"/day-ahead/blocks/{group.id}/cancel", headers=htmx_headers(client))
    assert r.status_code == 409 and "bramka" in r.text
    assert [g.cancelled for g in await _rows(world, BlockGroup)] == [False]


async def test_api_cancels_a_daily_storage_order_with_its_open_copies(
    client: Any, world: World
) -> None:
    sign_in(client, "bob")
    await _storage_point(client, world)
    bob, alice = token_for(client, "bob"), token_for(client, "alice")
    # A day's profile opens the auction of DAY; daily orders are copied into open auctions.
    profile = {"local_day": DAY, "metering_point_id": world.ids["alice_point"], "side": "sell",
               "price": "0.4", "quantities_kwh": ["0"] * 40 + ["1.5"] * 8 + ["0"] * 48}  # fmt: skip
    assert client.post("/api/v1/day-ahead/profiles", json=profile, headers=alice).status_code == 201
    body = {"metering_point_id": world.ids["bob_point"], "soc_initial_kwh": "40", "daily": True}
    r = client.post("/api/v1/day-ahead/storage-orders", json=body, headers=bob)
    assert r.status_code == 201, r.text
    daily = r.json()["id"]
    group = {"metering_point_id": world.ids["bob_point"], "side": "buy", "power_kw": "10",
             "duration_minutes": 60, "start_from": "10:00", "start_to": "12:00", "price": "0.6",
             "daily": True}  # fmt: skip
    r = client.post("/api/v1/day-ahead/block-groups", json=group, headers=bob)
    assert r.status_code == 201, r.text
    daily_group = r.json()["id"]
    copies = [o for o in await _rows(world, StorageOrder) if o.standing_id == daily]
    group_copies = [g for g in await _rows(world, BlockGroup) if g.standing_id == daily_group]
    assert copies and group_copies  # placed into the auctions still open

    r = client.delete(f"/api/v1/day-ahead/storage-orders/{daily}", headers=alice)
    assert r.status_code == 404 and r.json()["field"] == "storage_order_id"
    r = client.delete(f"/api/v1/day-ahead/storage-orders/{daily}", headers=bob)
    assert r.status_code == 204
    assert all(o.cancelled for o in await _rows(world, StorageOrder))
    r = client.delete(f"/api/v1/day-ahead/storage-orders/{daily}", headers=bob)
    assert r.status_code == 404  # already cancelled

    r = client.delete(f"/api/v1/day-ahead/block-groups/{daily_group}", headers=bob)
    assert r.status_code == 204
    assert all(g.cancelled for g in await _rows(world, BlockGroup))

    schema = client.get("/schema/openapi.json").json()
    for path in ("/api/v1/day-ahead/storage-orders/{order_id}",
                 "/api/v1/day-ahead/block-groups/{group_id}"):  # fmt: skip
        assert {"204", "404", "409"} <= set(schema["paths"][path]["delete"]["responses"])


async def test_api_refuses_to_cancel_after_the_gate_naming_local_day(
    client: Any, world: World
) -> None:
    bob = token_for(client, "bob")
    group = {"metering_point_id": world.ids["bob_point"], "side": "buy", "power_kw": "10",
             "duration_minutes": 60, "start_from": "10:00", "start_to": "12:00", "price": "0.6",
             "local_day": DAY}  # fmt: skip
    r = client.post("/api/v1/day-ahead/block-groups", json=group, headers=bob)
    assert r.status_code == 201, r.text
    world.clock.advance(hours=24, minutes=1)
    r = client.delete(f"/api/v1/day-ahead/block-groups/{r.json()['id']}", headers=bob)
    assert r.status_code == 409 and r.json()["field"] == "local_day"
