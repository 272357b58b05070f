"""`market.db.bulk` writes what SQLAlchemy's own path would (decimals quantised to the
column's scale, UTC times), returns new ids in the rows' order, and updates from rows through
one statement; the pipeline's batches take that path and place the same orders."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, cast

import pytest
from sqlalchemy import Table, select

from market.db import bulk
from market.trading.models import Order, Side
from market.trading.order_input import OrderInput
from market.trading.pipeline import BULK_ROWS, Submission, place
from tests.support.market import World

pytestmark = pytest.mark.anyio
ORDERS = cast(Table, Order.__table__)
AT = datetime(2026, 6, 15, 10, 0, 0, 123456, tzinfo=UTC)


def _row(world: World, interval_id: int, k: int) -> dict[str, Any]:
    return {
        "member_id": world.alice.member_id, "metering_point_id": world.alice_mp,
        "interval_id": interval_id, "side": "sell", "quantity_kwh": Decimal("1.2345") + k,
        "price": Decimal("0.45"), "status": "open", "market": "id", "client_order_id": None,
        "standing_order_id": None, "created_at": AT, "updated_at": AT,
    }  # fmt: skip


async def test_bulk_insert_and_update_store_what_sqlalchemy_would(world: World) -> None:
    interval = (await world.open_intervals())[0]
    rows = [_row(world, interval.id, k) for k in range(3)]
    async with world.session() as s:
        ids = await bulk.insert_returning_ids(s, ORDERS, rows)
        await s.commit()
    async with world.session() as s:
        stored = {o.id: o for o in await s.scalars(select(Order).where(Order.id.in_(ids)))}
    assert ids == sorted(ids) and len(set(ids)) == 3
    # Each id is its row's; the quantity was quantised to the column's 3 places (half even).
    assert [stored[i].quantity_kwh for i in ids] == [
        Decimal("1.234"),
        Decimal("2.234"),
        Decimal("3.234"),
    ]
    assert all(stored[i].created_at == AT and stored[i].price == Decimal("0.4500") for i in ids)
    later = datetime(2026, 6, 15, 11, 0, tzinfo=UTC)
    async with world.session() as s:
        await bulk.update_from(
            s, ORDERS, ["id", "accepted_kwh", "status", "updated_at"],
            [(ids[0], Decimal("1.000"), "filled", later),
             (ids[2], Decimal("0"), "unfilled", later)],
            "accepted_kwh = r.accepted_kwh, updated_at = r.updated_at, status = CASE WHEN "
            "r.accepted_kwh > 0 AND r.accepted_kwh < orders.quantity_kwh THEN 'partly_filled' "
            "ELSE r.status END",
        )  # fmt: skip
        await s.commit()
    async with world.session() as s:
        got = {o.id: o for o in await s.scalars(select(Order).where(Order.id.in_(ids)))}
    assert (got[ids[0]].status, got[ids[0]].accepted_kwh) == ("partly_filled", Decimal("1.000"))
    assert (got[ids[1]].status, got[ids[1]].accepted_kwh) == ("open", None)
    assert (got[ids[2]].status, got[ids[2]].accepted_kwh) == ("unfilled", Decimal("0.000"))
    assert got[ids[0]].updated_at == later and got[ids[1]].updated_at == AT


async def test_sqlite_writes_many_rows_a_statement_and_the_rest_one_by_one(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 4 rows a statement, from 2: 11 rows are two statements of 4, one of 2 and an
    # executemany of 1; each id is still its row's.
    monkeypatch.setattr(bulk, "ROWS_PER_INSERT", 4)
    monkeypatch.setattr(bulk, "MANY_ROWS_FROM", 2)
    interval = (await world.open_intervals())[0]
    rows = [_row(world, interval.id, k) for k in range(11)]
    async with world.session() as s:
        ids = await bulk.insert_returning_ids(s, ORDERS, rows)
        await s.commit()
    async with world.session() as s:
        stored = {o.id: o for o in await s.scalars(select(Order).where(Order.id.in_(ids)))}
    assert ids == sorted(ids) and len(stored) == 11
    assert [stored[i].quantity_kwh for i in ids] == [Decimal("1.234") + k for k in range(11)]


async def test_a_batch_through_the_pipeline_takes_the_bulk_path_with_each_outcome(
    world: World,
) -> None:
    intervals = await world.open_intervals()
    subs = [
        Submission(
            world.alice,
            OrderInput(
                intervals[k % len(intervals)].id,
                world.alice_mp,
                Side.SELL,
                Decimal("0.5"),
                Decimal("0.45"),
            ),
        )
        for k in range(BULK_ROWS + 3)
    ]
    # One refused in the middle (not her point): the others keep their places and ids.
    subs[5] = Submission(world.bob, subs[5].order)
    async with world.session() as s:
        placement = await place(s, world.clock, subs)
        await s.commit()
    outcomes = placement.outcomes
    assert placement.placed == BULK_ROWS + 2
    assert type(outcomes[5]).__name__ == "Forbidden"
    ids = [o.id for k, o in enumerate(outcomes) if k != 5]
    assert ids == sorted(ids)
    async with world.session() as s:
        stored = {o.id: o for o in await s.scalars(select(Order).where(Order.id.in_(ids)))}
    for k, o in enumerate(outcomes):
        if k != 5:
            row = stored[o.id]
            assert (row.interval_id, row.quantity_kwh) == (
                subs[k].order.interval_id,
                Decimal("0.500"),
            )


async def test_a_batch_checks_each_quantity_against_the_point_limit_it_remembers(
    world: World,
) -> None:
    # Alice's point: 80 kW contracted, 20.000 kWh per 15-minute interval. The batch's limit
    # is looked up once; each order is still compared with it, and one over it gets its own
    # error (with the limit in its parameters) while the same point's others are placed.
    interval = (await world.open_intervals())[0]

    def sub(quantity: str) -> Submission:
        order = OrderInput(
            interval.id, world.alice_mp, Side.SELL, Decimal(quantity), Decimal("0.45")
        )
        return Submission(world.alice, order)

    subs = [sub("20.000"), sub("20.001"), sub("0.001"), sub("25")]
    async with world.session() as s:
        placement = await place(s, world.clock, subs)
        outcomes = placement.outcomes
        await s.rollback()
    assert placement.placed == 2
    for k in (1, 3):
        error = outcomes[k]
        assert type(error).__name__ == "OrderRejected"
        assert error.field == "quantity_kwh"  # type: ignore[union-attr]
        assert error.params["limit"] == Decimal("20.000")  # type: ignore[union-attr]
        assert error.params["quantity"] == Decimal(subs[k].order.quantity_kwh)  # type: ignore[union-attr]
    assert [o.quantity_kwh for k, o in enumerate(outcomes) if k in (0, 2)] == [  # type: ignore[union-attr]
        Decimal("20.000"),
        Decimal("0.001"),
    ]
