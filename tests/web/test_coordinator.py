"""Coordinator pages: edit a member and a metering point (inline rows), add a node."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.world import ALICE_PPE, World, htmx_headers, sign_in, token_for

pytestmark = pytest.mark.anyio


async def test_edit_member_and_point(client: Any, world: World) -> None:
    sign_in(client, "coord")
    alice = world.ids["alice"]
    form = client.get(f"/coordinator/members/{alice}/edit", headers=htmx_headers(client))
    assert form.status_code == 200 and form.text.startswith(f'<tr id="member-{alice}">')
    r = client.post(f"/coordinator/members/{alice}", data={"name": "", "kind": "household"},
                    headers=htmx_headers(client))  # fmt: skip
    assert r.status_code == 422 and "field-error" in r.text
    changed = {"name": "Alicja N.-Kowal", "kind": "household", "show_name": "on"}
    r = client.post(f"/coordinator/members/{alice}", headers=htmx_headers(client), data=changed)
    assert r.status_code == 200 and "Alicja N.-Kowal" in r.text and 'id="members-table"' in r.text

    point = world.ids["alice_point"]
    assert (
        ALICE_PPE
        in client.get(f"/coordinator/points/{point}/edit", headers=htmx_headers(client)).text
    )
    fields = {"name": "Dom", "node": "S1", "contracted_power_kw": "0", "pv_kwp": "8",
              "annual_use_kwh": "3000"}  # fmt: skip
    r = client.post(f"/coordinator/points/{point}", data=fields, headers=htmx_headers(client))
    assert r.status_code == 422 and "field-error" in r.text
    fields["contracted_power_kw"] = "12,5"
    r = client.post(f"/coordinator/points/{point}", data=fields, headers=htmx_headers(client))
    assert r.status_code == 200 and "12,5" in r.text


async def test_one_member_or_point_is_read_alone(
    client: Any, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A member's page and the member and point edit forms read that member or point, not
    the whole list (5,000 rows for one: the member page took ~5 s at that scale)."""
    from market.members import service as member_service

    listed: list[str] = []
    list_members, list_points = member_service.list_members, member_service.list_metering_points

    async def members_spy(*args: Any, **kwargs: Any) -> Any:
        listed.append("members")
        return await list_members(*args, **kwargs)

    async def points_spy(*args: Any, member_id: int | None = None, **kwargs: Any) -> Any:
        if member_id is None:
            listed.append("points")
        return await list_points(*args, member_id=member_id, **kwargs)

    monkeypatch.setattr(member_service, "list_members", members_spy)
    monkeypatch.setattr(member_service, "list_metering_points", points_spy)
    sign_in(client, "coord")
    alice, point = world.ids["alice"], world.ids["alice_point"]
    listed.clear()
    page = client.get(f"/coordinator/members/{alice}")
    assert page.status_code == 200 and ALICE_PPE in page.text
    form = client.get(f"/coordinator/members/{alice}/edit", headers=htmx_headers(client))
    assert form.status_code == 200 and form.text.startswith(f'<tr id="member-{alice}">')
    edit = client.get(f"/coordinator/points/{point}/edit", headers=htmx_headers(client))
    assert edit.status_code == 200 and ALICE_PPE in edit.text
    missing = client.get("/coordinator/members/999999/edit", headers=htmx_headers(client))
    assert missing.status_code == 404
    assert listed == []


async def test_add_node(client: Any, world: World) -> None:
    sign_in(client, "coord")
    data = {"code": "S2", "name": "Stacja 2", "kind": "station"}
    r = client.post("/coordinator/network/nodes", data=data, headers=htmx_headers(client))
    assert r.status_code == 200 and "Stacja 2" in r.text and 'id="nodes-table"' in r.text
    r = client.post("/coordinator/network/nodes", data=data, headers=htmx_headers(client))
    assert r.status_code in (409, 422)
    assert "alert error" in r.text or "field-error" in r.text


async def test_set_the_grid_connection(client: Any, world: World) -> None:
    sign_in(client, "coord")
    page = client.get("/coordinator/network")
    assert page.status_code == 200 and 'id="grid-form"' in page.text
    bad = {"node": "GPZ", "import_price": "0,20", "export_price": "0,80",
           "import_limit_kw": "500", "export_limit_kw": "400"}  # fmt: skip
    r = client.post("/coordinator/network/grid", data=bad, headers=htmx_headers(client))
    assert r.status_code == 422 and ("field-error" in r.text or "alert error" in r.text)
    good = {**bad, "import_price": "0,95", "export_price": "0,25", "import_limit_kw": "250"}
    r = client.post("/coordinator/network/grid", data=good, headers=htmx_headers(client))
    assert r.status_code == 200 and 'role="status"' in r.text
    assert "0,9500" in r.text and "250" in r.text  # the new values, shown and in the form
    network = client.get("/api/v1/network", headers=token_for(client, "coord")).json()
    (conn,) = network["grid_connections"]
    assert float(conn["import_price"]) == 0.95 and float(conn["import_limit_kw"]) == 250


async def test_long_tables_are_paged_and_searched(
    client: Any, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The members' and points' tables show `PAGE_ROWS` rows a page with links either side,
    a search (case and accents ignored), and a row's deactivation answers with the page the
    browser shows (htmx's HX-Current-URL)."""
    import web.pages.coordinator as pages

    monkeypatch.setattr(pages, "PAGE_ROWS", 2)
    sign_in(client, "coord")
    first = client.get("/coordinator/members").text
    assert 'data-pager="1/2"' in first and "Wiersze 1–2 z 4" in first
    assert "Alicja Nowak" in first and "Bogdan Kowal" in first
    assert first.count('<tr id="member-') == 2
    assert 'href="/coordinator/members?page=2" rel="next"' in first and 'rel="prev"' not in first
    second = client.get("/coordinator/members?page=2").text
    assert "Koordynator</a></td>" in second and "PGE Dystrybucja" in second
    assert second.count('<tr id="member-') == 2 and "Alicja" not in second
    assert 'href="/coordinator/members?page=1" rel="prev"' in second
    assert 'data-pager="2/2"' in client.get("/coordinator/members?page=99").text  # clamped
    found = client.get("/coordinator/members", params={"q": " NOWAK "}).text
    assert "Alicja Nowak" in found and "Bogdan" not in found and 'data-pager="1/1"' in found
    assert 'value="NOWAK"' in found
    assert client.get("/coordinator/members?page=abc").status_code == 400

    headers = htmx_headers(client) | {"HX-Current-URL": "http://t/coordinator/members?page=2"}
    r = client.post(f"/coordinator/members/{world.ids['bob']}/deactivate", headers=headers)
    assert r.status_code == 200 and 'data-pager="2/2"' in r.text
    assert "Koordynator</a></td>" in r.text

    points = client.get("/coordinator/points", params={"q": ALICE_PPE.lower()}).text
    assert ALICE_PPE in points and 'data-pager="1/1"' in points and "Wiersze 1–1 z 1" in points


def test_search_ignores_case_and_polish_accents() -> None:
    from web.pages.coordinator import fold

    assert fold(" Łukasz ŻÓŁĆ Gęślą ") == "lukasz zolc gesla"
