"""The simulation on a small cluster (60-minute intervals, the autumn DST day of 25 hours):
the real pipeline runs, the figures hold together, a re-run with the same seed gives the same
summary, a day hook is called with the day's intervals, the day-ahead auction runs."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import anyio
import pytest
from sqlalchemy import func, select

from market.clearing.models import ClearingRun
from market.db.engine import create_engine, migrate, session_factory, unit_of_work
from market.demo.seed import seed_demo
from market.network.models import Line, MeteringPoint
from market.simulation import engine as sim_engine
from market.simulation.apply import apply_scenario
from market.simulation.engine import Simulation
from market.simulation.scenario import parse_scenario
from market.trading.models import Interval, IntervalStatus

DAY = date(2026, 10, 25)  # the autumn DST day: 25 hours
SCENARIO = parse_scenario(
    {
        "name": "small",
        "base_points": 20,
        "add_members": [{"kind": "household", "count": 3, "annual_use_kwh": 3000, "pv_kwp": 5}],
        "storage": [{"capacity_kwh": 200, "power_kw": 100, "node": "GPZ-STASZOW"}],
        "lines": [{"line": "L-F2-WIES", "capacity_kw": 5000}],
    }
)


def _run(tmp: Path, seed: int, hooks: tuple[Any, ...] = (), store: bool = True) -> dict[str, Any]:
    url = f"sqlite+aiosqlite:///{tmp}/sim-{seed}-{store}.db"
    migrate(url)

    async def main() -> dict[str, Any]:
        engine = create_engine(url)
        sessions = session_factory(engine)
        try:
            async with unit_of_work(sessions) as s:
                await seed_demo(
                    s,
                    members=20,
                    seed=seed,
                    now=datetime(2026, 10, 25, tzinfo=UTC),
                    interval_minutes=60,
                )
                assert await apply_scenario(s, SCENARIO, seed) == 4
            doc = await Simulation(
                sessions, DAY, DAY, seed=seed, hooks=hooks, store_results=store
            ).run()
            async with sessions() as s:
                doc["_stored_runs"] = await s.scalar(select(func.count(ClearingRun.id)))
                doc["_statuses"] = sorted(set((await s.scalars(select(Interval.status))).all()))
                doc["_points"] = await s.scalar(select(func.count(MeteringPoint.id)))
                doc["_line"] = await s.scalar(
                    select(Line.capacity_kw).where(Line.code == "L-F2-WIES")
                )
            return doc
        finally:
            await engine.dispose()

    return anyio.run(main)


def _figures(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k != "timing"}


@pytest.mark.slow
def test_one_day_real_pipeline_deterministic(tmp_path: Path) -> None:
    days: list[tuple[date, int]] = []

    async def hook(session: Any, cluster: Any, day: date, intervals: list[Any]) -> None:
        days.append((day, len(intervals)))

    first = _run(tmp_path / "a", 7, hooks=(hook,))
    assert days == [(DAY, 25)]
    assert first["intervals"] == first["cleared"] == 25 and first["failed"] == 0
    # the demo cluster has a day-ahead auction: it ran before the intervals cleared
    assert first["day_ahead"]["auctions"] == 1 and first["day_ahead"]["failed"] == 0
    assert D(first["day_ahead"]["sold_kwh"]) > 0
    assert first["_stored_runs"] == 25 and first["_statuses"] == [IntervalStatus.CLEARED.value]
    assert first["_points"] == 24 and first["_line"] == 5000
    assert first["metering_points"] == 24 and first["by_kind"]["storage"]["metering_points"] == 3
    st = first["statutory"]
    assert D(st["exempt_kwh"]) <= D(st["matched_kwh"]) <= D(st["renewable_fed_in_kwh"])
    (month,) = st["months"]
    assert month["hours"] == 25 and month["source"] == "meter_data"
    # the kinds' energies are the cluster's: every point's metered hours, summed
    kinds = first["by_kind"].values()
    assert sum(D(k["consumption_kwh"]) for k in kinds) == D(month["member_consumption_kwh"])
    assert sum(D(k["avoided_fees_pln"]) for k in kinds) == D(st["avoided_fees_pln"])
    assert abs(sum(D(k["discount_pln"]) for k in kinds) - D(st["discount_pln"])) <= D(
        "0.0001"
    ) * len(first["by_kind"])
    for k in kinds:  # benefit = without − with, with = market − avoided − discount
        assert D(k["benefit_pln"]) == D(k["without_cluster_pln"]) - D(k["with_cluster_pln"])
    # the same seed on a fresh database: the same figures; not storing results: the same
    again = _run(tmp_path / "b", 7)
    assert _figures(again) == _figures(first)
    unstored = _run(tmp_path / "c", 7, store=False)
    assert unstored["_stored_runs"] == 0
    for key in ("by_kind", "statutory", "grid", "congestion"):
        assert unstored[key] == first[key]
    other = _run(tmp_path / "d", 8)
    assert other["by_kind"] != first["by_kind"]
    # two results side by side
    import json

    from web.cli import main

    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(first | {"scenario": "seven"}, default=str), "utf-8")
    b.write_text(json.dumps(other | {"scenario": "eight"}, default=str), "utf-8")
    out = tmp_path / "cmp.txt"
    assert main(["simulate", "--compare", str(a), str(b), "--format", "table", "-o", str(out)]) == 0
    text = out.read_text("utf-8")
    assert "seven" in text and "eight" in text
    assert "household: benefit per member, PLN" in text and "condition renewable_share" in text
    assert "grid import, kWh" in text


@pytest.mark.slow
@pytest.mark.parametrize("split", ["default", "a process per day", "a job per day"])
def test_two_workers_give_the_summary_of_one_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, split: str
) -> None:
    """Three days shared by two processes (each job on a copy of the database, skipping the
    earlier days' forecast-error draws): the same figures as one process. Also with a fresh
    process for every day (three jobs, two processes at a time), and with a job per day
    handed to whichever process is free (one process runs two, its memo of clearings kept
    from the first to the second)."""
    if split == "a process per day":
        monkeypatch.setattr(sim_engine, "_POINT_DAYS_PER_PROCESS", 1)
    elif split == "a job per day":
        monkeypatch.setattr(sim_engine, "_LEAST_JOB_DAYS", 1)

    def run(workers: int) -> dict[str, Any]:
        url = f"sqlite+aiosqlite:///{tmp_path}/w{workers}.db"
        migrate(url)

        async def main() -> dict[str, Any]:
            engine = create_engine(url)
            sessions = session_factory(engine)
            try:
                async with unit_of_work(sessions) as s:
                    await seed_demo(
                        s, members=20, seed=5, now=datetime(2026, 3, 1, tzinfo=UTC),
                        interval_minutes=60,
                    )  # fmt: skip
                    await apply_scenario(s, SCENARIO, 5)
                first, last = date(2026, 3, 28), date(2026, 3, 30)  # the spring DST day too
                return await Simulation(sessions, first, last, seed=5, workers=workers).run()
            finally:
                await engine.dispose()

        return anyio.run(main)

    one, two = run(1), run(2)
    assert one["intervals"] == 23 + 24 + 24 and one["day_ahead"]["auctions"] == 3
    assert _figures(two) == _figures(one)


@pytest.mark.parametrize(
    ("days", "workers", "most"),
    [(365, 2, 266), (30, 2, 4), (3, 2, 1000), (1, 2, 5), (7, 4, 1), (100, 3, 10)],
)
def test_jobs_shrink_towards_the_end(days: int, workers: int, most: int) -> None:
    sizes = sim_engine._job_sizes(days, workers, most)
    assert sum(sizes) == days
    assert all(1 <= n <= most for n in sizes)
    assert sizes == sorted(sizes, reverse=True)
    least = min(most, sim_engine._LEAST_JOB_DAYS)
    assert all(n >= least for n in sizes[:-1])
    if days == 365:  # the demo's year: a quarter of it first, two-day jobs last
        assert sizes[0] == 92 and max(sizes[-4:]) == 2 and len(sizes) < 20


_OWNER = """
import multiprocessing, os, time
from market.simulation import engine
from market.simulation.engine import _worker_processes

engine._POINT_DAYS_PER_PROCESS = 1  # a fresh process for every job
with _worker_processes(multiprocessing.get_context("spawn"), 2) as (manager, pools):
    for _ in range(2):  # replaced ones
        [f.result() for f in [pools.pool(slot, 1).submit(time.sleep, 0.2) for slot in (0, 1)]]
    futures = [pools.pool(slot, 1).submit(time.sleep, 60) for slot in (0, 1)]  # two busy
    while not all(f.running() for f in futures):
        time.sleep(0.05)
    print(manager._process.pid, *[pid for p in pools._pools for pid in p._processes], flush=True)
    time.sleep(60)
"""


def test_a_simulation_whose_process_was_killed_leaves_no_workers() -> None:
    """SIGKILL a several-worker run's process: its manager and pool workers exit within
    seconds (before, they ran on for nobody, then idled for good)."""
    from tests.support.processes import kill_and_survivors, owner

    with owner(_OWNER) as (process, children):
        assert len(children) == 3
        alive = kill_and_survivors(process, children)
        assert not alive, f"still running 15 s after their owner was killed: {alive}"


def test_a_stopped_run_ends_within_the_day(monkeypatch: pytest.MonkeyPatch) -> None:
    """A coordinator's cancel sets `stop`: the run ends after the phase it is in (here the
    day's orders), not after the rest of the day (at 5,000 points a day is a minute)."""
    import threading

    from market.simulation.runs import RunStopped, simulate_temporary

    stop = threading.Event()
    phases: list[str] = []
    phase = Simulation._phase

    def spy(self: Simulation, name: str, since: tuple[float, float]) -> tuple[float, float]:
        phases.append(name)
        if name == "orders":
            stop.set()  # the cancel arrives while the day's orders are placed
        return phase(self, name, since)

    monkeypatch.setattr(Simulation, "_phase", spy)
    with pytest.raises(RunStopped):
        simulate_temporary(SCENARIO, DAY, DAY + timedelta(days=1), 1, stop=stop)
    assert phases == ["orders"]
