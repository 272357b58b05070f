"""Report figures too slow for a request, computed in the background of this app process.

The storage-effect figures of a large day-ahead day (a 5,000-point cluster: the day's
~480,000-order problem cleared twice, ~35 s) are computed by one job per day in a worker
process (`market.db.offload.ProcessOffload`, started for the job and stopped after it; an
in-memory SQLite database runs it in this process); the page shows that they are being
computed and asks again until they are kept (`market.reports.storage_effect`). Another app
process may compute the same day at the same time: the first to commit keeps its figures."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.db.offload import ProcessOffload
from market.reports.storage_effect import compute_storage_effect

log = logging.getLogger(__name__)


class StorageEffectJobs:
    """One background computation per day at a time; a failure is reported once, to the
    next view (which then starts again)."""

    def __init__(self) -> None:
        self.running: dict[date, asyncio.Task[None]] = {}
        self.failed: dict[date, str] = {}

    def start(self, sessions: async_sessionmaker[AsyncSession], day: date) -> None:
        task = self.running.get(day)
        if task is not None and not task.done():
            return
        self.running[day] = asyncio.create_task(self._run(sessions, day), name=f"storage-{day}")

    def take_failure(self, day: date) -> str | None:
        return self.failed.pop(day, None)

    async def _run(self, sessions: async_sessionmaker[AsyncSession], day: date) -> None:
        offload = ProcessOffload()
        try:
            await offload.run(sessions, compute_storage_effect, day)
        except Exception as exc:  # reported on the page, not lost
            log.exception("storage effect of %s failed", day)
            self.failed[day] = str(exc) or type(exc).__name__
        finally:
            offload.shutdown()

    async def stop(self) -> None:
        for task in self.running.values():
            task.cancel()
        for task in self.running.values():
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.running.clear()
