"""Clearing an interval from the database: build the problem, solve it off the event loop,
store the result in one transaction, and verify a stored clearing.

Exactly once (`market.db.lease`, as the day-ahead auction and simulation runs): an interval
is claimed by a conditional UPDATE (closed → clearing, or a clearing claim whose lease ran
out), and the result is stored only if the same UPDATE-guard
still holds (`status = 'clearing' AND claimed_by = me`) in the storing transaction; the
unique `clearing_runs.interval_id` is the last line of defence. A process that dies while
clearing leaves the interval in `clearing` with a lease that expires; the next worker takes it
over, removes any stale partial result and clears it again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import anyio
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.access import audit
from market.clearing.input import (
    ProblemInput,
    build_problem,
    canonical_json,
    decompress_problem,
    input_hash,
    problem_json,
    result_hash,
    solve,
)
from market.clearing.models import ClearingRun
from market.clearing.store import Converted, StoredRun, convert, store_result
from market.core.events import INTERVAL_CLEARED, Publisher, publish_safely
from market.db.engine import unit_of_work
from market.db.lease import Lease
from market.trading.models import Interval, IntervalStatus, Order, OrderStatus
from matching.memo import Memo
from matching.problem import ProblemError
from matching.result import ClearingResult

log = logging.getLogger("klaster.clearing")


def solve_and_convert(
    inp: ProblemInput, *, audited: bool = True, memo: Memo | None = None
) -> tuple[ClearingResult, Converted]:
    """Solve and turn the floats into stored decimals: the CPU-bound part, off the loop.
    `audited=False`: without the audit hashes and stored problem (simulated runs); `memo`:
    repeats of a problem's data reuse its clearing (`matching.memo`; the same result)."""
    result = solve(inp.problem, memo)
    return result, convert(inp, result, audited=audited)


__all__ = [
    "ProblemInput",
    "StoredRun",
    "build_problem",
    "canonical_json",
    "claim",
    "clear_claimed",
    "convert",
    "input_hash",
    "problem_json",
    "result_hash",
    "solve",
    "store_result",
    "verify_interval",
]


#: How an interval is claimed for clearing (`market.db.lease`).
INTERVAL_LEASE = Lease(Interval, IntervalStatus.CLEARING.value, (IntervalStatus.CLOSED.value,))


async def claim(
    sessions: async_sessionmaker[AsyncSession],
    interval_id: int,
    worker_id: str,
    lease: timedelta,
) -> bool:
    """Take the interval for clearing; True for exactly one contender."""
    return await INTERVAL_LEASE.claim(sessions, interval_id, worker_id, lease)


async def _finish(
    session: AsyncSession, interval_id: int, worker_id: str, status: IntervalStatus, reason: str
) -> bool:
    """Set the final status if this worker still holds the claim (locks the row)."""
    return await INTERVAL_LEASE.finish(
        session,
        interval_id,
        worker_id,
        status.value,
        reason=reason or None,
        cleared_at=datetime.now(UTC),
    )


async def clear_claimed(
    sessions: async_sessionmaker[AsyncSession],
    interval_id: int,
    worker_id: str,
    publisher: Publisher,
) -> StoredRun | None:
    """Clear an interval this worker has claimed; None if the claim was lost meanwhile.

    The worker's command, not a service: it runs its own transactions on purpose — a read
    released before the solve (which may take seconds, off the event loop), then one that
    stores the result only if the claim still holds."""
    started = datetime.now(UTC)
    async with sessions() as session:
        interval = await session.get(Interval, interval_id)
        assert interval is not None
        try:
            inp = await build_problem(session, interval)
        except ProblemError as exc:
            await session.rollback()
            await _fail(sessions, interval_id, worker_id, f"bad network or orders: {exc}")
            return None
        await session.rollback()  # release the read snapshot while solving
        try:
            result, converted = await anyio.to_thread.run_sync(solve_and_convert, inp)
        except Exception as exc:
            log.exception("clearing interval %s crashed", interval_id)
            await _fail(sessions, interval_id, worker_id, f"solver crashed: {exc!r}")
            return None
        try:
            final = IntervalStatus.CLEARED if result.ok else IntervalStatus.FAILED
            if not await _finish(session, interval_id, worker_id, final, result.reason):
                await session.rollback()
                return None
            await session.execute(delete(ClearingRun).where(ClearingRun.interval_id == interval_id))
            interval = await session.get(Interval, interval_id)
            assert interval is not None
            stored = await store_result(
                session, interval, converted, worker_id=worker_id, started_at=started
            )
            await session.commit()
        except IntegrityError:
            await session.rollback()
            log.info("interval %s was stored by another worker", interval_id)
            return None
        except BaseException:
            await session.rollback()
            raise
    await publish_safely(publisher, INTERVAL_CLEARED, cleared_event(interval, stored))
    return stored


