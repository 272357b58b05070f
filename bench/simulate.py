"""Simulation benchmark: `klaster simulate`'s engine over N days on a fresh temporary SQLite
database, printing wall and CPU time, ms per interval, time per phase, peak memory, the
load average, and the extrapolation to a year (or a month).

    python -m bench simulate [--days 7] [--points 75] [--start 2026-06-01] [--skip-store]

Memory is flat in the length of the range (one day's objects at a time, a small summary per
hour): compare the peak RSS of --days 1 and --days 7. In one process (`--workers 1`) the
resident memory at the end of each day is printed too (its growth slows after the first days).
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

import anyio

from market.db.engine import create_engine, migrate, session_factory, unit_of_work
from market.demo.seed import seed_demo
from market.simulation.engine import Simulation


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _rss_mb() -> int | None:
    """This process's resident memory now (Linux), MB."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) // 1024
    except OSError:
        pass
    return None


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


async def _run(url: str, args: argparse.Namespace, rss: list[int | None]) -> dict[str, Any]:
    engine = create_engine(url)
    sessions = session_factory(engine)
    first = date.fromisoformat(args.start)
    try:
        async with unit_of_work(sessions) as s:
            await seed_demo(
                s, members=args.points, now=datetime.combine(first, datetime.min.time(), UTC)
            )
        sim = Simulation(
            sessions,
            first,
            first + timedelta(days=args.days - 1),
            store_results=not args.skip_store,
            day_ahead=False if args.no_day_ahead else None,
            workers=args.workers,
            # the days' ends in this process (a parallel run's days end in its workers)
            progress=(lambda _done, _total, _day: rss.append(_rss_mb()))
            if args.workers == 1
            else None,
        )
        return await sim.run()
    finally:
        await engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench simulate")
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--points", type=int, default=75)
    parser.add_argument("--start", default="2026-06-01")
    parser.add_argument("--skip-store", action="store_true")
    parser.add_argument("--no-day-ahead", action="store_true")
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="klaster-bench-sim-") as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/sim.db"
        migrate(url)
        load_before = _load()
        wall, cpu = time.perf_counter(), time.process_time() + _children_cpu()
        rss: list[int | None] = []
        doc = anyio.run(_run, url, args, rss)
        wall = time.perf_counter() - wall
        cpu = time.process_time() + _children_cpu() - cpu  # with --workers: theirs too
    n = doc["intervals"]
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(
        f"simulate {args.days} days × {args.points} points ({n} intervals, "
        f"store={'no' if args.skip_store else 'yes'}, "
        f"day-ahead auctions {doc['day_ahead']['auctions']}): wall {wall:.1f} s, CPU {cpu:.1f} s, "
        f"{wall / n * 1000:.1f} ms/interval wall, {cpu / n * 1000:.1f} ms CPU; "
        f"peak RSS {peak_mb:.0f} MB (largest worker {child_mb:.0f} MB), workers {args.workers}"
    )
    print(f"  phases (wall, s): {doc['timing']['phases_s']}")
    print(f"  phases (CPU, s): {doc['timing']['phases_cpu_s']}")
    if "workers_busy_s" in doc["timing"]:  # the balance of a several-worker run
        print(
            f"  jobs {doc['timing']['jobs']}, each worker busy (wall, s): "
            f"{doc['timing']['workers_busy_s']}"
        )
    print(
        f"  a year (35,040 intervals) at this rate: {35040 * wall / n / 60:.1f} min wall, "
        f"{35040 * cpu / n / 60:.1f} min CPU; a month (2,976): "
        f"{2976 * wall / n / 60:.1f} min wall, {2976 * cpu / n / 60:.1f} min CPU"
    )
    if rss:
        print(f"  RSS at the end of each day (MB): {', '.join(str(m) for m in rss)}")
    print(f"  load average before: {load_before}, after: {_load()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
