"""The order pipeline batched, as the API's intake runs it (`web.api.intake`, behind POST
/api/v1/orders): one transaction for many submissions, with the outcome of placing each one
alone."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select, text
from test_orders import REJECTIONS, place

from market.access.models import AuditEntry
from market.core.clock import Clock
from market.core.errors import Forbidden, GateClosed, KlasterError
from market.db import sqlite_driver
from market.db.engine import insert_returning_ids
from market.trading import pipeline
from market.trading.book import OrderView
from market.trading.models import Order
from market.trading.order_input import parse_order
from tests.support.market import World, snapshot

pytestmark = pytest.mark.anyio


async def place_orders(
    session: Any, clock: Clock, batch: list[tuple[Any, dict[str, Any]]]
) -> tuple[list[pipeline.Outcome], list[pipeline.Event]]:
    """As the API does: each body parsed at the boundary (a bad one gets its error there),
    the rest placed together in one unit of work, statements inline."""
    parsed: list[pipeline.Submission | KlasterError] = []
    for actor, fields in batch:
        try:
            parsed.append(pipeline.Submission(actor, parse_order(fields)))
        except KlasterError as exc:
            parsed.append(exc)
    submissions = [p for p in parsed if isinstance(p, pipeline.Submission)]
    with sqlite_driver.inline():
        placement = await pipeline.place(session, clock, submissions)
        await session.commit()
    placed = iter(placement.outcomes)
    outcomes = [p if isinstance(p, KlasterError) else next(placed) for p in parsed]
    return outcomes, placement.events


def good(world: World, interval: int, **change: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "interval_id": interval,
        "metering_point_id": world.alice_mp,
        "side": "sell",
        "quantity_kwh": "5",
        "price": "0.30",
    }
    return fields | change


async def test_a_batch_gives_each_submission_its_own_outcome(world: World) -> None:
    first, second = (await world.open_intervals())[:2]
    earlier = await place(world, client_order_id="retry-1")
    batch: list[tuple[Any, dict[str, Any]]] = []
    expected: list[Any] = []
    for k, (change, error, field, rule) in enumerate(REJECTIONS):
        # a good order on alternating intervals, then a rejected one
        iv = first if k % 2 else second
        batch.append((world.alice, good(world, iv.id, price=f"0.{30 + k}", quantity_kwh=k + 1)))
        expected.append(("placed", iv.id, Decimal(f"0.{30 + k}"), Decimal(k + 1)))
        batch.append((world.alice, good(world, first.id, **change)))
        expected.append((error, field, rule))
    batch.append((world.bob, good(world, first.id, metering_point_id=world.bob_mp, side="buy")))
    expected.append(("placed", first.id, Decimal("0.30"), Decimal(5)))
    batch.append((world.bob, good(world, first.id)))  # alice's point
    expected.append((Forbidden, "metering_point_id", "your own metering points"))
    batch.append((world.alice, good(world, first.id, client_order_id="retry-1", price="0.80")))
    expected.append(("earlier",))
    batch.append((world.alice, good(world, second.id, client_order_id="new-1", price="0.41")))
    expected.append(("placed", second.id, Decimal("0.41"), Decimal(5)))
    batch.append((world.alice, good(world, second.id, client_order_id="new-1", price="0.42")))
    expected.append(("same as previous",))

    async with world.session() as s:
        outcomes, events = await place_orders(s, world.clock, batch)

    assert len(outcomes) == len(batch)
    placed_ids = []
    for k, (outcome, want) in enumerate(zip(outcomes, expected, strict=True)):
        if want[0] == "placed":
            assert isinstance(outcome, OrderView), (k, outcome)
            assert (outcome.interval_id, outcome.price, outcome.quantity_kwh) == want[1:]
            placed_ids.append(outcome.id)
        elif want[0] == "earlier":
            assert isinstance(outcome, OrderView) and outcome.id == earlier.id
            assert outcome.price == earlier.price  # a retry changes nothing
        elif want[0] == "same as previous":
            assert outcome == outcomes[k - 1]
        else:
            error, field, rule = want
            assert isinstance(outcome, error), (k, outcome)
            assert isinstance(outcome, KlasterError)
            assert outcome.field == field and rule in outcome.message
    assert len(set(placed_ids)) == len(placed_ids)
    assert sorted(e["interval_id"] for e in events) == sorted({first.id, second.id})

    # What was stored is exactly what the views say, with one audit entry per order.
    async with world.session() as s:
        stored = {o.id: o for o in await s.scalars(select(Order).where(Order.id.in_(placed_ids)))}
        audited = list(
            await s.scalars(
                select(AuditEntry.entity_id).where(
                    AuditEntry.entity == "order", AuditEntry.action == "place"
                )
            )
        )
        total = await s.scalar(select(func.count(Order.id)))
    assert total == len(placed_ids) + 1  # and the earlier one
    assert sorted(audited) == sorted(str(i) for i in [*placed_ids, earlier.id])
    for outcome in outcomes:
        if isinstance(outcome, OrderView) and outcome.id in stored:
            row = stored[outcome.id]
            assert (row.interval_id, row.metering_point_id, row.side) == (
                outcome.interval_id,
                outcome.metering_point_id,
                outcome.side,
            )
            assert (row.quantity_kwh, row.price, row.client_order_id) == (
                outcome.quantity_kwh,
                outcome.price,
                outcome.client_order_id,
            )


async def test_a_batch_of_only_rejections_changes_nothing(world: World) -> None:
    first = (await world.open_intervals())[0]
    await place(world)
    before = await snapshot(world.db)
    batch = [(world.alice, good(world, first.id, **change)) for change, *_ in REJECTIONS]
    async with world.session() as s:
        outcomes, events = await place_orders(s, world.clock, batch)
    assert all(isinstance(o, KlasterError) for o in outcomes) and events == []
    assert await snapshot(world.db) == before


async def test_a_gate_cannot_close_unseen_during_a_batch(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between the batch's inserts and its commit a gate tries to close.
    SQLite: the re-check inside the write transaction finds it closed and nothing stays (the
    caller, web.intake, then places each submission alone). PostgreSQL: the FOR SHARE lock
    taken when the interval was read makes the closing wait, so the batch commits first."""
    first = (await world.open_intervals())[0]
    before = await snapshot(world.db)
    real_still_open = pipeline.still_open
    close = text("UPDATE intervals SET status = 'closed' WHERE id = :i")
    blocked: list[str] = []

    async def gate_closes_now(session: Any, intervals: Any) -> None:
        if world.db.backend == "sqlite":  # one writer: the closing can only come in here
            await session.execute(close, {"i": first.id})
        else:
            async with world.session() as other:
                await other.execute(text("SET LOCAL lock_timeout = '300ms'"))
                try:
                    await other.execute(close, {"i": first.id})
                except Exception as exc:  # LockNotAvailable: it had to wait for the batch
                    blocked.append(type(exc).__name__)
                await other.rollback()
        await real_still_open(session, intervals)

    monkeypatch.setattr(pipeline, "still_open", gate_closes_now)
    batch = [(world.alice, good(world, first.id)), (world.alice, good(world, first.id))]
    async with world.session() as s:
        if world.db.backend == "sqlite":
            with pytest.raises(GateClosed):
                await place_orders(s, world.clock, batch)
            assert await snapshot(world.db) == before
            return
        outcomes, _ = await place_orders(s, world.clock, batch)
    assert blocked and all(isinstance(o, OrderView) for o in outcomes)
    async with world.session() as s:
        assert await s.scalar(select(func.count(Order.id))) == 2


