"""The coordinator's parameters form and API set the day-ahead grid-price source
(`grid_prices`: fixed or market); a bad value is refused naming the field, nothing stored."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from market.cluster.models import Cluster
from tests.support.world import World, htmx_headers, sign_in, token_for

pytestmark = pytest.mark.anyio


async def _source(world: World) -> str:
    async with world.db.session() as s:
        return str(await s.scalar(select(Cluster.grid_prices)))


async def test_parameters_form_and_api_set_the_grid_price_source(client: Any, world: World) -> None:
    sign_in(client, "coord")
    page = client.get("/coordinator/parameters").text
    assert 'name="grid_prices"' in page and "z zaimportowanych cen RCE" in page
    form = {"name": "Klaster testowy", "registry_number": "", "coordinator_name": "Koordynator",
            "gate_closure_minutes": "5", "horizon_intervals": "8", "price_floor": "0,20",
            "price_cap": "0,89"}  # fmt: skip
    r = client.post("/coordinator/parameters", data=form | {"grid_prices": "rynkowe"},
                    headers=htmx_headers(client))  # fmt: skip
    assert r.status_code == 422 and 'id="pp-grid_prices-err"' in r.text
    assert await _source(world) == "fixed"
    r = client.post("/coordinator/parameters", data=form | {"grid_prices": "market"},
                    headers=htmx_headers(client))  # fmt: skip
    assert r.status_code == 200 and await _source(world) == "market"
    r = client.patch("/api/v1/parameters", json={"grid_prices": "fixed"},
                     headers=token_for(client, "coord"))  # fmt: skip
    assert r.status_code == 200 and r.json()["grid_prices"] == "fixed"
    assert await _source(world) == "fixed"


async def _gate(world: World) -> int | None:
    async with world.db.session() as s:
        return await s.scalar(select(Cluster.day_ahead_gate_minute))


async def test_parameters_set_the_day_ahead_gate_or_turn_it_off(client: Any, world: World) -> None:
    sign_in(client, "coord")
    before = await _gate(world)
    page = client.get("/coordinator/parameters").text
    assert 'name="day_ahead_gate"' in page and "Bramka rynku dnia następnego" in page
    form = {"name": "Klaster testowy", "registry_number": "", "coordinator_name": "Koordynator",
            "gate_closure_minutes": "5", "horizon_intervals": "8", "price_floor": "0,20",
            "price_cap": "0,89", "grid_prices": "fixed"}  # fmt: skip
    for bad in ("25:00", "12.00", "noon"):
        r = client.post("/coordinator/parameters", data=form | {"day_ahead_gate": bad},
                        headers=htmx_headers(client))  # fmt: skip
        assert r.status_code == 422 and 'id="pp-day_ahead_gate-err"' in r.text
        assert "GG:MM" in r.text
        assert await _gate(world) == before
    r = client.post("/coordinator/parameters", data=form | {"day_ahead_gate": "10:30"},
                    headers=htmx_headers(client))  # fmt: skip
    assert r.status_code == 200 and await _gate(world) == 10 * 60 + 30
    assert 'value="10:30"' in r.text
    r = client.post("/coordinator/parameters", data=form, headers=htmx_headers(client))
    assert r.status_code == 200 and await _gate(world) == 10 * 60 + 30  # no box: unchanged
    r = client.post("/coordinator/parameters", data=form | {"day_ahead_gate": ""},
                    headers=htmx_headers(client))  # fmt: skip
    assert r.status_code == 200 and await _gate(world) is None
    headers = token_for(client, "coord")
    r = client.patch("/api/v1/parameters", json={"day_ahead_gate": 7}, headers=headers)
    assert r.status_code in (400, 422) and "day_ahead_gate" in r.text and await _gate(world) is None
    r = client.patch("/api/v1/parameters", json={"day_ahead_gate": "12:00"}, headers=headers)
    assert r.status_code == 200 and r.json()["day_ahead_gate"] == "12:00"
    assert await _gate(world) == 12 * 60
    r = client.patch("/api/v1/parameters", json={"day_ahead_gate": "off"}, headers=headers)
    assert r.status_code == 200 and r.json()["day_ahead_gate"] == "off"
    assert await _gate(world) is None
