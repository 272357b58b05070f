"""The one claim/lease mechanism (`market.db.lease`) on SQLite and PostgreSQL: of many
concurrent claims exactly one wins; a lease that ran out is taken over; a worker that lost its
lease can neither renew nor store; a finish and a take-over racing for the row serialise; the
heartbeat keeps a lease alive and notices when it is gone."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import anyio
import pytest
from sqlalchemy import select

from market.access.models import Member
from market.db.engine import create_engine, session_factory, unit_of_work
from market.db.lease import Lease, heartbeat
from market.simulation.models import RunStatus, SimulationRun

pytestmark = pytest.mark.anyio

LEASE = Lease(SimulationRun, RunStatus.RUNNING.value, (RunStatus.QUEUED.value,))
MINUTE = timedelta(minutes=1)


async def _queued(db: Any) -> int:
    async with unit_of_work(db.sessions) as s:
        member = Member(name="Koordynator", kind="operator", role="coordinator")
        s.add(member)
        await s.flush()
        run = SimulationRun(name="x", source="x", scenario={}, first_day=date(2026, 6, 1),
                            last_day=date(2026, 6, 1), seed=1, status="queued", reason="",
                            created_by=member.id)  # fmt: skip
        s.add(run)
        await s.flush()
        return run.id


async def _row(db: Any, run_id: int) -> SimulationRun:
    async with db.sessions() as s:
        run = await s.get(SimulationRun, run_id)
        assert run is not None
        return run


async def test_of_concurrent_claims_exactly_one_wins(db: Any) -> None:
    run_id = await _queued(db)
    contenders = 8
    wins: list[str] = []

    async def contend(k: int) -> None:
        engine = create_engine(db.url)  # a connection (pool) of its own, as another process
        try:
            if await LEASE.claim(session_factory(engine), run_id, f"w{k}", MINUTE):
                wins.append(f"w{k}")
        finally:
            await engine.dispose()

    async with anyio.create_task_group() as group:
        for k in range(contenders):
            group.start_soon(contend, k)
    assert len(wins) == 1
    row = await _row(db, run_id)
    assert (row.status, row.claimed_by) == ("running", wins[0])
    assert row.claim_until is not None and row.claim_until > datetime.now(UTC)


async def test_an_expired_lease_is_taken_over_and_the_loser_can_neither_renew_nor_store(
    db: Any,
) -> None:
    run_id = await _queued(db)
    long_ago = datetime.now(UTC) - timedelta(minutes=10)
    assert await LEASE.claim(db.sessions, run_id, "dead", MINUTE, now=long_ago)
    # A live lease is not taken over ...
    assert await LEASE.claim(db.sessions, run_id, "live", MINUTE)
    assert not await LEASE.claim(db.sessions, run_id, "third", MINUTE)
    # ... and the worker whose lease ran out has lost it: no renewal, no store.
    assert not await LEASE.renew(db.sessions, run_id, "dead", MINUTE)
    async with unit_of_work(db.sessions) as s:
        assert not await LEASE.finish(s, run_id, "dead", "done", reason="late", summary={"x": 1})
    row = await _row(db, run_id)
    assert (row.status, row.claimed_by, row.reason, row.summary) == ("running", "live", "", None)
    # The taker-over renews and stores.
    before = row.claim_until
    assert await LEASE.renew(db.sessions, run_id, "live", 2 * MINUTE)
    assert (await _row(db, run_id)).claim_until > before  # type: ignore[operator]
    async with unit_of_work(db.sessions) as s:
        assert await LEASE.finish(s, run_id, "live", "done", reason="", summary={"x": 2})
    row = await _row(db, run_id)
    assert (row.status, row.summary, row.claim_until) == ("done", {"x": 2}, None)
    # A finished row is claimed by nobody.
    assert not await LEASE.claim(
        db.sessions, run_id, "late", MINUTE, now=datetime.now(UTC) + MINUTE
    )


async def test_a_finish_and_a_take_over_racing_for_the_row_serialise(db: Any) -> None:
    """The holder's storing transaction locks the row: a taker-over that finds the lease
    expired waits for it and then sees the final status (so it takes nothing)."""
    run_id = await _queued(db)
    long_ago = datetime.now(UTC) - timedelta(minutes=10)
    assert await LEASE.claim(db.sessions, run_id, "slow", MINUTE, now=long_ago)
    other = create_engine(db.url)
    taken: list[bool] = []
    try:
        async with db.sessions() as s:
            assert await LEASE.finish(s, run_id, "slow", "done", summary={"ok": True})

            async def take_over() -> None:
                taken.append(await LEASE.claim(session_factory(other), run_id, "eager", MINUTE))

            async with anyio.create_task_group() as group:
                group.start_soon(take_over)
                await anyio.sleep(0.3)
                assert taken == []  # waits on the row (PostgreSQL) or the database (SQLite)
                await s.commit()
    finally:
        await other.dispose()
    assert taken == [False]
    row = await _row(db, run_id)
    assert (row.status, row.claimed_by, row.summary) == ("done", "slow", {"ok": True})


async def test_release_makes_the_holder_lose_its_lease(db: Any) -> None:
    run_id = await _queued(db)
    assert await LEASE.claim(db.sessions, run_id, "w", MINUTE)
    async with unit_of_work(db.sessions) as s:
        assert await LEASE.release(s, run_id, "cancelled", reason="stop")
        assert not await LEASE.release(s, run_id, "cancelled")  # once
    assert not await LEASE.renew(db.sessions, run_id, "w", MINUTE)
    async with unit_of_work(db.sessions) as s:
        assert not await LEASE.finish(s, run_id, "w", "done", summary={"x": 1})
    row = await _row(db, run_id)
    assert (row.status, row.summary, row.reason) == ("cancelled", None, "stop")


async def test_heartbeat_keeps_the_lease_and_notices_it_lost(db: Any) -> None:
    run_id = await _queued(db)
    short = timedelta(seconds=1)
    assert await LEASE.claim(db.sessions, run_id, "w", short)
    async with heartbeat(LEASE, db.sessions, run_id, "w", short, timedelta(seconds=0.2)) as beat:
        await anyio.sleep(1.5)  # longer than the lease: alive only by its renewals
        assert beat.renewals >= 3 and not beat.lost.is_set()
        assert not await LEASE.claim(db.sessions, run_id, "thief", short)
        async with unit_of_work(db.sessions) as s:
            await LEASE.release(s, run_id, "cancelled")
        with anyio.fail_after(5):
            await beat.lost.wait()
    async with db.sessions() as s:
        status = await s.scalar(select(SimulationRun.status).where(SimulationRun.id == run_id))
    assert status == "cancelled"


async def test_an_error_in_the_heartbeats_block_comes_out_as_itself(db: Any) -> None:
    run_id = await _queued(db)
    assert await LEASE.claim(db.sessions, run_id, "w", MINUTE)
    with pytest.raises(ValueError, match="the work failed"):
        async with heartbeat(LEASE, db.sessions, run_id, "w", MINUTE, timedelta(seconds=0.05)):
            await anyio.sleep(0.2)
            raise ValueError("the work failed")
