"""A storage metering point's technical data page (`/points/{id}/storage`): the coordinator
makes a point a storage point and enters its data, the owner edits their own; every field's
error at once (422, Polish), nothing stored; someone else's point is 404."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from market.network.models import MeteringPoint
from market.network.storage_models import StorageUnit
from tests.support.world import World, htmx_headers, sign_in

pytestmark = pytest.mark.anyio

GOOD = {"energy_kwh": "100", "charge_kw": "8", "discharge_kw": "9",
        "efficiency_charge": "0,95", "efficiency_discharge": "", "soc_min_kwh": "10",
        "soc_final_min_kwh": ""}  # fmt: skip


async def _state(world: World) -> tuple[str, list[StorageUnit]]:
    async with world.db.session() as s:
        point = await s.get(MeteringPoint, world.ids["alice_point"])
        assert point is not None
        units = list((await s.scalars(select(StorageUnit))).all())
        return point.technology, units


async def test_coordinator_makes_a_storage_point_showing_every_error_at_once(
    client: Any, world: World
) -> None:
    path = f"/points/{world.ids['alice_point']}/storage"
    sign_in(client, "coord")
    page = client.get(path)
    assert page.status_code == 200 and 'name="make_storage"' in page.text
    assert "Dane magazynu" in page.text
    before = await _state(world)

    bad = GOOD | {"make_storage": "on", "energy_kwh": "dużo", "charge_kw": "-5",
                  "efficiency_charge": "1,5"}  # fmt: skip
    r = client.post(path, data=bad, headers=htmx_headers(client))
    assert r.status_code == 422
    for name in ("energy_kwh", "charge_kw", "efficiency_charge"):
        assert f'id="sd-{name}-err"' in r.text, name
    assert 'id="sd-discharge_kw-err"' not in r.text
    assert await _state(world) == before  # nothing stored, the technology unchanged

    r = client.post(path, data=GOOD | {"make_storage": "on"}, headers=htmx_headers(client))
    assert r.status_code == 200 and "Zapisano dane magazynu" in r.text, r.text
    technology, units = await _state(world)
    assert technology == "storage" and len(units) == 1
    unit = units[0]
    assert (unit.energy_kwh, unit.charge_kw, unit.discharge_kw) == (
        Decimal("100.000"), Decimal("8.000"), Decimal("9.000"))  # fmt: skip
    assert unit.efficiency_discharge == Decimal(1) and unit.soc_final_min_kwh is None


async def test_owner_edits_own_storage_data_and_nobody_else_sees_it(
    client: Any, world: World
) -> None:
    path = f"/points/{world.ids['alice_point']}/storage"
    sign_in(client, "alice")
    # Not a storage point yet: the owner is told who sets the technology; no form.
    page = client.get(path).text
    assert "Technologię punktu ustawia koordynator" in page and "storage-data-form" not in page
    r = client.post(path, data=GOOD | {"make_storage": "on"}, headers=htmx_headers(client))
    assert r.status_code == 403 and (await _state(world))[0] != "storage"

    client.cookies.clear()
    sign_in(client, "coord")
    assert client.post(path, data=GOOD | {"make_storage": "on"},
                       headers=htmx_headers(client)).status_code == 200  # fmt: skip

    client.cookies.clear()
    sign_in(client, "alice")
    page = client.get(path).text
    assert 'value="100,000"' in page and "make_storage" not in page  # prefilled, no checkbox
    r = client.post(path, data=GOOD | {"energy_kwh": "5"}, headers=htmx_headers(client))
    assert r.status_code == 422 and 'id="sd-soc_min_kwh-err"' in r.text  # 10 > 5
    r = client.post(path, data=GOOD | {"energy_kwh": "150"}, headers=htmx_headers(client))
    assert r.status_code == 200
    assert (await _state(world))[1][0].energy_kwh == Decimal("150.000")

    client.cookies.clear()
    sign_in(client, "bob")
    assert client.get(path).status_code == 404
    client.cookies.clear()
    sign_in(client, "dso")
    assert client.get(path).status_code == 403


async def test_api_coordinator_makes_a_storage_point_and_the_owner_edits_it(
    client: Any, world: World
) -> None:
    from tests.support.world import token_for

    path = f"/api/v1/metering-points/{world.ids['alice_point']}/storage"
    body = {"energy_kwh": "40", "charge_kw": "8", "discharge_kw": "8"}
    alice, bob, coord = (token_for(client, n) for n in ("alice", "bob", "coord"))
    r = client.put(path, json=body | {"make_storage": True}, headers=alice)
    assert r.status_code == 403 and r.json()["field"] == "technology"
    r = client.put(path, json=body, headers=bob)
    assert r.status_code == 404 and r.json()["field"] == "metering_point_id"
    r = client.put(path, json=body | {"make_storage": True}, headers=coord)
    assert r.status_code == 200 and r.json()["energy_kwh"] == "40.000"
    r = client.put(path, json=body | {"energy_kwh": "50"}, headers=alice)
    assert r.status_code == 200 and (await _state(world))[1][0].energy_kwh == Decimal("50.000")


async def test_day_ahead_unit_form_shows_every_error_at_once(client: Any, world: World) -> None:
    sign_in(client, "alice")
    bad = {"metering_point_id": str(world.ids["alice_point"]), "energy_kwh": "x",
           "charge_kw": "-1", "discharge_kw": "2", "efficiency_charge": "3"}  # fmt: skip
    r = client.post("/day-ahead/storage-unit", data=bad, headers=htmx_headers(client))
    assert r.status_code == 422
    assert r.text.count('class="field-error"') >= 3  # energy, charge power, efficiency
    assert (await _state(world))[1] == []
