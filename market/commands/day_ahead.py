"""`klaster day-ahead clear DATE [--reclear]`: clear the day-ahead auction of a local day.

Works on a freshly seeded database too: it creates the day's intervals and auction, places
the daily storage orders and block groups (the gate closes now, whatever its time), claims
the auction and clears it exactly once (as the worker does at the gate). A second run says
that the day is already cleared and exits 0; `--reclear` clears it again and stores the next
version. A bad date exits 2.
"""

from __future__ import annotations

import argparse
from datetime import date

from market.commands._common import database_url, fail


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    clear = sub.add_parser("clear", help="clear the day-ahead auction of a local day")
    clear.add_argument("date", help="the local delivery day, YYYY-MM-DD")
    clear.add_argument("--reclear", action="store_true", help="clear again (next version)")
    clear.add_argument("--database-url", help="default: DATABASE_URL or the SQLite data dir")
    clear.add_argument("--worker-id", help="default: host:pid:random")
    effect = sub.add_parser("effect", help="what storage changed on a cleared day")
    effect.add_argument("date", help="the local delivery day, YYYY-MM-DD")
    effect.add_argument("--database-url", help="default: DATABASE_URL or the SQLite data dir")


def run(args: argparse.Namespace) -> int:
    import asyncio

    from market.core.errors import KlasterError
    from market.core.fields import FIRST_YEAR, LAST_YEAR

    try:
        day = date.fromisoformat(args.date.strip())
    except ValueError:
        return fail(f"DATE: not a date (YYYY-MM-DD): {args.date!r}")
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        return fail(f"DATE: the year must be between {FIRST_YEAR} and {LAST_YEAR}")
    url = database_url(args.database_url)
    if args.action == "effect":
        return asyncio.run(_effect(url, day))

    async def main() -> int:
        from market.clearing import day_ahead
        from market.clearing.scheduler import default_worker_id
        from market.core.clock import SystemClock
        from market.core.events import NullPublisher
        from market.core.settings import get_settings
        from market.db.engine import create_engine, session_factory

        if not day_ahead.core_available():
            return fail("the several-interval clearing core (issue 12) is not installed", 1)
        engine = create_engine(url)
        sessions = session_factory(engine)
        publisher = NullPublisher()
        try:
            from market.clearing.operations import worker_publisher

            publisher = worker_publisher(get_settings())  # type: ignore[assignment]
        except Exception:
            publisher = NullPublisher()
        try:
            outcome = await day_ahead.clear_day(
                sessions,
                day,
                worker_id=args.worker_id or default_worker_id(),
                publisher=publisher,
                now=SystemClock().now(),
                reclear=args.reclear,
            )
        except KlasterError as exc:
            return fail(f"{exc.field or 'DATE'}: {exc.message}")
        finally:
            close = getattr(publisher, "aclose", None)
            if close is not None:
                await close()
            await engine.dispose()
        if outcome.already and outcome.status == "clearing":
            return fail(
                f"day-ahead {day.isoformat()}: being cleared by another worker; its claim "
                "expires after its lease if it died",
                1,
            )
        if outcome.already:
            print(
                f"day-ahead {day.isoformat()}: already {outcome.status} (version "
                f"{outcome.version}); --reclear to clear it again"
            )
            return 0
        stored = outcome.stored
        assert stored is not None
        print(
            f"day-ahead {day.isoformat()}: {stored.status} (version {stored.version}), "
            f"{stored.summary['storage_units']} storage unit(s), "
            f"{stored.summary['blocks_accepted']}/{stored.summary['blocks']} block(s) accepted, "
            f"prices {stored.summary['prices_min']}…{stored.summary['prices_max']} PLN/kWh"
        )
        if stored.reason:
            print(f"  reason: {stored.reason}")
        return 0 if stored.status == "optimal" else 1

    return asyncio.run(main())


async def _effect(url: str, day: date) -> int:
    from market.clearing import day_ahead
    from market.core.errors import KlasterError
    from market.db.engine import create_engine, session_factory, unit_of_work
    from market.reports.storage_effect import storage_effect

    if not day_ahead.core_available():
        return fail("the several-interval clearing core (issue 12) is not installed", 1)
    engine = create_engine(url)
    try:
        async with unit_of_work(session_factory(engine)) as session:
            effect = await storage_effect(session, day)
    except KlasterError as exc:
        return fail(f"{exc.field or 'DATE'}: {exc.message}")
    finally:
        await engine.dispose()
    print(f"day-ahead {day.isoformat()}: {effect.storage_units} storage unit(s)")
    print(f"{'':22}{'with storage':>14}{'without':>14}")
    w, wo = effect.with_storage, effect.without_storage
    print(f"{'grid import kWh':22}{w.grid_import_kwh:>14}{wo.grid_import_kwh:>14}")
    print(f"{'grid export kWh':22}{w.grid_export_kwh:>14}{wo.grid_export_kwh:>14}")
    print(f"{'demand kWh':22}{w.demand_kwh:>14}{wo.demand_kwh:>14}")
    print(f"{'self-sufficiency':22}{w.self_sufficiency:>14.1%}{wo.self_sufficiency:>14.1%}")
    return 0
