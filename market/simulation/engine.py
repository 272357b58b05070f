"""The what-if simulation: the real market pipeline, day by day, at full speed.

For each local day of the range, in one transaction:

1. the day's intervals are created (as `trading.intervals.ensure_intervals` makes them);
2. the standing orders are placed into all of them at once by the real
   `trading.standing.materialise` (the order pipeline, one bulk INSERT);
3. the day hooks run (`DayHook`), then the day-ahead auction when the cluster has one: the
   public `clearing.day_ahead.clear_day`, in its own transactions; its firm positions are
   read back for settlement (a plain hook could not hand them over);
4. the intervals are cleared by the real clearing functions, a batch at a time —
   `clearing.input.build_problems` (one read for the batch), `clearing.run.solve_and_convert`
   (`matching.clear`; without the audit hashes; with a `matching.memo.Memo` for the run, so
   a problem whose data repeats an earlier interval's reuses its clearing, bit for bit),
   `clearing.store.store_results` (a few bulk statements) — in start order; the claim/lease
   protocol and the live events are skipped (one process);
5. synthetic meter data: each point's load and PV from its profile (`metering.profiles`, the
   same profiles the standing orders forecast from) times (1 + a seeded normal forecast
   error); storage points meter what they traded (intraday and day-ahead);
6. each interval is settled against that meter data (`settlement.settle_totals`: each
   line's total of `settlement.settle_interval`, all the figures read), and each hour
   matched under the law by `statutory.hourly.match_hour`;
7. commit. Per-interval objects are dropped at the end of the day: memory holds the points,
   one day's orders and a small summary per hour.

Figures per member kind: energy, the cost with the cluster (the settlement's total and the
day-ahead amounts, less the avoided fees and the distribution discount) against the cost
without it (grid import at the tariff, feed-in at the hour's RCE or the month's RCEm under
net-billing). Deterministic for a seed (the summary, without timings, is identical on a
re-run, and with any number of `workers`).
"""

from __future__ import annotations

import contextlib
import gc
import math
import os
import random
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.access.models import Member
from market.clearing.day_ahead import clear_day
from market.clearing.day_ahead_models import DayAheadPosition, DayAheadRun
from market.clearing.input import ProblemInput, build_problems
from market.clearing.run import solve_and_convert
from market.clearing.store import Converted, forget_written_values, store_results
from market.cluster.models import Cluster
from market.core.errors import ValidationFailed
from market.core.events import NullPublisher
from market.core.money import ENERGY
from market.core.timegrid import intervals_in_local_day, label
from market.db.engine import dialect_name
from market.db.sqlite_driver import inline
from market.metering.models import MeterImport, MeterReading
from market.metering.profiles import (
    PointProfile,
    clock,
    cloud_factor,
    load_kwh_at,
    other_kwh,
    pv_kwh_at,
)
from market.network.models import GridConnection, Line, MeteringPoint, Node, Technology
from market.reports.day_ahead_only import NoIntradayPrice
from market.settlement.settle import GridFlow, IntervalInput, Position, settle_totals
from market.statutory.figures import Capacity, Granularity, Period, Sums, conditions, roll_up
from market.statutory.hourly import PLN4, ZERO, DataSource, HourResult, PointHour, match_hour
from market.statutory.inputs import load_points
from market.statutory.models import Fee
from market.statutory.prices import load_price_book, rcem_pln_per_kwh
from market.statutory.rates import TARIFF_GROUP, load_rate_book
from market.statutory.report import period_row
from market.statutory.rules import RULES
from market.trading.day_ahead_gate import day_ahead_enabled, gate_closure
from market.trading.day_ahead_models import AuctionStatus, DayAheadAuction
from market.trading.models import Interval, IntervalStatus
from market.trading.standing import materialise
from matching.memo import Memo

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing.managers import SyncManager


WORKER = "simulate"
#: `cleared_at` of simulated intervals (fixed, so a run is reproducible).
_NOW = datetime(2000, 1, 1, tzinfo=UTC)
_GRID_FEES = (Fee.DISTRIBUTION_VARIABLE, Fee.QUALITY)
#: Orders read, solved and stored per batch of intervals (a whole day of the 75-point demo;
#: a few intervals at 5,000 points, so memory does not grow with the cluster's day).
_BATCH_ORDERS = 40_000
_NO_FIRM = (ZERO, ZERO, ZERO)
#: SQLite's page cache on the simulation's connection (KiB; the default is 2 MB): a day's
#: orders at 5,000 points are ~50 MB of table pages, and each interval's outcomes update
#: rows spread over all of them (the orders are placed point by point): with the default
#: cache every batch re-reads and spills them (store phase −30 % CPU at 5,000 points). A
#: fixed cap: memory stays flat in the length of the range.
_SQLITE_CACHE_KIB = 128 * 1024
#: Point-days a worker process of a parallel run simulates before it is replaced by a fresh
#: one (4 days at 5,000 points, 266 at the demo's 75); no job is longer. A process's resident
#: memory creeps up with the days it has simulated (what a day frees around the few objects
#: that outlive it stays the process's, fragmented); a fresh process per few days keeps the
#: largest worker's memory independent of the length of the range.
_POINT_DAYS_PER_PROCESS = 20_000
#: The shortest job of a parallel run (days), unless a job of that length would exceed
#: `_POINT_DAYS_PER_PROCESS`: the jobs shrink towards the end of the range (`_job_sizes`).
_LEAST_JOB_DAYS = 2
_ZERO_KWH = Decimal("0.000")
_new_tuple = tuple.__new__
#: `money.energy(x)` of a float is `Decimal(repr(x)).quantize(ENERGY, ROUND_HALF_EVEN)`
_decimal, _WH, _HALF_EVEN = Decimal, ENERGY, ROUND_HALF_EVEN

#: A day hook: runs after the day's standing orders are placed and before its intervals
#: clear (e.g. a day-ahead auction). It may place orders; the simulation commits.
DayHook = Callable[[AsyncSession, Cluster, date, list[Interval]], Awaitable[None]]
Progress = Callable[[int, int, date], None]


@dataclass(frozen=True, slots=True)
class SimPoint:
    id: int
    ppe: str
    kind: str
    node: str
    technology: str
    tariff_group: str
    profile: PointProfile
    storage: bool


