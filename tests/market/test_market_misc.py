"""Rounding rules, settings and clocks, interval listing across DST, fills."""

from __future__ import annotations

import math
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from market.core.clock import FastClock, clock_for_speed, demo_speed_for
from market.core.money import allocate_rounded, largest_remainder
from market.core.settings import Settings, normalise_database_url
from market.db.engine import unit_of_work
from market.trading import book, orders, pipeline
from market.trading import parameters as market_parameters
from market.trading.intervals import list_intervals
from market.trading.models import Interval
from market.trading.order_input import parse_order
from tests.support.market import World

pytestmark = pytest.mark.anyio


@given(st.lists(st.floats(0, 1e6, allow_nan=False), max_size=40))
def test_largest_remainder_keeps_the_rounded_total(values: list[float]) -> None:
    rounded = largest_remainder(values, 3)
    assert sum(rounded) == Decimal(round(math.fsum(values) * 1000)).scaleb(-3)
    assert all(abs(float(r) - v) < 0.001 + 1e-6 for r, v in zip(rounded, values, strict=True))


@given(st.floats(0, 1e6, allow_nan=False), st.integers(0, 4))
def test_largest_remainder_of_one_value_is_the_general_rule(value: float, places: int) -> None:
    """One value takes a short path; beside a zero it goes through the general one."""
    assert largest_remainder([value], places) == largest_remainder([value, 0.0], places)[:1]


@given(
    st.lists(st.decimals(0, 10**6, places=7, allow_nan=False, allow_infinity=False), max_size=40)
)
def test_allocate_rounded_keeps_the_rounded_total(values: list[Decimal]) -> None:
    rounded = allocate_rounded(values, 2)
    total = sum(values, Decimal(0)).quantize(Decimal("0.01"))
    assert sum(rounded, Decimal(0)) == (total if values else 0)
    assert all(abs(r - v) < Decimal("0.01") for r, v in zip(rounded, values, strict=True))


# floats near the rounding boundaries (x.xxx5, whole units, tiny values) as well as any
_near_half = st.builds(
    lambda units, off, places: max(0.0, (units + 0.5) / 10**places + off),
    st.integers(0, 10**7),
    st.sampled_from([0.0, 1e-12, -1e-12, 1e-9, -1e-9, 5e-10, -5e-10]),
    st.just(3),
)
_floats = st.one_of(st.floats(-10.0, 1e6, allow_nan=False), _near_half, st.just(0.0))


@given(st.lists(_floats, max_size=60), st.integers(0, 4))
def test_largest_remainder_units_is_the_one_value_rule_for_each(
    values: list[float], places: int
) -> None:
    """The whole-array form `clearing.store.convert` uses gives each value exactly what
    `largest_remainder([value], places)` gives (the same Decimal: digits and exponent)."""
    import numpy as np

    from market.core.money import largest_remainder_units

    units = largest_remainder_units(np.array(values, dtype=np.float64), places)
    for u, v in zip(units, values, strict=True):
        want = largest_remainder([v], places)[0]
        got = Decimal(u).scaleb(-places)
        assert got.as_tuple() == want.as_tuple(), (v, got, want)


def _allocate_by_full_sort(values: list[Decimal], places: int) -> list[Decimal]:
    """`allocate_rounded` as it was written before (a full sort of the remainders)."""
    if not values:
        return []
    quantum = Decimal(1).scaleb(-places)
    floors = [v.quantize(quantum, rounding="ROUND_FLOOR") for v in values]
    target = sum(values, Decimal(0)).quantize(quantum, rounding="ROUND_HALF_EVEN")
    missing = int((target - sum(floors, Decimal(0))) / quantum)
    order = sorted(range(len(values)), key=lambda i: (-(values[i] - floors[i]), i))
    for i in order[: max(0, missing)]:
        floors[i] += quantum
    return floors


@given(
    st.lists(
        st.one_of(
            st.decimals(-(10**3), 10**3, places=7, allow_nan=False, allow_infinity=False),
            st.sampled_from([Decimal("0.005"), Decimal("0.0049999"), Decimal("-0.005")]),
        ),
        max_size=60,
    ),
    st.integers(0, 3),
)
def test_allocate_rounded_picks_what_a_full_sort_picks(values: list[Decimal], places: int) -> None:
    got, want = allocate_rounded(values, places), _allocate_by_full_sort(values, places)
    assert [g.as_tuple() for g in got] == [w.as_tuple() for w in want]


