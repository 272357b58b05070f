"""`klaster clear-interval START`: verify (default) or first clear one interval.

START is the interval's start as ISO 8601 (UTC with `Z`, or with an offset; a time without
offset is taken as local time of the cluster). Verification re-clears the stored input and
compares hashes: exit 0 when the stored result is reproduced exactly, 1 when not.
With `--clear`, an interval that is closed (or overdue) is cleared now, exactly once.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from market.commands._common import database_url, fail


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("start", help="interval start, e.g. 2026-06-15T10:00Z")
    parser.add_argument("--clear", action="store_true", help="clear it now if not yet cleared")
    parser.add_argument("--database-url", help="default: DATABASE_URL or the SQLite data dir")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


def parse_start(raw: str, tz: str) -> datetime:
    value = datetime.fromisoformat(raw.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(tz))
    return value.astimezone(UTC)


def run(args: argparse.Namespace) -> int:
    import asyncio
    import json

    from market.core.errors import KlasterError

    url = database_url(args.database_url)

    async def main() -> int:
        from market.clearing.run import claim, clear_claimed, verify_interval
        from market.clearing.scheduler import Scheduler, default_worker_id
        from market.cluster.service import get_cluster
        from market.core.events import NullPublisher
        from market.db.engine import create_engine, session_factory
        from market.trading.intervals import interval_by_start
        from market.trading.models import IntervalStatus

        engine = create_engine(url)
        sessions = session_factory(engine)
        try:
            async with sessions() as session:
                cluster = await get_cluster(session)
                try:
                    start = parse_start(args.start, cluster.timezone)
                except ValueError:
                    return fail(f"START: not an ISO 8601 time: {args.start!r}")
                interval = await interval_by_start(session, start)
                status, interval_id = interval.status, interval.id
            if args.clear and status in (IntervalStatus.OPEN.value, IntervalStatus.CLOSED.value):
                worker = default_worker_id()
                from datetime import timedelta

                if status == IntervalStatus.OPEN.value:
                    await Scheduler(sessions, worker_id=worker).close_gate(interval_id)
                if await claim(sessions, interval_id, worker, timedelta(minutes=5)):
                    stored = await clear_claimed(sessions, interval_id, worker, NullPublisher())
                    if stored is not None:
                        print(f"cleared {start.isoformat()}: {stored.status}")
            async with sessions() as session:
                interval = await interval_by_start(session, start)
                report = await verify_interval(session, interval)
        except KlasterError as exc:
            return fail(f"{exc.field}: {exc.message}")
        finally:
            await engine.dispose()
        data = {
            "interval_start": report.start_utc.isoformat().replace("+00:00", "Z"),
            "ok": report.ok,
            "input_hash": report.stored_input_hash,
            "replayed_input_hash": report.replay_input_hash,
            "result_hash": report.stored_result_hash,
            "replayed_result_hash": report.replay_result_hash,
            "database_matches_stored_input": report.database_matches,
        }
        if args.json:
            print(json.dumps(data, indent=2))
        else:
            verdict = "reproduced exactly" if report.ok else "MISMATCH"
            print(f"interval {data['interval_start']}: stored result {verdict}")
            print(f"  input  {report.stored_input_hash}")
            print(f"  result {report.stored_result_hash} (re-run {report.replay_result_hash})")
            if not report.database_matches:
                print("  note: the database's orders or network changed since this clearing")
        return 0 if report.ok else 1

    return asyncio.run(main())