async def _fail(
    sessions: async_sessionmaker[AsyncSession], interval_id: int, worker_id: str, reason: str
) -> None:
    async with unit_of_work(sessions) as session:
        if await _finish(session, interval_id, worker_id, IntervalStatus.FAILED, reason):
            await session.execute(
                update(Order)
                .where(
                    Order.interval_id == interval_id,
                    Order.status != OrderStatus.CANCELLED.value,
                )
                .values(
                    status=OrderStatus.UNFILLED.value,
                    accepted_kwh=Decimal("0.000"),
                    amount_pln=Decimal("0.00"),
                )
            )
            audit.record(
                session,
                None,
                "fail",
                "interval",
                interval_id,
                interval_id=interval_id,
                reason=reason,
                worker=worker_id,
            )


def cleared_event(interval: Interval, stored: StoredRun) -> dict[str, Any]:
    return {
        "type": INTERVAL_CLEARED,
        "interval_id": interval.id,
        "interval_start": interval.start_utc.isoformat(),
        "status": stored.status,
        "reason": stored.reason,
        "prices": stored.prices,
        "local_kwh": str(stored.local_kwh),
        "import_kwh": str(stored.import_kwh),
        "export_kwh": str(stored.export_kwh),
        "welfare_pln": str(stored.welfare_pln),
        "congested_lines": stored.congested_lines,
    }


@dataclass(frozen=True, slots=True)
class Verification:
    interval_id: int
    start_utc: datetime
    stored_input_hash: str
    stored_result_hash: str
    #: Hash of the stored problem JSON (must equal the stored input hash).
    replay_input_hash: str
    #: Hash of re-clearing the stored problem (must equal the stored result hash).
    replay_result_hash: str
    #: Hash of the problem rebuilt from today's database rows (differs if data changed).
    database_input_hash: str | None

    @property
    def ok(self) -> bool:
        return (
            self.stored_input_hash == self.replay_input_hash
            and self.stored_result_hash == self.replay_result_hash
        )

    @property
    def database_matches(self) -> bool:
        return self.database_input_hash == self.stored_input_hash


async def verify_interval(session: AsyncSession, interval: Interval) -> Verification:
    """Re-clear the stored input of an interval and compare hashes (the audit check)."""
    from market.core.errors import NotFound

    run = await session.scalar(select(ClearingRun).where(ClearingRun.interval_id == interval.id))
    if run is None:
        raise NotFound(
            "start",
            "the interval starting %(start)s has no stored clearing",
            start=interval.start_utc,
        )
    if not run.problem_gz:
        raise NotFound(
            "start",
            "the interval starting %(start)s was simulated; its input was not kept for audit",
            start=interval.start_utc,
        )
    problem = decompress_problem(run.problem_gz)
    result = await anyio.to_thread.run_sync(solve, problem)
    try:
        db_hash: str | None = input_hash((await build_problem(session, interval)).problem)
    except ProblemError:
        db_hash = None
    return Verification(
        interval_id=interval.id,
        start_utc=interval.start_utc,
        stored_input_hash=run.input_hash,
        stored_result_hash=run.result_hash,
        replay_input_hash=input_hash(problem),
        replay_result_hash=result_hash(problem, result),
        database_input_hash=db_hash,
    )
