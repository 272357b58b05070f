"""`klaster report statutory --from 2026-06 [--to 2026-08] [--granularity hour|month|year]
--format json|csv [-o FILE]`: what the cluster is worth under the law (docs/statutory.md).

`--by point`: one row per period and metering point (consumption, feed-in, the exempt energy
allocated to it and its avoided fees) instead of one per period.
`--from`/`--to`: local days (2026-06-01) or months (2026-06), both included. JSON: one
object with the rule set's version and `rows`; CSV: one line per period through the product's
CSV writer (Polish dialect: `;`, UTF-8 with BOM; `--decimal-comma`, or `--plain` for `,`),
each condition in four columns. Exit 2 for bad input, with one line naming the field.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Sequence
from typing import IO, Any

from market.commands._common import database_url, fail
from market.export.tables import Column, Kind, TableSpec
from market.export.writers import CsvDialect, iter_csv
from market.statutory.figures import Granularity, Period
from market.statutory.points import PointPeriod
from market.statutory.rules import RULES, ConditionName

REPORTS = ("statutory",)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("report", choices=REPORTS, help="which report")
    parser.add_argument("--from", dest="start", required=True, help="2026-06 or 2026-06-01")
    parser.add_argument("--to", dest="end", help="last local day or month (included)")
    parser.add_argument(
        "--granularity", default=Granularity.MONTH.value, help="hour, month (default) or year"
    )
    parser.add_argument(
        "--by",
        choices=("cluster", "point"),
        default="cluster",
        help="one row per period (cluster) or per period and metering point (point)",
    )
    parser.add_argument("--format", choices=("json", "csv"), default="json")
    parser.add_argument("--decimal-comma", action="store_true", help="CSV: 1,250 instead of 1.250")
    parser.add_argument("--plain", action="store_true", help="CSV: ',' separator, no BOM")
    parser.add_argument("-o", "--output", default="-", help="file to write (default '-': stdout)")
    parser.add_argument("--database", help="database URL (default: DATABASE_URL)")


def _energy(name: str) -> Column:
    return Column(name, Kind.DECIMAL, 3, "kWh")


def _pln(name: str) -> Column:
    return Column(name, Kind.DECIMAL, 4, "PLN")


def _share(name: str) -> Column:
    return Column(name, Kind.DECIMAL, 4, "1")


def _condition_columns() -> tuple[Column, ...]:
    out: list[Column] = []
    for name in ConditionName:
        out += [
            Column(f"{name.value}_value", Kind.DECIMAL, 4),
            Column(f"{name.value}_threshold", Kind.DECIMAL, 4),
            Column(f"{name.value}_valid_from", Kind.DATE),
            Column(f"{name.value}_met", Kind.BOOL),
        ]
    return tuple(out)


TABLE = TableSpec(
    "statutory",
    "Statutory figures of the cluster",
    (
        Column("period_start", Kind.LOCAL),
        Column("granularity", Kind.TEXT),
        Column("source", Kind.TEXT),
        Column("hours", Kind.INT),
        _energy("renewable_fed_in_kwh"),
        _energy("generation_fed_in_kwh"),
        _energy("member_consumption_kwh"),
        _energy("matched_kwh"),
        _energy("exempt_kwh"),
        _pln("avoided_fees_pln"),
        _share("self_consumption_ratio"),
        Column("discount_tier", Kind.INT),
        _share("discount_pay_share"),
        _pln("discount_base_pln"),
        _pln("discount_pln"),
        _share("renewable_share"),
        Column("missing_rates", Kind.TEXT),
        *_condition_columns(),
    ),
)


POINT_TABLE = TableSpec(
    "statutory_points",
    "Statutory figures per metering point",
    (
        Column("period_start", Kind.LOCAL),
        Column("ppe_code", Kind.TEXT),
        Column("member", Kind.TEXT),
        Column("technology", Kind.TEXT),
        Column("renewable", Kind.BOOL),
        Column("source", Kind.TEXT),
        _energy("consumption_kwh"),
        _energy("fed_in_kwh"),
        _energy("exempt_kwh"),
        _pln("avoided_fees_pln"),
    ),
)


def point_csv_row(p: PointPeriod) -> tuple[Any, ...]:
    return (
        p.start, p.ppe_code, p.member, p.technology, p.renewable, p.source, p.consumption_kwh,
        p.fed_in_kwh, p.exempt_kwh, p.avoided_fees_pln,
    )  # fmt: skip


def csv_row(p: Period) -> tuple[Any, ...]:
    s = p.sums
    by_name = {c.name: c for c in p.conditions}
    conditions: list[Any] = []
    for name in ConditionName:
        c = by_name.get(name.value)
        conditions += [c.value, c.threshold, c.valid_from, c.met] if c else [None] * 4
    return (
        p.start, p.granularity.value, p.source, s.hours, s.renewable_fed_in_kwh,
        s.generation_fed_in_kwh, s.member_consumption_kwh, s.matched_kwh, s.exempt_kwh,
        s.avoided_fees_pln, p.self_consumption_ratio, p.discount_tier, p.discount_pay_share,
        s.discount_base_pln, s.discount_pln, p.renewable_share, ",".join(sorted(s.missing_rates)),
        *conditions,
    )  # fmt: skip


def render(
    args: argparse.Namespace, request: Any, rows: Sequence[Period] | Sequence[PointPeriod]
) -> Iterator[bytes]:
    from market.statutory.report import period_row

    periods = [r for r in rows if isinstance(r, Period)]
    points = [r for r in rows if isinstance(r, PointPeriod)]
    if args.format == "csv":
        dialect = CsvDialect.plain() if args.plain else CsvDialect.polish(args.decimal_comma)
        if args.by == "point":
            yield from iter_csv(POINT_TABLE, (point_csv_row(p) for p in points), dialect)
        else:
            yield from iter_csv(TABLE, (csv_row(p) for p in periods), dialect)
        return
    document = {
        "report": "statutory",
        "rules_version": RULES.version,
        "from": request.first_day.isoformat(),
        "to": request.last_day.isoformat(),
        "granularity": request.granularity.value,
        "by": args.by,
        "rows": [p.row() for p in points]
        if args.by == "point"
        else [period_row(p) for p in periods],
    }
    yield (json.dumps(document, ensure_ascii=False, indent=1) + "\n").encode()


def run(args: argparse.Namespace) -> int:
    import anyio
    from sqlalchemy.exc import SQLAlchemyError

    from market.core.errors import KlasterError
    from market.statutory.report import parse_statutory_request

    try:
        if args.decimal_comma and args.plain:
            return fail("--decimal-comma needs the Polish CSV; leave out --plain")
        request = parse_statutory_request(args.start, args.end, args.granularity)
        periods = anyio.run(_load, database_url(args.database), request, args.by)
        target: IO[bytes] = sys.stdout.buffer if args.output == "-" else open(args.output, "wb")  # noqa: SIM115
        try:
            for chunk in render(args, request, periods):
                target.write(chunk)
        finally:
            if target is not sys.stdout.buffer:
                target.close()
        return 0
    except KlasterError as exc:
        return fail(f"report: {exc}")
    except SQLAlchemyError as exc:
        return fail(f"report: database: {type(exc).__name__}: {str(exc).splitlines()[0][:160]}")
    except OSError as exc:
        return fail(f"report: --output: {exc}")


async def _load(url: str, request: Any, by: str) -> list[Period] | list[PointPeriod]:
    from market.db.engine import create_engine, session_factory, unit_of_work
    from market.statutory.points import point_periods
    from market.statutory.report import statutory_report

    engine = create_engine(url)
    try:
        async with unit_of_work(session_factory(engine)) as session:
            if by == "point":
                return [p async for p in point_periods(session, None, request)]
            return [p async for p in statutory_report(session, None, request)]
    finally:
        await engine.dispose()
