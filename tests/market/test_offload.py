"""`market.db.offload`: a step runs in a worker process on the same database; a worker killed
mid-step raises in the caller and the next step gets a new worker; a database another process
cannot open runs the step here."""

from __future__ import annotations

import asyncio
import os
import signal
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.db.engine import create_engine, session_factory
from market.db.offload import ProcessOffload, shareable_url
from market.network.models import Node

pytestmark = pytest.mark.anyio


async def _where(sessions: async_sessionmaker[AsyncSession]) -> tuple[int, int]:
    """The process it runs in, and what it reads of the database."""
    async with sessions() as s:
        return os.getpid(), int(await s.scalar(select(func.count(Node.id))) or 0)


async def _stuck(sessions: async_sessionmaker[AsyncSession], seconds: float) -> None:
    await asyncio.sleep(seconds)


async def test_a_step_runs_in_a_worker_on_the_same_database_and_survives_a_killed_worker(
    db: Any,
) -> None:
    from market.db.engine import unit_of_work
    from market.demo.seed import seed_demo

    async with unit_of_work(db.sessions) as s:
        await seed_demo(s)
    async with db.session() as s:
        nodes = await s.scalar(select(func.count(Node.id)))
    offload = ProcessOffload()
    try:
        pid, seen = await offload.run(db.sessions, _where)
        assert pid != os.getpid() and seen == nodes
        assert offload.last_cpu_s > 0
        stuck = asyncio.ensure_future(offload.run(db.sessions, _stuck, 60.0))
        await asyncio.sleep(0.5)
        os.kill(pid, signal.SIGKILL)
        with pytest.raises(BrokenProcessPool):
            await asyncio.wait_for(stuck, 30)
        again, seen = await offload.run(db.sessions, _where)
        assert again != pid and seen == nodes
    finally:
        offload.shutdown()


async def test_a_database_only_this_process_can_open_runs_the_step_here() -> None:
    engine = create_engine("sqlite+aiosqlite://")
    try:
        sessions = session_factory(engine)
        assert shareable_url(sessions) is None
        offload = ProcessOffload()
        with pytest.raises(Exception, match="no such table"):
            await offload.run(sessions, _where)  # ran here: no worker, no tables
        assert offload._pool is None
    finally:
        await engine.dispose()


_PARENT = """
import asyncio, sys
from market.db.offload import ProcessOffload

async def main():
    off = ProcessOffload()
    await off.warm("json")
    pool = off._executor()
    print(*[p.pid for p in pool._processes.values()], flush=True)
    await asyncio.sleep(60)

asyncio.run(main())
"""


def test_a_worker_whose_parent_was_killed_leaves() -> None:
    """SIGKILL the process that owns the pool: its worker notices within seconds and exits
    (before, it stayed idle for good, holding its memory)."""
    from tests.support.processes import kill_and_survivors, owner

    with owner(_PARENT) as (parent, workers):
        alive = kill_and_survivors(parent, workers[:1])
        assert not alive, f"worker {alive} still running 15 s after its parent was killed"


_LATE_WORKER = """
import sys, time
from market.db.offload import _start_worker
_start_worker(int(sys.argv[1]))
time.sleep(30)
"""


def test_a_worker_whose_parent_died_while_it_started_leaves() -> None:
    """The pool's owner passes its pid: a worker whose owner was killed before the worker's
    initializer ran (it reads `getppid()` = 1 then) still sees it is orphaned and exits."""
    import subprocess
    import sys

    # The owner it is told about is a process that has already exited (as a killed owner
    # has); its real parent, this test, lives on.
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait(10)
    worker = subprocess.Popen([sys.executable, "-c", _LATE_WORKER, str(gone.pid)])
    try:
        assert worker.wait(15) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(10)
