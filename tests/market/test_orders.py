from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from market.access.audit import list_audit
from market.access.models import AuditEntry
from market.core.errors import (
    Conflict,
    Forbidden,
    GateClosed,
    KlasterError,
    NotFound,
    OrderRejected,
)
from market.db.engine import unit_of_work
from market.trading import book as market_book
from market.trading import orders, pipeline
from market.trading.book import OrderView
from market.trading.models import Order
from market.trading.order_input import parse_change, parse_order
from tests.support.market import World, execute, snapshot

pytestmark = pytest.mark.anyio


async def place(world: World, actor: Any = None, **kw: Any) -> OrderView:
    """Place an order as the pages do: parse, place in a unit of work, publish."""
    first = (await world.open_intervals())[0]
    args: dict[str, Any] = {
        "interval_id": first.id,
        "metering_point_id": world.alice_mp,
        "side": "sell",
        "quantity_kwh": "5",
        "price": "0.30",
    }
    args.update(kw)
    order = parse_order(args)
    async with unit_of_work(world.db.sessions) as s:
        done = await orders.place_order(s, actor or world.alice, world.clock, order)
    await pipeline.publish(world.publisher, done.events)
    return done.view


async def modify(world: World, actor: Any, order_id: int, **change: Any) -> OrderView:
    async with unit_of_work(world.db.sessions) as s:
        done = await orders.modify_order(s, actor, world.clock, order_id, parse_change(**change))
    await pipeline.publish(world.publisher, done.events)
    return done.view


async def cancel(world: World, actor: Any, order_id: int) -> OrderView:
    async with unit_of_work(world.db.sessions) as s:
        done = await orders.cancel_order(s, actor, world.clock, order_id)
    await pipeline.publish(world.publisher, done.events)
    return done.view


async def test_place_order_stores_audits_and_publishes(world: World) -> None:
    view = await place(world, quantity_kwh="5,5", price="0.3125")
    assert (view.side, view.quantity_kwh, view.price) == (
        "sell",
        Decimal("5.500"),
        Decimal("0.3125"),
    )
    assert view.status == "open" and view.node == "B" and view.ppe_code == "590543500000000018"
    assert world.publisher.of("orderbook")[-1]["interval_id"] == view.interval_id
    async with world.session() as s:
        entries = await list_audit(s, world.carol, entity="order")
        assert [(e.action, e.entity_id) for e in entries] == [("place", str(view.id))]
        book = await market_book.order_book(s, view.interval_id)
    assert book.asks[0].price == Decimal("0.3125") and book.sell_kwh == Decimal("5.500")
    assert book.bids == []


async def test_client_order_id_makes_retries_idempotent(world: World) -> None:
    first = await place(world, client_order_id="abc-1")
    again = await place(world, client_order_id="abc-1", quantity_kwh="7")
    assert again.id == first.id and again.quantity_kwh == Decimal("5.000")
    other = await place(world, world.bob, metering_point_id=world.bob_mp, client_order_id="abc-1")
    assert other.id != first.id  # unique per member, not globally
    async with world.session() as s:
        assert await s.scalar(select(func.count(Order.id))) == 2


async def test_order_book_aggregates_without_identities(world: World) -> None:
    await place(world, side="buy", quantity_kwh="2", price="0.50")
    await place(
        world, world.bob, metering_point_id=world.bob_mp, side="buy", quantity_kwh="3", price="0.50"
    )
    await place(
        world, world.bob, metering_point_id=world.bob_mp, side="buy", quantity_kwh="1", price="0.70"
    )
    async with world.session() as s:
        book = await market_book.order_book(s, (await world.open_intervals())[0].id)
    assert [(b.price, b.quantity_kwh, b.cumulative_kwh, b.orders) for b in book.bids] == [
        (Decimal("0.7000"), Decimal("1.000"), Decimal("1.000"), 1),
        (Decimal("0.5000"), Decimal("5.000"), Decimal("6.000"), 2),
    ]
    assert not hasattr(book.bids[0], "member_id")


