"""`klaster export --from 2026-10 --format csv -o FILE`: the distributor export, streamed.

Ranges: `--from 2026-10` (a local month), `--from 2026-10-01 --to 2026-10-31` (local days,
both included) or exact times with an offset (`--to` excluded). CSV holds one table
(`--table`, default `metering`; `--table all` writes one file per table next to FILE);
JSON and XLSX hold all five tables unless `--table` names one. A progress bar goes to stderr
for long ranges (or with `--progress`). Exit 2 for bad input, with one line on stderr.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from", dest="start", required=True, help="2026-10, 2026-10-01 or a time")
    parser.add_argument("--to", dest="end", help="last local day (included) or a time (excluded)")
    parser.add_argument("--format", choices=("csv", "json", "xlsx"), default="csv")
    parser.add_argument(
        "--table",
        choices=("metering", "trades", "nodes", "lines", "grid", "all"),
        help="which table (CSV: one per file; default metering)",
    )
    parser.add_argument("--decimal-comma", action="store_true", help="CSV: 1,250 instead of 1.250")
    parser.add_argument(
        "--plain", action="store_true", help="CSV for other tools: ',' separator, no BOM"
    )
    parser.add_argument("-o", "--output", required=True, help="file to write ('-': stdout)")
    parser.add_argument("--progress", action="store_true", help="always show the progress bar")
    parser.add_argument("--quiet", action="store_true", help="never show the progress bar")


def _fail(message: str) -> int:
    print(f"klaster export: {message}", file=sys.stderr)
    return 2


class Bar:
    """A one-line progress bar on stderr, redrawn at most 5 times a second."""

    def __init__(self, total_intervals: int) -> None:
        self.total = max(1, total_intervals)
        self.started = time.monotonic()
        self._last = 0.0

    def __call__(self, table: str, done: int, rows: int) -> None:
        now = time.monotonic()
        if now - self._last < 0.2 and done < self.total:
            return
        self._last = now
        elapsed = now - self.started
        if table == "metering":
            share = min(1.0, done / self.total)
            filled = int(share * 30)
            bar = "#" * filled + "-" * (30 - filled)
            text = f"[{bar}] {share:4.0%} {done:,}/{self.total:,} intervals"
        else:
            text = f"{table}: batch {done:,}"
        sys.stderr.write(f"\r{text}, {rows:,} rows, {elapsed:.0f} s ")
        sys.stderr.flush()

    def finish(self, rows: int) -> None:
        elapsed = time.monotonic() - self.started
        sys.stderr.write(f"\r{rows:,} rows in {elapsed:.1f} s".ljust(78) + "\n")


def run(args: argparse.Namespace) -> int:
    import anyio
    from sqlalchemy.exc import SQLAlchemyError

    from market.core.errors import KlasterError

    try:
        return int(anyio.run(_run, args))
    except KlasterError as exc:
        return _fail(str(exc))
    except SQLAlchemyError as exc:
        return _fail(
            f"database: {type(exc).__name__}: {str(exc).splitlines()[0][:160]} "
            "(is DATABASE_URL right, and has `klaster migrate` run?)"
        )
    except OSError as exc:
        return _fail(f"--output: {exc}")


async def _run(args: argparse.Namespace) -> int:
    from market.core.settings import get_settings
    from market.db.engine import create_engine, session_factory
    from market.export.service import ExportRequest, open_export, parse_range, tables_for

    if args.decimal_comma and args.plain:
        return _fail("--decimal-comma needs the Polish CSV; leave out --plain")
    if args.format == "xlsx" and args.output == "-":
        return _fail("--output: an XLSX file cannot go to stdout; give a file name")
    start, end = parse_range(args.start, args.end)
    tables = tables_for(args.format, args.table)
    engine = create_engine(get_settings().database_url)
    try:
        async with session_factory(engine)() as session:
            first = ExportRequest(
                start,
                end,
                args.format,
                tables[:1] if args.format == "csv" else tables,
                args.decimal_comma,
                args.plain,
            )
            scope = await open_export(session, None, first)
            show = not args.quiet and (
                args.progress or (sys.stderr.isatty() and scope.interval_count > 96)
            )
            bar = Bar(scope.interval_count) if show else None
            total = 0
            if args.format == "csv" and len(tables) > 1:
                out = Path(args.output)
                for table in tables:
                    req = ExportRequest(start, end, "csv", (table,), args.decimal_comma, args.plain)
                    path = out.with_name(f"{out.stem}.{table}{out.suffix or '.csv'}")
                    total += await _write(session, scope, req, str(path), bar)
            else:
                total = await _write(session, scope, first, args.output, bar)
            if bar:
                bar.finish(total)
            print(
                f"{total:,} rows, {scope.interval_count:,} intervals, version {scope.version}",
                file=sys.stderr,
            )
    finally:
        await engine.dispose()
    return 0


async def _write(session: Any, scope: Any, req: Any, output: str, bar: Bar | None) -> int:
    from market.export.service import write_export

    if output == "-":
        return await write_export(session, scope, req, sys.stdout.buffer, bar)
    return await write_export(session, scope, req, output, bar)
