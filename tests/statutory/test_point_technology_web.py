"""The metering point's technology on the coordinator's form, table and API."""

from __future__ import annotations

from typing import Any

import pytest

from market.members.ppe import make_ppe
from tests.support.world import World, htmx_headers, sign_in, token_for

pytestmark = pytest.mark.anyio
API = "/api/v1"


async def test_form_sets_the_technology_and_the_table_shows_it(client: Any, world: World) -> None:
    sign_in(client, "coord")
    point = world.ids["alice_point"]
    form = client.get(f"/coordinator/points/{point}/edit", headers=htmx_headers(client)).text
    assert 'name="technology"' in form and "biogaz składowiskowy (OZE)" in form
    assert "kogeneracja gazowa (OZE)" not in form and "magazyn energii (OZE)" not in form
    fields = {"name": "Dom", "node": "S1", "contracted_power_kw": "12", "pv_kwp": "8",
              "annual_use_kwh": "3000", "technology": "wind"}  # fmt: skip
    r = client.post(f"/coordinator/points/{point}", data=fields, headers=htmx_headers(client))
    assert r.status_code == 200 and "wiatr (OZE)" in r.text
    r = client.post(f"/coordinator/points/{point}", data={**fields, "technology": "coal"},
                    headers=htmx_headers(client))  # fmt: skip
    assert r.status_code == 422 and "field-error" in r.text
    r = client.post(f"/coordinator/points/{point}", data={**fields, "technology": "gas_chp"},
                    headers=htmx_headers(client))  # fmt: skip
    assert r.status_code == 200 and "kogeneracja gazowa" in r.text
    assert "kogeneracja gazowa (OZE)" not in r.text


async def test_api_technology_default_set_and_bad(client: Any, world: World) -> None:
    coord = token_for(client, "coord")
    body = {"ppe_code": make_ppe("5905435", 991), "member_id": world.ids["alice"], "node": "S1",
            "contracted_power_kw": "40", "pv_kwp": "12"}  # fmt: skip
    r = client.post(f"{API}/all-metering-points", json=body, headers=coord)
    assert r.status_code == 201 and r.json()["technology"] == "pv"  # from its PV
    body = {**body, "ppe_code": make_ppe("5905435", 992), "pv_kwp": "0",
            "other_generation_kw": "500", "technology": "landfill_gas"}  # fmt: skip
    r = client.post(f"{API}/all-metering-points", json=body, headers=coord)
    assert r.status_code == 201 and r.json()["technology"] == "landfill_gas"
    point = r.json()["id"]
    before = client.get(f"{API}/all-metering-points", headers=coord).json()
    r = client.patch(f"{API}/all-metering-points/{point}", json={"technology": "nuclear"},
                     headers=coord)  # fmt: skip
    assert 400 <= r.status_code < 500 and r.json()["field"] == "technology"
    assert client.get(f"{API}/all-metering-points", headers=coord).json() == before
    r = client.patch(f"{API}/all-metering-points/{point}", json={"technology": "biogas"},
                     headers=coord)  # fmt: skip
    assert r.status_code == 200 and r.json()["technology"] == "biogas"
