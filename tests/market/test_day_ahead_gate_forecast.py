"""The day-ahead gate re-places forecast-mode standing orders: a rule's orders go into the day
when it opens, and if its forecast changed before the gate (here: meter data imported in
between) the gate replaces them, through the order pipeline, in the gate's transaction; the
auction clears the new ones. A rule whose forecast did not change keeps its orders, and an
order the member cancelled stays cancelled. SQLite and PostgreSQL; the stand-in core."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from market.access.models import AuditEntry
from market.clearing import day_ahead as da_clearing
from market.db.engine import unit_of_work
from market.metering.models import MeterImport, MeterReading
from market.trading import orders as order_service
from market.trading import standing
from market.trading.models import Interval, Order
from market.trading.order_input import parse_standing
from tests.support.day_ahead import fake_core
from tests.support.market import World

pytestmark = pytest.mark.anyio
__all__ = ["fake_core"]

DAY = date(2026, 6, 17)  # a Wednesday; market time is 15 June 12:00 local
NOON = datetime(2026, 6, 17, 10, 0, tzinfo=UTC)  # 12:00 local
ONE_PM = datetime(2026, 6, 17, 11, 0, tzinfo=UTC)


async def _rule(world: World, actor: Any, point: int, side: str, price: str) -> int:
    raw = {"metering_point_id": point, "side": side, "price": price, "mode": "forecast",
           "market": "da"}  # fmt: skip
    async with unit_of_work(world.db.sessions) as s:
        view = await standing.create_standing_order(s, actor, world.clock, parse_standing(raw))
        return view.id


async def _orders(world: World, rule_id: int) -> dict[datetime, Order]:
    """The day's day-ahead orders of a rule by their interval's start, not cancelled."""
    async with world.session() as s:
        query = (
            select(Order, Interval.start_utc)
            .join(Interval, Interval.id == Order.interval_id)
            .where(Interval.local_day == DAY, Order.market == "da", Order.status != "cancelled")
        )
        query = query.where(Order.standing_order_id == rule_id)
        return {start: order for order, start in (await s.execute(query)).all()}


async def _readings(world: World, point: int, rows: list[tuple[datetime, str, str]]) -> None:
    async with unit_of_work(world.db.sessions) as s:
        imp = MeterImport(filename="t.csv", sha256="1" * 64, resolution_minutes=15,
                          rows=len(rows), stored_readings=len(rows))  # fmt: skip
        s.add(imp)
        await s.flush()
        for start, i, e in rows:
            s.add(MeterReading(start_utc=start, metering_point_id=point, import_kwh=Decimal(i),
                               export_kwh=Decimal(e), quality="measured", source_minutes=15,
                               import_id=imp.id))  # fmt: skip


async def test_the_gate_replaces_a_forecast_that_changed_since_the_day_opened(
    world: World, fake_core: list[dict[str, Any]]
) -> None:
    alice_rule = await _rule(world, world.alice, world.alice_mp, "sell", "0.30")
    bob_rule = await _rule(world, world.bob, world.bob_mp, "buy", "0.60")
    assert await da_clearing.open_day_step(world.db.sessions, DAY, world.clock.now())
    opened_alice, opened_bob = await _orders(world, alice_rule), await _orders(world, bob_rule)
    assert NOON in opened_alice and ONE_PM in opened_alice  # the profile's midday surplus
    before = opened_alice[NOON].quantity_kwh
    assert before != Decimal("4.000")
    # Alice cancels her 13:00 order by hand: the gate leaves it cancelled.
    async with unit_of_work(world.db.sessions) as s:
        await order_service.cancel_order(s, world.alice, world.clock, opened_alice[ONE_PM].id)

    # Between the opening and the gate, a week-old meter reading arrives: at 12:00 on the
    # Wednesday before, Alice's point fed in 4 kWh net. Her forecast for 12:00 is now 4 kWh.
    await _readings(world, world.alice_mp, [(datetime(2026, 6, 10, 10, 0, tzinfo=UTC), "0.5",
                                             "4.5")])  # fmt: skip
    world.clock.advance(hours=24)  # to the gate (16 June 12:00 local)
    outcome = await da_clearing.clear_day(
        world.db.sessions, DAY, worker_id="w", publisher=world.publisher, now=world.clock.now()
    )
    assert outcome.stored is not None and outcome.status == "cleared"

    after_alice, after_bob = await _orders(world, alice_rule), await _orders(world, bob_rule)
    assert after_alice[NOON].quantity_kwh == Decimal("4.000")
    assert after_alice[NOON].status == "filled" and after_alice[NOON].accepted_kwh == Decimal(
        "4.000"
    )
    # Every other interval took the current forecast (the profile's, unchanged) anew ...
    assert set(after_alice) == set(opened_alice) - {ONE_PM}
    assert {t: o.quantity_kwh for t, o in after_alice.items() if t != NOON} == {
        t: o.quantity_kwh for t, o in opened_alice.items() if t not in (NOON, ONE_PM)
    }
    assert not {o.id for o in after_alice.values()} & {o.id for o in opened_alice.values()}
    # ... the cancelled 13:00 order was not placed again, and Bob's rule (no new data) kept
    # its orders as they were.
    assert {t: o.id for t, o in after_bob.items()} == {t: o.id for t, o in opened_bob.items()}
    # The core saw the new orders only: one per rule and interval, 4 kWh at noon.
    doc = fake_core[0]
    ids = {o.id for o in [*after_alice.values(), *after_bob.values()]}
    assert {o["id"] for o in doc["orders"]} == {f"o{i}" for i in ids}
    assert 4.0 in [o["quantity_kwh"] for o in doc["orders"]]
    async with world.session() as s:
        replaced = await s.get(Order, opened_alice[NOON].id)
        assert replaced is not None and replaced.status == "cancelled"
        assert replaced.standing_order_id is None and replaced.quantity_kwh == before
        by_hand = await s.get(Order, opened_alice[ONE_PM].id)
        assert by_hand is not None and by_hand.status == "cancelled"
        entries = (
            await s.scalars(select(AuditEntry).where(AuditEntry.action == "forecast_replaced"))
        ).all()
        assert [(e.entity_id, e.details["cancelled"]) for e in entries] == [
            (str(alice_rule), len(opened_alice) - 1)
        ]


async def test_an_unchanged_forecast_keeps_the_orders_placed_at_the_opening(
    world: World, fake_core: list[dict[str, Any]]
) -> None:
    alice_rule = await _rule(world, world.alice, world.alice_mp, "sell", "0.30")
    assert await da_clearing.open_day_step(world.db.sessions, DAY, world.clock.now())
    opened = await _orders(world, alice_rule)
    world.clock.advance(hours=24)
    await da_clearing.clear_day(world.db.sessions, DAY, worker_id="w", publisher=world.publisher,
                                now=world.clock.now())  # fmt: skip
    after = await _orders(world, alice_rule)
    assert {t: o.id for t, o in after.items()} == {t: o.id for t, o in opened.items()}
    assert {o.status for o in after.values()} == {"filled"}
