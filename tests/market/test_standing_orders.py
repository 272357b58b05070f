from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from market.core.errors import Forbidden, KlasterError, NotFound, OrderRejected
from market.core.money import energy
from market.db.engine import unit_of_work
from market.metering.profiles import net_kwh
from market.network.models import MeteringPoint
from market.trading import standing
from market.trading.models import Interval, Order
from market.trading.order_input import parse_standing
from tests.support.market import World, execute, snapshot

pytestmark = pytest.mark.anyio


async def create(world: World, actor: Any = None, **kw: Any) -> standing.StandingOrderView:
    args: dict[str, Any] = {
        "metering_point_id": world.alice_mp,
        "side": "sell",
        "price": "0.30",
        "quantity_kwh": "3",
    }
    args.update(kw)
    rule = parse_standing(args)
    async with unit_of_work(world.db.sessions) as s:
        return await standing.create_standing_order(s, actor or world.alice, world.clock, rule)


async def rule_orders(world: World, status: str = "open") -> list[Order]:
    async with world.session() as s:
        rows = await s.scalars(
            select(Order)
            .where(Order.status == status, Order.standing_order_id.is_not(None))
            .order_by(Order.interval_id)
        )
        return list(rows.all())


async def test_fixed_rule_is_placed_into_open_intervals_matching_its_hours(world: World) -> None:
    # 10:15–11:00 UTC is 12:15–13:00 in Warsaw (CEST); 11:00 UTC is 13:00 local: outside.
    rule = await create(world, hour_from=12, hour_to=13)
    placed = await rule_orders(world)
    opened = await world.open_intervals()
    assert [o.interval_id for o in placed] == [i.id for i in opened[:3]]
    assert {(o.quantity_kwh, o.price, o.standing_order_id) for o in placed} == {
        (Decimal("3.000"), Decimal("0.3000"), rule.id)
    }
    assert await create(world, weekdays="67") and len(await rule_orders(world)) == 3  # Monday


async def test_pause_withdraws_and_resume_replaces(world: World) -> None:
    rule = await create(world)
    assert len(await rule_orders(world)) == 4
    async with unit_of_work(world.db.sessions) as s:
        view = await standing.set_standing_paused(s, world.alice, world.clock, rule.id, True)
    assert view.paused and await rule_orders(world) == []
    assert len(await rule_orders(world, "cancelled")) == 0  # withdrawn orders drop the link
    async with unit_of_work(world.db.sessions) as s:
        await standing.set_standing_paused(s, world.alice, world.clock, rule.id, False)
    assert len(await rule_orders(world)) == 4
    change = parse_standing(
        {"metering_point_id": world.alice_mp, "side": "sell", "price": "0.35", "quantity_kwh": "2"}
    )
    async with unit_of_work(world.db.sessions) as s:
        await standing.update_standing_order(s, world.alice, world.clock, rule.id, change)
    assert {(o.price, o.quantity_kwh) for o in await rule_orders(world)} == {
        (Decimal("0.3500"), Decimal("2.000"))
    }
    async with unit_of_work(world.db.sessions) as s:
        await standing.delete_standing_order(s, world.alice, world.clock, rule.id)
        assert await standing.list_standing_orders(s, world.alice) == []
    assert await rule_orders(world) == []


async def test_forecast_rule_offers_the_profile_surplus(world: World) -> None:
    await create(world, mode="forecast", quantity_kwh=None)
    await create(world, mode="forecast", quantity_kwh=None, side="buy", price="0.50")
    placed = await rule_orders(world)
    async with world.session() as s:
        mp = await s.get(MeteringPoint, world.alice_mp)
        interval = await s.get(Interval, placed[0].interval_id)
        assert mp is not None and interval is not None
        expected = energy(
            net_kwh(standing.profile_of(mp), interval.start_utc, 15, "Europe/Warsaw", 7)
        )
    # A sunny June noon: 8 kWp cover the household, so only the sell side is placed.
    assert expected > Decimal("0.1")
    assert {o.side for o in placed} == {"sell"}
    assert placed[0].quantity_kwh == expected


async def test_rules_are_materialised_at_gate_closure_too(world: World) -> None:
    first = (await world.open_intervals())[0]
    await execute(
        world.db,
        "INSERT INTO standing_orders (member_id, metering_point_id, side, mode, quantity_kwh,"
        " price, weekdays, hour_from, hour_to, paused, created_at, updated_at) VALUES"
        " (:m, :p, 'buy', 'fixed', 1.5, 0.4, '1234567', 0, 24, false, :t, :t)",
        m=world.bob.member_id,
        p=world.bob_mp,
        t=world.clock.now(),
    )
    world.clock.set(first.gate_closure_utc)
    assert await world.scheduler().close_gate(first.id)
    async with world.session() as s:
        got = (await s.scalars(select(Order).where(Order.interval_id == first.id))).all()
    assert [(o.side, o.quantity_kwh) for o in got] == [("buy", Decimal("1.500"))]