REJECTIONS = [
    ({"side": "hold"}, OrderRejected, "side", "'buy' or 'sell'"),
    ({"quantity_kwh": "0"}, OrderRejected, "quantity_kwh", "greater than 0"),
    ({"quantity_kwh": "-2"}, OrderRejected, "quantity_kwh", "greater than 0"),
    ({"quantity_kwh": "lots"}, OrderRejected, "quantity_kwh", "must be a number"),
    ({"quantity_kwh": "NaN"}, OrderRejected, "quantity_kwh", "finite"),
    ({"quantity_kwh": "1.0005"}, OrderRejected, "quantity_kwh", "at most 3 decimals"),
    ({"quantity_kwh": "20.001"}, OrderRejected, "quantity_kwh", "more than metering point"),
    ({"price": "0.05"}, OrderRejected, "price", "between the price floor 0.1000"),
    ({"price": "0.95"}, OrderRejected, "price", "cap 0.9000"),
    ({"price": "0.12345"}, OrderRejected, "price", "at most 4 decimals"),
    ({"price": ""}, OrderRejected, "price", "required"),
    ({"metering_point_id": "bob"}, OrderRejected, "metering_point_id", "your metering points"),
    ({"metering_point_id": 999}, NotFound, "metering_point_id", "no metering point 999"),
    ({"interval_id": 999}, NotFound, "interval_id", "no interval 999"),
    ({"client_order_id": "x" * 65}, OrderRejected, "client_order_id", "at most 64"),
]


@pytest.mark.parametrize(("change", "error", "field", "rule"), REJECTIONS)
async def test_each_rejection_names_field_and_rule_and_changes_nothing(
    world: World, change: dict[str, Any], error: type[KlasterError], field: str, rule: str
) -> None:
    await place(world)  # something in the book already
    before = await snapshot(world.db)
    events = len(world.publisher.events)
    with pytest.raises(error) as err:
        await place(world, **change)
    assert err.value.field == field
    assert rule in err.value.message
    assert await snapshot(world.db) == before
    assert len(world.publisher.events) == events


async def test_trading_for_someone_elses_metering_point_is_forbidden(world: World) -> None:
    before = await snapshot(world.db)
    with pytest.raises(Forbidden) as err:
        await place(world, metering_point_id=world.bob_mp)
    assert err.value.field == "metering_point_id"
    assert await snapshot(world.db) == before


async def test_orders_for_closed_or_past_intervals_are_rejected(world: World) -> None:
    first = (await world.open_intervals())[0]
    world.clock.set(first.gate_closure_utc)  # exactly at gate closure: too late
    before = await snapshot(world.db)
    with pytest.raises(GateClosed) as err:
        await place(world, interval_id=first.id)
    assert err.value.field == "interval_id" and "closed" in err.value.message
    await execute(world.db, "UPDATE intervals SET status = 'cleared' WHERE id = :i", i=first.id)
    world.clock.set(first.gate_closure_utc.replace(hour=0))  # clock says open, status says past
    before = await snapshot(world.db)
    with pytest.raises(GateClosed):
        await place(world, interval_id=first.id)
    assert await snapshot(world.db) == before


async def test_modify_and_cancel_my_open_order(world: World) -> None:
    view = await place(world)
    changed = await modify(world, world.alice, view.id, quantity_kwh="6.25", price="0.35")
    assert (changed.quantity_kwh, changed.price) == (Decimal("6.250"), Decimal("0.3500"))
    cancelled = await cancel(world, world.alice, view.id)
    assert cancelled.status == "cancelled"
    async with world.session() as s:
        actions = (
            await s.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.entity == "order")
                .order_by(AuditEntry.id)
            )
        ).all()
    assert actions == ["place", "modify", "cancel"]
    async with world.session() as s:
        mine = await orders.list_my_orders(s, world.alice)
    assert [o.status for o in mine] == ["cancelled"]