async def test_bulk_insert_returns_ids_in_row_order(world: World) -> None:
    first = (await world.open_intervals())[0]
    rows = [
        {
            "member_id": world.alice.member_id,
            "metering_point_id": world.alice_mp,
            "interval_id": first.id,
            "side": "sell",
            "quantity_kwh": Decimal(k + 1),
            "price": Decimal("0.30"),
            "status": "open",
            "client_order_id": f"bulk-{k}",
            "created_at": world.clock.now(),
            "updated_at": world.clock.now(),
        }
        for k in range(300)
    ]
    async with world.session() as s:
        await place(world)  # ids do not start at 1
        ids = await insert_returning_ids(s, Order.__table__, rows)
        await s.commit()
        found = await s.execute(select(Order.id, Order.client_order_id).where(Order.id.in_(ids)))
        stored = {order_id: client_id for order_id, client_id in found}
    assert len(set(ids)) == 300
    assert [stored[i] for i in ids] == [f"bulk-{k}" for k in range(300)]


async def test_concurrent_bulk_inserts_each_get_their_own_ids(world: World) -> None:
    import asyncio

    first = (await world.open_intervals())[0]

    def rows(tag: str) -> list[dict[str, Any]]:
        return [
            {
                "member_id": world.alice.member_id,
                "metering_point_id": world.alice_mp,
                "interval_id": first.id,
                "side": "buy",
                "quantity_kwh": Decimal(1),
                "price": Decimal("0.30"),
                "status": "open",
                "client_order_id": f"{tag}-{k}",
                "created_at": world.clock.now(),
                "updated_at": world.clock.now(),
            }
            for k in range(150)
        ]

    async def insert(tag: str) -> list[int]:
        async with world.session() as s:
            await s.execute(select(func.count(Order.id)))  # a read first, as the intake does
            ids = await insert_returning_ids(s, Order.__table__, rows(tag))
            await asyncio.sleep(0.01)  # hold the transaction open a moment
            await s.commit()
            return ids

    ids_a, ids_b = await asyncio.gather(insert("a"), insert("b"))
    async with world.session() as s:
        found = await s.execute(select(Order.id, Order.client_order_id))
        stored = {order_id: client_id for order_id, client_id in found}
    assert [stored[i] for i in ids_a] == [f"a-{k}" for k in range(150)]
    assert [stored[i] for i in ids_b] == [f"b-{k}" for k in range(150)]


