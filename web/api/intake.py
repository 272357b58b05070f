"""Order intake for the API: concurrent submissions are placed together (group commit).

Each POST waits on a future; one task per process takes what has queued up (up to
`MAX_BATCH`; a submission that finds nobody waiting waits `GATHER_SECONDS` for company) and
places it through the order pipeline (`market.trading.pipeline.place`) in one transaction:
the batch is its own unit of work, committed here. (Two such tasks, one gathering while the
other waits on the database, measured worse: smaller batches, more transactions for the same
orders.) A rule error goes back to its own request; if the batch as a whole fails (a gate
closing during it, a broken connection), every submission in it is placed alone, each in its
own unit of work, so the outcome matches one-by-one placement. The order-book event is
published once per interval and batch, after the commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

from litestar.background_tasks import BackgroundTask
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from market.access.actor import Actor
from market.core.clock import Clock
from market.core.errors import KlasterError
from market.core.events import Publisher
from market.db import sqlite_driver
from market.db.engine import checkpoint, no_autocheckpoint, unit_of_work
from market.trading.book import OrderView
from market.trading.order_input import OrderInput
from market.trading.pipeline import Event, Placement, Submission, place, place_one, publish

log = logging.getLogger("klaster.intake")

MAX_BATCH = 256
GATHER_SECONDS = 0.002
#: SQLite: at most this often a WAL checkpoint, off the event loop (`market.db.checkpoint`).
CHECKPOINT_SECONDS = 1.0


def publish_later(publisher: Publisher, events: list[Event]) -> BackgroundTask:
    """The order-book events of a request's change, published once the response is sent:
    after `web.deps.provide_db` has committed (an event before the commit could make a live
    view read the book without the change)."""
    return BackgroundTask(publish, publisher, events)


@dataclass
class _Waiting:
    submission: Submission
    future: asyncio.Future[OrderView] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class OrderIntake:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], clock: Clock, publisher: Publisher
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._publisher = publisher
        self._queue: asyncio.Queue[_Waiting] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._conn: AsyncConnection | None = None
        self._checkpointing: asyncio.Task[None] | None = None
        self._last_checkpoint = 0.0
        self.batches = 0

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="klaster-order-intake")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._checkpointing is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._checkpointing
        await self._drop_connection()

    async def submit(self, actor: Actor, order: OrderInput) -> OrderView:
        """Place one order; returns its view or raises its rule error."""
        item = _Waiting(Submission(actor, order))
        await self._queue.put(item)
        return await item.future

    async def _connection(self) -> AsyncConnection:
        """The intake's own connection, kept from batch to batch: no pool checkout per batch
        (on PostgreSQL that is a pre-ping round trip saved too)."""
        if self._conn is None:
            conn = await self._sessions.kw["bind"].connect()
            await no_autocheckpoint(conn)  # it commits on the event loop (SQLite)
            self._conn = conn
        return self._conn

    def _checkpoint_soon(self) -> None:
        """Now and then, on another connection and without waiting: the intake's own
        connection does not checkpoint as it commits."""
        loop = asyncio.get_running_loop()
        if self._checkpointing is not None and not self._checkpointing.done():
            return
        if loop.time() - self._last_checkpoint < CHECKPOINT_SECONDS:
            return
        self._last_checkpoint = loop.time()
        self._checkpointing = asyncio.create_task(self._checkpoint())

    async def _checkpoint(self) -> None:
        try:
            await checkpoint(self._sessions.kw["bind"])
        except Exception:
            log.warning("WAL checkpoint failed", exc_info=True)

    async def _drop_connection(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            with contextlib.suppress(Exception):  # back to the pool, which checks it
                await conn.close()

    async def _gather(self) -> list[_Waiting]:
        batch = [await self._queue.get()]
        if self._queue.empty():
            # Alone: wait a moment for company. (Under load others are already waiting,
            # having come in while the last batch was placed: no wait then.)
            await asyncio.sleep(GATHER_SECONDS)
        while len(batch) < MAX_BATCH and not self._queue.empty():
            batch.append(self._queue.get_nowait())
        return batch

    async def _run(self) -> None:
        while True:
            batch = await self._gather()
            try:
                await self._place(batch)
            except Exception:
                log.exception("order batch failed")
            for item in batch:
                if not item.future.done():
                    item.future.set_exception(RuntimeError("order intake failed"))

    async def _place(self, batch: list[_Waiting]) -> None:
        self.batches += 1
        try:
            placement = await self._place_together([item.submission for item in batch])
        except Exception:
            log.info("batch of %d fell back to single placement", len(batch), exc_info=True)
            await self._drop_connection()  # a fresh one next time, in case this one broke
            for item in batch:
                await self._place_alone(item)
            return
        self._checkpoint_soon()
        for item, outcome in zip(batch, placement.outcomes, strict=True):
            if isinstance(outcome, KlasterError):
                item.future.set_exception(outcome)
            else:
                item.future.set_result(outcome)
        await publish(self._publisher, placement.events)

    async def _place_together(self, submissions: list[Submission]) -> Placement:
        """The batch as one unit of work on the intake's own connection, its statements (and
        commit) inline: they are all short."""
        async with self._sessions(bind=await self._connection()) as session:
            try:
                with sqlite_driver.inline():
                    placement = await place(session, self._clock, submissions)
                    await session.commit()
            except BaseException:
                await session.rollback()
                raise
        return placement

    async def _place_alone(self, item: _Waiting) -> None:
        try:
            async with unit_of_work(self._sessions) as session:
                placement = await place_one(session, self._clock, item.submission)
        except Exception as exc:
            item.future.set_exception(exc)
            return
        view = placement.outcomes[0]
        assert isinstance(view, OrderView)
        item.future.set_result(view)
        await publish(self._publisher, placement.events)
