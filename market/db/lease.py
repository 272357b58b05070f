"""Claims with a lease: the one way a piece of work is done exactly once by several processes.

Interval clearing (`market.clearing.run`), the day-ahead auction (`market.clearing.day_ahead`)
and stored simulation runs (`market.simulation.runs`) are claimed the same way. A row that
can be worked on has a `status`, `claimed_by` and `claim_until` column; a `Lease` names them
and the statuses:

- `claim`: a conditional UPDATE, claimable status → held status (or a held row whose lease
  ran out: the holder died, the claim is taken over), setting `claimed_by` and
  `claim_until = now + duration`. Exactly one contender's UPDATE matches the row (row lock on
  PostgreSQL, database lock on SQLite), so exactly one gets True.
- `renew`: the holder moves `claim_until` on while it still holds the claim (a heartbeat;
  `heartbeat` does it in the background). False once it was lost (taken over after expiry,
  or cancelled).
- `finish`: in the caller's storing transaction, the final status is set only if the row is
  still held by this worker (`status = held AND claimed_by = me`); this UPDATE locks the row
  until the transaction ends, so nothing is stored by a worker that lost the claim, and a
  taker-over that claims later sees the final status. A lease that ran out but was not
  taken over is still this worker's: finishing late is allowed, as it always was.
- `release`: held → a given status without a worker guard (a coordinator's cancel).

Times are the database clients' UTC clocks (the processes of one installation share one).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
from sqlalchemy import and_, or_, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.sql.elements import ColumnElement

from market.db.engine import unit_of_work

log = logging.getLogger("klaster.lease")


@dataclass(frozen=True, slots=True)
class Lease:
    """How one table is claimed: its mapped class (with `id`, `status`, `claimed_by` and
    `claim_until` attributes), the status while held and the statuses a claim takes."""

    model: Any
    held: str
    claimable: tuple[str, ...]

    def open_clause(self, now: datetime) -> ColumnElement[bool]:
        """Rows a claim would take now: claimable, or held with a lease that ran out."""
        m = self.model
        return or_(
            m.status.in_(self.claimable),
            and_(m.status == self.held, m.claim_until < now),
        )

    def expired_clause(self, now: datetime) -> ColumnElement[bool]:
        """Held rows whose holder stopped renewing (died or hangs)."""
        m = self.model
        return and_(m.status == self.held, m.claim_until < now)

    def held_by(self, row_id: int, worker_id: str) -> ColumnElement[bool]:
        m = self.model
        return and_(m.id == row_id, m.status == self.held, m.claimed_by == worker_id)

    async def claim(
        self,
        sessions: async_sessionmaker[AsyncSession],
        row_id: int,
        worker_id: str,
        duration: timedelta,
        *,
        now: datetime | None = None,
        **values: Any,
    ) -> bool:
        """Take the row (its own transaction); True for exactly one contender. `values` are
        set with the claim (e.g. `started_at`)."""
        now = now or datetime.now(UTC)
        m = self.model
        async with unit_of_work(sessions) as session:
            result = await session.execute(
                update(m)
                .where(m.id == row_id, self.open_clause(now))
                .values(
                    status=self.held, claimed_by=worker_id, claim_until=now + duration, **values
                )
                .execution_options(synchronize_session=False)
            )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    async def renew(
        self,
        sessions: async_sessionmaker[AsyncSession],
        row_id: int,
        worker_id: str,
        duration: timedelta,
    ) -> bool:
        """Move the lease on (its own transaction); False if this worker no longer holds it."""
        async with unit_of_work(sessions) as session:
            result = await session.execute(
                update(self.model)
                .where(self.held_by(row_id, worker_id))
                .values(claim_until=datetime.now(UTC) + duration)
                .execution_options(synchronize_session=False)
            )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    async def finish(
        self, session: AsyncSession, row_id: int, worker_id: str, status: str, **values: Any
    ) -> bool:
        """The guarded store: set the final `status` (and `values`) in the caller's
        transaction if this worker still holds the row; False (nothing changed) if the claim
        was lost. The caller stores its result in the same transaction only on True."""
        result = await session.execute(
            update(self.model)
            .where(self.held_by(row_id, worker_id))
            .values(status=status, claim_until=None, **values)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    async def release(
        self,
        session: AsyncSession,
        row_id: int,
        status: str,
        *,
        also_from: Iterable[str] = (),
        **values: Any,
    ) -> bool:
        """Held (or one of `also_from`) → `status`, whoever holds it, in the caller's
        transaction: the holder's `renew` and `finish` fail from then on."""
        m = self.model
        result = await session.execute(
            update(m)
            .where(m.id == row_id, m.status.in_([self.held, *also_from]))
            .values(status=status, claim_until=None, **values)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]


class Heartbeat:
    """The state of a running `heartbeat`: `lost` is set once a renewal found the claim gone."""

    def __init__(self) -> None:
        self.lost = anyio.Event()
        self.renewals = 0


@asynccontextmanager
async def heartbeat(
    lease: Lease,
    sessions: async_sessionmaker[AsyncSession],
    row_id: int,
    worker_id: str,
    duration: timedelta,
    every: timedelta,
) -> AsyncIterator[Heartbeat]:
    """Renew the claim every `every` while the block runs (a background task on this event
    loop; the work itself runs in a thread or process). `every` well below `duration`, so
    that a slow renewal does not let the lease run out while the holder lives. A renewal that
    fails on a database error is retried at the next beat; one that finds the claim gone sets
    `lost` and stops."""
    beat = Heartbeat()

    async def renew_loop() -> None:
        while True:
            await anyio.sleep(every.total_seconds())
            try:
                held = await lease.renew(sessions, row_id, worker_id, duration)
            except Exception:  # the database away for a moment: try again at the next beat
                log.warning("renewing the lease of %s %s failed", lease.model.__name__, row_id,
                            exc_info=True)  # fmt: skip
                continue
            if not held:
                beat.lost.set()
                return
            beat.renewals += 1

    failed: Exception | None = None
    async with anyio.create_task_group() as group:
        group.start_soon(renew_loop)
        try:
            yield beat
        except Exception as exc:  # raised below, outside the group (not as an ExceptionGroup)
            failed = exc
        finally:
            group.cancel_scope.cancel()
    if failed is not None:
        raise failed
