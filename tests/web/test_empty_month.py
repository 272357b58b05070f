"""A month with no cleared interval is an empty state that says what will appear and when, on
the statement, the report and the export — not an error page; the statement CSV speaks the
page's language."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.world import World, sign_in

pytestmark = pytest.mark.anyio


async def test_statement_of_an_empty_month_is_an_empty_state(client: Any, world: World) -> None:
    sign_in(client, "alice")
    r = client.get("/statement?month=2020-01")
    assert r.status_code == 200, r.text[:500]
    assert "empty-state" in r.text and "Za styczeń 2020 nie ma jeszcze nic do rozliczenia" in r.text
    assert "Błąd" not in r.text and "UTC" not in r.text


async def test_statement_csv_of_an_empty_month_has_polish_columns(
    client: Any, world: World
) -> None:
    sign_in(client, "alice")
    r = client.get("/statement/csv?month=2020-01")
    assert r.status_code == 200
    lines = r.content.decode("utf-8-sig").splitlines()
    assert lines[0] == "Członek;Okres;Pozycja;Jednostka;Wartość"
    assert "2020-01;Kupiono na aukcjach śróddziennych;kWh;0,000" in lines[1]
    assert any(";Razem za miesiąc;zł;0,00" in line for line in lines)
    client.cookies.set("lang", "en")
    r = client.get("/statement/csv?month=2020-01")
    assert r.content.decode("utf-8-sig").splitlines()[0] == "member;period;item;unit;value"


async def test_report_of_an_empty_range_is_an_empty_state(client: Any, world: World) -> None:
    sign_in(client, "coord")
    r = client.get("/reports?start=2020-01")
    assert r.status_code == 200, r.text[:500]
    assert "W tym zakresie nie ma jeszcze wyników" in r.text and 'id="report"' in r.text


async def test_export_of_an_empty_month_is_an_empty_state(client: Any, world: World) -> None:
    sign_in(client, "dso")
    r = client.get("/distributor/export?start=2020-01&format=csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "nie ma jeszcze czego eksportować" in r.text and "Błąd" not in r.text


async def test_statement_splits_sales_revenue_from_purchase_cost(client: Any, world: World) -> None:
    """Alicja sells 1,5 kWh to Bogdan: her statement shows sales revenue, his purchase cost;
    each reconciles with the net local amount."""
    import re

    from tests.support.world import htmx_headers, tick

    def place(who: str, side: str, qty: str, price: str) -> None:
        sign_in(client, who)
        page = client.get("/my").text
        iv = re.search(r'name="interval_id"[^>]*>\s*<option value="(\d+)"', page).group(1)
        form = {"interval_id": iv, "metering_point_id": str(world.ids[f"{who}_point"]),
                "side": side, "quantity_kwh": qty, "price": price}  # fmt: skip
        assert client.post("/my/orders", data=form, headers=htmx_headers(client)).status_code == 200
        client.post("/logout", headers=htmx_headers(client))

    place("alice", "sell", "2", "0,40")
    place("bob", "buy", "1,5", "0,60")
    world.clock.advance(minutes=30)
    tick(client)
    sign_in(client, "alice")
    rows = dict(
        line.split(";")[2:5:2]
        for line in client.get("/statement/csv?month=2026-06")
        .content.decode("utf-8-sig")
        .splitlines()[1:]
    )
    assert rows["Przychód ze sprzedaży na aukcjach śróddziennych"] == "0,60"  # 1,5 kWh × 0,40
    assert rows["Koszt zakupów na aukcjach śróddziennych"] == "0,00"
    assert rows["Kwota za aukcje śróddzienne"] == "-0,60"
    page = client.get("/statement?month=2026-06").text
    assert "przychód ze sprzedaży" in page and "−0,60" in page


async def test_statement_by_day_and_a_day_by_interval(client: Any, world: World) -> None:
    """The prosumer's own view: the month day by day (cost, revenue, net) and one day interval
    by interval, traded next to metered (– until meter data arrives)."""
    import re

    from tests.support.world import htmx_headers, tick

    sign_in(client, "alice")
    page = client.get("/my").text
    iv = re.search(r'name="interval_id"[^>]*>\s*<option value="(\d+)"', page).group(1)
    form = {"interval_id": iv, "metering_point_id": str(world.ids["alice_point"]),
            "side": "sell", "quantity_kwh": "2", "price": "0,40"}  # fmt: skip
    client.post("/my/orders", data=form, headers=htmx_headers(client))
    client.post("/logout", headers=htmx_headers(client))
    sign_in(client, "bob")
    form = {**form, "metering_point_id": str(world.ids["bob_point"]), "side": "buy",
            "quantity_kwh": "1,5", "price": "0,60"}  # fmt: skip
    client.post("/my/orders", data=form, headers=htmx_headers(client))
    world.clock.advance(minutes=30)
    tick(client)
    client.post("/logout", headers=htmx_headers(client))
    sign_in(client, "alice")
    month = client.get("/statement?month=2026-06").text
    assert "Dzień po dniu w klastrze" in month and 'href="/statement/day?day=2026-06-15"' in month
    assert "+0,60\u00a0zł" in month
    day = client.get("/statement/day?day=2026-06-15")
    assert day.status_code == 200
    row = re.search(r"<tbody>\s*<tr>(.*?)</tr>", day.text, re.S).group(1)
    cells = re.findall(r">([^<>]*)</td>", row)
    assert cells[0].startswith("12:") and cells[1] == "–" and cells[2] == "–"  # no meter data
    assert (
        cells[3] == "0,000"
        and cells[4] == "1,500"
        and cells[6] == "0,000"
        and cells[9] == "+0,60\u00a0zł"
    )
    empty = client.get("/statement/day?day=2020-01-01")
    assert empty.status_code == 200 and "Tego dnia nic jeszcze nie rozliczono" in empty.text
    assert client.get("/statement/day?day=nonsense").status_code == 422
