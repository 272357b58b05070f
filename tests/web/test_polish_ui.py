"""What a Polish reader meets: the audit log in words, Polish plural forms, members in Polish
alphabetical order, a line capacity that cannot be emptied or set to 0."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.support.world import World, htmx_headers, sign_in, tick
from web.ui.formatting import polish_sort_key
from web.ui.i18n import ngettext

pytestmark = pytest.mark.anyio


def test_polish_collation_puts_l_stroke_after_l() -> None:
    names = ["Zofia", "Łukasz", "Lucyna", "adam", "Ćwik", "Cezary", "Śliwa", "Szymon", "Żaneta"]
    assert sorted(names, key=polish_sort_key) == [
        "adam", "Cezary", "Ćwik", "Lucyna", "Łukasz", "Szymon", "Śliwa", "Zofia", "Żaneta",
    ]  # fmt: skip


def test_meter_import_counts_take_polish_plural_forms() -> None:
    def imported(n: int) -> str:
        return ngettext("Imported %(num)s reading (rows with data: %(rows)s).",
                        "Imported %(num)s readings (rows with data: %(rows)s).", n, "pl",
                        rows=n)  # fmt: skip

    assert imported(1).startswith("Zaimportowano 1 odczyt ")
    assert imported(4).startswith("Zaimportowano 4 odczyty ")
    assert imported(12).startswith("Zaimportowano 12 odczytów ")
    assert imported(22).startswith("Zaimportowano 22 odczyty ")


def _line_id(client: Any) -> str:
    page = client.get("/coordinator/network").text
    return re.search(r'hx-post="/coordinator/network/lines/(\d+)"', page).group(1)


async def test_line_capacity_blank_or_zero_is_refused(client: Any, world: World) -> None:
    sign_in(client, "coord")
    line_id = _line_id(client)
    for value, words in (("0", "musi być większa od 0 kW"), ("", "podaj przepustowość linii")):
        r = client.post(f"/coordinator/network/lines/{line_id}", data={"capacity_kw": value},
                        headers=htmx_headers(client))  # fmt: skip
        assert r.status_code == 422, (value, r.status_code)
        assert words in r.text, r.text[:800]
    page = client.get("/coordinator/network").text
    assert f'id="cap-{line_id}" name="capacity_kw" inputmode="decimal" value="100,0"' in page


async def test_audit_log_speaks_polish(client: Any, world: World) -> None:
    sign_in(client, "coord")
    line_id = _line_id(client)
    r = client.post(f"/coordinator/network/lines/{line_id}", data={"capacity_kw": "120"},
                    headers=htmx_headers(client))  # fmt: skip
    assert r.status_code == 200
    audit = client.get("/coordinator/audit").text
    row = re.search(r"<tr><td>[^<]*</td><td>[^<]*</td><td>zmieniono</td><td>linia #\d+</td>", audit)
    assert row, audit[-3000:]
    assert ">update<" not in audit and ">line #" not in audit


async def test_audit_log_filters_by_record(client: Any, world: World) -> None:
    sign_in(client, "coord")
    line_id = _line_id(client)
    client.post(f"/coordinator/network/lines/{line_id}", data={"capacity_kw": "90"},
                headers=htmx_headers(client))  # fmt: skip
    sign_in(client, "alice")
    page = client.get("/my").text
    iv = re.search(r'name="interval_id"[^>]*>\s*<option value="(\d+)"', page).group(1)
    client.post("/my/orders", data={"interval_id": iv, "side": "sell", "quantity_kwh": "1",
                "price": "0,45", "metering_point_id": str(world.ids["alice_point"])},
                headers=htmx_headers(client))  # fmt: skip
    sign_in(client, "coord")
    lines = client.get("/coordinator/audit?entity=line").text
    assert "linia #" in lines and "zlecenie #" not in lines
    assert '<option value="line" selected>linia</option>' in lines
    orders = client.get("/coordinator/audit?entity=order").text
    assert "zlecenie #" in orders and "linia #" not in orders
    one = client.get(f"/coordinator/audit?entity=line&entity_id={line_id}").text
    assert f"linia #{line_id}" in one
    assert client.get("/coordinator/audit?entity=nonsense").status_code == 200  # all entries


async def test_coordinator_member_detail_page(client: Any, world: World) -> None:
    sign_in(client, "coord")
    alice = world.ids["alice"]
    assert f'href="/coordinator/members/{alice}"' in client.get("/coordinator/members").text
    r = client.get(f"/coordinator/members/{alice}")
    assert r.status_code == 200
    assert "590543500000000018" in r.text  # her metering point
    assert "W tym miesiącu nic jeszcze nie rozliczono." in r.text
    assert re.search(rf'href="/statement\?month=\d{{4}}-\d\d&amp;member={alice}"', r.text)
    assert 'id="audit-h"' in r.text
    assert client.get("/coordinator/members/999999").status_code == 404
    sign_in(client, "alice")
    assert client.get(f"/coordinator/members/{alice}").status_code in (403, 404)


async def test_audit_details_are_words_not_codes(client: Any, world: World) -> None:
    """The details' keys and codes in the reader's language, numbers with a decimal comma; the
    solver's status only once (not again as its own 'GLOP: optimal'); hashes and process
    names as code."""
    sign_in(client, "alice")
    form = {"metering_point_id": str(world.ids["alice_point"]), "side": "sell", "mode": "fixed",
            "quantity_kwh": "0,5", "price": "0,41", "weekdays": "1234567", "hour_from": "20",
            "hour_to": "22"}  # fmt: skip
    assert client.post("/my/standing", data=form, headers=htmx_headers(client)).status_code == 200
    page = client.get("/my").text
    iv = re.search(r'name="interval_id"[^>]*>\s*<option value="(\d+)"', page).group(1)
    client.post("/my/orders", data={"interval_id": iv, "side": "sell", "quantity_kwh": "1,5",
                "price": "0,45", "metering_point_id": str(world.ids["alice_point"])},
                headers=htmx_headers(client))  # fmt: skip
    world.clock.advance(minutes=30)
    tick(client)
    sign_in(client, "coord")
    audit = client.get("/coordinator/audit").text
    assert "ilość: stała" in audit and "dni: codziennie" in audit, audit[-4000:]
    assert "od godziny: 20, do godziny: 22" in audit
    assert "ilość (kWh): 1,5" in audit
    assert "status: optymalne" in audit
    for code in ("GLOP", "mode:", "fixed", "hour_from", "weekdays", "valid_to", ": None"):
        assert code not in audit, code
    assert re.search(r"skrót wyniku: <code>[0-9a-f]{12}</code>", audit)
