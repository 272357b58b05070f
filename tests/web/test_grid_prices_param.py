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
