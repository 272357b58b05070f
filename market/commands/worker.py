"""`klaster worker`: the gate-closure scheduler as its own process (production).

Any number of workers (and web processes with the embedded scheduler) may run against one
PostgreSQL database; each interval is still cleared exactly once. Events go to Redis when
`REDIS_URL` is set, so every web process shows them live.
"""

from __future__ import annotations

import argparse

from market.commands._common import database_url, fail


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--database-url", help="default: DATABASE_URL or the SQLite data dir")
    parser.add_argument("--once", action="store_true", help="one pass (catch up), then exit")
    parser.add_argument("--tick", type=float, help="seconds between passes (default settings)")
    parser.add_argument("--worker-id", help="name in claims and the audit log")
    parser.add_argument(
        "--no-create", action="store_true", help="do not create intervals (only close and clear)"
    )
    parser.add_argument("--no-migrate", action="store_true", help="do not migrate on start")


def run(args: argparse.Namespace) -> int:
    import asyncio
    import logging
    import signal

    from market.clearing.operations import (
        MeteredScheduler,
        configure_logging,
        serve_metrics,
        worker_publisher,
    )
    from market.core.clock import clock_for_speed
    from market.core.settings import get_settings
    from market.db.engine import create_engine, migrate
    from market.db.offload import ProcessOffload

    if args.tick is not None and args.tick <= 0:
        return fail("--tick: must be greater than 0 seconds")
    settings = get_settings()
    configure_logging(settings)
    if settings.metrics_port is not None:
        serve_metrics(settings.metrics_port)
    url = database_url(args.database_url)
    if not args.no_migrate:
        try:
            migrate(url)
        except Exception as exc:
            return fail(f"migration failed: {exc}", 1)

    async def main() -> int:
        engine = create_engine(url)
        publisher = worker_publisher(settings)
        scheduler = MeteredScheduler(
            engine,
            clock_for_speed(settings.demo_speed),
            publisher,
            worker_id=args.worker_id,
            tick_seconds=args.tick or settings.tick_seconds,
            lease_seconds=settings.clearing_lease_seconds,
            create_intervals=not args.no_create,
            day_ahead=True,
            offload=ProcessOffload() if settings.day_ahead_process else None,
        )
        try:
            if args.once:
                report = await scheduler.tick()
                print(
                    f"created {len(report.created)}, closed {len(report.closed)}, "
                    f"cleared {len(report.cleared)} interval(s), "
                    f"{len(report.day_ahead)} day-ahead auction(s)"
                )
            else:
                # SIGTERM/SIGINT stop between passes' awaits; a claim cut short simply
                # expires and another worker takes the interval over.
                loop = asyncio.get_running_loop()
                task = asyncio.current_task()
                assert task is not None
                for sig in (signal.SIGTERM, signal.SIGINT):
                    loop.add_signal_handler(sig, task.cancel)
                try:
                    await scheduler.run()
                except asyncio.CancelledError:
                    logging.getLogger("klaster.scheduler").info("worker stopped")
        finally:
            await engine.dispose()
            close = getattr(publisher, "aclose", None)
            if close is not None:
                await close()
        return 0

    try:
        return asyncio.run(main())
    except KeyboardInterrupt:
        return 0
