"""Per-interval grid prices in the day-ahead problem from the imported RCE
(`market.prices.grid`, cluster parameter `grid_prices`), worked by hand.

The test market's grid connection at A sells at 0.80 and buys at 0.20 PLN/kWh (spread 0.60)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from market.clearing.day_ahead import build_day_problem
from market.cluster.service import get_cluster
from market.core.errors import ValidationFailed
from market.db.engine import unit_of_work
from market.prices.grid import grid_price_series, interval_rce
from market.prices.models import MarketPrice
from market.trading import parameters
from market.trading.day_ahead_gate import ensure_day
from tests.support.market import World

pytestmark = pytest.mark.anyio
DAY = date(2026, 6, 17)  # 96 quarter-hours from 2026-06-16 22:00 UTC
D = Decimal


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_series_keeps_the_spread_and_falls_back_to_the_fixed_prices() -> None:
    imports, exports = grid_price_series(D("0.80"), D("0.20"), [D("0.35"), None, D("-0.025")])
    assert imports == [D("0.95"), D("0.80"), D("0.575")]
    assert exports == [D("0.35"), D("0.20"), D("-0.025")]


async def _prices(world: World, rows: list[tuple[datetime, int, str]]) -> None:
    async with unit_of_work(world.db.sessions) as s:
        for start, minutes, mwh in rows:
            s.add(
                MarketPrice(
                    start_utc=start, resolution_minutes=minutes, price_pln_per_mwh=D(mwh),
                    source="test",
                )
            )  # fmt: skip


async def _problem_grid(world: World) -> dict[str, object]:
    async with unit_of_work(world.db.sessions) as s:
        cluster = await get_cluster(s)
        auction = await ensure_day(s, cluster, DAY, world.clock.now())
        problem = await build_day_problem(s, auction)
    grid = problem.doc["network"]["grid_connections"]
    assert len(grid) == 1
    return dict(grid[0])


async def _set(world: World, value: str) -> None:
    async with unit_of_work(world.db.sessions) as s:
        update = parameters.parse_parameters({"grid_prices": value})
        await parameters.update_parameters(s, world.carol, update)


async def test_interval_rce_prefers_its_own_period_then_the_hour(world: World) -> None:
    await _prices(
        world,
        [
            (utc(2026, 6, 16, 22, 0), 15, "350.00"),
            (utc(2026, 6, 16, 22, 0), 60, "999.00"),  # the quarter-hour's own price wins
            (utc(2026, 6, 17, 10, 0), 60, "120.50"),
            *[(utc(2026, 6, 17, 12, 15 * k), 15, f"{100 + 10 * k}.00") for k in range(4)],
        ],
    )
    async with world.session() as s:
        q = await interval_rce(
            s, [utc(2026, 6, 16, 22, 0), utc(2026, 6, 17, 10, 45), utc(2026, 6, 17, 11)], 15
        )
        h = await interval_rce(s, [utc(2026, 6, 17, 12), utc(2026, 6, 17, 10)], 60)
    assert q == [D("0.3500"), D("0.1205"), None]
    # An hour from four quarter-hours: (100 + 110 + 120 + 130) / 4 = 115 PLN/MWh.
    assert h == [D("0.1150"), D("0.1205")]


async def test_market_grid_prices_enter_the_day_problem_per_interval(world: World) -> None:
    await _prices(
        world,
        [
            (utc(2026, 6, 16, 22, 0), 15, "350.00"),  # interval 0
            (utc(2026, 6, 16, 22, 15), 15, "-25.00"),  # interval 1: a negative price
            (utc(2026, 6, 17, 10, 0), 60, "120.50"),  # intervals 48–51 (12:00 local)
        ],
    )
    fixed = await _problem_grid(world)
    assert (fixed["import_price"], fixed["export_price"]) == (0.8, 0.2)  # the default

    await _set(world, "market")
    grid = await _problem_grid(world)
    imports, exports = grid["import_price"], grid["export_price"]
    assert isinstance(imports, list) and isinstance(exports, list)
    assert len(imports) == len(exports) == 96
    assert (imports[0], exports[0]) == (0.95, 0.35)
    assert (imports[1], exports[1]) == (0.575, -0.025)
    assert {(imports[t], exports[t]) for t in range(48, 52)} == {(0.7205, 0.1205)}
    others = set(range(96)) - {0, 1, 48, 49, 50, 51}
    assert {(imports[t], exports[t]) for t in others} == {(0.8, 0.2)}


async def test_market_mode_without_imported_prices_keeps_the_fixed_ones(world: World) -> None:
    await _set(world, "market")
    grid = await _problem_grid(world)
    assert (grid["import_price"], grid["export_price"]) == (0.8, 0.2)


async def test_an_unknown_grid_price_source_is_refused_naming_the_field() -> None:
    with pytest.raises(ValidationFailed) as err:
        parameters.parse_parameters({"grid_prices": "dynamic"})
    assert err.value.field == "grid_prices"


async def test_reading_a_day_leaves_the_connections_page_cache_as_it_was(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The day's orders are read with a bigger SQLite page cache (da13d); the connection,
    back in the pool afterwards, has its own size again. (A day as small as this one's is
    read with the cache as it is: the bigger one forced here, `BUILD_CACHE_FROM`.)"""
    from sqlalchemy import text

    from market.clearing import day_ahead

    monkeypatch.setattr(day_ahead, "BUILD_CACHE_FROM", 0)

    async with unit_of_work(world.db.sessions) as s:
        sqlite = s.get_bind().dialect.name == "sqlite"
        if sqlite:
            await s.execute(text("PRAGMA cache_size = -3000"))
        cluster = await get_cluster(s)
        auction = await ensure_day(s, cluster, DAY, world.clock.now())
        await build_day_problem(s, auction)
        if sqlite:
            assert (await s.execute(text("PRAGMA cache_size"))).scalar() == -3000
