"""`klaster simulate --from DATE --to DATE [--scenario FILE|NAME] [--database URL] [--seed N]`:
run the real market pipeline over a range on a simulated cluster (docs/simulation.md).

Without `--database` the Staszów demo is seeded into a temporary SQLite database (deleted
afterwards); with one, an empty database is migrated and seeded, a seeded one used as it is.
The scenario is applied, then every local day is simulated (`market.simulation.engine`).
Output: the summary as JSON (default) or a table; a progress bar on stderr.

`klaster simulate --compare A B`: two result files (JSON written by this command) or two
scenarios (run over `--from`/`--to` with the same seed) side by side.
Exit 2 for bad input, with one line naming the field.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

from market.commands._common import fail


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from", dest="start", help="first local day (2026-06-01) or month")
    parser.add_argument("--to", dest="end", help="last local day or month (included)")
    parser.add_argument("--scenario", help="scenario file (.toml/.json) or a shipped name")
    parser.add_argument("--database", help="database URL (default: a temporary SQLite file)")
    parser.add_argument("--seed", type=int, default=2026, help="random seed (default 2026)")
    parser.add_argument("--format", choices=("json", "table"), default="json")
    parser.add_argument("-o", "--output", default="-", help="file to write (default stdout)")
    parser.add_argument(
        "--keep-meter-data", action="store_true", help="store the synthetic meter data"
    )
    parser.add_argument(
        "--interval-minutes",
        type=int,
        choices=(15, 60),
        default=15,
        help="interval length of a seeded cluster (60: four times fewer clearings)",
    )
    parser.add_argument(
        "--skip-store",
        action="store_true",
        help="do not store clearing results (faster; the figures are the same)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help=(
            "processes to share the days between (temporary database only; default: the "
            "machine's cores for two weeks or more on a temporary database, else 1)"
        ),
    )
    parser.add_argument(
        "--no-day-ahead",
        action="store_true",
        help="skip the day-ahead auction even if the cluster has one",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument(
        "--compare", nargs=2, metavar=("A", "B"), help="two results or two scenarios"
    )


class _Bar:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.began = time.perf_counter()

    def __call__(self, done: int, total: int, day: date) -> None:
        if not self.enabled:
            return
        width = 30
        filled = width * done // total
        elapsed = time.perf_counter() - self.began
        eta = elapsed / done * (total - done)
        sys.stderr.write(
            f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} days {day} "
            f"{elapsed:6.1f} s, {eta:6.1f} s left"
        )
        if done == total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def _write(args: argparse.Namespace, text: str) -> None:
    if args.output == "-":
        sys.stdout.write(text)
    else:
        Path(args.output).write_text(text, "utf-8")


def _summary_table(doc: dict[str, Any]) -> str:
    from market.simulation.compare import compare_rows

    rows = [(what, a) for what, a, _b in compare_rows(doc, doc)]
    w = max(len(r[0]) for r in rows)
    return "\n".join(f"{r[0]:<{w}}  {r[1]}" for r in rows) + "\n"


def run(args: argparse.Namespace) -> int:
    from market.core.errors import KlasterError

    try:
        if args.compare:
            return _compare(args)
        doc = _simulate(args, args.scenario)
    except KlasterError as exc:
        return fail(f"{exc.field}: {exc.message}")
    if args.format == "json":
        _write(args, json.dumps(doc, ensure_ascii=False, indent=1) + "\n")
    else:
        _write(args, _summary_table(doc))
    return 0


def _compare(args: argparse.Namespace) -> int:
    from market.simulation.compare import compare_rows, table

    docs = []
    for k, name in enumerate(args.compare):
        path = Path(name)
        doc: dict[str, Any] | None = None
        if path.is_file() and path.suffix.lower() == ".json":
            try:
                loaded = json.loads(path.read_text("utf-8"))
            except (json.JSONDecodeError, UnicodeDecodeError):
                return fail(f"compare[{k}]: {name} is not JSON")
            if isinstance(loaded, dict) and "by_kind" in loaded:
                doc = loaded
        docs.append(doc if doc is not None else _simulate(args, name))
    rows = compare_rows(docs[0], docs[1])
    if args.format == "json":
        _write(args, json.dumps({"compare": docs}, ensure_ascii=False, indent=1) + "\n")
    else:
        _write(args, table(rows))
    return 0


#: A worker process costs a few CPU seconds to start (imports, a copy of the database,
#: skipping the earlier days' forecast-error draws): worth it from about two weeks.
PARALLEL_FROM_DAYS = 14


def default_workers(days: int, *, temporary: bool) -> int:
    """`--workers` when not given: the cores this process may use, for a range of two weeks
    or more on a temporary database (the wall-time target is for the machine's cores, and
    the figures are the same for any number of workers); otherwise one process."""
    if not temporary or days < PARALLEL_FROM_DAYS:
        return 1
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, 64, days // 7))


def _simulate(args: argparse.Namespace, scenario_name: str | None) -> dict[str, Any]:
    from market.core.errors import ValidationFailed
    from market.core.settings import normalise_database_url
    from market.db.engine import migrate
    from market.simulation.runs import simulate_into
    from market.simulation.scenario import BASELINE, load_scenario
    from market.statutory.report import parse_statutory_request

    if not args.start:
        raise ValidationFailed("from", "required")
    asked = parse_statutory_request(args.start, args.end, "month")
    if args.workers is None:
        args.workers = default_workers(
            (asked.last_day - asked.first_day).days + 1,
            temporary=not (args.database or args.keep_meter_data),
        )
    if not 1 <= args.workers <= 64:
        raise ValidationFailed("workers", "must be between 1 and 64")
    if args.workers > 1 and (args.database or args.keep_meter_data):
        raise ValidationFailed(
            "workers", "several workers simulate on temporary copies: not with --database"
        )
    scenario = load_scenario(scenario_name) if scenario_name else BASELINE
    with tempfile.TemporaryDirectory(prefix="klaster-sim-") as tmp:
        url = (
            normalise_database_url(args.database)
            if args.database
            else f"sqlite+aiosqlite:///{tmp}/simulate.db"
        )
        migrate(url)
        import anyio

        async def main() -> dict[str, Any]:
            return await simulate_into(
                url,
                scenario,
                asked.first_day,
                asked.last_day,
                seed=args.seed,
                interval_minutes=args.interval_minutes,
                progress=_Bar(not args.no_progress),
                keep_meter_data=args.keep_meter_data,
                store_results=not args.skip_store,
                day_ahead=False if args.no_day_ahead else None,
                workers=args.workers,
            )

        doc: dict[str, Any] = anyio.run(main)
    return doc
