"""Settled days: each member's figures per local day, computed once for the whole cluster and
stored, so that a member's statement reads its own rows (about 30 a month) instead of
settling every cleared interval of the month for every metering point again.

Largest-remainder rounding shares each interval's grosze between all the metering points
that traded in it, and the fee exemption is allocated between all the points consuming in an
hour: a member's figures can only be computed with the whole cluster's interval or hour.
So a *day* is computed for the whole cluster at once (`compute(days)` → day → member →
figures) and stored as one row per member and day (`SettledMemberDay`), the day's
`SettledDay` recording what it was computed from:

- `stamp`: a sha256 of the day's intraday clearing runs (interval, run, result hash and
  time: a re-clear is a new run), the day-ahead auction of the day (status and version in
  force), every metering point (id, PPE, node, member, technology, tariff profile, active,
  capacities), the cluster's reference prices and time grid, and what the kind adds (the
  statutory kind: the rule set's version, the fee rates, the market prices of the day);
- `meter_mark`: the latest meter import (`meter_imports.id`) when it was computed. A reading
  is only ever written by an import, which stamps it with its id (a re-import of a reading
  replaces the row and its `import_id`), so a day is stale when a later import wrote a
  reading in it: found through the readings' `import_id` index, only when a newer import
  exists.

Figures are stored lazily, on the first read of a day whose stamp or meter data changed
(`ensure_days`), in the reader's transaction; on PostgreSQL a transaction-level advisory lock
per kind makes concurrent readers compute a day once (the second finds it stored). Sums are
of exact decimals (stored as strings), so a month summed from its days equals the month
summed from its intervals or hours, to the last digit.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import fields, is_dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from market.clearing.models import ClearingRun
from market.clearing.results import cleared_with_runs
from market.cluster.models import Cluster
from market.core.timegrid import as_utc
from market.metering.models import MeterImport, MeterReading
from market.network.models import GridConnection, MeteringPoint
from market.settlement.models import SettledDay, SettledMemberDay
from market.trading.day_ahead_models import DayAheadAuction
from market.trading.models import Interval

#: Bump when a kind's computation changes: every stored day is then computed again.
VERSION = "stmtpage-2"
#: The cluster's own figures of a day (kinds that have them).
CLUSTER = 0
#: Advisory-lock key space on PostgreSQL (one lock per kind).
_LOCK_SPACE = 0x5E771E

Figures = dict[str, Any]
Compute = Callable[[list[date]], Awaitable[Mapping[date, Mapping[int, Figures]]]]


def days_between(first: date, last: date) -> list[date]:
    """The local days first … last, both included."""
    return [first + timedelta(days=k) for k in range((last - first).days + 1)]


def day_bounds(days: Iterable[date], tz: str) -> tuple[datetime, datetime]:
    """[start, end) in UTC of the local days (first to last)."""
    chosen = sorted(days)
    zone = ZoneInfo(tz)
    start = datetime.combine(chosen[0], time(), zone).astimezone(UTC)
    end = datetime.combine(chosen[-1] + timedelta(days=1), time(), zone).astimezone(UTC)
    return start, end


def spans(days: Iterable[date]) -> list[list[date]]:
    """Consecutive runs of days (computed one range at a time)."""
    out: list[list[date]] = []
    for day in sorted(days):
        if out and out[-1][-1] + timedelta(days=1) == day:
            out[-1].append(day)
        else:
            out.append([day])
    return out


def stable_repr(value: object) -> str:
    """A representation that is the same in every process: sets sorted (a set's iteration
    order of strings changes with the interpreter's hash seed), dataclasses field by field."""
    if is_dataclass(value) and not isinstance(value, type):
        inner = ", ".join(f"{f.name}={stable_repr(getattr(value, f.name))}" for f in fields(value))
        return f"{type(value).__name__}({inner})"
    if isinstance(value, (set, frozenset)):
        return "{" + ", ".join(sorted(stable_repr(v) for v in value)) + "}"
    if isinstance(value, (list, tuple)):
        return "(" + ", ".join(stable_repr(v) for v in value) + ")"
    if isinstance(value, dict):
        items = sorted((stable_repr(k), stable_repr(v)) for k, v in value.items())
        return "{" + ", ".join(f"{k}: {v}" for k, v in items) + "}"
    return repr(value)


def _digest(parts: Iterable[object]) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(stable_repr(part).encode())
        h.update(b"\n")
    return h.hexdigest()


async def cluster_timezone(session: AsyncSession) -> str | None:
    """The cluster's time zone (None: no cluster yet)."""
    tz: str | None = await session.scalar(select(Cluster.timezone).order_by(Cluster.id).limit(1))
    return tz


async def day_stamps(
    session: AsyncSession,
    kind: str,
    days: list[date],
    tz: str,
    extra: str = "",
    extra_by_day: Mapping[date, str] | None = None,
) -> dict[date, str]:
    """Each day's stamp (see the module docstring); `extra` and `extra_by_day` are what the
    kind adds (a hash of its own inputs)."""
    start, end = day_bounds(days, tz)
    zone = ZoneInfo(tz)
    runs: dict[date, list[object]] = {d: [] for d in days}
    rows = await session.execute(
        cleared_with_runs(
            start,
            end,
            Interval.start_utc,
            Interval.id,
            Interval.minutes,
            ClearingRun.id,
            ClearingRun.result_hash,
            ClearingRun.finished_at,
        )
    )
    for at, *rest in rows:
        moment = as_utc(at)
        day = moment.astimezone(zone).date()
        if day in runs:
            runs[day].append((moment.isoformat(), *rest[:4], as_utc(rest[4]).isoformat()))
    auctions = {
        day: (aid, status, version)
        for day, aid, status, version in await session.execute(
            select(
                DayAheadAuction.local_day,
                DayAheadAuction.id,
                DayAheadAuction.status,
                DayAheadAuction.version,
            ).where(DayAheadAuction.local_day >= days[0], DayAheadAuction.local_day <= days[-1])
        )
    }
    points = await session.execute(
        select(
            MeteringPoint.id,
            MeteringPoint.ppe_code,
            MeteringPoint.node_id,
            MeteringPoint.member_id,
            MeteringPoint.technology,
            MeteringPoint.load_profile,
            MeteringPoint.active,
            MeteringPoint.pv_kwp,
            MeteringPoint.other_generation_kw,
            MeteringPoint.contracted_power_kw,
            MeteringPoint.storage_kwh,
        ).order_by(MeteringPoint.id)
    )
    cluster = (
        await session.execute(
            select(
                Cluster.timezone, Cluster.interval_minutes, Cluster.price_cap, Cluster.price_floor
            )
            .order_by(Cluster.id)
            .limit(1)
        )
    ).first()
    grid = (
        await session.execute(
            select(GridConnection.import_price, GridConnection.export_price)
            .order_by(GridConnection.id)
            .limit(1)
        )
    ).first()
    common = _digest(
        [VERSION, kind, extra, tuple(cluster or ()), tuple(grid or ()), *map(tuple, points)]
    )
    by_day = extra_by_day or {}
    return {
        d: _digest([common, d.isoformat(), auctions.get(d), by_day.get(d, ""), *runs[d]])
        for d in days
    }


async def _touched(session: AsyncSession, since: int, tz: str) -> list[tuple[int, date, date]]:
    """(import id, first local day, last local day) of the readings of imports after `since`."""
    zone = ZoneInfo(tz)
    rows = await session.execute(
        select(
            MeterReading.import_id,
            func.min(MeterReading.start_utc),
            func.max(MeterReading.start_utc),
        )
        .where(MeterReading.import_id > since)
        .group_by(MeterReading.import_id)
    )
    return [
        (import_id, as_utc(first).astimezone(zone).date(), as_utc(last).astimezone(zone).date())
        for import_id, first, last in rows
    ]


async def _lock(session: AsyncSession, kind: str) -> None:
    """On PostgreSQL, one computing transaction per kind at a time (until it ends). SQLite
    has one writer at a time anyway (the first write below takes its lock)."""
    if session.get_bind().dialect.name == "postgresql":
        key = int(hashlib.sha256(kind.encode()).hexdigest()[:7], 16)
        await session.execute(
            text("SELECT pg_advisory_xact_lock(:space, :key)"),
            {"space": _LOCK_SPACE, "key": key},
        )


async def _stale(
    session: AsyncSession, kind: str, days: list[date], stamps: Mapping[date, str], tz: str
) -> tuple[set[date], int]:
    """The days to compute, and the meter mark to store with them. Days that are current but
    behind the latest import (which did not touch them) move their mark forward."""
    mark = await session.scalar(select(func.coalesce(func.max(MeterImport.id), 0))) or 0
    stored = {
        day: (stamp, meter_mark)
        for day, stamp, meter_mark in await session.execute(
            select(SettledDay.local_day, SettledDay.stamp, SettledDay.meter_mark).where(
                SettledDay.kind == kind, SettledDay.local_day.in_(days)
            )
        )
    }
    stale = {d for d in days if d not in stored or stored[d][0] != stamps[d]}
    behind = {d: m for d, (_, m) in stored.items() if d not in stale and m < mark}
    if behind:
        touched = await _touched(session, min(behind.values()), tz)
        moved = []
        for day, meter_mark in behind.items():
            if any(i > meter_mark and a <= day <= b for i, a, b in touched):
                stale.add(day)
            else:
                moved.append(day)
        if moved:
            await session.execute(
                update(SettledDay)
                .where(SettledDay.kind == kind, SettledDay.local_day.in_(moved))
                .values(meter_mark=mark)
            )
    return stale, mark


async def ensure_days(
    session: AsyncSession,
    kind: str,
    days: list[date],
    stamps: Mapping[date, str],
    compute: Compute,
    tz: str,
) -> set[date]:
    """Make the stored figures of `days` current: compute (`compute(days)`, for consecutive
    days at a time) and store the stale ones. Returns the days computed now."""
    if not days:
        return set()
    stale, mark = await _stale(session, kind, days, stamps, tz)
    if stale and session.get_bind().dialect.name == "postgresql":
        await _lock(session, kind)
        # another reader may have stored them while this one waited
        stale, mark = await _stale(session, kind, sorted(stale), stamps, tz)
    if not stale:
        return set()
    chosen = sorted(stale)
    await session.execute(
        delete(SettledMemberDay).where(
            SettledMemberDay.kind == kind, SettledMemberDay.local_day.in_(chosen)
        )
    )
    await session.execute(
        delete(SettledDay).where(SettledDay.kind == kind, SettledDay.local_day.in_(chosen))
    )
    now = datetime.now(UTC)
    for span in spans(chosen):
        figures = await compute(span)
        rows = [
            {"kind": kind, "member_id": member, "local_day": day, "figures": values}
            for day in span
            for member, values in sorted(figures.get(day, {}).items())
        ]
        for k in range(0, len(rows), 5000):
            await session.execute(insert(SettledMemberDay), rows[k : k + 5000])
        await session.execute(
            insert(SettledDay),
            [
                {
                    "kind": kind,
                    "local_day": day,
                    "stamp": stamps[day],
                    "meter_mark": mark,
                    "computed_at": now,
                }
                for day in span
            ],
        )
    return stale


async def member_days(
    session: AsyncSession, kind: str, member_id: int, days: list[date]
) -> list[tuple[date, Figures]]:
    """A member's stored figures of `days` (those with any), in day order."""
    if not days:
        return []
    rows = await session.execute(
        select(SettledMemberDay.local_day, SettledMemberDay.figures)
        .where(
            SettledMemberDay.kind == kind,
            SettledMemberDay.member_id == member_id,
            SettledMemberDay.local_day >= days[0],
            SettledMemberDay.local_day <= days[-1],
        )
        .order_by(SettledMemberDay.local_day)
    )
    wanted = set(days)
    return [(day, figures) for day, figures in rows if day in wanted]
