"""The gate-closure scheduler: creates upcoming intervals, closes gates when due
(materialising standing orders first), clears closed intervals in start order and publishes
events. Runs in the app process (embedded default) or as `klaster worker`; any number of
them may run against one PostgreSQL database (the guards are in the database, see
`market.clearing`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import anyio
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from market.access import audit
from market.clearing import day_ahead
from market.clearing.run import INTERVAL_LEASE, claim, clear_claimed
from market.clearing.store import StoredRun
from market.cluster.service import get_cluster
from market.core.clock import Clock, SystemClock
from market.core.errors import NotFound
from market.core.events import (
    GATE_CLOSED,
    NOTIFICATION,
    NullPublisher,
    Publisher,
    publish_safely,
)
from market.db.engine import session_factory
from market.db.offload import ProcessOffload
from market.trading.day_ahead_gate import next_day_ahead
from market.trading.day_ahead_models import DayAheadAuction
from market.trading.intervals import ensure_intervals
from market.trading.models import Interval, IntervalStatus, Order, OrderStatus
from market.trading.notifications import notification_event
from market.trading.standing import materialise

log = logging.getLogger("klaster.scheduler")


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass
class TickReport:
    created: list[int] = field(default_factory=list)
    closed: list[int] = field(default_factory=list)
    cleared: list[StoredRun] = field(default_factory=list)
    day_ahead: list[day_ahead.StoredDay] = field(default_factory=list)


class Scheduler:
    def __init__(
        self,
        engine: AsyncEngine | async_sessionmaker[AsyncSession],
        clock: Clock | None = None,
        publisher: Publisher | None = None,
        *,
        worker_id: str | None = None,
        tick_seconds: float = 1.0,
        lease_seconds: float = 300.0,
        create_intervals: bool = True,
        day_ahead: bool = False,
        offload: ProcessOffload | None = None,
    ) -> None:
        self.sessions = (
            engine if isinstance(engine, async_sessionmaker) else session_factory(engine)
        )
        self.clock = clock or SystemClock()
        self.publisher = publisher or NullPublisher()
        self.worker_id = worker_id or default_worker_id()
        self.tick_seconds = tick_seconds
        self.lease = timedelta(seconds=lease_seconds)
        self.create_intervals = create_intervals
        #: Run the day-ahead auctions too: open the next day's, close its gate when due
        #: (placing the daily orders), clear it exactly once.
        self.day_ahead = day_ahead
        #: Where a day's heavy steps run (placing its daily orders, closing its gate, clearing
        #: it): a worker process, or None for this one (tests, the CLI).
        self.offload = offload
        #: `run` with a worker process: the day-ahead step runs beside the ticks.
        self._day_ahead_beside = False
        self._day_ahead_task: asyncio.Future[None] | None = None
        self._core_missing_logged = False

    async def tick(self) -> TickReport:
        """One pass. Overdue intervals (after downtime) are closed and cleared oldest first."""
        report = TickReport()
        now = self.clock.now()
        notified: list[tuple[int, int]] = []
        async with self.sessions() as session:
            try:
                cluster = await get_cluster(session)
            except NotFound:
                return report
            if self.create_intervals:
                report.created = await ensure_intervals(session, cluster, now)
                if report.created:
                    new = (
                        await session.scalars(
                            select(Interval)
                            .where(Interval.id.in_(report.created))
                            .order_by(Interval.start_utc)
                        )
                    ).all()
                    placement = await materialise(session, cluster, list(new))
                    notified = placement.notified
                await session.commit()
                await self._announce(notified)
            due = (
                await session.scalars(
                    select(Interval.id)
                    .where(
                        Interval.status == IntervalStatus.OPEN.value,
                        Interval.gate_closure_utc <= now,
                    )
                    .order_by(Interval.start_utc)
                )
            ).all()
        for interval_id in due:
            if await self.close_gate(interval_id):
                report.closed.append(interval_id)
        for interval_id in await self._clearable():
            if await claim(self.sessions, interval_id, self.worker_id, self.lease):
                stored = await clear_claimed(
                    self.sessions, interval_id, self.worker_id, self.publisher
                )
                if stored is not None:
                    report.cleared.append(stored)
        if self.day_ahead:
            if self._day_ahead_beside:
                self._start_day_ahead(now)
            else:
                await self._day_ahead_step(report, now)
        return report

    def _start_day_ahead(self, now: datetime) -> None:
        """The day-ahead step as a task of its own (`run` with a worker process): a 5,000-point
        day takes its worker a minute, and the intraday gates must not wait for it."""
        if self._day_ahead_task is None or self._day_ahead_task.done():
            self._day_ahead_task = asyncio.ensure_future(self._day_ahead_beside_ticks(now))

    async def _day_ahead_beside_ticks(self, now: datetime) -> None:
        report = TickReport()
        try:
            await self._day_ahead_step(report, now)
        except Exception:
            log.exception("day-ahead step failed; retrying")
        for stored in report.day_ahead:
            log.info("day-ahead %s cleared: %s", stored.local_day, stored.status)

    async def _day_ahead_step(self, report: TickReport, now: datetime) -> None:
        """The day-ahead gate: the next day's auction exists (with its intervals and daily
        orders) while its gate is ahead; a due gate closes; a closed auction is cleared."""
        async with self.sessions() as session:
            cluster = await get_cluster(session)
            upcoming = next_day_ahead(cluster, now)
            exists = None
            if upcoming is not None and self.create_intervals:
                exists = await session.scalar(
                    select(DayAheadAuction.id).where(DayAheadAuction.local_day == upcoming[0])
                )
        if upcoming is not None and self.create_intervals and exists is None:
            step, day = day_ahead.open_day_step, upcoming[0]
            if self.offload is None:
                await step(self.sessions, day, now)
            else:
                await self.offload.run(self.sessions, step, day, now)
        async with self.sessions() as session:
            due = await day_ahead.due_auctions(session, now)
        for auction_id in due:
            await day_ahead.close_gate(
                self.sessions, auction_id, self.worker_id, self.publisher, now,
                offload=self.offload,
            )  # fmt: skip
        async with self.sessions() as session:
            clearable = await day_ahead.clearable_auctions(session)
        if clearable and not day_ahead.core_available():
            if not self._core_missing_logged:
                log.warning("day-ahead auctions wait: the several-interval core is missing")
                self._core_missing_logged = True
            return
        for auction_id in clearable:
            if await day_ahead.claim_day(self.sessions, auction_id, self.worker_id, self.lease):
                stored = await day_ahead.clear_claimed_day(
                    self.sessions, auction_id, self.worker_id, self.publisher,
                    offload=self.offload,
                )  # fmt: skip
                if stored is not None:
                    report.day_ahead.append(stored)

    async def _clearable(self) -> list[int]:
        wall = datetime.now(UTC)
        async with self.sessions() as session:
            return list(
                (
                    await session.scalars(
                        select(Interval.id)
                        .where(INTERVAL_LEASE.open_clause(wall))
                        .order_by(Interval.start_utc)
                    )
                ).all()
            )

    async def close_gate(self, interval_id: int) -> bool:
        """open → closed, with standing orders materialised in the same transaction.
        True for the one process that closed it."""
        async with self.sessions() as session:
            result = await session.execute(
                update(Interval)
                .where(Interval.id == interval_id, Interval.status == IntervalStatus.OPEN.value)
                .values(status=IntervalStatus.CLOSED.value, closed_at=datetime.now(UTC))
                .execution_options(synchronize_session=False)
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                await session.rollback()
                return False
            cluster = await get_cluster(session)
            interval = await session.get(Interval, interval_id)
            assert interval is not None
            placement = await materialise(session, cluster, [interval])
            orders = int(
                await session.scalar(
                    select(func.count(Order.id)).where(
                        Order.interval_id == interval_id, Order.status == OrderStatus.OPEN.value
                    )
                )
                or 0
            )
            audit.record(
                session,
                None,
                "gate_closed",
                "interval",
                interval_id,
                interval_id=interval_id,
                orders=orders,
                worker=self.worker_id,
            )
            await session.commit()
        await self._announce(placement.notified)
        await publish_safely(
            self.publisher,
            GATE_CLOSED,
            {
                "type": GATE_CLOSED,
                "interval_id": interval_id,
                "interval_start": interval.start_utc.isoformat(),
                "orders": orders,
            },
        )
        return True

    async def _announce(self, members: list[tuple[int, int]]) -> None:
        """Tell the members' open pages about their new stored notifications (after the
        commit that stored them)."""
        event = notification_event(members)
        if event is not None:
            await publish_safely(self.publisher, NOTIFICATION, event)

    async def run(self, *, stop_after: int | None = None) -> None:
        """Tick until cancelled (or `stop_after` ticks). Errors are logged, not fatal."""
        ticks = 0
        log.info("scheduler %s started", self.worker_id)
        warming = None
        if self.offload is not None:
            # Start the worker process now (its imports take seconds), not at the first gate;
            # the ticks go on meanwhile, and so they do while a day is worked on.
            warming = asyncio.ensure_future(
                self.offload.warm("market.clearing.day_ahead", "matching")
            )
            self._day_ahead_beside = True
        try:
            while stop_after is None or ticks < stop_after:
                try:
                    report = await self.tick()
                    for run in report.cleared:
                        log.info("cleared interval %s: %s", run.interval_id, run.status)
                except Exception:
                    log.exception("scheduler tick failed; retrying")
                ticks += 1
                await anyio.sleep(self.tick_seconds)
        finally:
            for task in (warming, self._day_ahead_task):
                if task is not None and not task.done():
                    task.cancel()
            if self.offload is not None:
                self.offload.shutdown()
