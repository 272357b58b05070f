"""The delivery intervals: creating upcoming ones, listing them, and their gate (whether an
interval takes orders, checked with the lock that keeps the gate from closing meanwhile)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import Select, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from market.cluster.models import Cluster
from market.core.clock import Clock
from market.core.errors import GateClosed, NotFound
from market.core.timegrid import as_utc, floor_interval, label, next_interval
from market.db.engine import dialect_name
from market.trading.models import Interval, IntervalStatus


@dataclass(frozen=True, slots=True)
class IntervalView:
    id: int
    start_utc: datetime
    end_utc: datetime
    minutes: int
    gate_closure_utc: datetime
    local_day: date
    number: int
    status: str
    reason: str | None
    #: True while orders may still be placed, changed or cancelled (at the given time).
    accepting_orders: bool
    seconds_to_gate: float


def interval_view(row: Interval, now: datetime) -> IntervalView:
    accepting = row.status == IntervalStatus.OPEN.value and now < row.gate_closure_utc
    return IntervalView(
        id=row.id,
        start_utc=row.start_utc,
        end_utc=row.start_utc + timedelta(minutes=row.minutes),
        minutes=row.minutes,
        gate_closure_utc=row.gate_closure_utc,
        local_day=row.local_day,
        number=row.number,
        status=row.status,
        reason=row.reason,
        accepting_orders=accepting,
        seconds_to_gate=max(0.0, (row.gate_closure_utc - now).total_seconds()),
    )


@dataclass(frozen=True, slots=True)
class IntervalsView:
    now: datetime
    #: The interval being delivered now (if it exists).
    current: IntervalView | None
    #: Intervals still accepting orders, soonest first.
    open: list[IntervalView]
    #: Latest cleared or failed intervals, newest first.
    recent: list[IntervalView]


async def list_intervals(
    session: AsyncSession, clock: Clock, *, upcoming: int = 8, recent: int = 8
) -> IntervalsView:
    now = clock.now()
    open_rows = (
        await session.scalars(
            select(Interval)
            .where(Interval.status == IntervalStatus.OPEN.value, Interval.gate_closure_utc > now)
            .order_by(Interval.start_utc)
            .limit(upcoming)
        )
    ).all()
    recent_rows = (
        await session.scalars(
            select(Interval)
            .where(Interval.status.in_([IntervalStatus.CLEARED.value, IntervalStatus.FAILED.value]))
            .order_by(Interval.start_utc.desc())
            .limit(recent)
        )
    ).all()
    current = await session.scalar(
        select(Interval).where(Interval.start_utc <= now).order_by(Interval.start_utc.desc())
    )
    if current is not None and current.start_utc + timedelta(minutes=current.minutes) <= now:
        current = None
    return IntervalsView(
        now=now,
        current=interval_view(current, now) if current else None,
        open=[interval_view(r, now) for r in open_rows],
        recent=[interval_view(r, now) for r in recent_rows],
    )


async def interval_by_start(session: AsyncSession, start: datetime) -> Interval:
    row = await session.scalar(select(Interval).where(Interval.start_utc == as_utc(start)))
    if row is None:
        raise NotFound("start", "no interval starts at %(start)s", start=as_utc(start))
    return row


def check_open(interval: Interval | None, key: int, now: datetime) -> Interval:
    """`interval` (loaded for id `key`) if it takes orders at `now`, else the error why not."""
    if interval is None:
        raise NotFound("interval_id", "no interval %(id)s", id=key)
    if interval.status != IntervalStatus.OPEN.value or now >= interval.gate_closure_utc:
        raise GateClosed(
            "interval_id",
            "the gate for the interval starting %(start)s closed at %(gate_closure)s; "
            "choose a later interval",
            start=interval.start_utc,
            gate_closure=interval.gate_closure_utc,
        )
    return interval


def for_share(keys: Iterable[int]) -> Select[Interval]:
    """The intervals `keys`, FOR SHARE: a gate closing at this moment waits for the order's
    transaction, so the clearing never misses an order that was accepted. Rows in id order:
    one lock order."""
    return (
        select(Interval)
        .where(Interval.id.in_(sorted(set(keys))))
        .order_by(Interval.id)
        .with_for_update(read=True)
    )


@dataclass(frozen=True, slots=True)
class DayInterval:
    """What an order placed into an interval needs of it (`market.trading.pipeline`: its id,
    start, length and day), read without the ORM: a day-ahead profile names a day's 96."""

    id: int
    start_utc: datetime
    minutes: int
    local_day: date
    number: int