@dataclass(slots=True)
class KindFigures:
    members: set[int] = field(default_factory=set)
    points: int = 0
    consumption_kwh: Decimal = ZERO
    fed_in_kwh: Decimal = ZERO
    bought_local_kwh: Decimal = ZERO
    sold_local_kwh: Decimal = ZERO
    market_pln: Decimal = ZERO  # the settlement's total: local trades and grid residuals
    avoided_fees_pln: Decimal = ZERO
    discount_pln: Decimal = ZERO
    without_import_pln: Decimal = ZERO
    without_export_pln: Decimal = ZERO

    @property
    def with_cluster_pln(self) -> Decimal:
        return self.market_pln - self.avoided_fees_pln - self.discount_pln

    @property
    def without_cluster_pln(self) -> Decimal:
        return self.without_import_pln - self.without_export_pln

    @property
    def benefit_pln(self) -> Decimal:
        return self.without_cluster_pln - self.with_cluster_pln

    def row(self) -> dict[str, Any]:
        members = len(self.members)
        per = (self.benefit_pln / members).quantize(Decimal("0.01")) if members else None
        return {
            "members": members,
            "metering_points": self.points,
            "consumption_kwh": str(self.consumption_kwh),
            "fed_in_kwh": str(self.fed_in_kwh),
            "bought_local_kwh": str(self.bought_local_kwh),
            "sold_local_kwh": str(self.sold_local_kwh),
            "with_cluster_pln": str(self.with_cluster_pln),
            "avoided_fees_pln": str(self.avoided_fees_pln),
            "discount_pln": str(self.discount_pln),
            "without_cluster_pln": str(self.without_cluster_pln),
            "benefit_pln": str(self.benefit_pln),
            "benefit_per_member_pln": None if per is None else str(per),
        }


@dataclass(slots=True)
class Totals:
    intervals: int = 0
    cleared: int = 0
    failed: int = 0
    local_kwh: Decimal = ZERO
    market_import_kwh: Decimal = ZERO
    market_export_kwh: Decimal = ZERO
    grid_import_kwh: Decimal = ZERO  # metered, net of the cluster per interval
    grid_export_kwh: Decimal = ZERO
    congestion: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    #: The day-ahead auctions run (`auctions`, `failed`) and their firm positions summed
    #: (`bought_kwh`, `sold_kwh`, `amount_pln`).
    day_ahead: dict[str, Any] = field(
        default_factory=lambda: {
            "auctions": 0,
            "failed": 0,
            "bought_kwh": ZERO,
            "sold_kwh": ZERO,
            "amount_pln": ZERO,
        }
    )


@dataclass(slots=True)
class Partial:
    """What a run (or a worker's part of it) adds up, before the summary: merged by
    `merge` in day order."""

    kinds: dict[str, KindFigures]
    totals: Totals
    hours: list[HourResult]
    #: (year, month) → kind → discount base.
    kind_base: dict[tuple[int, int], dict[str, Decimal]]
    phases: dict[str, float]
    cpu_phases: dict[str, float]


_KIND_SUMS = (
    "consumption_kwh", "fed_in_kwh", "bought_local_kwh", "sold_local_kwh", "market_pln",
    "avoided_fees_pln", "discount_pln", "without_import_pln", "without_export_pln",
)  # fmt: skip
_TOTAL_SUMS = (
    "intervals", "cleared", "failed", "local_kwh", "market_import_kwh", "market_export_kwh",
    "grid_import_kwh", "grid_export_kwh",
)  # fmt: skip


def merge(parts: Sequence[Partial]) -> Partial:
    """The parts of a range (in day order) as one: sums, the hours concatenated; the kinds'
    members and points are the cluster's, the same in every part."""
    first = parts[0]
    kinds = {k: replace(f, members=set(f.members)) for k, f in first.kinds.items()}
    totals = replace(
        first.totals,
        congestion=defaultdict(int, first.totals.congestion),
        day_ahead=dict(first.totals.day_ahead),
    )
    hours = list(first.hours)
    kind_base: dict[tuple[int, int], dict[str, Decimal]] = {
        m: dict(b) for m, b in first.kind_base.items()
    }
    phases, cpu = defaultdict(float, first.phases), defaultdict(float, first.cpu_phases)
    for part in parts[1:]:
        for kind, f in part.kinds.items():
            mine = kinds.setdefault(kind, replace(f, members=set(f.members)))
            if mine is not f:
                for name in _KIND_SUMS:
                    setattr(mine, name, getattr(mine, name) + getattr(f, name))
        for name in _TOTAL_SUMS:
            setattr(totals, name, getattr(totals, name) + getattr(part.totals, name))
        for line, n in part.totals.congestion.items():
            totals.congestion[line] += n
        for key, value in part.totals.day_ahead.items():
            totals.day_ahead[key] += value
        hours.extend(part.hours)
        for m, bases in part.kind_base.items():
            into = kind_base.setdefault(m, {})
            for kind, base in bases.items():
                into[kind] = into.get(kind, ZERO) + base
        for name, sec in part.phases.items():
            phases[name] += sec
        for name, sec in part.cpu_phases.items():
            cpu[name] += sec
    return Partial(kinds, totals, hours, kind_base, dict(phases), dict(cpu))


