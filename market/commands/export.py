"""`klaster export --from 2026-10 --format csv -o FILE`: the distributor export, streamed.

Ranges: `--from 2026-10` (a local month), `--from 2026-10-01 --to 2026-10-31` (local days,
both included) or exact times with an offset (`--to` excluded). `--format` offers the
registered formats (`market.export.formats.registry`). A one-table format (CSV) holds one
table (`--table`, default `metering`; `--table all` writes one file per table next to FILE);
the others hold all five tables unless `--table` names one. A progress bar goes to stderr for
long ranges (or with `--progress`). Exit 2 for bad input, with one line on stderr.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import IO

from sqlalchemy.ext.asyncio import AsyncSession

from market.export.formats.registry import FORMATS
from market.export.request import ExportRequest
from market.export.scope import ExportScope
from market.export.tables import TABLES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from", dest="start", required=True, help="2026-10, 2026-10-01 or a time")
    parser.add_argument("--to", dest="end", help="last local day (included) or a time (excluded)")
    parser.add_argument("--format", choices=FORMATS.names(), default=FORMATS.default.name)
    parser.add_argument(
        "--table",
        choices=(*TABLES, "all"),
        help="which table (one-table formats: one per file; default metering)",
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


def requests_of(args: argparse.Namespace) -> list[tuple[ExportRequest, str]]:
    """The files to write: one, or for `--table all` in a one-table format one per table
    (`FILE.<table>.<ext>` next to FILE)."""
    from market.export.request import parse_export_request

    def parse(table: str | None) -> ExportRequest:
        return parse_export_request(
            args.start, args.end, args.format, table, args.decimal_comma, args.plain
        )

    encoder = FORMATS.get(args.format)
    if args.table != "all" or encoder.multi_table:
        return [(parse(args.table), args.output)]
    out = Path(args.output)
    suffix = out.suffix or f".{encoder.extension}"
    return [(parse(t), str(out.with_name(f"{out.stem}.{t}{suffix}"))) for t in TABLES]


def run(args: argparse.Namespace) -> int:
    import anyio
    from sqlalchemy.exc import SQLAlchemyError

    from market.core.errors import KlasterError

    try:
        if args.decimal_comma and args.plain:
            return _fail("--decimal-comma needs the Polish CSV; leave out --plain")
        return int(anyio.run(_run, args, requests_of(args)))
    except KlasterError as exc:
        return _fail(str(exc))
    except SQLAlchemyError as exc:
        return _fail(
            f"database: {type(exc).__name__}: {str(exc).splitlines()[0][:160]} "
            "(is DATABASE_URL right, and has `klaster migrate` run?)"
        )
    except OSError as exc:
        return _fail(f"--output: {exc}")


async def _run(args: argparse.Namespace, requests: list[tuple[ExportRequest, str]]) -> int:
    from market.core.settings import get_settings
    from market.db.engine import create_engine, session_factory, unit_of_work
    from market.export.service import open_export

    engine = create_engine(get_settings().database_url)
    try:
        async with unit_of_work(session_factory(engine)) as session:
            scope = await open_export(session, None, requests[0][0])
            show = not args.quiet and (
                args.progress or (sys.stderr.isatty() and scope.interval_count > 96)
            )
            bar = Bar(scope.interval_count) if show else None
            total = 0
            for request, output in requests:
                total += await _write(session, scope, request, output, bar)
            if bar:
                bar.finish(total)
            print(
                f"{total:,} rows, {scope.interval_count:,} intervals, version {scope.version}",
                file=sys.stderr,
            )
    finally:
        await engine.dispose()
    return 0


async def _write(
    session: AsyncSession, scope: ExportScope, request: ExportRequest, output: str, bar: Bar | None
) -> int:
    from market.export.service import write_export

    target: str | IO[bytes] = sys.stdout.buffer if output == "-" else output
    return await write_export(session, scope, request, target, bar)
