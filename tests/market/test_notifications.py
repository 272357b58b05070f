"""Stored notifications: a standing rule's order the pipeline rejects (here: the market is
halted when the scheduler places it) is stored for its member with the reason, once per rule
and interval, and announced after the commit; params keep their types."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from market.core.events import NOTIFICATION
from market.db.engine import unit_of_work
from market.trading import halt, notifications, standing
from market.trading.notifications import Notification, decode_params, encode_params
from market.trading.order_input import parse_standing
from tests.support.market import World

pytestmark = pytest.mark.anyio


def test_params_come_back_as_they_went() -> None:
    params = {"price": Decimal("0.4200"), "at": datetime(2026, 6, 15, 10, 5, tzinfo=UTC),
              "count": 3, "reason": "awaria"}  # fmt: skip
    assert decode_params(encode_params(params)) == params


async def test_a_rejected_standing_order_is_stored_once_and_announced(world: World) -> None:
    rule = parse_standing(
        {"metering_point_id": world.alice_mp, "side": "sell", "price": "0.30", "quantity_kwh": "3"}
    )
    async with unit_of_work(world.db.sessions) as s:
        await standing.create_standing_order(s, world.alice, world.clock, rule)
        await halt.halt_market(s, world.carol, world.clock.now(), "awaria licznika")
    world.clock.advance(minutes=30)  # new intervals: their standing orders are refused
    await world.scheduler().tick()
    async with world.session() as s:
        stored = await notifications.list_notifications(s, world.alice)
        assert stored and all(n.kind == "standing_rejected" for n in stored)
        assert stored[0].message_id == "the market is halted: %(reason)s"
        assert stored[0].params == {"reason": "awaria licznika"}
        assert stored[0].interval_start is not None and stored[0].standing_order_id
        assert await notifications.list_notifications(s, world.bob) == []
        count = await s.scalar(select(func.count(Notification.id)))
    event = world.publisher.of(NOTIFICATION)[-1]
    assert event["type"] == NOTIFICATION and event["members"] == [world.alice.member_id]
    assert event["after"] < min(n.id for n in stored)
    announced = len(world.publisher.of(NOTIFICATION))
    world.clock.advance(minutes=20)  # their gates close: placed again, refused again
    await world.scheduler().tick()
    async with world.session() as s:
        rules_intervals = await s.execute(
            select(Notification.standing_order_id, Notification.interval_id)
        )
        pairs = rules_intervals.all()
    assert len(pairs) == len(set(pairs)) >= count  # never twice for one rule and interval
    assert len(world.publisher.of(NOTIFICATION)) - announced <= len(pairs) - count