def test_settings_from_environment(tmp_path: object) -> None:
    s = Settings.from_env({"KLASTER_DATA_DIR": "/srv/klaster"})
    assert s.database_url == "sqlite+aiosqlite:////srv/klaster/klaster.db"
    assert s.secret_generated and len(s.secret_key) > 30 and s.redis_url is None
    s = Settings.from_env(
        {
            "DATABASE_URL": "postgresql://u@h/db",
            "KLASTER_SECRET_KEY": "k",
            "KLASTER_DEMO_SPEED": "45",
            "REDIS_URL": "redis://r",
        }
    )
    assert s.database_url == "postgresql+asyncpg://u@h/db" and not s.is_sqlite
    assert (s.secret_key, s.secret_generated, s.demo_speed) == ("k", False, 45.0)
    with pytest.raises(ValueError, match="KLASTER_DEMO_SPEED"):
        Settings.from_env({"KLASTER_DEMO_SPEED": "fast"})
    assert normalise_database_url("sqlite:///x.db") == "sqlite+aiosqlite:///x.db"


def test_fast_clock_runs_market_time_faster() -> None:
    assert demo_speed_for(20) == 45.0
    start = datetime(2026, 6, 1, tzinfo=UTC)
    clock = FastClock(45.0, market_anchor=start, real_anchor=time.time() - 20)
    assert timedelta(minutes=14.9) < clock.now() - start < timedelta(minutes=15.5)
    assert clock_for_speed(1.0).now().tzinfo is not None


async def test_intervals_across_the_autumn_change_are_numbered_1_to_100(world: World) -> None:
    async with unit_of_work(world.db.sessions) as s:
        update = market_parameters.ParametersUpdate(horizon_intervals=100)
        await market_parameters.update_parameters(s, world.carol, update)
    world.clock.set(datetime(2026, 10, 24, 21, 50, tzinfo=UTC))  # 23:50 local, +02:00
    await world.scheduler().tick()
    async with world.session() as s:
        rows = (
            await s.scalars(
                select(Interval)
                .where(Interval.local_day == date(2026, 10, 25))
                .order_by(Interval.start_utc)
            )
        ).all()
        view = await list_intervals(s, world.clock, upcoming=3)
    assert [r.number for r in rows] == list(range(1, 101))
    assert rows[0].start_utc == datetime(2026, 10, 24, 22, 0, tzinfo=UTC)
    assert rows[-1].start_utc == datetime(2026, 10, 25, 22, 45, tzinfo=UTC)
    assert [v.number for v in view.open] == [1, 2, 3]
    assert view.open[0].accepting_orders and view.open[0].seconds_to_gate == 300.0


async def test_listing_intervals_and_my_fills(world: World) -> None:
    first = (await world.open_intervals())[0]
    async with world.session() as s:
        sell = {"metering_point_id": world.alice_mp, "side": "sell", "price": "0.30"}
        buy = {"metering_point_id": world.bob_mp, "side": "buy", "price": "0.50"}
        for actor, fields in ((world.alice, sell), (world.bob, buy)):
            order = parse_order({"interval_id": first.id, "quantity_kwh": "4", **fields})
            await orders.place_order(s, actor, world.clock, order)
        await s.commit()
    world.clock.set(first.start_utc + timedelta(minutes=1))
    await world.scheduler().tick()
    async with world.session() as s:
        view = await list_intervals(s, world.clock)
        fills = await book.my_fills(s, world.bob)
        assert await book.my_fills(s, world.carol) == []
    assert view.current is not None and view.current.id == first.id
    assert view.current.status == "cleared" and not view.current.accepting_orders
    assert [r.id for r in view.recent] == [first.id]
    assert first.id not in [o.id for o in view.open]
    (fill,) = fills
    # Both fully accepted: the price lies in [0.30, 0.50]; the rule picks the midpoint.
    assert (fill.side, fill.accepted_kwh, fill.status) == ("buy", Decimal("4.000"), "filled")
    assert fill.amount_pln == (fill.accepted_kwh * fill.clearing_price).quantize(Decimal("0.01"))
    assert Decimal("0.30") <= fill.clearing_price <= Decimal("0.50")


class BrokenPublisher:
    async def publish(self, channel: str, event: dict[str, object]) -> None:
        raise ConnectionError("redis is down")


async def test_a_broken_publisher_never_undoes_a_committed_order(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    first = (await world.open_intervals())[0]
    order = parse_order(
        {"interval_id": first.id, "metering_point_id": world.alice_mp, "side": "sell",
         "quantity_kwh": "1", "price": "0.3"}
    )  # fmt: skip
    async with world.session() as s:
        done = await orders.place_order(s, world.alice, world.clock, order)
        await s.commit()
    await pipeline.publish(BrokenPublisher(), done.events)
    view = done.view
    async with world.session() as s:
        assert [o.id for o in await orders.list_my_orders(s, world.alice)] == [view.id]
    assert "publishing to orderbook failed" in caplog.text


def test_migrate_command_and_drift_check(tmp_path: Path) -> None:
    from web.cli import main

    url = f"sqlite:///{tmp_path / 'sub' / 'k.db'}"
    assert main(["migrate", "--database-url", url]) == 0
    assert main(["migrate", "--check", "--database-url", url]) == 0
    assert main(["migrate", "--downgrade", "0001", "--database-url", url]) == 0
    assert main(["migrate", "--check", "--database-url", url]) == 1  # meter tables missing
