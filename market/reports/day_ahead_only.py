"""Intervals with firm day-ahead positions that the intraday market did not clear (it failed,
or has not run), settled like every other interval: each metering point's firm position and,
where imported, its meter data go through `settlement.settle_interval` with no intraday
trade. The line then carries the residual against the grid (metered − firm, at the grid
connection's reference prices) and the grid-only amount (the net metered energy, or the net
firm position without meter data), so a member's statement — and the month with and without
the cluster built on it — counts the same energy in these intervals as the statutory figures
(`statutory.inputs`: meter data where imported, else the cleared positions, day-ahead
included). The day-ahead money itself stays `Statement.add_day_ahead`'s (the auction
settled it); these lines have no intraday amount (0.00).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from market.cluster.models import Cluster
from market.export.day_ahead import DayAheadData, day_ahead_only_intervals, load_day_ahead
from market.export.scope import aware
from market.metering.models import MeterReading
from market.network.models import GridConnection, MeteringPoint
from market.settlement.settle import IntervalInput, Line, Position, settle_interval

ZERO = Decimal(0)


class NoIntradayPrice(dict[str, Decimal]):
    """No intraday clearing: every node's intraday price is 0 (nothing traded at it)."""

    def __missing__(self, key: str) -> Decimal:
        return ZERO


async def reference_prices(session: AsyncSession) -> tuple[Decimal, Decimal]:
    """(import, export) reference PLN/kWh: the grid connection's, else the cluster's cap and
    floor (as `export.scope.load_scope`)."""
    conn = await session.execute(
        select(GridConnection.import_price, GridConnection.export_price)
        .order_by(GridConnection.id)
        .limit(1)
    )
    row = conn.first()
    if row is not None:
        return Decimal(row[0]), Decimal(row[1])
    cluster = await session.scalar(select(Cluster).order_by(Cluster.id).limit(1))
    if cluster is None:
        return ZERO, ZERO
    return Decimal(cluster.price_cap), Decimal(cluster.price_floor)


async def day_ahead_only_lines(
    session: AsyncSession,
    start: datetime,
    end: datetime,
    settled: Iterable[int],
    member_id: int | None = None,
    *,
    firm: Mapping[int, DayAheadData] | None = None,
    metered_only: bool = False,
) -> list[Line]:
    """The settlement lines of the intervals in [start, end) that have firm day-ahead
    positions but are not among `settled` (the intervals cleared intraday), for the points
    of `member_id` (None: everyone's) with a firm position or a reading there, in time order.
    `firm`: those intervals' positions when the caller has loaded them already
    (`export.day_ahead.load_day_ahead`), so they are not read twice. `metered_only`: the
    lines of the points with a reading only — a line without one has no residual and prices
    the net firm energy at the reference prices, which the cluster report does itself
    (`reports.service.day_ahead_only_figures`) instead of settling ~5,000 lines a quarter."""
    intervals = await day_ahead_only_intervals(session, start, end, settled)
    if not intervals:
        return []
    stmt = select(MeteringPoint.id, MeteringPoint.ppe_code, MeteringPoint.node_id)
    if member_id is not None:
        stmt = stmt.where(MeteringPoint.member_id == member_id)
    points = {pid: (ppe, str(node)) for pid, ppe, node in await session.execute(stmt)}
    if firm is None:
        # one member's positions only: a day holds ~200,000 of a 5,000-point cluster
        firm = await load_day_ahead(
            session, (u.interval_id for u in intervals), None if member_id is None else points
        )
    starts = [u.start_utc for u in intervals]
    readings: dict[tuple[datetime, int], tuple[Decimal, Decimal]] = {}
    rows = await session.execute(
        select(
            MeterReading.start_utc,
            MeterReading.metering_point_id,
            MeterReading.import_kwh,
            MeterReading.export_kwh,
        ).where(
            MeterReading.start_utc >= starts[0],
            MeterReading.start_utc <= starts[-1],
            MeterReading.metering_point_id.in_(list(points)),
        )
    )
    for at, pid, imp, exp in rows:
        readings[(aware(at), pid)] = (imp, exp)
    import_ref, export_ref = await reference_prices(session)
    lines: list[Line] = []
    in_order = sorted(points, key=lambda p: points[p][0])
    metered_at: dict[datetime, set[int]] = {}
    for at, pid in readings:
        metered_at.setdefault(at, set()).add(pid)
    for u in intervals:
        d = firm[u.interval_id]
        positions = []
        metered = metered_at.get(u.start_utc, set())
        if metered_only:
            chosen = [pid for pid in in_order if pid in metered] if metered else []
        else:
            chosen = in_order
        for pid in chosen:
            reading = readings.get((u.start_utc, pid))
            if reading is None and pid not in d.imports and pid not in d.exports:
                continue
            ppe, node = points[pid]
            positions.append(
                Position(
                    ppe,
                    node,
                    ZERO,
                    ZERO,
                    reading[0] if reading else None,
                    reading[1] if reading else None,
                    d.imports.get(pid, ZERO),
                    d.exports.get(pid, ZERO),
                )
            )
        if positions:
            settled_interval = settle_interval(
                IntervalInput(u.start_utc, NoIntradayPrice(), positions, (), import_ref, export_ref)
            )
            lines.extend(settled_interval.lines)
    return lines