@pytest.mark.parametrize(
    ("who", "setup", "error", "field"),
    [
        ("bob", None, NotFound, "order_id"),  # someone else's: as if it did not exist
        ("alice", "cancelled", Conflict, "order_id"),
        ("alice", "gate", GateClosed, "interval_id"),
        ("alice", "missing", NotFound, "order_id"),
    ],
)
async def test_cancel_and_modify_rejections_change_nothing(
    world: World, who: str, setup: str | None, error: type[KlasterError], field: str
) -> None:
    view = await place(world)
    order_id = view.id
    if setup == "cancelled":
        await cancel(world, world.alice, view.id)
    elif setup == "gate":
        world.clock.set(view.interval_start)
    elif setup == "missing":
        order_id = 4242
    actor = world.bob if who == "bob" else world.alice
    before = await snapshot(world.db)
    with pytest.raises(error) as err:
        await cancel(world, actor, order_id)
    assert err.value.field == field
    with pytest.raises(error):
        await modify(world, actor, order_id, price="0.4")
    assert await snapshot(world.db) == before


async def test_modify_with_a_bad_price_changes_nothing(world: World) -> None:
    view = await place(world)
    before = await snapshot(world.db)
    with pytest.raises(OrderRejected) as err:
        await modify(world, world.alice, view.id, quantity_kwh="7", price="2")
    assert err.value.field == "price"
    assert await snapshot(world.db) == before


def _close_gate_elsewhere(url: str, interval_id: int) -> str:
    """Try to close the gate from another connection while an order is being placed."""
    if url.startswith("sqlite"):
        import sqlite3

        conn = sqlite3.connect(url.split(":///", 1)[1], timeout=5)
        conn.execute("UPDATE intervals SET status = 'closed' WHERE id = ?", (interval_id,))
        conn.commit()
        conn.close()
        return "closed"

    import asyncio
    import threading

    import asyncpg
    from sqlalchemy.engine import make_url

    outcome: list[str] = []

    async def attempt() -> None:
        dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute("SET lock_timeout = '300ms'")
            await conn.execute("UPDATE intervals SET status = 'closed' WHERE id = $1", interval_id)
            outcome.append("closed")
        except asyncpg.exceptions.LockNotAvailableError:
            outcome.append("blocked")
        finally:
            await conn.close()

    thread = threading.Thread(target=lambda: asyncio.run(attempt()))
    thread.start()
    thread.join(10)
    return outcome[0]


async def test_a_gate_closing_while_an_order_is_placed_never_loses_the_order(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = (await world.open_intervals())[0]
    seen: list[str] = []
    real_limit = pipeline.max_quantity_kwh  # the last rule checked: the gate closes after it

    def racing_limit(*args: Any, **kwargs: Any) -> Any:
        seen.append(_close_gate_elsewhere(world.db.url, first.id))
        return real_limit(*args, **kwargs)

    monkeypatch.setattr(pipeline, "max_quantity_kwh", racing_limit)
    if world.db.backend == "sqlite":
        # The gate closes between our check and our write: the order must be refused.
        with pytest.raises(GateClosed, match="just closed"):
            await place(world)
        assert seen == ["closed"]
        async with world.session() as s:
            assert await s.scalar(select(func.count(Order.id))) == 0
    else:
        # The order holds FOR SHARE on the interval: the gate waits until the order is in.
        view = await place(world)
        assert seen == ["blocked"] and view.status == "open"


async def test_concurrent_retries_with_one_client_order_id_make_one_order(world: World) -> None:
    import anyio

    ids: list[int] = []

    async def submit() -> None:
        ids.append((await place(world, client_order_id="retry-7")).id)

    async with anyio.create_task_group() as tg:
        for _ in range(5):
            tg.start_soon(submit)
    assert len(ids) == 5 and len(set(ids)) == 1
    async with world.session() as s:
        assert await s.scalar(select(func.count(Order.id))) == 1