def day_intervals(rows: Iterable[tuple[int, datetime, int, date, int]]) -> list[DayInterval]:
    """`DayInterval`s from (id, start_utc, minutes, local_day, number) rows."""
    return [DayInterval(*row) for row in rows]


def check_closing(interval: Interval | None, key: int) -> Interval:
    """`interval` if it still takes a standing rule's orders: while open, and at its gate
    closure (the transaction closing it places them, before clearing)."""
    if interval is None:
        raise NotFound("interval_id", "no interval %(id)s", id=key)
    if interval.status not in (IntervalStatus.OPEN.value, IntervalStatus.CLOSED.value):
        raise GateClosed(
            "interval_id",
            "the gate for the interval starting %(start)s closed at %(gate_closure)s; "
            "choose a later interval",
            start=interval.start_utc,
            gate_closure=interval.gate_closure_utc,
        )
    return interval


async def open_interval(session: AsyncSession, key: int, now: datetime) -> Interval:
    """Interval `key`, locked FOR SHARE, if it takes orders at `now`."""
    return check_open(await session.scalar(for_share([key])), key, now)


async def still_open(session: AsyncSession, intervals: Iterable[Interval]) -> None:
    """Re-check the gates inside the write transaction. On SQLite the write lock taken by our
    first write keeps a gate from closing until we commit, so a gate that closed between our
    first read and our write is caught here. On PostgreSQL the FOR SHARE lock taken when the
    interval was read does that already (closing a gate UPDATEs its row and waits for us):
    nothing to re-check, no round trip."""
    if session.get_bind().dialect.name != "sqlite":
        return
    wanted = {iv.id: iv for iv in intervals}
    if not wanted:  # (a day-ahead placement: its auction is re-checked instead)
        return
    rows = await session.execute(
        select(Interval.id, Interval.status).where(Interval.id.in_(wanted))
    )
    status = {interval_id: value for interval_id, value in rows}
    for interval in wanted.values():
        if status.get(interval.id) != IntervalStatus.OPEN.value:
            raise GateClosed(
                "interval_id",
                "the gate for the interval starting %(start)s has just closed; "
                "choose a later interval",
                start=interval.start_utc,
            )


def upcoming_starts(cluster: Cluster, now: datetime) -> list[datetime]:
    """Starts of the intervals that should be open for orders at `now`: those whose gate is
    still ahead, up to the cluster's horizon."""
    minutes = cluster.interval_minutes
    lead = timedelta(minutes=cluster.gate_closure_minutes)
    start = floor_interval(now, minutes)
    while start - lead <= now:
        start = next_interval(start, minutes)
    return [next_interval(start, minutes, k) for k in range(cluster.horizon_intervals)]


async def ensure_intervals(session: AsyncSession, cluster: Cluster, now: datetime) -> list[int]:
    """Create the upcoming intervals that do not exist yet (safe to run concurrently: a
    start that another process created first is skipped). Returns the new ids; the caller
    commits."""
    starts = upcoming_starts(cluster, now)
    if not starts:
        return []
    existing = set(
        (
            await session.scalars(select(Interval.start_utc).where(Interval.start_utc.in_(starts)))
        ).all()
    )
    rows = []
    for start in starts:
        if start in existing:
            continue
        lab = label(start, cluster.interval_minutes, cluster.timezone)
        rows.append(
            {
                "start_utc": start,
                "minutes": cluster.interval_minutes,
                "gate_closure_utc": start - timedelta(minutes=cluster.gate_closure_minutes),
                "local_day": lab.local_day,
                "number": lab.number,
                "status": IntervalStatus.OPEN.value,
                "created_at": now,
            }
        )
    if not rows:
        return []
    insert = pg_insert if dialect_name(session) == "postgresql" else sqlite_insert
    stmt = (
        insert(Interval)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["start_utc"])
        .returning(Interval.id)
    )
    return list((await session.scalars(stmt)).all())
