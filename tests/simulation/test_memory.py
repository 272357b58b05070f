"""What a one-process simulation keeps from one day to the next: nothing that grows with the
days it has simulated (issue 14: at 5,000 points one process grew 490 → 671 MB over four
days). Counted, not timed: the module-level caches that are keyed by the day or the interval
(`metering.profiles.cloud_factor`, `clock`, `clearing.store`'s written values) and the live
objects of the day (its intervals, their clocks) at the end of each day."""

from __future__ import annotations

import gc
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import anyio
import pytest

from market.clearing import store
from market.db.engine import create_engine, migrate, session_factory, unit_of_work
from market.demo.seed import seed_demo
from market.metering import profiles
from market.metering.profiles import IntervalClock
from market.simulation.apply import apply_scenario
from market.simulation.engine import Simulation
from market.trading.models import Interval
from tests.simulation.test_simulate import SCENARIO

FIRST = date(2026, 6, 1)
DAYS = 4


def _day_ends(tmp: Path) -> list[dict[str, int]]:
    """What is alive at the end of each simulated day (after its clean-up)."""
    url = f"sqlite+aiosqlite:///{tmp}/memory.db"
    migrate(url)
    ends: list[dict[str, int]] = []
    #: What other tests (the same process in the whole suite) left alive before the run.
    before: Counter[type] = Counter()

    def alive() -> Counter[type]:
        gc.unfreeze()  # the day's survivors are frozen: count them too, then as they were
        try:
            gc.collect()
            return Counter(type(o) for o in gc.get_objects())
        finally:
            gc.freeze()

    def progress(_done: int, _total: int, _day: date) -> None:
        counted = alive()
        live = {kind: max(0, counted[kind] - before[kind]) for kind in (IntervalClock, Interval)}
        ends.append(
            {
                "cloud_factor": profiles.cloud_factor.cache_info().currsize,
                "clock": profiles.clock.cache_info().currsize,
                "prices": store._price_nonzero.cache_info().currsize,
                "energies": store._energy_nonzero.cache_info().currsize,
                "IntervalClock": live[IntervalClock],
                "Interval": live[Interval],
            }
        )

    async def main() -> None:
        engine = create_engine(url)
        sessions = session_factory(engine)
        try:
            async with unit_of_work(sessions) as s:
                await seed_demo(
                    s, members=20, seed=3, now=datetime(2026, 6, 1, tzinfo=UTC),
                    interval_minutes=60,
                )  # fmt: skip
                await apply_scenario(s, SCENARIO, 3)
            last = FIRST + timedelta(days=DAYS - 1)
            before.update(alive())
            await Simulation(sessions, FIRST, last, seed=3, workers=1, progress=progress).run()
        finally:
            await engine.dispose()

    anyio.run(main)
    return ends


@pytest.mark.slow
def test_a_day_leaves_nothing_that_grows_with_the_days(tmp_path: Path) -> None:
    """Every day ends with the same (empty) caches and none of its intervals or their clocks
    alive: before, `cloud_factor` gained a day's PV points and `clock` a day's intervals each
    day (up to 65,536 and 4,096 entries), and the written values grew to 16,384; the day's
    intervals lived on into the next day."""
    ends = _day_ends(tmp_path)
    assert len(ends) == DAYS
    assert ends[-1] == ends[0] == dict.fromkeys(ends[0], 0), ends
