"""The coordinator's writes through /api/v1 (what the coordinator pages do): members,
metering points, nodes and lines. Only the coordinator may; bad input is a 4xx naming the
field and changes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from market.members.ppe import make_ppe
from tests.support.world import World, token_for

pytestmark = pytest.mark.anyio

API = "/api/v1"


async def test_coordinator_manages_members_points_and_network(client: Any, world: World) -> None:
    coord = token_for(client, "coord")
    r = client.post(f"{API}/members", json={"name": "Wodociągi Staszów", "kind": "utility",
                                            "login": "wodociagi", "password": "tajne-haslo-1"},
                    headers=coord)  # fmt: skip
    assert r.status_code == 201, r.text
    member = r.json()
    assert member["name"] == "Wodociągi Staszów" and member["role"] == "member"
    r = client.patch(f"{API}/members/{member['id']}", json={"email": "biuro@wodociagi.pl"},
                     headers=coord)  # fmt: skip
    assert r.status_code == 200 and r.json()["email"] == "biuro@wodociagi.pl"

    r = client.post(f"{API}/network/nodes", json={"code": "S2", "name": "Stacja 2",
                                                  "kind": "station"}, headers=coord)  # fmt: skip
    assert r.status_code == 201, r.text
    r = client.post(f"{API}/network/lines", json={"code": "L2", "from_node": "S1",
                                                  "to_node": "S2", "capacity_kw": "60"},
                    headers=coord)  # fmt: skip
    assert r.status_code == 201, r.text
    line = r.json()
    r = client.patch(f"{API}/network/lines/{line['id']}", json={"capacity_kw": "75.5"},
                     headers=coord)  # fmt: skip
    assert r.status_code == 200 and float(r.json()["capacity_kw"]) == 75.5
    network = client.get(f"{API}/network", headers=coord).json()
    assert "S2" in [n["code"] for n in network["nodes"]]

    ppe = make_ppe("5905435", 777)
    r = client.post(f"{API}/all-metering-points", json={"ppe_code": ppe, "member_id": member["id"],
                    "node": "S2", "contracted_power_kw": "40", "pv_kwp": "12"},
                    headers=coord)  # fmt: skip
    assert r.status_code == 201, r.text
    point = r.json()
    assert point["ppe_code"] == ppe and point["node"] == "S2"
    r = client.patch(f"{API}/all-metering-points/{point['id']}", json={"name": "Ujęcie wody"},
                     headers=coord)  # fmt: skip
    assert r.status_code == 200 and r.json()["name"] == "Ujęcie wody"
    r = client.post(f"{API}/all-metering-points/{point['id']}/deactivate", headers=coord)
    assert r.status_code == 200 and r.json()["active"] is False
    r = client.post(f"{API}/members/{member['id']}/deactivate", headers=coord)
    assert r.status_code == 200 and r.json()["active"] is False
    audit = client.get(f"{API}/audit", headers=coord).json()
    assert {"member", "metering_point", "node", "line"} <= {e["entity"] for e in audit}


@pytest.mark.parametrize("login", ["alice", "dso"])
async def test_only_the_coordinator_writes(client: Any, world: World, login: str) -> None:
    headers = token_for(client, login)
    before = client.get(f"{API}/network", headers=headers).json()
    for method, path, body in (
        ("post", "/members", {"name": "X", "kind": "household"}),
        ("patch", "/members/1", {"name": "X"}),
        ("post", "/members/1/deactivate", None),
        (
            "post",
            "/all-metering-points",
            {"ppe_code": "1", "member_id": 1, "node": "S1", "contracted_power_kw": "1"},
        ),
        ("post", "/network/nodes", {"code": "Z", "name": "Z", "kind": "station"}),
        (
            "post",
            "/network/lines",
            {"code": "Z", "from_node": "S1", "to_node": "GPZ", "capacity_kw": "1"},
        ),
    ):
        r = getattr(client, method)(f"{API}{path}", json=body, headers=headers)
        assert r.status_code == 403, (method, path, r.status_code)
    assert client.get(f"{API}/network", headers=headers).json() == before


async def test_bad_input_names_the_field_and_changes_nothing(client: Any, world: World) -> None:
    coord = token_for(client, "coord")
    points_before = client.get(f"{API}/all-metering-points", headers=coord).json()
    network_before = client.get(f"{API}/network", headers=coord).json()
    alice = world.ids["alice"]
    cases = [
        ("/all-metering-points", {"ppe_code": "590543500000000019", "member_id": alice,
                                  "node": "S1", "contracted_power_kw": "5"}, "ppe_code"),
        ("/all-metering-points", {"ppe_code": make_ppe("5905435", 778), "member_id": alice,
                                  "node": "NOPE", "contracted_power_kw": "5"}, "node"),
        ("/network/lines", {"code": "L9", "from_node": "S1", "to_node": "GPZ",
                            "capacity_kw": "-5"}, "capacity_kw"),
        ("/network/lines", {"code": "L1", "from_node": "S1", "to_node": "GPZ",
                            "capacity_kw": "5"}, "code"),
    ]  # fmt: skip
    for path, body, field in cases:
        r = client.post(f"{API}{path}", json=body, headers=coord)
        assert 400 <= r.status_code < 500, (path, body, r.status_code)
        assert r.json()["field"] == field, (path, r.json())
        assert r.json()["message"]
    r = client.post(f"{API}/network/nodes", json={"code": "S3"}, headers=coord)  # name missing
    assert r.status_code == 400 and "name" in r.text
    assert client.get(f"{API}/all-metering-points", headers=coord).json() == points_before
    assert client.get(f"{API}/network", headers=coord).json() == network_before


async def test_coordinator_sets_grid_connection_and_edits_nodes(client: Any, world: World) -> None:
    coord = token_for(client, "coord")
    body = {"node": "GPZ", "import_price": "0.90", "export_price": "0.20",
            "import_limit_kw": "300", "export_limit_kw": "200"}  # fmt: skip
    r = client.put(f"{API}/network/grid-connection", json=body, headers=coord)
    assert r.status_code == 200, r.text
    assert float(r.json()["export_limit_kw"]) == 200
    r = client.put(f"{API}/network/grid-connection", json={**body, "export_price": "0.95"},
                   headers=coord)  # fmt: skip
    assert r.status_code == 422 and r.json()["field"] == "export_price"
    nodes = {n["code"]: n for n in client.get(f"{API}/network", headers=coord).json()["nodes"]}
    r = client.patch(f"{API}/network/nodes/{nodes['S1']['id']}", json={"name": "Stacja Rynek"},
                     headers=coord)  # fmt: skip
    assert r.status_code == 200 and r.json()["name"] == "Stacja Rynek"
    alice = token_for(client, "alice")
    assert client.put(f"{API}/network/grid-connection", json=body, headers=alice).status_code == 403
