"""The small things of issue 16: no live badge for anonymous visitors, a "sign in again" note
ready on signed-in pages, an order confirmation that says what was placed, a warning when a
member both buys and sells in one interval, no "−0,00 zł", countdowns never in raw seconds,
checkboxes next to their labels."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.support.world import World, htmx_headers, sign_in, tick
from web.ui.formatting import countdown

pytestmark = pytest.mark.anyio


def _order(client: Any, world: World, side: str, qty: str, price: str) -> Any:
    page = client.get("/my").text
    interval_id = re.search(r'name="interval_id"[^>]*>\s*<option value="(\d+)"', page).group(1)
    form = {"interval_id": interval_id, "metering_point_id": str(world.ids["alice_point"]),
            "side": side, "quantity_kwh": qty, "price": price}  # fmt: skip
    r = client.post("/my/orders", data=form, headers=htmx_headers(client))
    assert r.status_code == 200, r.text[:500]
    return r


async def test_login_page_has_no_live_badge_and_pages_can_say_sign_in_again(
    client: Any, world: World
) -> None:
    assert 'id="live-status"' not in client.get("/login").text
    sign_in(client, "alice")
    page = client.get("/my").text
    assert 'id="live-status"' in page
    note = re.search(r'<p id="session-ended"[^>]*>.*?</p>', page, re.S).group(0)
    assert " hidden" in note and "Zaloguj się ponownie" in note and 'href="/login?next=' in note


async def test_order_confirmation_says_what_was_placed(client: Any, world: World) -> None:
    sign_in(client, "alice")
    r = _order(client, world, "sell", "1,5", "0,45")
    ok = re.search(r'<p class="alert ok" role="status">(.*?)</p>', r.text, re.S).group(1)
    assert ok.startswith("Złożono ofertę sprzedaży: 1,500 kWh za co najmniej 0,4500\u00a0zł/kWh")
    assert "dostawa 15.06.2026 12:" in ok and "(zlecenie " in ok
    assert "alert warn" not in r.text


async def test_buying_and_selling_in_one_interval_is_allowed_with_a_warning(
    client: Any, world: World
) -> None:
    sign_in(client, "alice")
    _order(client, world, "sell", "1", "0,45")
    r = _order(client, world, "buy", "1", "0,30")
    assert "Złożono ofertę kupna: 1,000 kWh za najwyżej 0,3000" in r.text
    assert 'class="alert warn"' in r.text and "odkupisz wtedy własną energię" in r.text
    orders = client.get("/my/orders", headers=htmx_headers(client)).text
    assert orders.count('id="order-') == 2  # both stored


async def test_statement_never_shows_minus_zero(client: Any, world: World) -> None:
    sign_in(client, "alice")
    _order(client, world, "sell", "1", "0,45")
    world.clock.advance(minutes=30)
    tick(client)  # one cleared interval: a statement with nothing sold to the grid
    page = client.get("/statement?month=2026-06").text
    assert "Sprzedano do sieci" in page or "Sold to the grid" in page or "sieci" in page
    assert 'class="card empty-state"' not in page
    assert "−0,00" not in page and "-0,00" not in page


async def test_countdowns_render_as_minutes_and_seconds(client: Any, world: World) -> None:
    assert countdown(600) == "10:00" and countdown(65.4) == "1:05" and countdown(3725) == "1:02:05"
    sign_in(client, "alice")
    page = client.get("/my").text
    spans = re.findall(r'<span class="countdown"[^>]*>([^<]*)</span>', page)
    assert spans and all(re.fullmatch(r"\d+:\d\d(:\d\d)?", s) for s in spans), spans


async def test_distributor_checkboxes_sit_in_their_labels(client: Any, world: World) -> None:
    sign_in(client, "dso")
    page = client.get("/distributor").text
    for name in ("decimal_comma", "plain", "skip_bad_rows"):
        assert f'<label class="check"><input type="checkbox" name="{name}"' in page


async def test_my_fills_are_signed_and_today_splits_revenue_and_cost(
    client: Any, world: World
) -> None:
    sign_in(client, "alice")
    _order(client, world, "sell", "2", "0,40")
    client.post("/logout", headers=htmx_headers(client))
    sign_in(client, "bob")
    page = client.get("/my").text
    interval_id = re.search(r'name="interval_id"[^>]*>\s*<option value="(\d+)"', page).group(1)
    form = {"interval_id": interval_id, "metering_point_id": str(world.ids["bob_point"]),
            "side": "buy", "quantity_kwh": "1,5", "price": "0,60"}  # fmt: skip
    assert client.post("/my/orders", data=form, headers=htmx_headers(client)).status_code == 200
    world.clock.advance(minutes=30)
    tick(client)
    bob = client.get("/my/fills", headers=htmx_headers(client)).text
    assert "−0,60\u00a0zł" in bob and "Koszt zakupów dziś" in bob
    client.post("/logout", headers=htmx_headers(client))
    sign_in(client, "alice")
    alice = client.get("/my").text
    fills = re.search(r'<div id="my-fills".*?</table>', alice, re.S).group(0)
    assert re.search(r'class="num amount income"[^>]*>\+0,60\u00a0zł</td>', fills), fills
    revenue = re.search(r"Przychód ze sprzedaży dziś</dt><dd[^>]*>([^<]*)</dd>", fills).group(1)
    assert revenue == "+0,60\u00a0zł"


async def test_order_form_suggests_prices_from_the_book_and_the_node_history(
    client: Any, world: World
) -> None:
    sign_in(client, "alice")
    hint = re.search(r'<div id="price-hint".*?</div>', client.get("/my").text, re.S).group(0)
    assert "W tym okresie nie ma jeszcze zleceń" in hint and "Ostatnie ceny" not in hint
    r = _order(client, world, "sell", "2", "0,40")
    hint = re.search(r'<div id="price-hint".*?</div>', r.text, re.S).group(0)
    assert "najniższa oferta sprzedaży 0,4000\u00a0zł/kWh" in hint
    world.clock.advance(minutes=30)
    tick(client)
    point = world.ids["alice_point"]
    r = client.get(f"/my/price-hint?metering_point_id={point}", headers=htmx_headers(client))
    assert r.status_code == 200 and "Ostatnie ceny w węźle" in r.text
    assert re.search(r"12:\d\d–12:\d\d <strong>0,\d{4}</strong>", r.text), r.text


async def test_notifications_say_how_orders_ended_and_warn_before_an_empty_gate(
    client: Any, world: World
) -> None:
    sign_in(client, "alice")
    page = client.get("/my").text
    notices = re.search(r'<section id="my-notices".*?</section>', page, re.S).group(0)
    assert "Bramka dla okresu" in notices and "nie masz w nim żadnego zlecenia" in notices
    _order(client, world, "sell", "2", "0,40")  # the next gate now has an order of mine
    _order(client, world, "buy", "0,5", "0,25")  # and a bid priced too low
    r = client.get("/my/notifications?latest=true", headers=htmx_headers(client))
    assert "Bramka dla okresu" not in r.text
    client.post("/logout", headers=htmx_headers(client))
    sign_in(client, "bob")
    page = client.get("/my").text
    interval_id = re.search(r'name="interval_id"[^>]*>\s*<option value="(\d+)"', page).group(1)
    form = {"interval_id": interval_id, "metering_point_id": str(world.ids["bob_point"]),
            "side": "buy", "quantity_kwh": "1,5", "price": "0,60"}  # fmt: skip
    client.post("/my/orders", data=form, headers=htmx_headers(client))
    world.clock.advance(minutes=30)
    tick(client)
    client.post("/logout", headers=htmx_headers(client))
    sign_in(client, "alice")
    r = client.get("/my/notifications")
    assert r.status_code == 200 and "<html" in r.text
    assert "Twoja oferta sprzedaży na 15.06.2026 12:" in r.text
    assert "została przyjęta częściowo: 1,500 z 2,000 kWh po 0,4000\u00a0zł/kWh" in r.text
    assert "Twoja oferta kupna na 15.06.2026 12:" in r.text
    assert "nie została przyjęta: cena wyniosła 0,4000\u00a0zł/kWh, Twój limit to 0,2500" in r.text


async def test_forms_show_every_error_not_only_the_first(client: Any, world: World) -> None:
    sign_in(client, "alice")
    form = {"interval_id": "", "metering_point_id": str(world.ids["alice_point"]),
            "side": "sell", "quantity_kwh": "dużo", "price": "-"}  # fmt: skip
    r = client.post("/my/orders", data=form, headers=htmx_headers(client))
    assert r.status_code == 422
    assert 'id="of-qty-err"' in r.text and 'id="of-price-err"' in r.text
    assert r.text.count('aria-invalid="true"') >= 3  # the interval too
    assert 'value="dużo"' in r.text  # what was typed stays
    r = _order(client, world, "sell", "1", "0,45")
    order_id = re.search(r'id="order-(\d+)"', client.get("/my/orders").text).group(1)
    r = client.post(f"/my/orders/{order_id}", data={"quantity_kwh": "-1", "price": "abc"},
                    headers=htmx_headers(client))  # fmt: skip
    assert r.status_code == 422 and r.text.count('class="field-error"') == 2
    assert 'id="order-' not in client.get("/my/orders").text.replace(f'id="order-{order_id}"', "")


@pytest.mark.parametrize("interval_id", ["²", "٣", "1" * 30, "-1", "0"])
async def test_price_hint_takes_any_interval_query_without_a_500(
    client: Any, world: World, interval_id: str
) -> None:
    """Found from outside: "²".isdigit() is true but int("²") fails, so the hint gave a 500."""
    sign_in(client, "alice")
    point = world.ids["alice_point"]
    r = client.get(
        f"/my/price-hint?interval_id={interval_id}&metering_point_id={point}",
        headers=htmx_headers(client),
    )
    if interval_id == "1" * 30:  # the input guard refuses an overlong number, by name
        assert r.status_code == 422 and "interval_id" in r.text
    else:  # not an interval of the form: the hint for the point's next interval
        assert r.status_code == 200 and "zleceń" in r.text, r.text
