"""The meter-history forecast of standing orders (`market.metering.forecast`): same weekday
over the last four weeks per local wall-clock interval, worked by hand, DST days included."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, select

from market.db.engine import unit_of_work
from market.metering.forecast import history_net_kwh, local_starts, wall_clock_minute
from market.metering.models import MeterImport, MeterReading
from market.trading import standing
from market.trading.models import Order
from market.trading.order_input import parse_standing
from tests.support.market import World

pytestmark = pytest.mark.anyio
WARSAW = ZoneInfo("Europe/Warsaw")
TZ = "Europe/Warsaw"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


async def readings(world: World, pid: int, rows: list[tuple[datetime, str, str]]) -> None:
    """(start UTC, import kWh, export kWh) readings of one point."""
    async with unit_of_work(world.db.sessions) as s:
        imp = MeterImport(
            filename="t.csv", sha256="0" * 64, resolution_minutes=15, rows=len(rows),
            stored_readings=len(rows),
        )  # fmt: skip
        s.add(imp)
        await s.flush()
        for start, i, e in rows:
            s.add(
                MeterReading(
                    start_utc=start, metering_point_id=pid, import_kwh=Decimal(i),
                    export_kwh=Decimal(e), quality="measured", source_minutes=15,
                    import_id=imp.id,
                )
            )  # fmt: skip


async def forecast(world: World, pids: list[int], starts: list[datetime]) -> dict[Any, float]:
    async with world.session() as s:
        return await history_net_kwh(s, pids, starts, TZ)


def test_wall_clock_on_dst_days() -> None:
    assert local_starts(date(2026, 3, 29), 2 * 60 + 15, WARSAW) == []  # the spring gap
    assert local_starts(date(2026, 10, 25), 2 * 60 + 15, WARSAW) == [
        utc(2026, 10, 25, 0, 15),
        utc(2026, 10, 25, 1, 15),
    ]
    assert local_starts(date(2026, 6, 8), 12 * 60, WARSAW) == [utc(2026, 6, 8, 10, 0)]
    assert wall_clock_minute(utc(2026, 10, 25, 1, 15), WARSAW) == 135


async def test_same_weekday_mean_over_the_weeks_present(world: World) -> None:
    # Monday 2026-06-22, 12:00 local = 10:00 UTC. History Mondays 15, 8, 1 June and 25 May.
    await readings(
        world,
        world.alice_mp,
        [
            (utc(2026, 6, 15, 10), "1", "3"),  # +2
            (utc(2026, 6, 8, 10), "1", "0"),  # −1
            # 1 June missing
            (utc(2026, 5, 25, 10), "0", "5"),  # +5
            (utc(2026, 6, 16, 10), "0", "99"),  # a Tuesday: not the same weekday
            (utc(2026, 5, 18, 10), "0", "99"),  # five weeks back: outside the window
            (utc(2026, 6, 15, 10, 15), "0.5", "0"),  # the next quarter-hour: −0.5
        ],
    )
    got = await forecast(
        world,
        [world.alice_mp, world.bob_mp],
        [utc(2026, 6, 22, 10), utc(2026, 6, 22, 10, 15), utc(2026, 6, 22, 10, 30)],
    )
    # (2 − 1 + 5) / 3 = 2; 10:15 has one week; 10:30 and Bob have no history at all.
    assert got == {
        (world.alice_mp, utc(2026, 6, 22, 10)): 2.0,
        (world.alice_mp, utc(2026, 6, 22, 10, 15)): -0.5,
    }


async def test_spring_day_matches_wall_clock_not_utc(world: World) -> None:
    # Sunday 2026-03-29 (23 h). 03:00 local is 01:00 UTC that day; a week earlier (CET)
    # 03:00 local was 02:00 UTC and 02:00 local was 01:00 UTC.
    await readings(
        world,
        world.alice_mp,
        [
            (utc(2026, 3, 22, 1), "0", "4"),  # 02:00 local: no 02:00 on the target day
            (utc(2026, 3, 22, 2), "1", "0"),  # 03:00 local: −1
            (utc(2026, 3, 15, 2), "2", "0"),  # 03:00 local: −2
        ],
    )
    got = await forecast(world, [world.alice_mp], [utc(2026, 3, 29, 0, 45), utc(2026, 3, 29, 1)])
    # 00:45 UTC = 01:45 CET has no history; 01:00 UTC = 03:00 CEST: (−1 − 2) / 2.
    assert got == {(world.alice_mp, utc(2026, 3, 29, 1)): -1.5}


async def test_autumn_days_both_ways(world: World) -> None:
    await readings(
        world,
        world.alice_mp,
        [
            (utc(2026, 10, 18, 0), "0", "6"),  # 02:00 CEST on the Sunday before: +6
            (utc(2026, 10, 25, 0), "0", "1"),  # 02:00 CEST on the autumn day: +1
            (utc(2026, 10, 25, 1), "0", "3"),  # 02:00 CET, the repeated hour: +3
        ],
    )
    # On the autumn day (25 h) both 02:00s (00:00 and 01:00 UTC) take the one history 02:00.
    got = await forecast(world, [world.alice_mp], [utc(2026, 10, 25, 0), utc(2026, 10, 25, 1)])
    assert got == {
        (world.alice_mp, utc(2026, 10, 25, 0)): 6.0,
        (world.alice_mp, utc(2026, 10, 25, 1)): 6.0,
    }
    # A week later 02:00 CET = 01:00 UTC: history 10-25 counts both of its 02:00s and 10-18's.
    got = await forecast(world, [world.alice_mp], [utc(2026, 11, 1, 1)])
    assert got == {(world.alice_mp, utc(2026, 11, 1, 1)): pytest.approx((6 + 1 + 3) / 3)}


async def grouped_queries(world: World, pids: list[int], starts: list[datetime]) -> list[str]:
    """The grouped history joins `history_net_kwh` runs for the starts (not the probes)."""
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, sql: str, *args: Any) -> None:
        if "meter_readings" in sql and "GROUP BY" in sql:
            statements.append(sql)

    sync = world.db.engine.sync_engine
    event.listen(sync, "before_cursor_execute", seen)
    try:
        await forecast(world, pids, starts)
    finally:
        event.remove(sync, "before_cursor_execute", seen)
    return statements


async def test_one_query_per_local_day(world: World) -> None:
    # Monday 1 June 23:45 and Tuesday 2 June 00:00 local: history of both days below
    await readings(
        world,
        world.alice_mp,
        [(utc(2026, 6, 1, 21, 45), "1", "0"), (utc(2026, 6, 1, 22, 0), "1", "0")],
    )
    # Two local days (21:45 and 22:00 UTC straddle Warsaw midnight), two points.
    statements = await grouped_queries(
        world,
        [world.alice_mp, world.bob_mp],
        [utc(2026, 6, 22, 21, 45), utc(2026, 6, 22, 22, 0), utc(2026, 6, 22, 22, 15)],
    )
    assert len(statements) == 2


async def test_no_readings_in_the_weeks_no_grouped_query(world: World) -> None:
    # A reading outside the four weeks (five weeks back, and the day itself) is not history.
    await readings(
        world,
        world.alice_mp,
        [(utc(2026, 5, 18, 10), "0", "99"), (utc(2026, 6, 22, 10), "0", "99")],
    )
    starts = [utc(2026, 6, 22, 10), utc(2026, 6, 22, 10, 15)]
    assert await grouped_queries(world, [world.alice_mp], starts) == []
    assert await forecast(world, [world.alice_mp], starts) == {}
    # A reading in one of the weeks between the instants asked for (10:05): the probe
    # finds it, the join runs and finds nothing for these wall-clock minutes.
    await readings(world, world.alice_mp, [(utc(2026, 6, 8, 10, 5), "1", "0")])
    assert len(await grouped_queries(world, [world.alice_mp], starts)) == 1
    assert await forecast(world, [world.alice_mp], starts) == {}


async def test_forecast_rule_takes_history_where_there_is_some(world: World) -> None:
    opened = await world.open_intervals()
    first, second = opened[0], opened[1]
    # A week before the first open interval the point fed in 4 kWh net (a cloudy profile day
    # would give something else); the second interval has no history.
    week = first.start_utc.replace(day=first.start_utc.day - 7)
    await readings(world, world.alice_mp, [(week, "0.5", "4.5")])
    rule = parse_standing(
        {"metering_point_id": world.alice_mp, "side": "sell", "price": "0.30", "mode": "forecast"}
    )
    async with unit_of_work(world.db.sessions) as s:
        await standing.create_standing_order(s, world.alice, world.clock, rule)
    async with world.session() as s:
        placed = {
            o.interval_id: o.quantity_kwh
            for o in (await s.scalars(select(Order).where(Order.standing_order_id.is_not(None))))
        }
    assert placed[first.id] == Decimal("4.000")
    assert second.id in placed and placed[second.id] != Decimal("4.000")  # the profile's
