"""The market halt: standing orders are not placed while halted, and are again once resumed;
gates still close (the scheduler runs)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from market.core.errors import Forbidden
from market.db.engine import unit_of_work
from market.trading import halt, standing
from market.trading.models import Order
from market.trading.order_input import parse_standing
from tests.support.market import World

pytestmark = pytest.mark.anyio


async def _create_rule(world: World) -> Any:
    rule = parse_standing(
        {"metering_point_id": world.alice_mp, "side": "sell", "price": "0.30", "quantity_kwh": "3"}
    )
    async with unit_of_work(world.db.sessions) as s:
        return await standing.create_standing_order(s, world.alice, world.clock, rule)


async def _rule_orders(world: World) -> int:
    async with world.session() as s:
        rows = await s.scalars(select(Order).where(Order.standing_order_id.is_not(None)))
        return len(rows.all())


async def test_standing_orders_wait_for_the_resume(world: World) -> None:
    async with unit_of_work(world.db.sessions) as s:
        await halt.halt_market(s, world.carol, world.clock.now(), "awaria licznika")
    await _create_rule(world)
    assert await _rule_orders(world) == 0
    opened = await world.open_intervals()
    world.clock.advance(hours=2)
    report = await world.scheduler().tick()  # gates still close, intervals clear
    assert {r.interval_id for r in report.cleared} >= {i.id for i in opened}
    assert await _rule_orders(world) == 0  # nor placed when the gate closes
    async with unit_of_work(world.db.sessions) as s:
        await halt.resume_market(s, world.carol)
        assert not (await halt.halt_state(s)).halted
    await _create_rule(world)
    assert await _rule_orders(world) > 0


async def test_only_the_coordinator_halts(world: World) -> None:
    for actor in (world.alice, world.dave):
        async with unit_of_work(world.db.sessions) as s:
            with pytest.raises(Forbidden):
                await halt.halt_market(s, actor, world.clock.now(), "nie")
    async with world.session() as s:
        assert not (await halt.halt_state(s)).halted