@pytest.mark.parametrize(
    ("change", "error", "field"),
    [
        ({"hour_from": 13, "hour_to": 12}, OrderRejected, "hour_to"),
        ({"weekdays": "8"}, OrderRejected, "weekdays"),
        ({"quantity_kwh": None}, OrderRejected, "quantity_kwh"),
        ({"quantity_kwh": "25"}, OrderRejected, "quantity_kwh"),
        ({"price": "1.5"}, OrderRejected, "price"),
        ({"mode": "always"}, OrderRejected, "mode"),
        ({"side": "both"}, OrderRejected, "side"),
        ({"metering_point_id": "bob"}, OrderRejected, "metering_point_id"),
    ],
)
async def test_rule_rejections_change_nothing(
    world: World, change: dict[str, Any], error: type[KlasterError], field: str
) -> None:
    before = await snapshot(world.db)
    with pytest.raises(error) as err:
        await create(world, **change)
    assert err.value.field == field
    assert await snapshot(world.db) == before


async def test_someone_elses_rules_are_off_limits(world: World) -> None:
    rule = await create(world)
    before = await snapshot(world.db)
    with pytest.raises(Forbidden):
        await create(world, world.bob)  # Alice's metering point
    for action in ("pause", "delete"):
        # someone else's rule answers as an unused id (a 403 would tell that it exists)
        with pytest.raises(NotFound) as err:
            async with unit_of_work(world.db.sessions) as s:
                if action == "pause":
                    await standing.set_standing_paused(s, world.bob, world.clock, rule.id, True)
                else:
                    await standing.delete_standing_order(s, world.bob, world.clock, rule.id)
        assert err.value.field == "standing_order_id"
    assert await snapshot(world.db) == before


def test_rule_orders_per_slot_follow_each_rules_weekdays_hours_and_validity() -> None:
    """`_rule_orders` works out which rules apply once per (weekday, hour, day) and each
    point's limit once: the orders are still those of `RuleTerms.applies`, slot by slot, in
    the rules' order, capped at the point's deliverable quantity."""
    from datetime import UTC, date, datetime, timedelta

    from market.metering.profiles import PointProfile
    from market.trading.day_ahead_models import Market
    from market.trading.models import Side, StandingMode

    def rule(rid: int, **kw: Any) -> standing.RuleTerms:
        base: dict[str, Any] = dict(
            id=rid, member_id=7, metering_point_id=1, side=Side.BUY, mode=StandingMode.FIXED,
            quantity_kwh=Decimal("1.5"), price=Decimal("0.5"), weekdays="1234567",
            hour_from=0, hour_to=24, valid_from=None, valid_to=None, market=Market.INTRADAY,
        )  # fmt: skip
        return standing.RuleTerms(**(base | kw))

    rules = [
        rule(1, hour_from=12, hour_to=13),  # 12:xx local only
        rule(2, weekdays="1", quantity_kwh=Decimal("9")),  # Mondays, capped at 5 kWh
        rule(3, valid_to=date(2026, 6, 15)),  # until Monday 15 June
    ]
    points = {1: (PointProfile("PL1", "G11", 3000.0, 0.0, 0.0), Decimal("20"))}
    # Monday 15 June and Tuesday 16 June, 10:00 and 10:15 UTC (12:00, 12:15 local) and
    # 11:00 UTC (13:00 local)
    times = ((10, 0), (10, 15), (11, 0))
    starts = [datetime(2026, 6, d, h, m, tzinfo=UTC) for d in (15, 16) for h, m in times]
    slots = [
        standing._Slot(100 + k, at, 15, (at + timedelta(hours=2)).date())
        for k, at in enumerate(starts)
    ]
    got = [
        (s.order.interval_id, s.standing_order_id, s.order.quantity_kwh, s.actor.member_id)
        for s in standing._rule_orders(rules, points, slots, "Europe/Warsaw", 1)
    ]
    five, fifteen = Decimal("5.000"), Decimal("1.5")
    assert got == [
        (100, 1, fifteen, 7), (100, 2, five, 7), (100, 3, fifteen, 7),
        (101, 1, fifteen, 7), (101, 2, five, 7), (101, 3, fifteen, 7),
        (102, 2, five, 7), (102, 3, fifteen, 7),
        (103, 1, fifteen, 7),
        (104, 1, fifteen, 7),
    ]  # fmt: skip


@given(st.floats(min_value=-1.0, max_value=0.01, allow_nan=False))
def test_a_forecast_skipped_before_rounding_would_round_to_no_order(surplus: float) -> None:
    # `_rule_orders` skips a forecast below `NO_ORDER_BELOW_KWH` without rounding it: exactly
    # those that `energy` rounds below the minimum order (the boundary itself is rounded)
    if surplus < standing.NO_ORDER_BELOW_KWH:
        assert energy(max(0.0, surplus)) < standing.MIN_FORECAST_KWH
    assert energy(standing.NO_ORDER_BELOW_KWH) < standing.MIN_FORECAST_KWH  # half even: 0.000
    assert energy(math.nextafter(standing.NO_ORDER_BELOW_KWH, 1.0)) == standing.MIN_FORECAST_KWH
