"""Database work in a worker process, so the event loop's thread never waits for it.

A day-ahead day is CPU-bound Python from end to end (hundreds of thousands of orders through
the pipeline, the core's model, converting and storing the result): run in threads, it still
holds the GIL and the loop stalls for hundreds of milliseconds (docs/benchmarks.md,
"Day-ahead product"). `ProcessOffload.run(sessions, step, *args)` runs the coroutine function
`step(sessions, *args)` in a worker process instead, with its own engine on the same database
and its own transactions: its inputs and its result are small plain values (ids, dates,
a frozen dataclass), so nothing big crosses the process boundary and nothing is pickled on the
loop's thread. The step must be a module-level function (it is sent by name).

The guarantees of the step are its own (claims, leases, guarded stores in SQL): a worker
process that dies leaves what a killed worker leaves. A database the child cannot open (an
in-memory SQLite) runs the step in this process.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import multiprocessing
import os
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

T = TypeVar("T")
Step = Callable[..., Awaitable[T]]


def shareable_url(sessions: async_sessionmaker[AsyncSession]) -> str | None:
    """The database URL another process can open, or None (in-memory SQLite)."""
    bind = sessions.kw.get("bind")
    url = getattr(bind, "url", None)
    if url is None:
        return None
    if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
        return None
    return str(url.render_as_string(hide_password=False))


def _warm(modules: tuple[str, ...]) -> int:
    for name in modules:
        importlib.import_module(name)
    return 0


#: The workers' nice value: the serving process (its event loop) gets the CPU first when the
#: machine is busy; a day's clearing can wait a few milliseconds more.
WORKER_NICE = 10


#: How often a worker checks that the process that started it is still alive.
PARENT_CHECK_S = 1.0


def _start_worker(parent: int) -> None:
    with contextlib.suppress(OSError):  # not allowed here: the default priority then
        os.nice(WORKER_NICE)
    exit_with_parent(parent)


def exit_with_parent(parent: int) -> None:
    """In a worker process (a pool's initializer): leave when `parent` is gone.

    A pool's worker outlives a parent that was killed (SIGKILL, OOM): it would sit idle
    holding its memory for good (or run its job to the end for nobody). It leaves when its
    parent is gone; a step it was running is abandoned uncommitted, and the lease lets
    another worker take the work over. `parent` is the pid the pool's owner gave (not
    `getppid()` read here: a parent killed while this worker was still starting would leave
    it reading 1, init, for good)."""
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()


def _watch_parent(parent: int) -> None:
    while True:
        time.sleep(PARENT_CHECK_S)
        if os.getppid() != parent:
            os._exit(0)


def _run(url: str, step: Step[T], args: tuple[Any, ...]) -> tuple[T, float]:
    """In the worker process: its own event loop and engine for one step; the step's result
    and the CPU seconds the worker spent on it."""
    cpu = time.process_time()
    result = asyncio.run(_run_async(url, step, args))
    return result, time.process_time() - cpu


async def _run_async(url: str, step: Step[T], args: tuple[Any, ...]) -> T:
    from market.db.engine import create_engine, session_factory

    engine = create_engine(url)
    try:
        return await step(session_factory(engine), *args)
    finally:
        await engine.dispose()


class ProcessOffload:
    """A pool of worker processes (spawned: a fork of a process with a running loop and
    threads is unsafe), started on first use and kept for the next."""

    def __init__(self, workers: int = 1) -> None:
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None
        #: CPU seconds of the last step run in a worker (for benchmarks and logs).
        self.last_cpu_s = 0.0

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_worker,
                initargs=(os.getpid(),),
            )
        return self._pool

    async def warm(self, *modules: str) -> None:
        """Start the workers and import the modules a step needs (a second or two, once)."""
        loop = asyncio.get_running_loop()
        await asyncio.gather(
            *(loop.run_in_executor(self._executor(), _warm, modules) for _ in range(self.workers))
        )

    async def run(self, sessions: async_sessionmaker[AsyncSession], step: Step[T], *args: Any) -> T:
        url = shareable_url(sessions)
        if url is None:
            return await step(sessions, *args)
        loop = asyncio.get_running_loop()
        try:
            result, self.last_cpu_s = await loop.run_in_executor(
                self._executor(), _run, url, step, args
            )
        except BrokenProcessPool:
            # A worker died (killed, out of memory): what it held is left as a killed
            # worker leaves it (a claim runs out); the next step gets a new pool.
            self.shutdown()
            raise
        return result

    def shutdown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
