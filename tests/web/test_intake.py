"""Group commit of API orders: a batch gives what one-by-one placement gives."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest

from market.access.actor import Actor
from market.core.errors import Forbidden, KlasterError, OrderRejected
from market.trading.book import OrderView
from market.trading.order_input import parse_order
from tests.support.world import World, run_in_app

pytestmark = pytest.mark.anyio


async def first_open(world: World) -> int:
    from market.trading import intervals

    async with world.db.session() as s:
        view = await intervals.list_intervals(s, world.clock)
    return next(iv.id for iv in view.open if iv.accepting_orders)


async def submit(intake: Any, actor: Actor, fields: dict[str, Any]) -> OrderView:
    """As POST /api/v1/orders does: the body parsed at the boundary, then queued."""
    view: OrderView = await intake.submit(actor, parse_order(fields))
    return view


async def test_batch_matches_single_placement(client: Any, world: World) -> None:
    alice = Actor(world.ids["alice"], "member", "Alicja Nowak")
    bob = Actor(world.ids["bob"], "member", "Bogdan Kowal")
    interval_id = await first_open(world)
    base = {"interval_id": interval_id, "side": "sell", "quantity_kwh": "1", "price": "0.5"}
    alice_pt, bob_pt = world.ids["alice_point"], world.ids["bob_point"]
    submissions = [
        (alice, {**base, "metering_point_id": alice_pt, "client_order_id": "a-1"}),
        (alice, {**base, "metering_point_id": alice_pt, "quantity_kwh": "0"}),  # rule
        (alice, {**base, "metering_point_id": bob_pt}),  # not hers
        (bob, {**base, "metering_point_id": bob_pt, "side": "buy", "price": "0.7"}),
        (alice, {**base, "metering_point_id": alice_pt, "client_order_id": "a-1"}),  # retry
        (alice, {**base, "metering_point_id": alice_pt, "price": "0.12345"}),  # rule
        (bob, {**base, "metering_point_id": bob_pt, "interval_id": 999999}),  # no interval
    ]
    intake = client.app.state.services.intake

    async def submit_all() -> list[Any]:
        return await asyncio.gather(
            *(submit(intake, a, f) for a, f in submissions), return_exceptions=True
        )

    batches_before = intake.batches
    results = run_in_app(client, submit_all)
    assert intake.batches - batches_before == 1  # one transaction for all that parsed
    first, zero, theirs, bobs, retry, decimals, missing = results
    assert first.quantity_kwh == 1 and first.client_order_id == "a-1"
    assert isinstance(zero, OrderRejected) and zero.field == "quantity_kwh"
    assert isinstance(theirs, Forbidden) and theirs.field == "metering_point_id"
    assert bobs.side == "buy" and bobs.price == Decimal("0.7")
    assert retry.id == first.id  # the same order, not a duplicate
    assert isinstance(decimals, OrderRejected) and decimals.field == "price"
    assert isinstance(missing, KlasterError) and missing.field == "interval_id"
    # Retried later, the client order id still returns the first order.
    again = run_in_app(client, submit, intake, alice, submissions[0][1])
    assert again.id == first.id
    from market.trading import book as market_book
    from market.trading import orders

    async with world.db.session() as s:
        mine = await orders.list_my_orders(s, alice)
        book = await market_book.order_book(s, interval_id)
    assert [o.id for o in mine] == [first.id]
    assert book.sell_kwh == 1 and book.buy_kwh == 1


async def test_batch_with_closed_gate_falls_back_to_single(client: Any, world: World) -> None:
    alice = Actor(world.ids["alice"], "member", "Alicja Nowak")
    interval_id = await first_open(world)
    world.clock.advance(minutes=12)  # past that interval's gate
    fields = {"interval_id": interval_id, "side": "sell", "quantity_kwh": "1", "price": "0.5",
              "metering_point_id": world.ids["alice_point"]}  # fmt: skip
    with pytest.raises(KlasterError) as info:
        run_in_app(client, submit, client.app.state.services.intake, alice, fields)
    assert info.value.field == "interval_id"
