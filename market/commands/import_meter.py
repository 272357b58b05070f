"""`klaster import-meter FILE [--skip-bad-rows]`: import the distributor's meter data.

The file is checked completely first; if any row is bad, every bad row is listed with its
line number on stderr and nothing is imported (exit 2), unless `--skip-bad-rows` is given
(then the good rows are imported and the bad ones listed; exit 0). Hourly data is split
evenly into quarter-hours on a 15-minute cluster (see docs/export-format.md).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from market.commands._common import run_file_import


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="CSV: ppe;interval_start;import_kwh;export_kwh;quality")
    parser.add_argument("--skip-bad-rows", action="store_true", help="import the good rows only")
    parser.add_argument(
        "--resolution", type=int, choices=(15, 60), help="minutes per row (default: detect)"
    )


def _fail(message: str) -> int:
    print(f"klaster import-meter: {message}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    return run_file_import("import-meter", args.file, lambda path: _run(args, path))


async def _run(args: argparse.Namespace, path: Path) -> int:
    from market.core.settings import get_settings
    from market.db.engine import create_engine, session_factory, unit_of_work
    from market.metering.imports import import_meter_data

    engine = create_engine(get_settings().database_url)
    try:
        from market.metering.textfile import open_text

        with open_text(path) as stream:
            async with unit_of_work(session_factory(engine)) as session:
                report = await import_meter_data(
                    session,
                    None,
                    stream,
                    filename=path.name,
                    skip_bad_rows=args.skip_bad_rows,
                    resolution_minutes=args.resolution,
                )
    finally:
        await engine.dispose()
    for error in report.errors:
        print(str(error), file=sys.stderr)
    if report.error_count > len(report.errors):
        print(f"… and {report.error_count - len(report.errors)} more", file=sys.stderr)
    if report.stored == 0 and not report.ok:
        return _fail(
            f"{report.error_count} bad row(s), nothing imported; fix them or use --skip-bad-rows"
        )
    print(
        f"imported {report.stored:,} readings from {report.valid_rows:,} rows "
        f"(PT{report.resolution_minutes}M, {len(report.ppes)} metering points"
        + (f", {report.error_count} bad rows skipped)" if report.error_count else ")")
    )
    return 0
