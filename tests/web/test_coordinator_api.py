"""The coordinator's writes through /api/v1 (what the coordinator pages do): members,
metering points, nodes and lines. Only the coordinator may; bad input is a 4xx naming the
field and changes nothing."""

from __future__ import annotations

import re
from decimal import Decimal
from html import unescape
from typing import Any

import pytest

from market.core.errors import Param, render_message
from market.members.ppe import check_digit, make_ppe
from tests.support.world import World, htmx_headers, sign_in, token_for
from web.ui import i18n

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


def _inline_error(html: str) -> tuple[str, str]:
    """(field, text) of the form's inline error: the field is the last input named before
    the error paragraph."""
    match = re.search(r'class="field-error">([^<]*)</p>', html)
    assert match, html
    names = re.findall(r'name="(\w+)"', html[: match.start()])
    return names[-1], unescape(match.group(1))


def _shown(message_id: str, params: dict[str, Param], locale: str) -> str:
    """What the page should show for a market message: its text for the reader by id (the
    English text until pages translate by id)."""
    translate = getattr(i18n, "translate_message", None)
    if translate is None:
        return render_message(message_id, params)
    return str(translate(message_id, params, locale, "Europe/Warsaw"))


async def test_page_and_api_give_the_same_field_and_message_id(client: Any, world: World) -> None:
    """The page's form and the API parse a value with one parser and call one service, so
    a bad value gets the same field and message id from both (the page in Polish)."""
    bad_ppe = "590543500000000019"
    cases: list[tuple[str, str, dict[str, Any], str, str, dict[str, Param]]] = [
        ("/coordinator/network/lines", "/network/lines",
         {"code": "L9", "from_node": "S1", "to_node": "GPZ", "capacity_kw": "-5"},
         "capacity_kw", "must be greater than %(bound)s %(unit)s",
         {"bound": Decimal(0), "unit": "kW"}),
        ("/coordinator/network/lines", "/network/lines",
         {"code": "L9", "from_node": "NOPE", "to_node": "GPZ", "capacity_kw": "5"},
         "from_node", "unknown node %(node)s; use a node code of the network",
         {"node": "NOPE"}),
        ("/coordinator/points", "/all-metering-points",
         {"ppe_code": bad_ppe, "member_id": world.ids["alice"], "node": "S1",
          "contracted_power_kw": "5"},
         "ppe_code", "invalid check digit: the last digit should be %(expected)s (GS1 mod 10); "
         "check the code on the bill", {"expected": check_digit(bad_ppe[:17])}),
        ("/coordinator/members", "/members",
         {"name": "Druga Alicja", "kind": "household", "login": "alice",
          "password": "long enough"},
         "login", "login %(login)s is taken; choose another", {"login": "alice"}),
    ]  # fmt: skip
    api = token_for(client, "coord")
    sign_in(client, "coord")
    shown: dict[str, str] = {}
    for page_path, api_path, body, field, message_id, params in cases:
        r = client.post(f"{API}{api_path}", json=body, headers=api)
        assert r.status_code in (409, 422), (api_path, r.text)
        error = r.json()
        assert error["field"] == field, error
        assert error["message"] == render_message(message_id, params)
        if "message_id" in error:
            assert error["message_id"] == message_id, error
        form = {k: str(v) for k, v in body.items()}
        r = client.post(page_path, data=form, headers=htmx_headers(client))
        assert r.status_code == error_status(error), (page_path, r.text)
        assert _inline_error(r.text) == (field, _shown(message_id, params, "pl"))
        shown[field] = _inline_error(r.text)[1]
    if hasattr(i18n, "translate_message"):  # pages translate by id: the text is Polish
        assert shown["capacity_kw"] == "musi być większa od 0 kW"
        assert shown["ppe_code"].startswith("błędna cyfra kontrolna: ostatnia cyfra powinna być 8")
        assert shown["login"] == "login „alice” jest zajęty; wybierz inny"


def error_status(error: dict[str, Any]) -> int:
    return 409 if error["error"] == "Conflict" else 422
