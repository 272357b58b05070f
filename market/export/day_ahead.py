"""The day-ahead part of a distributor export, kept apart from the rest: each metering
point's firm day-ahead position and storage schedule per interval (from the day-ahead run in
force for the interval's day), the metering table's day-ahead/intraday columns, and the
`storage` table (metering point, interval, charge, discharge, state of charge)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from market.clearing.day_ahead_models import (
    DayAheadPosition,
    DayAheadPrice,
    DayAheadRun,
    StorageSchedule,
)
from market.export.scope import ExportScope, aware
from market.export.tables import StorageRow, interval_fields
from market.network.models import MeteringPoint
from market.settlement.settle import DayAheadAmount
from market.trading.day_ahead_models import AuctionStatus, DayAheadAuction, StorageOrder
from market.trading.models import Interval, IntervalStatus

ZERO = Decimal("0.000")
STREAM_ROWS = 2000


@dataclass(slots=True)
class DayAheadData:
    """One interval's day-ahead figures per metering point id."""

    imports: dict[int, Decimal] = field(default_factory=dict)
    exports: dict[int, Decimal] = field(default_factory=dict)
    amounts: dict[int, Decimal] = field(default_factory=dict)
    charge: dict[int, Decimal] = field(default_factory=dict)
    discharge: dict[int, Decimal] = field(default_factory=dict)


def _in_force() -> Any:
    """The day-ahead run in force: its auction cleared, its version the auction's."""
    return and_(
        DayAheadAuction.id == DayAheadRun.auction_id,
        DayAheadAuction.status == AuctionStatus.CLEARED.value,
        DayAheadRun.version == DayAheadAuction.version,
    )


async def load_day_ahead(
    session: AsyncSession, interval_ids: Iterable[int], points: Iterable[int] | None = None
) -> dict[int, DayAheadData]:
    """The day-ahead figures of `interval_ids`, of the metering points `points` only when
    given (a member's statement reads its own positions, not the cluster's ~5,000 a quarter)."""
    ids = list(interval_ids)
    out = {i: DayAheadData() for i in ids}
    if not ids:
        return out
    position_filter = [DayAheadPosition.interval_id.in_(ids)]
    schedule_filter = [StorageSchedule.interval_id.in_(ids)]
    if points is not None:
        chosen = list(points)
        position_filter.append(DayAheadPosition.metering_point_id.in_(chosen))
        schedule_filter.append(StorageOrder.metering_point_id.in_(chosen))
    positions = await session.execute(
        select(
            DayAheadPosition.interval_id,
            DayAheadPosition.metering_point_id,
            DayAheadPosition.import_kwh,
            DayAheadPosition.export_kwh,
            DayAheadPosition.amount_pln,
        )
        .join(DayAheadRun, DayAheadRun.id == DayAheadPosition.run_id)
        .join(DayAheadAuction, _in_force())
        .where(*position_filter)
    )
    for interval_id, mp, imp, exp, amount in positions.all():
        d = out[interval_id]
        d.imports[mp], d.exports[mp], d.amounts[mp] = imp, exp, amount
    schedules = await session.execute(
        select(
            StorageSchedule.interval_id,
            StorageOrder.metering_point_id,
            StorageSchedule.charge_kwh,
            StorageSchedule.discharge_kwh,
        )
        .join(StorageOrder, StorageOrder.id == StorageSchedule.storage_order_id)
        .join(DayAheadRun, DayAheadRun.id == StorageSchedule.run_id)
        .join(DayAheadAuction, _in_force())
        .where(*schedule_filter)
    )
    for interval_id, mp, charge, discharge in schedules.all():
        d = out[interval_id]
        d.charge[mp] = d.charge.get(mp, ZERO) + charge
        d.discharge[mp] = d.discharge.get(mp, ZERO) + discharge
    return out