def _job_sizes(days: int, workers: int, most: int) -> list[int]:
    """The days of a parallel run's jobs, in day order: each a share of the days still
    left (1/(2·workers) of them, guided self-scheduling), at most `most` (the point-days a
    process may simulate) and at least `_LEAST_JOB_DAYS`. The jobs are handed out in this
    order to whichever worker is free: the long ones first, the short ones last fill the
    gaps, so the workers finish within about a short job of each other (two halves of the
    year, one per worker, left one idle for the other's last seconds)."""
    sizes, left = [], days
    least = min(most, _LEAST_JOB_DAYS)
    while left:
        size = min(left, most, max(least, -(-left // (2 * workers))))
        sizes.append(size)
        left -= size
    return sizes


#: A worker process's memo of clearings (`matching.memo`), kept from job to job: a job
#: takes over the clearings of the process's earlier ones, as one long part's days do.
_PROCESS_MEMO: Memo | None = None


def _work(job: tuple[str, date, date, int], params: dict[str, Any], done_days: Any) -> Partial:
    """A worker process of `Simulation.run_parallel`: its days on its copy of the database."""
    import anyio

    global _PROCESS_MEMO
    if _PROCESS_MEMO is None:
        _PROCESS_MEMO = Memo()

    from market.db.engine import create_engine, session_factory

    url, first, last, skip = job

    async def main() -> Partial:
        engine = create_engine(url)
        try:
            sim = Simulation(
                session_factory(engine),
                first,
                last,
                skip_draws=skip,
                partial_only=True,
                memo=_PROCESS_MEMO,
                progress=lambda _done, _total, day: done_days.put(day),
                **params,
            )
            await sim.run()
            assert sim.partial is not None
            return sim.partial
        finally:
            await engine.dispose()
            # the copy is this job's alone: its disk space goes as soon as it is done
            for suffix in ("", "-wal", "-shm", "-journal"):
                with contextlib.suppress(FileNotFoundError):
                    os.remove(f"{engine.url.database}{suffix}")

    return anyio.run(main)


#: Pairs of draws `_skip_gauss` skips per `getrandbits` call: a 1 MB integer at most. (At
#: 16 MB, a late job of a process that had run several already added its 16 MB on top of
#: the heap the earlier jobs left: the largest worker's peak.)
_SKIP_PAIRS_PER_CALL = 1 << 16


def _skip_gauss(rng: random.Random, draws: int) -> None:
    """Advance a fresh `rng` past `draws` calls of its `gauss` without computing them (a
    worker of a parallel run that starts on day 28 of 5,000 points skips 27 million). CPython's
    `gauss` takes two `random()` per pair of draws and keeps the pair's second for the next
    call; `random()` takes two 32-bit words of the generator, as `getrandbits(64)` does: so
    a pair of draws is 128 bits of `getrandbits`, and an odd last draw is drawn
    (`tests/simulation/test_hot_loop.py` checks it against drawing them all)."""
    assert rng.gauss_next is None  # type: ignore[attr-defined]
    pairs, odd = divmod(draws, 2)
    step = _SKIP_PAIRS_PER_CALL
    for k in range(0, pairs, step):
        rng.getrandbits(128 * min(step, pairs - k))
    if odd:
        rng.gauss(0.0, 1.0)


_TWOPI, _log, _sqrt, _cos, _sin = 2.0 * math.pi, math.log, math.sqrt, math.cos, math.sin


def _gauss_draws(rng: random.Random, count: int) -> list[float]:
    """`[rng.gauss(0.0, 1.0) for _ in range(count)]` without a Python call per draw: the same
    floats, operation by operation as CPython's `Random.gauss` (a pair of draws from two
    `random()`, the pair's second kept in `gauss_next` for the next call), and the generator
    left in the same state (`tests/simulation/test_hot_loop.py` holds it to `gauss`)."""
    out: list[float] = []
    if count <= 0:
        return out
    append, random_ = out.append, rng.random
    z = rng.gauss_next  # type: ignore[attr-defined]
    rng.gauss_next = None  # type: ignore[attr-defined]
    if z is not None:
        append(0.0 + z * 1.0)
        count -= 1
    pairs, odd = divmod(count, 2)
    for _ in range(pairs):
        x2pi = random_() * _TWOPI
        g2rad = _sqrt(-2.0 * _log(1.0 - random_()))
        z = _cos(x2pi) * g2rad
        append(0.0 + z * 1.0)
        z = _sin(x2pi) * g2rad
        append(0.0 + z * 1.0)
    if odd:
        x2pi = random_() * _TWOPI
        g2rad = _sqrt(-2.0 * _log(1.0 - random_()))
        z = _cos(x2pi) * g2rad
        append(0.0 + z * 1.0)
        rng.gauss_next = _sin(x2pi) * g2rad  # type: ignore[attr-defined]
    return out


def _give_back_freed_memory() -> None:
    """Return the C heap's free pages to the system (glibc's `malloc_trim`), once a day. A
    day allocates and frees hundreds of MB of objects, with a few long-lived ones among them
    (caches, the hours' figures): what is freed around those stays the process's, and its
    resident size crept up from day to day. Elsewhere (no glibc) nothing happens."""
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


def _forget_the_day() -> None:
    """Empty the module-level caches a day fills for itself: the points' cloud factors and
    the intervals' clocks are keyed by the day (never asked again once it is over), and the
    store's written prices and energies are refilled in a few ms. Kept, they added up to
    tens of thousands of small objects a day at 5,000 points, made among the day's millions
    of short-lived ones: each held a pymalloc arena (1 MiB) that would otherwise be freed,
    and one process's resident memory grew with the days simulated. Pure functions: the
    same values whether remembered or not."""
    cloud_factor.cache_clear()
    clock.cache_clear()
    forget_written_values()


def _malloc_trim() -> Callable[[int], int] | None:
    import ctypes
    import sys

    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim  # type: ignore[no-any-return]
    except (OSError, AttributeError):
        return None


_MALLOC_TRIM = _malloc_trim()


def _clock() -> tuple[float, float]:
    """(wall, CPU) seconds: on a shared machine the CPU time is the steadier figure."""
    return time.perf_counter(), time.process_time()


async def _points(session: AsyncSession) -> list[SimPoint]:
    rows = await session.execute(
        select(MeteringPoint, Member.kind, Node.code)
        .join(Member, Member.id == MeteringPoint.member_id)
        .join(Node, Node.id == MeteringPoint.node_id)
        .where(MeteringPoint.active)
        .order_by(MeteringPoint.id)
    )
    return [
        SimPoint(
            p.id,
            p.ppe_code,
            kind,
            node,
            p.technology,
            TARIFF_GROUP.get(p.load_profile, "G11"),
            PointProfile(
                p.ppe_code,
                p.load_profile,
                float(p.annual_use_kwh),
                float(p.pv_kwp),
                float(p.other_generation_kw),
            ),
            p.technology == Technology.STORAGE.value,
        )
        for p, kind, node in rows
    ]


async def _create_day(session: AsyncSession, cluster: Cluster, day: date) -> list[Interval]:
    minutes = cluster.interval_minutes
    rows = []
    for start in intervals_in_local_day(day, minutes, cluster.timezone):
        lab = label(start, minutes, cluster.timezone)
        rows.append(
            {
                "start_utc": start,
                "minutes": minutes,
                "gate_closure_utc": start - timedelta(minutes=cluster.gate_closure_minutes),
                "local_day": lab.local_day,
                "number": lab.number,
                "status": IntervalStatus.OPEN.value,
                "created_at": start - timedelta(days=1),
            }
        )
    await session.execute(insert(Interval), rows)
    return list(
        (
            await session.scalars(
                select(Interval)
                .where(Interval.local_day == day, Interval.start_utc >= rows[0]["start_utc"])
                .order_by(Interval.start_utc)
            )
        ).all()
    )


@dataclass
class Simulation:
    """One run; `run` streams the range day by day and returns the summary."""

    sessions: async_sessionmaker[AsyncSession]
    first_day: date
    last_day: date  # included
    seed: int = 2026
    load_error: float = 0.10
    pv_error: float = 0.20
    hooks: Sequence[DayHook] = ()
    #: Run each day's day-ahead auction (`clearing.day_ahead.clear_day`, the public
    #: function the CLI and the worker use) before its intervals clear. None: when the
    #: cluster has one (`day_ahead_gate_minute` set).
    day_ahead: bool | None = None
    progress: Progress | None = None
    #: Called after every phase of a day (its orders, its day-ahead, each batch of intervals
    #: cleared and stored, its figures): raising there ends the run within the day, not at
    #: its end (a coordinator's cancel; `runs.simulate_temporary`). This process only.
    checkpoint: Callable[[], None] | None = None
    #: Processes to simulate the range in (contiguous parts of the days, each on a copy of
    #: the database; `run_parallel`). 1: this process, on this database.
    workers: int = 1
    #: A worker of a parallel run: draws of the forecast errors the days before its own use
    #: (skipped, so that every day gets the errors it gets in one process), and return the
    #: partial figures (`partial`) instead of a summary.
    skip_draws: int = 0
    partial_only: bool = False
    #: The memo of clearings to use (a worker process's, kept from job to job); None: a
    #: fresh one for the run.
    memo: Memo | None = None
    partial: Partial | None = None
    keep_meter_data: bool = False
    #: Set the grid connection's export price to each month's RCEm (unless a scenario
    #: fixed it).
    monthly_export_price: bool = True
    #: Store each clearing's result (`clearing.store.store_result`: the run, prices, flows,
    #: trades, the orders' outcomes, the audit entry) as the scheduler does. False skips
    #: that write (the figures come from the same converted result), for speed.
    store_results: bool = True
    totals: Totals = field(default_factory=lambda: Totals())
    #: Seconds per phase (wall), filled by `run`.
    phases: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    #: CPU seconds per phase (the process's, all threads), filled by `run`.
    cpu_phases: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    #: A parallel run's jobs and the seconds each worker spent on them, filled by
    #: `run_parallel` (in the summary's timing).
    balance: dict[str, Any] = field(default_factory=dict)

    async def run(self) -> dict[str, Any]:
        """The summary (see the module docstring). On SQLite every statement runs on the
        event loop's thread (`sqlite_driver.inline`: one process, short statements). The
        cyclic garbage collector runs once a day instead of during it (a day allocates
        millions of short-lived objects; what it leaves is collected at its end)."""
        if self.workers > 1 and self.first_day < self.last_day:
            return await self.run_parallel()
        engine = self.sessions.kw["bind"]
        collecting, frozen_before = gc.isenabled(), gc.get_freeze_count() > 0
        async with engine.connect() as connection:  # one connection: commits keep it
            if connection.dialect.name == "sqlite":
                await connection.exec_driver_sql(f"PRAGMA cache_size = -{_SQLITE_CACHE_KIB}")
                await connection.commit()
            session = AsyncSession(bind=connection, expire_on_commit=False, autoflush=False)
            try:
                gc.disable()
                with inline():
                    return await self._run(session)
            finally:
                if not frozen_before:  # a process that froze its heap itself keeps it so
                    gc.unfreeze()
                if collecting:
                    gc.enable()
                await session.close()

    async def run_parallel(self) -> dict[str, Any]:
        """The range in `workers` processes, each simulating a contiguous part of the days on
        a copy of this (SQLite file) database, the parts' figures merged: the same summary as
        one process gives (each worker first skips the forecast-error draws of the days
        before its own; everything else a day needs is the day's own). The parts (jobs) are
        shorter towards the end of the range (`_job_sizes`) and handed to whichever worker
        is free, so that both finish together. A process simulates jobs of at most
        `_POINT_DAYS_PER_PROCESS` point-days in all, then is replaced by a fresh one
        (`_Pools`), so that a process's memory does not grow with the range. What the workers
        store stays in their copies, which are deleted: not with `keep_meter_data`, nor with
        day hooks (they run in this process only)."""
        import asyncio
        import multiprocessing
        import sqlite3
        import tempfile

        began = time.perf_counter()
        engine = self.sessions.kw["bind"]
        url = engine.url
        if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
            raise ValidationFailed("workers", "several workers need a SQLite file database")
        if self.keep_meter_data or self.hooks:
            raise ValidationFailed(
                "workers", "several workers keep no meter data and run no day hooks"
            )
        async with self.sessions() as session:
            cluster = await session.scalar(select(Cluster).limit(1))
            if cluster is None:
                raise ValidationFailed("database", "no cluster; seed the demo first")
            tz, minutes = cluster.timezone, cluster.interval_minutes
            points = await _points(session)
            _all, capacity = await load_points(session, RULES)
            line_codes = dict((await session.execute(select(Line.id, Line.code))).all())
        await engine.dispose()
        per_interval = sum(1 for p in points if p.technology != Technology.STORAGE.value) * (
            (self.load_error != 0) + (self.pv_error != 0)
        )
        days = [
            self.first_day + timedelta(days=n)
            for n in range((self.last_day - self.first_day).days + 1)
        ]
        most = max(1, _POINT_DAYS_PER_PROCESS // max(1, len(points)))
        chunks, at = [], 0
        for size in _job_sizes(len(days), self.workers, most):
            chunks.append(days[at : at + size])
            at += size
        params = {
            "seed": self.seed,
            "load_error": self.load_error,
            "pv_error": self.pv_error,
            "day_ahead": self.day_ahead,
            "monthly_export_price": self.monthly_export_price,
            "store_results": self.store_results,
        }
        jobs, skip = [], 0
        with tempfile.TemporaryDirectory(prefix="klaster-sim-workers-") as tmp:
            source = sqlite3.connect(str(url.database))
            try:
                for k, chunk in enumerate(chunks):
                    path = f"{tmp}/part-{k}.db"
                    with sqlite3.connect(path) as target:
                        source.backup(target)
                    jobs.append((f"sqlite+aiosqlite:///{path}", chunk[0], chunk[-1], skip))
                    skip += per_interval * sum(
                        len(intervals_in_local_day(d, minutes, tz)) for d in chunk
                    )
            finally:
                source.close()
            context = multiprocessing.get_context("spawn")
            loop = asyncio.get_running_loop()
            workers = min(self.workers, len(jobs))
            parts: list[Partial | None] = [None] * len(jobs)
            waiting = list(range(len(jobs)))[::-1]  # popped from the end: in day order
            busy = [0.0] * workers  # seconds each worker spent on jobs (the balance)

            async def worker(slot: int) -> None:
                # the next job to whichever worker is free (not a fixed share each)
                while waiting:
                    j = waiting.pop()
                    pool = pools.pool(slot, len(chunks[j]) * len(points))
                    since = time.perf_counter()
                    try:
                        parts[j] = await loop.run_in_executor(
                            pool, _work, jobs[j], params, done_days
                        )
                    except BaseException:
                        waiting.clear()  # the run fails: no more jobs
                        raise
                    busy[slot] += time.perf_counter() - since

            with _worker_processes(context, workers) as (manager, pools):
                done_days = manager.Queue()
                tasks = [asyncio.ensure_future(worker(slot)) for slot in range(workers)]
                finished = 0
                while not all(t.done() for t in tasks) or not done_days.empty():
                    while not done_days.empty():
                        finished += 1
                        day = done_days.get()
                        if self.progress is not None:
                            self.progress(finished, len(days), day)
                    await asyncio.sleep(0.2)
                for t in tasks:
                    await t  # a failed job's error
        self.balance = {"jobs": len(jobs), "workers_busy_s": [round(b, 2) for b in busy]}
        merged = merge([p for p in parts if p is not None])
        self.totals = merged.totals
        self.phases = defaultdict(float, merged.phases)
        self.cpu_phases = defaultdict(float, merged.cpu_phases)
        return self._finish(merged, tz, capacity, line_codes, began)

    async def _run(self, session: AsyncSession) -> dict[str, Any]:
        began = time.perf_counter()
        rng = random.Random(f"klaster-simulate:{self.seed}")
        _skip_gauss(rng, self.skip_draws)  # a worker of a parallel run: the days before its own
        cluster = await session.scalar(select(Cluster).limit(1))
        if cluster is None:
            raise ValidationFailed("database", "no cluster; seed the demo first")
        zone = ZoneInfo(cluster.timezone)
        start = datetime.combine(self.first_day, datetime.min.time(), zone)
        end = datetime.combine(self.last_day + timedelta(days=1), datetime.min.time(), zone)
        if await session.scalar(
            select(Interval.id).where(Interval.start_utc >= start, Interval.start_utc < end)
        ):
            raise ValidationFailed(
                "from", "the database already has intervals in this range; use another"
            )
        points = await _points(session)
        _all, capacity = await load_points(session, RULES)
        rates = await load_rate_book(session)
        prices = await load_price_book(session, start, end)
        conn = await session.scalar(select(GridConnection).order_by(GridConnection.id))
        assert conn is not None
        line_codes = dict((await session.execute(select(Line.id, Line.code))).all())
        import_id = None
        if self.keep_meter_data:
            record = MeterImport(
                filename=f"simulate seed {self.seed}",
                sha256="0" * 64,
                resolution_minutes=cluster.interval_minutes,
                rows=0,
                stored_readings=0,
            )
            session.add(record)
            await session.flush()
            import_id = record.id
        await session.commit()
        tz, minutes, profile_seed = (
            cluster.timezone,
            cluster.interval_minutes,
            cluster.profile_seed,
        )
        by_id = {p.id: p for p in points}
        kinds: dict[str, KindFigures] = defaultdict(KindFigures)
        member_of = dict(
            (await session.execute(select(MeteringPoint.id, MeteringPoint.member_id))).all()
        )
        for p in points:
            figures_of_kind = kinds[p.kind]
            figures_of_kind.points += 1
            figures_of_kind.members.add(member_of[p.id])
        figures_of = [kinds[p.kind] for p in points]  # each point's kind's, in points' order
        # what the meter loop reads of each point, in points' order (no attribute look-ups
        # per point-interval), and the forecast-error draws an interval takes: two per point
        # that is not a storage unit (none for σ = 0), load then PV, in points' order
        # (and its steady other generation, and whether it has PV: `pv_kwh_at` is 0.0
        # without; both pure functions of the point and the interval's length)
        point_rows = [
            (
                p.id,
                p.ppe,
                p.node,
                p.storage,
                p.profile,
                f,
                p.profile.pv_kwp > 0,
                other_kwh(p.profile, cluster.interval_minutes),
            )
            for p, f in zip(points, figures_of, strict=True)
        ]
        draws_per_interval = sum(not p.storage for p in points) * (
            (1 if self.load_error else 0) + (1 if self.pv_error else 0)
        )
        totals = self.totals = Totals()
        hours: list[HourResult] = []
        #: (year, month) → kind → discount base (consumption × (distribution + quality)).
        kind_base: dict[tuple[int, int], dict[str, Decimal]] = defaultdict(
            lambda: defaultdict(Decimal)
        )
        days = (self.last_day - self.first_day).days + 1
        month: tuple[int, int] | None = None
        # repeats of a problem's data (the demo's hourly profiles: a night hour's quarters,
        # the same hour of other days) reuse its clearing, the same bits (`matching.memo`)
        memo = self.memo if self.memo is not None else Memo()
        sqlite = dialect_name(session) == "sqlite"
        # What exists now (modules, the cluster's rows, the books) lives for the whole run:
        # the daily collection below then walks only the day's objects, not the whole heap
        # again (≈ 85 ms of CPU a day at 75 points before, ≈ 20 ms since).
        gc.collect()
        gc.freeze()
        for n in range(days):
            day = self.first_day + timedelta(days=n)
            cluster = await session.scalar(select(Cluster).limit(1))
            assert cluster is not None
            if self.monthly_export_price and (day.year, day.month) != month:
                rcem = rcem_pln_per_kwh(day.month).quantize(Decimal("0.0001"))
                await session.execute(
                    update(GridConnection).values(
                        export_price=min(rcem, Decimal(conn.import_price))
                    )
                )
            month = (day.year, day.month)
            import_price = Decimal(
                await session.scalar(select(GridConnection.import_price).limit(1)) or 0
            )
            export_price = Decimal(
                await session.scalar(select(GridConnection.export_price).limit(1)) or 0
            )
            tick = _clock()
            intervals = await _create_day(session, cluster, day)
            await materialise(session, cluster, intervals)
            for hook in self.hooks:
                await hook(session, cluster, day, intervals)
            tick = self._phase("orders", tick)
            firm: dict[tuple[int, int], tuple[Decimal, Decimal, Decimal]] = {}
            if self.day_ahead if self.day_ahead is not None else day_ahead_enabled(cluster):
                firm = await self._day_ahead(session, cluster, day, intervals)
                tick = self._phase("day_ahead", tick)
            ids = [i.id for i in intervals]
            await session.execute(
                update(Interval)
                .where(Interval.id.in_(ids))
                .values(status=IntervalStatus.CLEARING.value, claimed_by=WORKER)
                .execution_options(synchronize_session=False)
            )
            # point → [interval index] → (matched import, matched export); node prices
            matched: dict[int, dict[int, list[Decimal]]] = defaultdict(dict)
            node_prices: list[dict[str, Decimal]] = []
            grids: list[list[GridFlow]] = []
            node_code = {
                nid: code for nid, code in await session.execute(select(Node.id, Node.code))
            }
            cleared_ids: list[int] = []
            failed_ids: list[int] = []
            batch = max(1, _BATCH_ORDERS // max(1, 2 * len(points)))
            for b in range(0, len(intervals), batch):
                chunk = intervals[b : b + batch]
                inputs = await build_problems(session, chunk)
                solved = [solve_and_convert(inp, audited=False, memo=memo) for inp in inputs]
                tick = self._phase("clear", tick)
                if self.store_results:
                    await store_results(
                        session,
                        [(i, c) for i, (_r, c) in zip(chunk, solved, strict=True)],
                        worker_id=WORKER,
                        started_at=_NOW,
                    )
                    tick = self._phase("store", tick)
                for k, inp, (result, converted) in zip(
                    range(b, b + len(chunk)), inputs, solved, strict=True
                ):
                    self._tally(
                        k, inp, result.ok, converted, totals, node_code, matched, node_prices, grids
                    )
                for interval, (result, _c) in zip(chunk, solved, strict=True):
                    (cleared_ids if result.ok else failed_ids).append(interval.id)
            for status, done in (
                (IntervalStatus.CLEARED, cleared_ids),
                (IntervalStatus.FAILED, failed_ids),
            ):
                if done:
                    await session.execute(
                        update(Interval)
                        .where(Interval.id.in_(done))
                        .values(status=status.value, claim_until=None, cleared_at=_NOW)
                        .execution_options(synchronize_session=False)
                    )
            tick = self._phase("store", tick)
            readings: list[dict[str, Any]] = []
            load_error, pv_error = self.load_error, self.pv_error
            # each point's `load_kwh_at` by what it reads of the clock (the profiles are
            # hourly: an hour's quarters share it), in points' order
            loads_at: dict[tuple[Any, ...], list[float]] = {}
            hour_points: dict[datetime, dict[int, list[Decimal]]] = defaultdict(dict)
            # (hour, point) → [value at the 15-minute RCE, kWh so valued]: only for intervals
            # with an imported 15-minute RCE from `QUARTER_HOUR_RCE_FROM` (net-billing)
            quarter_fed: dict[tuple[datetime, int], list[Decimal]] = {}
            # the firm positions by interval, then point (no key tuple per point-interval)
            firm_by_interval: dict[int, dict[int, tuple[Decimal, Decimal, Decimal]]] = {}
            for (of_interval, of_point_id), position in firm.items():
                firm_by_interval.setdefault(of_interval, {})[of_point_id] = position
            for k, interval in enumerate(intervals):
                at = interval.start_utc
                positions = []
                net_cluster = ZERO
                in_hour = hour_points[at.replace(minute=0)]
                when = clock(at, minutes, tz)  # the profiles' view of the interval, once
                rce_q = prices.quarter_price(at, interval.local_day) if prices.quarters else None
                firm_here = firm_by_interval.get(interval.id)
                # the interval's forecast errors, drawn at once (the same draws, in the same
                # order, as a `gauss(0.0, 1.0)` per point and error)
                draws = iter(_gauss_draws(rng, draws_per_interval))
                local = when.local
                load_key = (when.weekend, local.month, local.hour, when.season, when.minutes)
                loads = loads_at.get(load_key)
                if loads is None:
                    loads = loads_at[load_key] = [load_kwh_at(p.profile, when) for p in points]
                for (pid, ppe, node, storage, profile, kind_figures, has_pv, other), load in zip(
                    point_rows, loads, strict=True
                ):
                    of_point = matched.get(pid)
                    m = of_point.get(k) if of_point else None
                    mi, me = (m[0], m[1]) if m else (ZERO, ZERO)
                    fi, fe, fa = firm_here.get(pid, _NO_FIRM) if firm_here else _NO_FIRM
                    if fa:
                        kind_figures.market_pln += fa  # settled in the day-ahead auction
                    if storage:
                        imp, exp = mi + fi, me + fe
                    else:
                        # the forecast errors' factor max(0, 1 + σ·N(0, 1)) written out (two
                        # draws per point-interval; none for σ = 0, where x · 1.0 is x):
                        # `max(0.0, x)` is x when x > 0.0, else 0.0
                        if load_error:
                            factor = 1.0 + load_error * next(draws)
                            load *= factor if factor > 0.0 else 0.0
                        gen = pv_kwh_at(profile, when, profile_seed) if has_pv else 0.0
                        if pv_error:
                            factor = 1.0 + pv_error * next(draws)
                            gen *= factor if factor > 0.0 else 0.0
                        gen += other
                        # `money.energy` written out (a hot loop: ~1,000,000 a day at 5,000
                        # points); energy(0.0) is 0.000: no rounding for points without output
                        net = (
                            _decimal(repr(gen)).quantize(_WH, _HALF_EVEN) if gen else _ZERO_KWH
                        ) - _decimal(repr(load)).quantize(_WH, _HALF_EVEN)
                        # max(-net, ZERO), max(net, ZERO): the first unless ZERO is greater
                        neg = -net
                        imp = ZERO if neg < ZERO else neg
                        exp = ZERO if net < ZERO else net
                    net_cluster += imp - exp
                    # `Position(...)` without its Python-level `__new__` (the same tuple)
                    positions.append(_new_tuple(Position, (ppe, node, mi, me, imp, exp, fi, fe)))
                    cell = in_hour.get(pid)
                    if cell is None:
                        in_hour[pid] = [imp, exp]
                    else:
                        cell[0] += imp
                        cell[1] += exp
                    if rce_q is not None and exp:
                        q = quarter_fed.setdefault((at.replace(minute=0), pid), [ZERO, ZERO])
                        q[0] += exp * rce_q
                        q[1] += exp
                    if import_id is not None:
                        readings.append(
                            {
                                "start_utc": at,
                                "metering_point_id": pid,
                                "import_kwh": imp,
                                "export_kwh": exp,
                                "quality": "estimated",
                                "source_minutes": minutes,
                                "import_id": import_id,
                            }
                        )
                if net_cluster > 0:
                    totals.grid_import_kwh += net_cluster
                else:
                    totals.grid_export_kwh -= net_cluster
                if k >= len(node_prices) or not node_prices[k]:
                    # a failed intraday clearing: only day-ahead positions are firm; with
                    # them the meter is settled against them, as in the members' statements
                    # (`reports.day_ahead_only`), else there is nothing to settle
                    if not any(q.firm_import_kwh or q.firm_export_kwh for q in positions):
                        continue
                    interval_prices: Mapping[str, Decimal] = NoIntradayPrice()
                    interval_grid: Sequence[GridFlow] = ()
                else:
                    interval_prices, interval_grid = node_prices[k], grids[k]
                # each line's `total_pln` of `settle_interval` (`settle_totals`: no more of
                # the settlement is read), its matched energy the position's
                settled = settle_totals(
                    IntervalInput(
                        at,
                        interval_prices,
                        positions,
                        interval_grid,
                        import_price,
                        export_price,
                    )
                )
                for fk, total, pos in zip(figures_of, settled, positions, strict=True):
                    fk.market_pln += total
                    fk.bought_local_kwh += pos[2]  # matched_import_kwh
                    fk.sold_local_kwh += pos[3]  # matched_export_kwh
            grid_rates: dict[tuple[date, str | None], Decimal] = {}
            for hour, cells in sorted(hour_points.items()):
                local_day = hour.astimezone(zone).date()
                figures = [
                    PointHour(
                        pid,
                        by_id[pid].technology,
                        by_id[pid].tariff_group,
                        imp,
                        exp,
                        DataSource.METER,
                    )
                    for pid, (imp, exp) in sorted(cells.items())
                ]
                result_h = match_hour(hour, local_day, figures, RULES, rates)
                price, _kind = prices.price(hour, local_day)
                base = kind_base[(local_day.year, local_day.month)]
                for a in result_h.allocations:
                    kinds[by_id[a.point_id].kind].avoided_fees_pln += a.avoided_fees_pln
                for ph in figures:
                    f = kinds[by_id[ph.point_id].kind]
                    f.consumption_kwh += ph.import_kwh
                    f.fed_in_kwh += ph.export_kwh
                    f.without_import_pln += (ph.import_kwh * import_price).quantize(
                        PLN4, rounding=ROUND_HALF_UP
                    )
                    fed_q = quarter_fed.get((hour, ph.point_id)) if quarter_fed else None
                    fed_value = (
                        ph.export_kwh * price
                        if fed_q is None
                        else fed_q[0] + (ph.export_kwh - fed_q[1]) * price
                    )
                    f.without_export_pln += fed_value.quantize(PLN4, rounding=ROUND_HALF_UP)
                    if ph.import_kwh:
                        grid_rate = grid_rates.get((local_day, ph.tariff_group))
                        if grid_rate is None:  # the same for a day and tariff group
                            grid_rate = grid_rates[(local_day, ph.tariff_group)] = sum(
                                (
                                    rates.rate(fee, local_day, ph.tariff_group) or ZERO
                                    for fee in _GRID_FEES
                                ),
                                ZERO,
                            )
                        base[by_id[ph.point_id].kind] += (ph.import_kwh * grid_rate).quantize(
                            PLN4, rounding=ROUND_HALF_UP
                        )
                hours.append(replace(result_h, allocations=()))
            tick = self._phase("figures", tick)
            for b in range(0, len(readings), 5000):
                await session.execute(insert(MeterReading), readings[b : b + 5000])
            await session.commit()
            self._phase("commit", tick)
            session.expunge_all()  # the day's intervals and rules: reloaded tomorrow
            # The day's point-interval figures go now, not when tomorrow rebinds them: else
            # they live on through tomorrow's orders and clearing, on top of its own.
            del matched, node_prices, grids, readings, hour_points, quarter_fed, in_hour
            del firm, firm_by_interval, inputs, solved, positions, figures, result_h
            del intervals, chunk, interval, when, ids, cleared_ids, failed_ids, node_code
            tick = _clock()
            _forget_the_day()
            if sqlite:
                # the page cache keeps every page it read or wrote up to its 128 MB: the
                # day's orders are not read again tomorrow (a small cluster's cache would
                # otherwise fill for weeks, a large one's stay full between days)
                await session.execute(text("PRAGMA shrink_memory"))
            gc.collect()
            _give_back_freed_memory()
            # what survives a day's collection lives on (the memo's clearings, the hours'
            # figures, caches): frozen too, so tomorrow's collection walks only tomorrow's
            # objects, not every earlier day's again (`run` unfreezes at the end)
            gc.freeze()
            self._phase("gc", tick)
            if self.progress is not None:
                self.progress(n + 1, days, day)
        part = Partial(
            kinds=dict(kinds),
            totals=totals,
            hours=hours,
            kind_base={m: dict(b) for m, b in kind_base.items()},
            phases=dict(self.phases),
            cpu_phases=dict(self.cpu_phases),
        )
        if self.partial_only:
            self.partial = part
            return {}
        return self._finish(part, tz, capacity, line_codes, began)

    def _finish(
        self,
        part: Partial,
        tz: str,
        capacity: Capacity,
        line_codes: dict[int, str],
        began: float,
    ) -> dict[str, Any]:
        """The summary of the whole range from its (merged) partial figures."""
        kinds, totals, kind_base = part.kinds, part.totals, part.kind_base
        months = list(roll_up(part.hours, Granularity.MONTH, tz, capacity, RULES))
        for period in months:
            share = period.discount_pay_share
            if share is None:
                continue
            key = (period.start.year, period.start.month)
            for kind, base_pln in kind_base.get(key, {}).items():
                kinds[kind].discount_pln += (base_pln * (1 - share)).quantize(
                    PLN4, rounding=ROUND_HALF_UP
                )
        return self._summary(totals, kinds, months, capacity, line_codes, began)

    async def _day_ahead(
        self, session: AsyncSession, cluster: Cluster, day: date, intervals: list[Interval]
    ) -> dict[tuple[int, int], tuple[Decimal, Decimal, Decimal]]:
        """The day's day-ahead auction, by the public `clearing.day_ahead.clear_day` (it
        creates the auction, closes its gate placing the daily orders — day-ahead standing
        orders, storage orders, block groups — claims, clears and stores, in transactions of
        its own: the simulation commits the day's intraday orders first). The intraday
        clearing then sees the capacity it used (`clearing.input`), and each point's firm
        position is part of what its meter is compared with. Returns (interval id, point
        id) → (import kWh, export kWh, amount PLN) of the auction in force."""
        await session.commit()
        # Its sessions on the run's own connection (`run`), one after the other, each in a
        # transaction of its own as on connections of their own: not four connections a day
        # (a SQLite one costs ≈ 3 ms of CPU to open, a thread and its PRAGMAs) whose empty
        # page caches read again what the run's holds (the day's orders, to build and store).
        sessions = async_sessionmaker(bind=session.bind, expire_on_commit=False, autoflush=False)
        outcome = await clear_day(
            sessions,
            day,
            worker_id=WORKER,
            publisher=NullPublisher(),
            now=gate_closure(cluster, day),
        )
        da = self.totals.day_ahead
        da["auctions"] += 1
        if outcome.status != AuctionStatus.CLEARED.value:
            da["failed"] += 1
            return {}
        rows = await session.execute(
            select(
                DayAheadPosition.interval_id,
                DayAheadPosition.metering_point_id,
                DayAheadPosition.import_kwh,
                DayAheadPosition.export_kwh,
                DayAheadPosition.amount_pln,
            )
            .join(DayAheadRun, DayAheadRun.id == DayAheadPosition.run_id)
            .join(DayAheadAuction, DayAheadAuction.id == DayAheadRun.auction_id)
            .where(DayAheadAuction.local_day == day, DayAheadRun.version == DayAheadAuction.version)
        )
        firm = {}
        for interval_id, point_id, imp, exp, amount in rows:
            firm[(interval_id, point_id)] = (imp, exp, amount)
            da["bought_kwh"] += imp
            da["sold_kwh"] += exp
            da["amount_pln"] += amount
        return firm

    @staticmethod
    def _tally(
        k: int,
        inp: ProblemInput,
        ok: bool,
        converted: Converted,
        totals: Totals,
        node_code: dict[int, str],
        matched: dict[int, dict[int, list[Decimal]]],
        node_prices: list[dict[str, Decimal]],
        grids: list[list[GridFlow]],
    ) -> None:
        """Add interval k's cleared result to the totals and the points' matched energy."""
        totals.intervals += 1
        if not ok:
            totals.failed += 1
            node_prices.append({})
            grids.append([])
            return
        totals.cleared += 1
        totals.local_kwh += converted.run["local_kwh"]
        totals.market_import_kwh += converted.run["import_kwh"]
        totals.market_export_kwh += converted.run["export_kwh"]
        for code in converted.congested_lines:
            totals.congestion[code] += 1
        node_prices.append({c: Decimal(v) for c, v in converted.prices.items()})
        grids.append(
            [
                GridFlow(
                    node_code[g["node_id"]],
                    g["import_kwh"],
                    g["export_kwh"],
                    g["import_price"],
                    g["export_price"],
                )
                for g in converted.grid_rows
            ]
        )
        # the first rows are the problem's orders, in its order (then the excluded ones, 0)
        buys = inp.problem.orders.is_buy.tolist()
        for j, point_id in enumerate(inp.order_points):
            acc = converted.order_rows[j]["accepted_kwh"]
            if acc:
                slot = matched[point_id].setdefault(k, [ZERO, ZERO])
                slot[0 if buys[j] else 1] += acc

    def _phase(self, name: str, since: tuple[float, float]) -> tuple[float, float]:
        now = _clock()
        self.phases[name] += now[0] - since[0]
        self.cpu_phases[name] += now[1] - since[1]
        if self.checkpoint is not None:
            self.checkpoint()
        return now

    def _summary(
        self,
        totals: Totals,
        kinds: dict[str, KindFigures],
        months: list[Period],
        capacity: Capacity,
        line_codes: dict[int, str],
        began: float,
    ) -> dict[str, Any]:
        whole = Sums()
        for p in months:
            whole.add(p.sums)
        conds = conditions(whole, capacity, self.first_day, RULES)
        return {
            "from": self.first_day.isoformat(),
            "to": self.last_day.isoformat(),
            "seed": self.seed,
            "intervals": totals.intervals,
            "cleared": totals.cleared,
            "failed": totals.failed,
            "metering_points": sum(k.points for k in kinds.values()),
            "grid": {
                "import_kwh": str(totals.grid_import_kwh),
                "export_kwh": str(totals.grid_export_kwh),
                "market_import_kwh": str(totals.market_import_kwh),
                "market_export_kwh": str(totals.market_export_kwh),
                "local_kwh": str(totals.local_kwh),
            },
            "day_ahead": {
                k: v if isinstance(v, int) else str(v) for k, v in totals.day_ahead.items()
            },
            "congestion": {
                "intervals_by_line": dict(sorted(totals.congestion.items())),
                "lines": len(line_codes),
            },
            "by_kind": {k: kinds[k].row() for k in sorted(kinds)},
            "statutory": {
                "exempt_kwh": str(whole.exempt_kwh),
                "avoided_fees_pln": str(whole.avoided_fees_pln),
                "discount_pln": str(whole.discount_pln or ZERO),
                "matched_kwh": str(whole.matched_kwh),
                "renewable_fed_in_kwh": str(whole.renewable_fed_in_kwh),
                "conditions": [
                    {
                        "name": c.name,
                        "value": None if c.value is None else str(c.value),
                        "threshold": str(c.threshold),
                        "met": c.met,
                        "draft": c.draft,
                    }
                    for c in conds
                ],
                "months": [period_row(p) for p in months],
            },
            "timing": {
                "elapsed_s": round(time.perf_counter() - began, 2),
                "phases_s": {k: round(v, 2) for k, v in sorted(self.phases.items())},
                "phases_cpu_s": {k: round(v, 2) for k, v in sorted(self.cpu_phases.items())},
                **self.balance,
            },
        }


class _Pools:
    """A several-worker run's processes: one single-process pool per worker (`pool(slot,
    point_days)`), replaced by a fresh process when the jobs it has run and the next one
    would exceed `_POINT_DAYS_PER_PROCESS` point-days (so a process's memory does not grow
    with the range, while the demo's year needs only one process per worker). Each process
    leaves when the run's process is gone (`exit_with_parent`)."""

    def __init__(self, context: Any, workers: int, owner: int) -> None:
        self._context, self._owner = context, owner
        self._pools: list[ProcessPoolExecutor | None] = [None] * workers
        self._used = [0] * workers

    def pool(self, slot: int, point_days: int) -> ProcessPoolExecutor:
        from concurrent.futures import ProcessPoolExecutor

        from market.db.offload import exit_with_parent

        pool = self._pools[slot]
        if pool is not None and self._used[slot] + point_days > _POINT_DAYS_PER_PROCESS:
            pool.shutdown()  # idle: its last job is done
            pool = None
        if pool is None:
            pool = self._pools[slot] = ProcessPoolExecutor(
                1, mp_context=self._context, initializer=exit_with_parent, initargs=(self._owner,)
            )
            self._used[slot] = 0
        self._used[slot] += point_days
        return pool

    def shutdown(self) -> None:
        for pool in self._pools:
            if pool is not None:
                pool.shutdown(cancel_futures=True)


@contextlib.contextmanager
def _worker_processes(context: Any, workers: int) -> Iterator[tuple[SyncManager, _Pools]]:
    """The several-worker run's processes: a manager (the progress queue) and the workers'
    pools (`_Pools`). Each leaves when this process is gone (`exit_with_parent`): a run
    whose process was killed (the coordinator's run, a benchmark stopped) would otherwise
    leave its workers simulating for nobody, then idle for good."""
    from multiprocessing.managers import SyncManager

    from market.db.offload import exit_with_parent

    owner = os.getpid()
    manager = SyncManager(ctx=context)
    manager.start(exit_with_parent, (owner,))
    pools = _Pools(context, workers, owner)
    try:
        yield manager, pools
    finally:
        pools.shutdown()
        manager.shutdown()
