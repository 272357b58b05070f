"""Reading a day's day-ahead result (the version in force): prices per interval and node,
volumes, each storage unit's schedule, the blocks with why a rejected one was rejected, and a
member's own positions."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from market.access.actor import Actor
from market.clearing.day_ahead_models import (
    DayAheadGrid,
    DayAheadPosition,
    DayAheadPrice,
    DayAheadRun,
    StorageSchedule,
)
from market.network.models import MeteringPoint, Node
from market.network.storage_models import StorageUnit
from market.trading.day_ahead_models import (
    AuctionStatus,
    BlockGroup,
    BlockOrder,
    DayAheadAuction,
    StorageOrder,
)
from market.trading.models import Interval

ZERO = Decimal("0.000")


class BlockReason:
    ACCEPTED = "accepted"
    #: Its limit price was not met at the published prices.
    OUT_OF_THE_MONEY = "out_of_the_money"
    #: Another block of its exclusive group was accepted.
    GROUP = "another_in_group"
    #: In the money at the published prices, yet rejected (the block rule).
    PARADOXICAL = "paradoxically_rejected"


@dataclass(frozen=True, slots=True)
class StorageView:
    storage_order_id: int
    ppe_code: str
    name: str
    charge_kwh: list[Decimal]
    discharge_kwh: list[Decimal]
    soc_kwh: list[Decimal]
    energy_kwh: Decimal | None


@dataclass(frozen=True, slots=True)
class BlockView:
    id: int
    group_id: int
    group_name: str
    ppe_code: str
    member_id: int
    side: str
    first_number: int
    start: datetime
    intervals: int
    quantity_kwh: Decimal
    price: Decimal
    accepted_ratio: Decimal | None
    surplus_pln: Decimal | None
    reason: str | None


@dataclass(frozen=True, slots=True)
class DayAheadView:
    local_day: date
    status: str
    version: int
    gate_closure_utc: datetime
    reason: str | None
    #: UTC starts of the day's intervals, in order.
    starts: list[datetime]
    nodes: list[str]
    #: prices[t][k]: interval t, node k (None where not cleared).
    prices: list[list[Decimal | None]]
    bought_kwh: list[Decimal]
    sold_kwh: list[Decimal]
    grid_import_kwh: list[Decimal]
    grid_export_kwh: list[Decimal]
    storage: list[StorageView]
    blocks: list[BlockView]
    welfare_pln: Decimal | None

    @property
    def cleared(self) -> bool:
        return self.status == AuctionStatus.CLEARED.value


@dataclass(frozen=True, slots=True)
class MyPosition:
    ppe_code: str
    start_utc: datetime
    number: int
    import_kwh: Decimal
    export_kwh: Decimal
    amount_pln: Decimal


async def run_in_force(session: AsyncSession, auction: DayAheadAuction) -> DayAheadRun | None:
    return await session.scalar(
        select(DayAheadRun).where(
            DayAheadRun.auction_id == auction.id, DayAheadRun.version == auction.version
        )
    )


async def day_ahead_result(session: AsyncSession, day: date) -> DayAheadView | None:
    auction = await session.scalar(select(DayAheadAuction).where(DayAheadAuction.local_day == day))
    if auction is None:
        return None
    intervals = (
        await session.scalars(
            select(Interval).where(Interval.local_day == day).order_by(Interval.start_utc)
        )
    ).all()
    index = {iv.id: t for t, iv in enumerate(intervals)}
    n = len(intervals)
    nodes = list((await session.scalars(select(Node.code).order_by(Node.code))).all())
    node_index = {code: k for k, code in enumerate(nodes)}
    prices: list[list[Decimal | None]] = [[None] * len(nodes) for _ in range(n)]
    bought, sold = [ZERO] * n, [ZERO] * n
    grid_in, grid_out = [ZERO] * n, [ZERO] * n
    storage: list[StorageView] = []
    run = await run_in_force(session, auction)
    if run is not None:
        rows = await session.execute(
            select(DayAheadPrice.interval_id, Node.code, DayAheadPrice.price)
            .join(Node, Node.id == DayAheadPrice.node_id)
            .where(DayAheadPrice.run_id == run.id)
        )
        for interval_id, code, price in rows.all():
            prices[index[interval_id]][node_index[code]] = price
        volumes = await session.execute(
            select(
                DayAheadPosition.interval_id,
                func.sum(DayAheadPosition.import_kwh),
                func.sum(DayAheadPosition.export_kwh),
            )
            .where(DayAheadPosition.run_id == run.id)
            .group_by(DayAheadPosition.interval_id)
        )
        for interval_id, imp, exp in volumes.all():
            t = index[interval_id]
            bought[t], sold[t] = Decimal(imp or 0), Decimal(exp or 0)
        grid = await session.execute(
            select(
                DayAheadGrid.interval_id,
                func.sum(DayAheadGrid.import_kwh),
                func.sum(DayAheadGrid.export_kwh),
            )
            .where(DayAheadGrid.run_id == run.id)
            .group_by(DayAheadGrid.interval_id)
        )
        for interval_id, imp, exp in grid.all():
            t = index[interval_id]
            grid_in[t], grid_out[t] = Decimal(imp or 0), Decimal(exp or 0)
        storage = await _storage(session, run.id, index, n)
    blocks = await _blocks(session, day, list(intervals))
    return DayAheadView(
        local_day=day,
        status=auction.status,
        version=auction.version,
        gate_closure_utc=auction.gate_closure_utc,
        reason=auction.reason,
        starts=[iv.start_utc for iv in intervals],
        nodes=nodes,
        prices=prices,
        bought_kwh=bought,
        sold_kwh=sold,
        grid_import_kwh=grid_in,
        grid_export_kwh=grid_out,
        storage=storage,
        blocks=blocks,
        welfare_pln=run.welfare_pln if run is not None else None,
    )


async def _storage(
    session: AsyncSession, run_id: int, index: dict[int, int], n: int
) -> list[StorageView]:
    rows = await session.execute(
        select(
            StorageSchedule.storage_order_id,
            StorageSchedule.interval_id,
            StorageSchedule.charge_kwh,
            StorageSchedule.discharge_kwh,
            StorageSchedule.soc_kwh,
        ).where(StorageSchedule.run_id == run_id)
    )
    series: dict[int, list[list[Decimal]]] = defaultdict(
        lambda: [[ZERO] * n, [ZERO] * n, [ZERO] * n]
    )
    for so_id, interval_id, c, d, soc in rows.all():
        t = index[interval_id]
        s = series[so_id]
        s[0][t], s[1][t], s[2][t] = c, d, soc
    if not series:
        return []
    points = await session.execute(
        select(StorageOrder.id, MeteringPoint.ppe_code, MeteringPoint.name, StorageUnit.energy_kwh)
        .join(MeteringPoint, MeteringPoint.id == StorageOrder.metering_point_id)
        .outerjoin(StorageUnit, StorageUnit.metering_point_id == MeteringPoint.id)
        .where(StorageOrder.id.in_(list(series)))
        .order_by(MeteringPoint.ppe_code)
    )
    views = []
    for so_id, ppe, name, energy in points.all():
        c_kwh, d_kwh, soc_kwh = series[so_id]
        views.append(StorageView(so_id, ppe, name, c_kwh, d_kwh, soc_kwh, energy))
    return views


async def _blocks(
    session: AsyncSession, day: date, intervals: Sequence[Interval]
) -> list[BlockView]:
    starts = {iv.number: iv.start_utc for iv in intervals}
    rows = await session.execute(
        select(BlockOrder, BlockGroup, MeteringPoint.ppe_code)
        .join(BlockGroup, BlockGroup.id == BlockOrder.group_id)
        .join(MeteringPoint, MeteringPoint.id == BlockGroup.metering_point_id)
        .where(BlockGroup.local_day == day, BlockGroup.cancelled.is_(False))
        .order_by(BlockGroup.id, BlockOrder.first_number)
    )
    found = rows.all()
    accepted_groups = {
        g.id for b, g, _ in found if b.accepted_ratio is not None and b.accepted_ratio > 0
    }
    out = []
    for b, g, ppe in found:
        reason: str | None = None
        if b.accepted_ratio is not None:
            if b.accepted_ratio > 0:
                reason = BlockReason.ACCEPTED
            elif g.id in accepted_groups:
                reason = BlockReason.GROUP
            elif b.paradoxically_rejected:
                reason = BlockReason.PARADOXICAL
            else:
                reason = BlockReason.OUT_OF_THE_MONEY
        quantities = [Decimal(q) for q in b.quantities_kwh]
        out.append(
            BlockView(
                b.id, g.id, g.name, ppe, g.member_id, g.side, b.first_number,
                starts.get(b.first_number, datetime.min), len(quantities), sum(quantities, ZERO),
                g.price, b.accepted_ratio, b.surplus_pln, reason,
            )
        )  # fmt: skip
    return out


async def my_day_positions(session: AsyncSession, actor: Actor, day: date) -> list[MyPosition]:
    """The member's firm day-ahead positions of the day (version in force), per interval."""
    auction = await session.scalar(select(DayAheadAuction).where(DayAheadAuction.local_day == day))
    if auction is None:
        return []
    run = await run_in_force(session, auction)
    if run is None:
        return []
    rows = await session.execute(
        select(
            MeteringPoint.ppe_code,
            Interval.start_utc,
            Interval.number,
            DayAheadPosition.import_kwh,
            DayAheadPosition.export_kwh,
            DayAheadPosition.amount_pln,
        )
        .join(MeteringPoint, MeteringPoint.id == DayAheadPosition.metering_point_id)
        .join(Interval, Interval.id == DayAheadPosition.interval_id)
        .where(DayAheadPosition.run_id == run.id, MeteringPoint.member_id == actor.member_id)
        .order_by(Interval.start_utc, MeteringPoint.ppe_code)
    )
    return [MyPosition(*r) for r in rows.all()]
