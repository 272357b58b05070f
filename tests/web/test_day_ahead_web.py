"""The day-ahead pages: the forms place a profile (24-hour curve, uploaded values), storage
data and orders and a block group; bad input comes back on the form naming the field (422,
Polish), nothing stored; the result page draws the heat map, the storage curve and the blocks
with their reasons (the day cleared by the stand-in core, see tests/support/day_ahead.py)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from market.clearing import day_ahead as da_clearing
from market.core.events import NullPublisher
from market.trading.models import Order
from tests.support.day_ahead import fake_core
from tests.support.world import World, htmx_headers, run_in_app, sign_in

pytestmark = pytest.mark.anyio
__all__ = ["fake_core"]

DAY = "2026-06-16"  # the next day-ahead gate at 2026-06-15 12:00 local is... see below


def _page(client: Any) -> str:
    r = client.get("/day-ahead")
    assert r.status_code == 200, r.text[:500]
    return str(r.text)


async def _orders(world: World) -> int:
    async with world.db.session() as s:
        return int(await s.scalar(select(func.count(Order.id)).where(Order.market == "da")) or 0)


async def test_profile_form_places_a_day_and_refuses_bad_input(client: Any, world: World) -> None:
    sign_in(client, "alice")
    text = _page(client)
    assert 'id="da-profile-form"' in text and "Następna bramka" in text
    day = text.split('name="local_day" value="', 1)[1].split('"', 1)[0]
    curve = {f"h{k}": "2" if 10 <= k < 14 else "" for k in range(24)}
    form = {"local_day": day, "metering_point_id": str(world.ids["alice_point"]),
            "side": "sell", "price": "0,40"} | curve  # fmt: skip
    r = client.post("/day-ahead/profile", data=form, headers=htmx_headers(client))
    assert r.status_code == 200, r.text[:800]
    assert await _orders(world) == 16
    # 95 values for a 96-interval day: the field is named, in Polish, nothing stored.
    bad = form | {"quantities_kwh": ";".join(["1"] * 95)}
    r = client.post("/day-ahead/profile", data=bad, headers=htmx_headers(client))
    assert r.status_code == 422 and "profil ma 95 wartości" in r.text
    assert await _orders(world) == 16
    # An uploaded CSV of the right length.
    csv = "\n".join(["0"] * 40 + ["1,5"] * 4 + ["0"] * 52).encode()
    plain = {k: v for k, v in form.items() if k[0] != "h"}
    files = {"file": ("profile.csv", csv, "text/csv")}
    r = client.post("/day-ahead/profile", data=plain, files=files, headers=htmx_headers(client))
    assert r.status_code == 200, r.text[:800]
    assert await _orders(world) == 20


async def test_block_form_refuses_a_block_past_the_end_of_the_day(
    client: Any, world: World
) -> None:
    sign_in(client, "bob")
    text = _page(client)
    day = text.split('name="local_day" value="', 1)[1].split('"', 1)[0]
    form = {"local_day": day, "metering_point_id": str(world.ids["bob_point"]), "side": "buy",
            "duration_hours": "2", "power_kw": "20", "start_from": "20:00", "start_to": "23:00",
            "price": "0,7"}  # fmt: skip
    r = client.post("/day-ahead/blocks", data=form, headers=htmx_headers(client))
    assert r.status_code == 422 and "po końcu doby" in r.text
    r = client.post(
        "/day-ahead/blocks", data=form | {"start_to": "22:00"}, headers=htmx_headers(client)
    )
    assert r.status_code == 200 and "3" in r.text


async def test_result_page_shows_heatmap_storage_and_blocks(
    client: Any, world: World, fake_core: list[dict[str, Any]]
) -> None:
    from sqlalchemy import text as sql

    sign_in(client, "bob")
    text = _page(client)
    day = text.split('name="local_day" value="', 1)[1].split('"', 1)[0]
    async with world.db.engine.begin() as conn:
        await conn.execute(sql("UPDATE metering_points SET technology = 'storage' WHERE id = :i"),
                           {"i": world.ids["bob_point"]})  # fmt: skip
    unit = {"metering_point_id": str(world.ids["bob_point"]), "energy_kwh": "100",
            "charge_kw": "20", "discharge_kw": "20", "efficiency_charge": "0,9",
            "efficiency_discharge": "0,9"}  # fmt: skip
    assert (
        client.post("/day-ahead/storage-unit", data=unit, headers=htmx_headers(client)).status_code
        == 200
    )
    bad = {"metering_point_id": str(world.ids["bob_point"]), "local_day": day,
           "soc_initial_kwh": "150"}  # fmt: skip
    r = client.post("/day-ahead/storage", data=bad, headers=htmx_headers(client))
    assert r.status_code == 422 and "minimalny stan i pojemność magazynu" in r.text
    ok = bad | {"soc_initial_kwh": "50"}
    assert (
        client.post("/day-ahead/storage", data=ok, headers=htmx_headers(client)).status_code == 200
    )
    blocks = {"local_day": day, "metering_point_id": str(world.ids["bob_point"]), "side": "buy",
              "duration_hours": "1", "power_kw": "10", "start_from": "11:00", "start_to": "12:00",
              "price": "0,7"}  # fmt: skip
    assert (
        client.post("/day-ahead/blocks", data=blocks, headers=htmx_headers(client)).status_code
        == 200
    )

    async def clear() -> Any:
        from datetime import date

        sessions = client.app.state.services.session_factory
        return await da_clearing.clear_day(
            sessions, date.fromisoformat(day), worker_id="t", publisher=NullPublisher(),
            now=world.clock.now(),
        )  # fmt: skip

    outcome = run_in_app(client, clear)
    assert outcome.stored is not None
    page = client.get(f"/day-ahead?day={day}").text
    assert "chart-heatmap" in page and "<rect" in page
    assert 'class="chart chart-storage"' in page and 'class="line soc"' in page
    assert 'data-reason="accepted"' in page and 'data-reason="another_in_group"' in page
    assert 'id="da-mine"' in page
    assert "data-storage-total" not in page and "data-storage-row" not in page
    ppe = page.split('data-storage="', 1)[1].split('"', 1)[0]
    # More units than CHARTED_UNITS (here: more than none): their sum, the owner's own curve,
    # a row per unit linking to its curve; someone else sees the sum until they pick the unit.
    import web.pages.day_ahead as pages

    limit, pages.CHARTED_UNITS = pages.CHARTED_UNITS, 0
    try:
        mine = client.get(f"/day-ahead?day={day}").text
        assert "data-storage-total" in mine and f'data-storage="{ppe}"' in mine
        assert f'data-storage-row="{ppe}"' in mine and "Wszystkie magazyny energii" in mine
        sign_in(client, "coord")
        theirs = client.get(f"/day-ahead?day={day}").text
        assert "data-storage-total" in theirs and f'data-storage="{ppe}"' not in theirs
        assert f'data-storage-row="{ppe}"' in theirs
        picked = client.get(f"/day-ahead?day={day}&unit={ppe}").text
        assert f'data-storage="{ppe}"' in picked and f"unit={ppe}" in picked
    finally:
        pages.CHARTED_UNITS = limit


def test_storage_charts_draw_every_unit_or_their_sum() -> None:
    from decimal import Decimal as D

    from market.clearing.day_ahead_results import StorageView
    from web.pages.day_ahead import CHARTED_UNITS, storage_charts

    def unit(k: int) -> StorageView:
        return StorageView(k, f"PPE{k}", "", [D(k), D(0)], [D(0), D(1)], [D(k), D(k - 1)],
                           D(10) if k % 2 else None)  # fmt: skip

    few = [unit(k) for k in range(1, CHARTED_UNITS + 1)]
    assert storage_charts(few, set(), None) == (few, None)
    many = [unit(k) for k in range(1, CHARTED_UNITS + 2)]
    shown, total = storage_charts(many, {"PPE3"}, "PPE5")
    assert [u.ppe_code for u in shown] == ["PPE3", "PPE5"] and total is not None
    n = len(many)
    assert total.charge_kwh == [D(n * (n + 1) // 2), D(0)]
    assert total.discharge_kwh == [D(0), D(n)]
    assert total.soc_kwh == [D(n * (n + 1) // 2), D(n * (n - 1) // 2)]
    assert total.energy_kwh == D(10 * ((n + 1) // 2))  # units without data count 0


async def test_live_page_says_which_gate_is_next(client: Any, world: World) -> None:
    sign_in(client, "alice")
    page = client.get("/live").text
    assert 'id="next-gate"' in page and 'data-kind="intraday"' in page
    assert "Następna bramka: aukcja śróddzienna" in page
    world.clock.advance(hours=23, minutes=55)  # the intervals' gates passed; 12:00 is near
    fragment = client.get("/live/next-gate").text
    assert 'data-kind="day_ahead"' in fragment and "aukcja dnia następnego" in fragment


async def test_api_profile_blocks_storage_and_result(
    client: Any, world: World, fake_core: list[dict[str, Any]]
) -> None:
    from tests.support.world import token_for

    alice = token_for(client, "alice")
    day = "2026-06-17"
    body = {"local_day": day, "metering_point_id": world.ids["alice_point"], "side": "sell",
            "price": "0.4", "quantities_kwh": ["0"] * 40 + ["1.5"] * 8 + ["0"] * 48}  # fmt: skip
    r = client.post("/api/v1/day-ahead/profiles", json=body, headers=alice)
    assert r.status_code == 201, r.text
    assert r.json()["placed"] == 8 and len(set(r.json()["order_ids"])) == 8
    # A retry under the same client order id places nothing and answers the same orders.
    keyed = body | {"client_order_id": "da-p1", "side": "buy"}
    first = client.post("/api/v1/day-ahead/profiles", json=keyed, headers=alice)
    assert first.status_code == 201 and first.json()["placed"] == 8
    again = client.post("/api/v1/day-ahead/profiles", json=keyed, headers=alice)
    assert again.status_code == 201
    assert again.json() == {"placed": 0, "order_ids": first.json()["order_ids"]}
    assert set(first.json()["order_ids"]).isdisjoint(r.json()["order_ids"])
    # The autumn DST day has 100 intervals: 96 values are refused, naming the field.
    r = client.post("/api/v1/day-ahead/profiles", json=body | {"local_day": "2026-10-25"},
                    headers=alice)  # fmt: skip
    assert r.status_code == 422 and r.json()["field"] == "quantities_kwh"
    assert r.json()["params"]["expected"] == 100
    # A day whose gate has closed: 409.
    r = client.post("/api/v1/day-ahead/profiles", json=body | {"local_day": "2026-06-16"},
                    headers=alice)  # fmt: skip
    assert r.status_code == 409 and r.json()["field"] == "local_day"
    # Storage data on a point that is not storage: 422 naming the point.
    r = client.put(f"/api/v1/metering-points/{world.ids['alice_point']}/storage",
                   json={"energy_kwh": "10", "charge_kw": "5", "discharge_kw": "5"},
                   headers=alice)  # fmt: skip
    assert r.status_code == 422 and r.json()["field"] == "metering_point_id"
    group = {"metering_point_id": world.ids["alice_point"], "side": "buy", "power_kw": "4",
             "duration_minutes": 120, "start_from": "22:00", "start_to": "23:00",
             "price": "0.6", "local_day": day}  # fmt: skip
    r = client.post("/api/v1/day-ahead/block-groups", json=group, headers=alice)
    assert r.status_code == 422 and r.json()["field"] == "start_to"
    r = client.post("/api/v1/day-ahead/block-groups", json=group | {"start_from": "10:00",
                    "start_to": "12:00"}, headers=alice)  # fmt: skip
    assert r.status_code == 201 and r.json()["blocks"] == 3
    assert client.get(f"/api/v1/day-ahead/{day}", headers=alice).json()["status"] == "open"
    schema = client.get("/schema/openapi.json").json()
    responses = schema["paths"]["/api/v1/day-ahead/profiles"]["post"]["responses"]
    assert {"201", "409", "422"} <= set(responses)
