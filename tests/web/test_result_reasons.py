"""A result page says in words why the interval cleared at its price, from the stored result;
the solver's status is a footnote, never an error box."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.support.world import World, htmx_headers, sign_in, tick

pytestmark = pytest.mark.anyio


def _place(client: Any, world: World, who: str, side: str, qty: str, price: str) -> str:
    page = client.get("/my").text
    interval_id = re.search(r'name="interval_id"[^>]*>\s*<option value="(\d+)"', page).group(1)
    form = {"interval_id": interval_id, "side": side, "quantity_kwh": qty, "price": price,
            "metering_point_id": str(world.ids[f"{who}_point"])}  # fmt: skip
    assert client.post("/my/orders", data=form, headers=htmx_headers(client)).status_code == 200
    return interval_id


async def test_result_page_explains_the_price_without_an_error_box(
    client: Any, world: World
) -> None:
    sign_in(client, "alice")
    interval_id = _place(client, world, "alice", "sell", "2", "0,40")
    client.post("/logout", headers=htmx_headers(client))
    sign_in(client, "bob")
    _place(client, world, "bob", "buy", "1,5", "0,60")
    world.clock.advance(minutes=30)
    tick(client)
    r = client.get(f"/results/{interval_id}")
    assert r.status_code == 200
    assert '<p class="alert error">' not in r.text
    why = re.search(r'<section class="card why".*?</section>', r.text, re.S)
    assert why, r.text[:3000]
    text = why.group(0)
    assert "Skąd ta cena" in text and "GLOP" not in text
    # Alicja's offer (2 kWh at 0,40) was the marginal one: Bob took 1,5 kWh of it
    assert "oferta sprzedaży 2,000 kWh po 0,4000 zł/kWh: została przyjęta częściowo" in text
