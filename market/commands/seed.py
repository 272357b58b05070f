"""`klaster seed --demo`: migrate and create the Staszów demo cluster."""

from __future__ import annotations

import argparse

from market.commands._common import database_url, fail


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--demo", action="store_true", help="the Staszów demo cluster")
    parser.add_argument("--members", type=int, help="metering points in total (default 75)")
    parser.add_argument("--seed", type=int, default=2026, help="random seed (default 2026)")
    parser.add_argument("--interval-minutes", type=int, default=15, choices=(15, 60))
    parser.add_argument(
        "--if-empty", action="store_true", help="do nothing (exit 0) when already seeded"
    )
    parser.add_argument("--database-url", help="default: DATABASE_URL or the SQLite data dir")


def run(args: argparse.Namespace) -> int:
    if not args.demo:
        return fail("only demo data can be seeded: use 'klaster seed --demo'")
    if args.members is not None and args.members < 20:
        return fail("--members: at least 20 metering points")
    import asyncio

    from market.core.errors import KlasterError
    from market.db.engine import migrate

    url = database_url(args.database_url)
    try:
        migrate(url)
    except Exception as exc:
        return fail(f"migration failed: {exc}", 1)

    async def main() -> int:
        from market.cluster.service import is_empty
        from market.db.engine import create_engine, session_factory, unit_of_work
        from market.demo.seed import DEMO_PASSWORD, seed_demo

        engine = create_engine(url)
        try:
            async with unit_of_work(session_factory(engine)) as session:
                if args.if_empty and not await is_empty(session):
                    print("database already has a cluster; nothing seeded")
                    return 0
                report = await seed_demo(
                    session,
                    members=args.members,
                    seed=args.seed,
                    interval_minutes=args.interval_minutes,
                )
        except KlasterError as exc:
            return fail(f"{exc.field}: {exc.message}")
        finally:
            await engine.dispose()
        print(
            f"seeded the Staszów demo: {report.nodes} nodes, {report.lines} lines, "
            f"{report.members} members, {report.metering_points} metering points, "
            f"{report.standing_orders} standing orders"
        )
        print(f"logins (password {DEMO_PASSWORD!r}): prosument, koordynator, dystrybutor")
        return 0

    return asyncio.run(main())
