"""`klaster simulate-run ID [--database-url URL]`: execute a simulation run the coordinator
queued on the simulations page (claim it, simulate on a temporary SQLite database, store the
summary or the reason it failed). The page starts it as a process of its own; running it by
hand does the same (a run another process holds is left alone, exit 1). The process renews
its lease every few seconds (`market.simulation.runs.LEASE`); SIGTERM (the page's Cancel, on
this machine) or a lost lease (cancelled from elsewhere) ends it at the end of the day being
simulated, storing nothing."""

from __future__ import annotations

import argparse

from market.commands._common import database_url, fail


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_id", help="the stored run's id")
    parser.add_argument("--database-url", help="default: DATABASE_URL or the SQLite data dir")


def run(args: argparse.Namespace) -> int:
    import os
    import signal
    import socket
    import threading

    import anyio

    from market.db.engine import create_engine, session_factory
    from market.simulation.runs import execute_run

    try:
        run_id = int(args.run_id)
    except ValueError:
        return fail("run_id: must be a whole number")
    url = database_url(args.database_url)
    worker = f"simulate-run:{socket.gethostname()}:{os.getpid()}"

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda _signum, _frame: stop.set())

    async def main() -> str | None:
        engine = create_engine(url)
        try:
            return await execute_run(session_factory(engine), run_id, worker, stop=stop)
        finally:
            await engine.dispose()

    status = anyio.run(main)
    if status is None:
        return fail(f"run_id: run {run_id} is not queued (finished, or another process has it)", 1)
    print(f"simulation run {run_id}: {status}")
    return 0 if status == "done" else 1
