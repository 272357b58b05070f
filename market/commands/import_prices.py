"""`klaster import-prices FILE [--resolution 15|60] [--database URL]`: import the market
prices RCE (PLN/MWh) that net-billing pays, for the members' counterfactual without the
cluster (docs/statutory.md).

The file is checked completely first; if any row is bad, every bad row is listed with its
line number on stderr and nothing is stored (exit 2). Importing the same periods again
replaces their prices.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from market.commands._common import database_url, run_file_import


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="CSV: interval_start;price_pln_per_mwh")
    parser.add_argument(
        "--resolution", type=int, choices=(15, 60), help="minutes per row (default: detect)"
    )
    parser.add_argument("--database", help="database URL (default: DATABASE_URL)")


def _fail(message: str) -> int:
    print(f"klaster import-prices: {message}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    return run_file_import("import-prices", args.file, lambda path: _run(args, path))


async def _run(args: argparse.Namespace, path: Path) -> int:
    from sqlalchemy import select

    from market.cluster.models import Cluster
    from market.core.settings import DEFAULT_TIMEZONE
    from market.db.engine import create_engine, session_factory, unit_of_work
    from market.metering.textfile import open_text
    from market.statutory.prices import import_prices

    engine = create_engine(database_url(args.database))
    try:
        with open_text(path) as stream:
            async with unit_of_work(session_factory(engine)) as session:
                zone = await session.scalar(select(Cluster.timezone).limit(1))
                report = await import_prices(
                    session,
                    None,
                    stream,
                    filename=path.name,
                    zone=zone or DEFAULT_TIMEZONE,
                    resolution_minutes=args.resolution,
                )
    finally:
        await engine.dispose()
    for error in report.errors:
        print(str(error), file=sys.stderr)
    if report.error_count > len(report.errors):
        print(f"… and {report.error_count - len(report.errors)} more", file=sys.stderr)
    if not report.ok:
        return _fail(f"{report.error_count} bad row(s), nothing stored")
    print(
        f"stored {report.stored:,} prices (PT{report.resolution_minutes}M, "
        f"{report.first_start:%Y-%m-%d %H:%M}Z … {report.last_start:%Y-%m-%d %H:%M}Z)"
    )
    return 0
