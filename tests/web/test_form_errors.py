"""Every form shows every field's error at once (not only the first), in Polish, and stores
nothing: the coordinator's member, metering point, node, line, grid connection, parameters
and fee-rate forms (`market.core.fields.every_error` behind `expect_form(check=...)`)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from market.core.errors import ValidationFailed
from market.core.fields import every_error, text
from tests.support.world import World, htmx_headers, sign_in

pytestmark = pytest.mark.anyio

ERROR = re.compile(r'class="field-error"[^>]*>([^<]+)<')


def test_every_error_finds_each_field_once_and_only_errors() -> None:
    def parse(fields: Any) -> tuple[str, str, int]:
        a = text(fields.get("a"), "a")
        b = text(fields.get("b"), "b", max_len=3)
        if str(fields.get("c")) not in ("1", "2"):
            raise ValidationFailed("c", "must be one of: %(values)s", values="1, 2")
        return a, b, int(str(fields["c"]))

    found = every_error(parse, {"a": "", "b": "toolong", "c": "9"})
    assert [(e.field, e.message_id) for e in found] == [
        ("a", "required"), ("b", "at most %(max_len)s characters"),
        ("c", "must be one of: %(values)s"),
    ]  # fmt: skip
    assert every_error(parse, {"a": "x", "b": "ok", "c": "1"}) == []
    # an error about a field the form did not send ends the search (nothing to stand in for)
    assert [e.field for e in every_error(parse, {"b": "toolong"})] == ["a"]


@pytest.mark.parametrize(
    ("path", "form", "fields"),
    [
        ("/coordinator/members", {"name": "", "kind": "alien", "role": "king", "login": "x",
                                  "password": "short", "email": ""},
         ("name", "kind", "role", "password")),
        ("/coordinator/points", {"ppe_code": "123", "member_id": "abc", "node": "S1",
                                 "contracted_power_kw": "-1", "pv_kwp": "x", "name": "",
                                 "annual_use_kwh": "", "load_profile": "", "technology": "coal"},
         ("ppe_code", "member_id", "contracted_power_kw", "pv_kwp", "technology")),
        ("/coordinator/network/nodes", {"code": "A B", "name": "", "kind": "moon"},
         ("code", "name", "kind")),
        ("/coordinator/network/lines", {"code": "", "from_node": "GPZ", "to_node": "S1",
                                        "capacity_kw": "0", "name": ""},
         ("code", "capacity_kw")),
        ("/coordinator/network/grid", {"node": "GPZ", "import_price": "abc", "export_price": "",
                                       "import_limit_kw": "-5", "export_limit_kw": "x"},
         ("import_price", "export_price", "import_limit_kw", "export_limit_kw")),
        ("/coordinator/parameters", {"name": "", "registry_number": "", "coordinator_name": "",
                                     "gate_closure_minutes": "x", "horizon_intervals": "0",
                                     "price_floor": "a", "price_cap": "b"},
         ("gate_closure_minutes", "horizon_intervals", "price_floor", "price_cap")),
    ],
)  # fmt: skip
async def test_coordinator_forms_show_every_error(
    client: Any, world: World, path: str, form: dict[str, str], fields: tuple[str, ...]
) -> None:
    sign_in(client, "coord")
    before = client.get("/coordinator/audit").text.count("<tr>")
    r = client.post(path, data=form, headers=htmx_headers(client))
    assert r.status_code in (400, 422), (r.status_code, r.text[:500])
    shown = ERROR.findall(r.text)
    assert len(shown) >= len(fields), (path, shown)
    for message in shown:
        assert not re.search(r"\b(must|required|the|at least|between)\b", message), message
    for name in fields:
        assert re.search(rf'name="{name}"[^>]*aria-invalid="true"', r.text) or len(shown) >= len(
            fields
        ), name
    assert client.get("/coordinator/audit").text.count("<tr>") == before  # nothing stored


async def test_standing_order_form_shows_every_error(client: Any, world: World) -> None:
    sign_in(client, "alice")
    form = {"metering_point_id": str(world.ids["alice_point"]), "side": "sell", "mode": "fixed",
            "quantity_kwh": "abc", "price": "x", "weekdays": "1234567", "hour_from": "30",
            "hour_to": "24"}  # fmt: skip
    r = client.post("/my/standing", data=form, headers=htmx_headers(client))
    assert r.status_code in (400, 422)
    shown = ERROR.findall(r.text)
    assert len(shown) >= 3, shown  # quantity, price and the hours, at once


async def test_export_form_shows_both_range_errors_on_the_page(client: Any, world: World) -> None:
    sign_in(client, "dso")
    r = client.get("/distributor/export", params={"start": "czerwiec", "end": "wczoraj"})
    assert r.status_code == 422 and "<html" in r.text  # the page again, not an error page
    shown = ERROR.findall(r.text)
    assert len(shown) == 2, shown
    assert all("czerwiec" in m or "wczoraj" in m for m in shown), shown
    assert 'value="czerwiec"' in r.text and 'value="wczoraj"' in r.text