async def test_inline_sqlite_waits_for_a_lock_without_stopping_the_loop(world: World) -> None:
    """The batch runs its statements on the event loop's thread (SQLite). When another
    connection holds the write lock, its INSERT waits on the connection's thread instead:
    the loop keeps running (so the lock's holder can finish) and the batch goes through."""
    import asyncio
    import time

    if world.db.backend != "sqlite":
        return  # PostgreSQL statements are awaited on the loop anyway: nothing runs inline
    first = (await world.open_intervals())[0]
    ticks = 0
    holding = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    async def hold_write_lock() -> float:
        async with world.session() as s:
            await s.execute(text("UPDATE clusters SET name = name"))  # takes the write lock
            holding.set()
            await asyncio.sleep(0.3)
            await s.commit()
            return time.monotonic()

    async def batch() -> tuple[list[Any], float]:
        await holding.wait()
        async with world.session() as s:
            outcomes, _ = await place_orders(s, world.clock, [(world.alice, good(world, first.id))])
        return outcomes, time.monotonic()

    tick_task = asyncio.create_task(ticker())
    released, (outcomes, placed) = await asyncio.gather(hold_write_lock(), batch())
    tick_task.cancel()
    assert isinstance(outcomes[0], OrderView)
    assert placed >= released  # it did wait for the lock
    assert ticks >= 15  # ~30 in 0.3 s: the loop was never held


async def test_intake_connection_commits_without_checkpointing(world: World) -> None:
    """The intake keeps one connection whose commits run on the event loop (SQLite), so it
    never checkpoints as it commits; `checkpoint` does that on another connection."""
    from market.db.engine import checkpoint, no_autocheckpoint

    first = (await world.open_intervals())[0]
    engine = world.db.engine
    async with engine.connect() as conn:
        await no_autocheckpoint(conn)
        if world.db.backend == "sqlite":
            assert (await conn.exec_driver_sql("PRAGMA wal_autocheckpoint")).scalar() == 0
            await conn.commit()
        async with world.db.sessions(bind=conn) as s:
            outcomes, _ = await place_orders(s, world.clock, [(world.alice, good(world, first.id))])
    assert isinstance(outcomes[0], OrderView)
    async with world.session() as s:  # committed: another connection sees it
        assert await s.scalar(select(func.count(Order.id))) == 1
    await checkpoint(engine)
    if world.db.backend == "sqlite":
        async with engine.connect() as conn:
            busy, frames, done = (
                await conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
            ).one()
            assert busy == 0 and frames == done  # nothing left behind in the WAL