async def day_ahead_amounts(
    session: AsyncSession, start: datetime, end: datetime, member_id: int | None = None
) -> list[DayAheadAmount]:
    """Every firm day-ahead position (the run in force of each cleared auction) in intervals
    starting in [start, end), of one member's metering points or of everyone's, with its
    node's day-ahead price: what the statement adds as the day-ahead market. Also intervals
    the intraday market has not cleared (the positions are firm once the auction cleared)."""
    stmt = (
        select(
            MeteringPoint.ppe_code,
            DayAheadPosition.import_kwh,
            DayAheadPosition.export_kwh,
            DayAheadPosition.amount_pln,
            DayAheadPrice.price,
            Interval.start_utc,
        )
        .select_from(DayAheadPosition)
        .join(DayAheadRun, DayAheadRun.id == DayAheadPosition.run_id)
        .join(DayAheadAuction, _in_force())
        .join(MeteringPoint, MeteringPoint.id == DayAheadPosition.metering_point_id)
        .join(Interval, Interval.id == DayAheadPosition.interval_id)
        .outerjoin(
            DayAheadPrice,
            and_(
                DayAheadPrice.run_id == DayAheadPosition.run_id,
                DayAheadPrice.interval_id == DayAheadPosition.interval_id,
                DayAheadPrice.node_id == MeteringPoint.node_id,
            ),
        )
        .where(Interval.start_utc >= start, Interval.start_utc < end)
        .order_by(Interval.start_utc, MeteringPoint.ppe_code)
    )
    if member_id is not None:
        stmt = stmt.where(MeteringPoint.member_id == member_id)
    return [
        DayAheadAmount(ppe, imp, exp, amount, price, aware(start))
        for ppe, imp, exp, amount, price, start in (await session.execute(stmt)).all()
    ]


class UnsettledInterval(NamedTuple):
    interval_id: int
    start_utc: datetime
    minutes: int


async def day_ahead_only_intervals(
    session: AsyncSession, start: datetime, end: datetime, settled: Iterable[int]
) -> list[UnsettledInterval]:
    """The intervals starting in [start, end) with firm day-ahead positions (of the run in
    force) that are not among `settled` (the intraday market's cleared intervals): open,
    failed or not yet cleared intraday, in time order."""
    done = set(settled)
    stmt = (
        select(Interval.id, Interval.start_utc, Interval.minutes)
        .where(
            Interval.start_utc >= start,
            Interval.start_utc < end,
            Interval.id.in_(
                select(DayAheadPosition.interval_id)
                .join(DayAheadRun, DayAheadRun.id == DayAheadPosition.run_id)
                .join(DayAheadAuction, _in_force())
            ),
        )
        .order_by(Interval.start_utc)
    )
    return [
        UnsettledInterval(iid, aware(t), minutes)
        for iid, t, minutes in (await session.execute(stmt)).all()
        if iid not in done
    ]


class MeteringDayAhead(NamedTuple):
    da_import_kwh: Decimal
    da_export_kwh: Decimal
    id_import_kwh: Decimal
    id_export_kwh: Decimal
    storage_charge_kwh: Decimal
    storage_discharge_kwh: Decimal


def metering_columns(
    d: DayAheadData | None, point_id: int, id_import: Decimal, id_export: Decimal
) -> MeteringDayAhead:
    if d is None:
        return MeteringDayAhead(ZERO, ZERO, id_import, id_export, ZERO, ZERO)
    return MeteringDayAhead(
        d.imports.get(point_id, ZERO),
        d.exports.get(point_id, ZERO),
        id_import,
        id_export,
        d.charge.get(point_id, ZERO),
        d.discharge.get(point_id, ZERO),
    )


async def storage_batches(
    session: AsyncSession, scope: ExportScope
) -> AsyncIterator[list[StorageRow]]:
    """The storage table: every scheduled interval of the scope's range whose day-ahead
    clearing is in force (also intervals not yet cleared intraday)."""
    stmt = (
        select(
            MeteringPoint.ppe_code,
            Interval.start_utc,
            Interval.minutes,
            StorageSchedule.charge_kwh,
            StorageSchedule.discharge_kwh,
            StorageSchedule.soc_kwh,
            DayAheadRun.version,
        )
        .select_from(StorageSchedule)
        .join(DayAheadRun, DayAheadRun.id == StorageSchedule.run_id)
        .join(DayAheadAuction, _in_force())
        .join(StorageOrder, StorageOrder.id == StorageSchedule.storage_order_id)
        .join(MeteringPoint, MeteringPoint.id == StorageOrder.metering_point_id)
        .join(Interval, Interval.id == StorageSchedule.interval_id)
        .where(
            Interval.start_utc >= scope.start,
            Interval.start_utc < scope.end,
            Interval.status != IntervalStatus.FAILED.value,
        )
        .order_by(Interval.start_utc, MeteringPoint.ppe_code)
    )
    result = await session.stream(stmt.execution_options(yield_per=STREAM_ROWS))
    async for partition in result.partitions(STREAM_ROWS):
        rows = []
        for ppe, start, minutes, charge, discharge, soc, version in partition:
            f = interval_fields(aware(start), minutes, scope.timezone)
            rows.append(
                StorageRow(
                    scope.cluster_id, ppe, f.start_utc, f.local_day, f.number, charge,
                    discharge, soc, f"da-{version}",
                )
            )  # fmt: skip
        yield rows
