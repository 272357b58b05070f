"""A run queued on the simulations page is executed by `klaster simulate-run` in a process of
its own (as the page starts it): the real simulation on a temporary database, the summary
stored on the run; bad scenario and result files name the field."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import anyio
import pytest
from sqlalchemy import select

from market.access.actor import Actor
from market.access.models import Member
from market.core.errors import ValidationFailed
from market.db.engine import create_engine, migrate, session_factory, unit_of_work
from market.demo.seed import seed_demo
from market.simulation.models import SimulationRun
from market.simulation.runs import (
    parse_run_request,
    queue_run,
    read_result_file,
    read_scenario_file,
)
from web.pages.simulations import spawn_run


@pytest.mark.slow
def test_spawned_process_runs_the_simulation_and_stores_the_summary(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/product.db"
    migrate(url)
    scenario = b'name = "tiny"\nbase_points = 20\n'
    asked = parse_run_request(
        shipped=None, upload=("tiny.toml", scenario), start="2026-06-01", end=None, seed="3"
    )

    async def queue() -> int:
        engine = create_engine(url)
        try:
            async with unit_of_work(session_factory(engine)) as s:
                await seed_demo(s, members=20, now=datetime(2026, 5, 1, tzinfo=UTC))
                member_id = await s.scalar(select(Member.id).order_by(Member.id).limit(1))
                assert member_id is not None
                coordinator = Actor(member_id, "coordinator", "Koordynator")
                return (await queue_run(s, coordinator, asked)).id
        finally:
            await engine.dispose()

    async def read(run_id: int) -> SimulationRun | None:
        engine = create_engine(url)
        try:
            async with session_factory(engine)() as s:
                return await s.get(SimulationRun, run_id)
        finally:
            await engine.dispose()

    run_id = anyio.run(queue)
    spawn_run(run_id, url)
    deadline = time.monotonic() + 300
    run = anyio.run(read, run_id)
    while run is not None and run.status in ("queued", "running"):
        assert time.monotonic() < deadline, "the spawned run did not finish"
        time.sleep(0.5)
        run = anyio.run(read, run_id)
    assert run is not None and run.status == "done", run and run.reason
    assert run.summary is not None and run.summary["scenario"] == "tiny"
    assert run.summary["from"] == run.summary["to"] == "2026-06-01"
    assert run.summary["seed"] == 3 and run.summary["intervals"] == 96
    assert run.first_day == date(2026, 6, 1) and run.claimed_by.startswith("simulate-run:")


@pytest.mark.parametrize(
    ("content", "field"),
    [
        (b"\xff\xfe", "scenario"),
        (b"name = ", "scenario"),
        (b'[[add_members]]\nkind = "household"\ncount = -1\n', "add_members[0].count"),
        (b"surprise = 1\n", "surprise"),
    ],
)
def test_bad_scenario_file_names_the_field(content: bytes, field: str) -> None:
    with pytest.raises(ValidationFailed) as error:
        read_scenario_file("s.toml", content)
    assert field in error.value.field


def test_bad_result_file_and_range() -> None:
    good = Path(__file__).parents[1] / "support" / "simulation" / "founding-2026-06-01.json"
    assert read_result_file("founding.json", good.read_bytes())["metering_points"] == 75
    broken = good.read_text("utf-8").replace(
        '"intervals_by_line": {}', '"intervals_by_line": {"L": "x"}'
    )  # valid JSON, a count that is not a number
    assert broken != good.read_text("utf-8")
    for content in (b"[]", b"{", b'{"from": "2026-06-01"}', broken.encode()):
        with pytest.raises(ValidationFailed) as error:
            read_result_file("r.json", content)
        assert error.value.field == "result"
    with pytest.raises(ValidationFailed) as error:
        parse_run_request(shipped="founding", upload=None, start="2026-06-02", end="2026-06-01",
                          seed=None)  # fmt: skip
    assert error.value.field == "to"
    ok = parse_run_request(shipped="founding", upload=None, start="2026-06-01", end="", seed="")
    assert (ok.first_day, ok.last_day, ok.seed, ok.source) == (
        date(2026, 6, 1), date(2026, 6, 1), 2026, "founding"
    )  # fmt: skip


@pytest.mark.slow
@pytest.mark.anyio
async def test_a_killed_run_shows_interrupted_within_a_minute_and_a_cancelled_one_stops(
    db: Any,
) -> None:
    """Two real `klaster simulate-run` processes, on SQLite and on PostgreSQL: one renews its
    lease while it runs and is SIGKILLed — the run shows as interrupted once its lease ran out
    (≤ 60 s after its last renewal); the other is cancelled the page's way (the run marked
    cancelled, then SIGTERM to its process) — it ends and stores nothing."""
    await anyio.to_thread.run_sync(_kill_one_cancel_the_other, db.url)


def _kill_one_cancel_the_other(url: str) -> None:
    import os
    import signal

    from market.simulation.runs import LEASE, cancel_run, shown_status
    from web.pages.simulations import stop_process

    # long enough (a month at 40 points) that neither run ends before it is killed or
    # cancelled on a quiet machine: the renewal comes every 10 s
    scenario = b'name = "month"\nbase_points = 40\n'
    asked = parse_run_request(
        shipped=None, upload=("month.toml", scenario), start="2026-06-01", end="2026-06-30",
        seed="3",
    )  # fmt: skip

    async def with_session(fn: Any) -> Any:
        engine = create_engine(url)
        try:
            async with unit_of_work(session_factory(engine)) as s:
                return await fn(s)
        finally:
            await engine.dispose()

    async def queue_two(s: Any) -> tuple[int, int]:
        await seed_demo(s, members=20, now=datetime(2026, 5, 1, tzinfo=UTC))
        member_id = await s.scalar(select(Member.id).order_by(Member.id).limit(1))
        coordinator = Actor(member_id, "coordinator", "Koordynator")
        return (await queue_run(s, coordinator, asked)).id, (
            await queue_run(s, coordinator, asked)
        ).id

    killed, cancelled = anyio.run(with_session, queue_two)
    spawn_run(killed, url)
    spawn_run(cancelled, url)

    def read(run_id: int) -> SimulationRun:
        async def get(s: Any) -> SimulationRun:
            run = await s.get(SimulationRun, run_id)
            assert run is not None
            return run

        run: SimulationRun = anyio.run(with_session, get)
        return run

    def wait_for(run_id: int, check: Any, seconds: float) -> SimulationRun:
        deadline = time.monotonic() + seconds
        run = read(run_id)
        while not check(run):
            assert time.monotonic() < deadline, (run.status, run.reason, run.claim_until)
            time.sleep(0.5)
            run = read(run_id)
        return run

    first = wait_for(killed, lambda r: r.status == "running", 120)
    wait_for(cancelled, lambda r: r.status == "running", 120)
    assert first.claim_until is not None
    # the process renews its lease while it simulates
    renewed = wait_for(
        killed,
        lambda r: r.status != "running" or r.claim_until > first.claim_until,
        30,
    )
    assert renewed.status == "running" and shown_status(renewed) == "running"

    # the page's Cancel: the run is cancelled in one transaction, then its process signalled
    async def cancel(s: Any) -> str | None:
        member_id = await s.scalar(select(Member.id).order_by(Member.id).limit(1))
        return await cancel_run(s, Actor(member_id, "coordinator", "K"), cancelled)

    holder = anyio.run(with_session, cancel)
    assert holder is not None and stop_process(holder, cancelled)
    pid = int(holder.rsplit(":", 1)[1])

    # SIGKILL the other: nothing runs its `finally`, its lease just stops being renewed
    victim = read(killed)
    assert victim.claimed_by is not None
    os.kill(int(victim.claimed_by.rsplit(":", 1)[1]), signal.SIGKILL)
    killed_at = time.monotonic()

    def gone(pid: int) -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False

    deadline = time.monotonic() + 120
    while not gone(pid):  # ends at the end of the day it simulates
        assert time.monotonic() < deadline, "the cancelled run's process did not end"
        time.sleep(0.5)
    stopped = read(cancelled)
    assert (stopped.status, stopped.summary) == ("cancelled", None)

    interrupted = wait_for(killed, lambda r: shown_status(r) == "interrupted", 90)
    assert time.monotonic() - killed_at <= LEASE.total_seconds() + 5
    assert interrupted.status == "running" and interrupted.summary is None
