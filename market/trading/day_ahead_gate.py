"""The day-ahead gate of a local day: when it closes, creating a day's auction (with every
interval of the day), and checking that it still takes orders (with the lock that keeps the
gate from closing meanwhile, as `market.trading.intervals` does for an interval's gate)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Select, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from market.cluster.models import Cluster
from market.core.errors import GateClosed, ValidationFailed
from market.core.timegrid import intervals_in_local_day, label
from market.db.engine import dialect_name
from market.trading.day_ahead_models import AuctionStatus, DayAheadAuction
from market.trading.models import Interval, IntervalStatus


def day_ahead_enabled(cluster: Cluster) -> bool:
    return cluster.day_ahead_gate_minute is not None


def gate_closure(cluster: Cluster, day: date) -> datetime:
    """When the day-ahead gate for delivery on `day` closes: the day before, at the cluster's
    gate minute in local time (default 12:00 Europe/Warsaw)."""
    minute = cluster.day_ahead_gate_minute
    if minute is None:
        raise ValidationFailed("local_day", "this cluster runs no day-ahead auction")
    local = datetime.combine(day - timedelta(days=1), time(minute // 60, minute % 60))
    return local.replace(tzinfo=ZoneInfo(cluster.timezone)).astimezone(ZoneInfo("UTC"))


def next_day_ahead(cluster: Cluster, now: datetime) -> tuple[date, datetime] | None:
    """The next day whose day-ahead gate is still ahead at `now`, and its gate closure."""
    if not day_ahead_enabled(cluster):
        return None
    today = now.astimezone(ZoneInfo(cluster.timezone)).date()
    for k in range(0, 3):
        day = today + timedelta(days=k)
        gate = gate_closure(cluster, day)
        if gate > now:
            return day, gate
    return None  # pragma: no cover - the gate is at most a day and a half ahead


async def ensure_day(
    session: AsyncSession, cluster: Cluster, day: date, now: datetime
) -> DayAheadAuction:
    """The auction of `day`, created with every interval of the day if missing (safe to run
    concurrently: rows another process created first are kept). The caller commits."""
    gate = gate_closure(cluster, day)
    insert = pg_insert if dialect_name(session) == "postgresql" else sqlite_insert
    minutes = cluster.interval_minutes
    starts = intervals_in_local_day(day, minutes, cluster.timezone)
    existing = set(
        (
            await session.scalars(select(Interval.start_utc).where(Interval.start_utc.in_(starts)))
        ).all()
    )
    rows = []
    for start in starts:
        if start in existing:
            continue
        lab = label(start, minutes, cluster.timezone)
        rows.append(
            {
                "start_utc": start,
                "minutes": minutes,
                "gate_closure_utc": start - timedelta(minutes=cluster.gate_closure_minutes),
                "local_day": lab.local_day,
                "number": lab.number,
                "status": IntervalStatus.OPEN.value,
                "created_at": now,
            }
        )
    if rows:
        await session.execute(
            insert(Interval).values(rows).on_conflict_do_nothing(index_elements=["start_utc"])
        )
    await session.execute(
        insert(DayAheadAuction)
        .values(
            local_day=day,
            gate_closure_utc=gate,
            status=AuctionStatus.OPEN.value,
            version=0,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["local_day"])
    )
    auction = await session.scalar(select(DayAheadAuction).where(DayAheadAuction.local_day == day))
    assert auction is not None
    return auction


def auctions_for_share(days: Iterable[date]) -> Select[DayAheadAuction]:
    """The auctions of `days`, FOR SHARE (a day-ahead gate closing meanwhile waits for the
    order's transaction), in one lock order."""
    return (
        select(DayAheadAuction)
        .where(DayAheadAuction.local_day.in_(sorted(set(days))))
        .order_by(DayAheadAuction.id)
        .with_for_update(read=True)
    )


def check_auction_open(auction: DayAheadAuction | None, day: date, now: datetime) -> None:
    if auction is None:
        raise GateClosed(
            "local_day", "the day-ahead auction for %(day)s does not take orders", day=day
        )
    if auction.status != AuctionStatus.OPEN.value or now >= auction.gate_closure_utc:
        raise GateClosed(
            "local_day",
            "the day-ahead gate for %(day)s closed at %(gate_closure)s; trade its intervals "
            "in the intraday auctions",
            day=day,
            gate_closure=auction.gate_closure_utc,
        )


def check_auction_closing(auction: DayAheadAuction | None, day: date) -> None:
    """For the orders of standing rules: open, or closing in this transaction."""
    if auction is None or auction.status not in (
        AuctionStatus.OPEN.value,
        AuctionStatus.CLOSED.value,
    ):
        raise GateClosed(
            "local_day", "the day-ahead auction for %(day)s does not take orders", day=day
        )


def _check_gate_ahead(cluster: Cluster, day: date, now: datetime) -> None:
    """The cluster runs day-ahead auctions and the gate of `day` is ahead at `now`."""
    if not day_ahead_enabled(cluster):
        raise ValidationFailed("local_day", "this cluster runs no day-ahead auction")
    gate = gate_closure(cluster, day)
    if gate <= now:
        raise GateClosed(
            "local_day",
            "the day-ahead gate for %(day)s closed at %(gate_closure)s; trade its intervals "
            "in the intraday auctions",
            day=day,
            gate_closure=gate,
        )


async def open_auction(
    session: AsyncSession, cluster: Cluster, day: date, now: datetime
) -> DayAheadAuction:
    """The auction of `day` (created if missing, with its intervals), locked FOR SHARE, if it
    takes orders at `now`."""
    _check_gate_ahead(cluster, day, now)
    auction = await session.scalar(auctions_for_share([day]))
    if auction is None:
        await ensure_day(session, cluster, day, now)
        auction = await session.scalar(auctions_for_share([day]))
    check_auction_open(auction, day, now)
    assert auction is not None
    return auction


async def open_auction_day(
    session: AsyncSession, cluster: Cluster, day: date, now: datetime
) -> tuple[DayAheadAuction, list[Interval]]:
    """`open_auction` with the day's intervals (id order), both FOR SHARE, in one statement
    (a profile's placement: one round trip, not two)."""
    _check_gate_ahead(cluster, day, now)
    rows = (await session.execute(_day_for_share(day))).all()
    if not rows:
        await ensure_day(session, cluster, day, now)
        rows = (await session.execute(_day_for_share(day))).all()
    auction = rows[0][0] if rows else None
    check_auction_open(auction, day, now)
    assert auction is not None
    return auction, [iv for _, iv in rows]


def _day_for_share(day: date) -> Select[DayAheadAuction, Interval]:
    """The auction of `day` joined with its intervals, FOR SHARE (rows of both tables)."""
    return (
        select(DayAheadAuction, Interval)
        .join(Interval, Interval.local_day == DayAheadAuction.local_day)
        .where(DayAheadAuction.local_day == day)
        .order_by(Interval.id)
        .with_for_update(read=True)
    )


async def auctions_still_open(session: AsyncSession, auctions: Iterable[DayAheadAuction]) -> None:
    """The SQLite re-check inside the write transaction (see `intervals.still_open`)."""
    if session.get_bind().dialect.name != "sqlite":
        return
    wanted = {a.id: a for a in auctions}
    if not wanted:
        return
    rows = await session.execute(
        select(DayAheadAuction.id, DayAheadAuction.status).where(DayAheadAuction.id.in_(wanted))
    )
    status = {k: v for k, v in rows.all()}
    for auction in wanted.values():
        if status.get(auction.id) != AuctionStatus.OPEN.value:
            raise GateClosed(
                "local_day",
                "the day-ahead gate for %(day)s has just closed; trade its intervals in the "
                "intraday auctions",
                day=auction.local_day,
            )


async def day_ahead_interval(
    session: AsyncSession, interval_id: int, now: datetime
) -> tuple[Interval, DayAheadAuction]:
    """A day-ahead order's interval, and its day's auction locked FOR SHARE, if the
    day-ahead gate is still ahead (to change or cancel the order)."""
    interval = await session.get(Interval, interval_id)
    if interval is None:
        raise GateClosed("local_day", "no interval %(id)s", id=interval_id)
    auction = await session.scalar(auctions_for_share([interval.local_day]))
    check_auction_open(auction, interval.local_day, now)
    assert auction is not None
    return interval, auction


@dataclass(frozen=True, slots=True)
class NextGate:
    """The next gate to close: "day_ahead" (for `local_day`) or "intraday" (an interval)."""

    kind: str
    closes_at: datetime
    local_day: date | None = None
    interval_start: datetime | None = None


async def next_gate(session: AsyncSession, cluster: Cluster, now: datetime) -> NextGate | None:
    """Which gate closes next: the day-ahead gate of the next day, or the next interval's."""
    found: list[NextGate] = []
    upcoming = next_day_ahead(cluster, now)
    if upcoming is not None:
        found.append(NextGate("day_ahead", upcoming[1], local_day=upcoming[0]))
    row = (
        await session.execute(
            select(Interval.gate_closure_utc, Interval.start_utc)
            .where(Interval.status == IntervalStatus.OPEN.value, Interval.gate_closure_utc > now)
            .order_by(Interval.gate_closure_utc)
            .limit(1)
        )
    ).first()
    if row is not None:
        found.append(NextGate("intraday", row[0], interval_start=row[1]))
    return min(found, key=lambda g: g.closes_at) if found else None
