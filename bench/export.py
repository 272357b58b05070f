"""Export benchmark: stream a month of 15-minute rows for 5,000 metering points through the
writers and print rows/s and peak memory.

    .venv/bin/python -m bench.export                    # CSV, 5,000 PPE, October 2026
    .venv/bin/python -m bench.export --format json --days 3
    .venv/bin/python -m bench.export --format xlsx --days 1 --ppe 5000
    .venv/bin/python -m bench.export --db sqlite+aiosqlite:///data/klaster.db --from 2026-10

The writer path is fed by a synthetic row generator (the same `MeteringRow` tuples the
database query yields, with interval labels computed per interval as there), because filling
a database with 14 million settled rows does not fit a benchmark run. `--db` instead measures
the full path (queries + settlement + writer) on an existing database. Peak memory is the
process's maximum resident set size (`resource.getrusage`), which includes the interpreter
and the libraries (~100 MB before any row is written).
"""

from __future__ import annotations

import argparse
import io
import itertools
import os
import resource
import sys
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from market.core.timegrid import local_day_bounds
from market.export.tables import GRID, LINES, METERING, NODES, TRADES, MeteringRow, interval_fields
from market.export.writers import CsvDialect, JsonEncoder, XlsxBuilder, batched, iter_csv
from market.members.ppe import make_ppe


def peak_rss_mb() -> float:
    # ru_maxrss is KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class NullSink(io.RawIOBase):
    """Counts bytes, keeps none."""

    def __init__(self) -> None:
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        self.size += len(b)
        return len(b)


def synthetic_rows(ppe_count: int, first_day: date, days: int) -> Iterator[MeteringRow]:
    """Rows as the database path yields them: one per metering point per interval."""
    start, _ = local_day_bounds(first_day)
    _, end = local_day_bounds(first_day + timedelta(days=days - 1))
    points = [
        (
            make_ppe("5905435", 31_000_000 + k),
            ("consumer", "prosumer", "producer")[k % 3],
            f"LV-{k % 120:03d}",
        )
        for k in range(ppe_count)
    ]
    energies = [Decimal(k).scaleb(-3) for k in range(0, 5000, 37)]
    prices = [Decimal(k).scaleb(-4) for k in range(1829, 8900, 211)]
    amounts = [Decimal(k).scaleb(-2) for k in range(-300, 300, 7)]
    e, p, a = itertools.cycle(energies), itertools.cycle(prices), itertools.cycle(amounts)
    zero = Decimal("0.000")
    generated = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)
    t = start
    while t < end:
        f = interval_fields(t, 15)
        version = f"r{int(t.timestamp()) // 900}-3fa9c2d1"
        price = next(p)
        for k, (ppe, role, node) in enumerate(points):
            buys = k % 3 != 2
            yield MeteringRow(
                "KE/001/2026", "Domat Consulting Sp. z o.o.", ppe, role, node,
                f.start_utc, f.end_utc, f.local_start, f.local_day, f.number, f.resolution,
                next(e) if buys else zero, zero if buys else next(e), price, next(a),
                None, None, None, None, None, k % 17 == 0, None, version, generated,
            )  # fmt: skip
        t += timedelta(minutes=15)


def run_writer(fmt: str, rows: Iterator[MeteringRow], decimal_comma: bool) -> tuple[int, int]:
    count = 0

    def counted() -> Iterator[MeteringRow]:
        nonlocal count
        for row in rows:
            count += 1
            yield row

    sink = NullSink()
    if fmt == "csv":
        for chunk in iter_csv(METERING, counted(), CsvDialect.polish(decimal_comma)):
            sink.write(chunk)
    elif fmt == "json":
        enc = JsonEncoder()
        sink.write(enc.begin({"format": "klaster-export"}))
        sink.write(enc.table_begin(METERING))
        for batch in batched(counted()):
            sink.write(enc.rows(batch))
        sink.write(enc.table_end() + enc.end())
    else:
        path = f"/tmp/klaster-bench-{os.getpid()}.xlsx"
        book = XlsxBuilder(path, {"generated_at": datetime(2026, 11, 1, tzinfo=UTC)})
        book.table_begin(METERING)
        for batch in batched(counted()):
            book.rows(batch)
        book.close()
        sink.size = os.path.getsize(path)
        os.unlink(path)
    return count, sink.size


async def run_db(url: str, start: str, end: str | None, fmt: str) -> tuple[int, int, int, float]:
    from market.db.engine import create_engine, session_factory
    from market.export.request import ExportRequest, parse_range
    from market.export.service import open_export, write_export

    begin, finish = parse_range(start, end)
    tables = ("metering",) if fmt == "csv" else ("metering", "trades", "nodes", "lines", "grid")
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            req = ExportRequest(begin, finish, fmt, tables)
            scope = await open_export(session, None, req)
            sink = NullSink()
            tic = time.perf_counter()
            rows = await write_export(session, scope, req, sink)  # type: ignore[arg-type]
            return rows, sink.size, scope.interval_count, time.perf_counter() - tic
    finally:
        await engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.export")
    parser.add_argument("--format", choices=("csv", "json", "xlsx"), default="csv")
    parser.add_argument("--ppe", type=int, default=5000)
    parser.add_argument("--first-day", default="2026-10-01")
    parser.add_argument("--days", type=int, default=31)
    parser.add_argument("--decimal-comma", action="store_true")
    parser.add_argument("--db", help="database URL: measure the full path instead")
    parser.add_argument("--from", dest="start", default="2026-10")
    parser.add_argument("--to", dest="end")
    args = parser.parse_args(argv)
    _ = (GRID, LINES, NODES, TRADES)  # the other tables stream the same way (smaller)
    base = peak_rss_mb()
    tic = time.perf_counter()
    if args.db:
        import anyio

        rows, size, intervals, writing = anyio.run(
            run_db, args.db, args.start, args.end, args.format
        )
        what = (
            f"database {args.db.split(':')[0]}, {intervals} intervals; "
            f"{rows / writing:,.0f} rows/s after the scope is loaded"
        )
    else:
        rows, size = run_writer(
            args.format,
            synthetic_rows(args.ppe, date.fromisoformat(args.first_day), args.days),
            args.decimal_comma,
        )
        what = f"synthetic, {args.ppe} PPE × {args.days} days"
    elapsed = time.perf_counter() - tic
    print(
        f"export {args.format} ({what}): {rows:,} rows, {size / 1e6:,.0f} MB in {elapsed:,.1f} s "
        f"= {rows / elapsed:,.0f} rows/s; peak RSS {peak_rss_mb():,.0f} MB "
        f"(before writing {base:,.0f} MB)"
    )
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
