from __future__ import annotations

import re
from typing import Any

import pytest

from tests.support.world import BOB_PPE, World, htmx_headers, sign_in

pytestmark = pytest.mark.anyio


def _open_interval_id(client: Any) -> str:
    page = client.get("/my")
    match = re.search(
        r'<select id="of-interval" name="interval_id"[^>]*>\s*<option value="(\d+)"', page.text
    )
    assert match, page.text[:2000]
    return match.group(1)


async def test_sign_in_and_my_market_page(client: Any, world: World) -> None:
    r = sign_in(client, "alice")
    assert r.status_code == 200 and str(r.url).endswith("/my")
    assert "Mój rynek" in r.text  # Polish by default
    assert "590543500000000018" in r.text and BOB_PPE not in r.text  # only my points
    assert 'data-countdown="2026-06-15T' in r.text


async def test_place_order_htmx_returns_form_and_oob_orders(client: Any, world: World) -> None:
    sign_in(client, "alice")
    interval_id = _open_interval_id(client)
    form = {"interval_id": interval_id, "metering_point_id": str(world.ids["alice_point"]),
            "side": "sell", "quantity_kwh": "1,5", "price": "0,45",
            "client_order_id": "abc-1"}  # fmt: skip
    r = client.post("/my/orders", data=form, headers=htmx_headers(client))
    assert r.status_code == 200
    assert r.text.lstrip().startswith('<form id="order-form"')  # a fragment, not a page
    assert "<html" not in r.text
    assert 'id="my-orders"' in r.text and 'hx-swap-oob="true"' in r.text
    assert "1,500" in r.text and "0,4500" in r.text  # decimal comma
    # Same client order id again: the same order, not a duplicate.
    r2 = client.post("/my/orders", data=form, headers=htmx_headers(client))
    assert r2.status_code == 200
    orders = client.get("/my/orders", headers=htmx_headers(client))
    assert orders.text.count('id="order-') == 1


async def test_invalid_order_re_renders_form_with_field_error_422(
    client: Any, world: World
) -> None:
    sign_in(client, "alice")
    interval_id = _open_interval_id(client)
    form = {"interval_id": interval_id, "metering_point_id": str(world.ids["alice_point"]),
            "side": "buy", "quantity_kwh": "500", "price": "0,5"}  # fmt: skip
    r = client.post("/my/orders", data=form, headers=htmx_headers(client))
    assert r.status_code == 422
    assert 'id="of-qty" name="quantity_kwh"' in r.text and 'aria-invalid="true"' in r.text
    assert 'id="of-qty-err"' in r.text
    assert 'value="500"' in r.text  # what was typed stays
    bad_price = {**form, "quantity_kwh": "1", "price": "5"}
    r = client.post("/my/orders", data=bad_price, headers=htmx_headers(client))
    assert r.status_code == 422 and 'id="of-price-err"' in r.text
    orders = client.get("/my/orders", headers=htmx_headers(client))
    assert 'id="order-' not in orders.text  # nothing was stored


async def test_cannot_order_on_someone_elses_point(client: Any, world: World) -> None:
    sign_in(client, "alice")
    interval_id = _open_interval_id(client)
    form = {"interval_id": interval_id, "metering_point_id": str(world.ids["bob_point"]),
            "side": "buy", "quantity_kwh": "1", "price": "0,5"}  # fmt: skip
    r = client.post("/my/orders", data=form, headers=htmx_headers(client))
    assert r.status_code in (403, 404, 422)
    assert 'id="order-' not in (client.get("/my/orders", headers=htmx_headers(client))).text


async def test_cancel_and_modify_order(client: Any, world: World) -> None:
    sign_in(client, "alice")
    interval_id = _open_interval_id(client)
    form = {"interval_id": interval_id, "metering_point_id": str(world.ids["alice_point"]),
            "side": "sell", "quantity_kwh": "2", "price": "0,40"}  # fmt: skip
    client.post("/my/orders", data=form, headers=htmx_headers(client))
    order_id = re.search(r'id="order-(\d+)"', (client.get("/my/orders")).text).group(1)
    r = client.post(
        f"/my/orders/{order_id}",
        data={"quantity_kwh": "1,25", "price": "0,41"},
        headers=htmx_headers(client),
    )
    assert r.status_code == 200 and "1,250" in r.text and "0,4100" in r.text
    r = client.post(
        f"/my/orders/{order_id}",
        data={"quantity_kwh": "-1", "price": "0,41"},
        headers=htmx_headers(client),
    )
    assert r.status_code == 422 and "field-error" in r.text
    r = client.post(f"/my/orders/{order_id}/cancel", headers=htmx_headers(client))
    assert r.status_code == 200 and "anulowane" in r.text


async def test_csrf_is_required_for_state_changes(client: Any, world: World) -> None:
    sign_in(client, "alice")
    interval_id = _open_interval_id(client)
    form = {"interval_id": interval_id, "metering_point_id": str(world.ids["alice_point"]),
            "side": "sell", "quantity_kwh": "1", "price": "0,45"}  # fmt: skip
    r = client.post("/my/orders", data=form, headers={"HX-Request": "true"})
    assert r.status_code == 403
    r = client.post(
        "/my/orders", data=form, headers={"HX-Request": "true", "x-csrftoken": "forged"}
    )
    assert r.status_code == 403 and "Odśwież stronę" in r.text
    assert 'id="order-' not in (client.get("/my/orders")).text


async def test_standing_orders_create_pause_delete(client: Any, world: World) -> None:
    sign_in(client, "alice")
    form = {"metering_point_id": str(world.ids["alice_point"]), "side": "sell", "mode": "fixed",
            "quantity_kwh": "0,5", "price": "0,35", "weekdays": "1234567",
            "hour_from": "0", "hour_to": "24"}  # fmt: skip
    r = client.post("/my/standing", data=form, headers=htmx_headers(client))
    assert r.status_code == 200 and 'id="my-standing"' in r.text
    rule_id = re.search(r'id="standing-(\d+)"', r.text).group(1)
    r = client.post(f"/my/standing/{rule_id}/pause", headers=htmx_headers(client))
    assert r.status_code == 200 and "wstrzymane" in r.text
    r = client.post(f"/my/standing/{rule_id}/delete", headers=htmx_headers(client))
    assert r.status_code == 200 and f'id="standing-{rule_id}"' not in r.text
    bad = {**form, "hour_from": "25"}
    r = client.post("/my/standing", data=bad, headers=htmx_headers(client))
    assert r.status_code == 422 and "field-error" in r.text
