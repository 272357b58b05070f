"""Standing orders: rules that place an order into every upcoming interval they match.

They are materialised (turned into ordinary orders tagged with `standing_order_id`) when an
interval is created, when a rule is created, changed or resumed (into the intervals still
open), and once more at gate closure, always before clearing. The unique pair
(standing_order_id, interval_id) makes materialisation idempotent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, cast
from zoneinfo import ZoneInfo

import anyio
from sqlalchemy import Table, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from market.access import audit
from market.access.actor import Actor
from market.cluster.models import Cluster
from market.cluster.service import get_cluster
from market.core.clock import Clock
from market.core.errors import Forbidden, NotFound, OrderRejected
from market.core.money import energy
from market.db.engine import dialect_name
from market.metering.profiles import PointProfile, net_kwh
from market.network.models import MeteringPoint
from market.trading.models import (
    Interval,
    IntervalStatus,
    Order,
    OrderStatus,
    StandingMode,
    StandingOrder,
)
from market.trading.rules import (
    check_deliverable,
    deliverable_kwh,
    own_metering_point,
    parse_price,
    parse_quantity,
)
from market.trading.rules import parse_side as _parse_side

#: Forecast quantities below this are not worth an order (kWh).
MIN_FORECAST_KWH = Decimal("0.001")


@dataclass(frozen=True, slots=True)
class StandingOrderView:
    id: int
    metering_point_id: int
    ppe_code: str
    side: str
    mode: str
    quantity_kwh: Decimal | None
    price: Decimal
    weekdays: str
    hour_from: int
    hour_to: int
    valid_from: date | None
    valid_to: date | None
    paused: bool
    created_at: datetime


def _view(row: StandingOrder, point: MeteringPoint) -> StandingOrderView:
    return StandingOrderView(
        id=row.id,
        metering_point_id=row.metering_point_id,
        ppe_code=point.ppe_code,
        side=row.side,
        mode=row.mode,
        quantity_kwh=row.quantity_kwh,
        price=row.price,
        weekdays=row.weekdays,
        hour_from=row.hour_from,
        hour_to=row.hour_to,
        valid_from=row.valid_from,
        valid_to=row.valid_to,
        paused=row.paused,
        created_at=row.created_at,
    )


def profile_of(point: MeteringPoint) -> PointProfile:
    return PointProfile(
        key=point.ppe_code,
        load_profile=point.load_profile,
        annual_use_kwh=float(point.annual_use_kwh),
        pv_kwp=float(point.pv_kwp),
        other_generation_kw=float(point.other_generation_kw),
    )


Rule = tuple[
    int, int, int, str, str, Decimal | None, Decimal, str, int, int, date | None, date | None
]


def _order_rows(
    rules: list[Rule],
    points: dict[int, tuple[PointProfile, Decimal]],
    slots: list[tuple[int, datetime, int, date]],
    tz: str,
    seed: int,
) -> list[dict[str, Any]]:
    """The orders the rules place into the intervals (pure; runs in a worker thread)."""
    now = datetime.now(tz=ZoneInfo("UTC"))
    zone = ZoneInfo(tz)
    rows = []
    for interval_id, start, minutes, day in slots:
        local = start.astimezone(zone)
        weekday, hour = str(local.isoweekday()), local.hour
        net: dict[int, float] = {}
        for rid, mid, pid, side, mode, fixed, price, days, h_from, h_to, v_from, v_to in rules:
            if weekday not in days or not h_from <= hour < h_to:
                continue
            if (v_from and day < v_from) or (v_to and day > v_to):
                continue
            profile, contracted_kw = points[pid]
            if mode == StandingMode.FIXED.value:
                wanted = fixed or Decimal(0)
            else:
                if pid not in net:
                    net[pid] = net_kwh(profile, start, minutes, tz, seed)
                surplus = net[pid] if side == "sell" else -net[pid]
                wanted = energy(max(0.0, surplus))
                if fixed is not None:
                    wanted = min(wanted, fixed)
            quantity = min(wanted, deliverable_kwh(contracted_kw, minutes))
            if quantity < MIN_FORECAST_KWH:
                continue
            rows.append(
                {
                    "member_id": mid,
                    "metering_point_id": pid,
                    "interval_id": interval_id,
                    "side": side,
                    "quantity_kwh": quantity,
                    "price": price,
                    "status": OrderStatus.OPEN.value,
                    "standing_order_id": rid,
                    "created_at": now,
                    "updated_at": now,
                }
            )
    return rows


async def materialise(
    session: AsyncSession,
    cluster: Cluster,
    intervals: list[Interval],
    rules: list[StandingOrder] | None = None,
) -> int:
    """Place the orders of active standing rules into the given intervals (idempotent).
    Returns how many orders were inserted; the caller commits."""
    if not intervals:
        return 0
    if rules is None:
        query = select(StandingOrder).where(~StandingOrder.paused)
        if len(intervals) == 1:
            # At gate closure most rules are already in: load only the missing ones.
            done = select(Order.standing_order_id).where(
                Order.interval_id == intervals[0].id, Order.standing_order_id.is_not(None)
            )
            query = query.where(StandingOrder.id.not_in(done))
        rules = list((await session.scalars(query)).all())
    rules = [r for r in rules if not r.paused]
    if not rules:
        return 0
    point_ids = {r.metering_point_id for r in rules}
    points = {
        p.id: p
        for p in (
            await session.scalars(
                select(MeteringPoint).where(MeteringPoint.id.in_(point_ids), MeteringPoint.active)
            )
        ).all()
    }
    floor, cap_price = cluster.price_floor, cluster.price_cap
    # Plain values (no ORM objects) so the CPU-bound part can run in a worker thread.
    points_plain = {pid: (profile_of(p), p.contracted_power_kw) for pid, p in points.items()}
    plain = [
        (
            r.id,
            r.member_id,
            r.metering_point_id,
            r.side,
            r.mode,
            r.quantity_kwh,
            min(max(r.price, floor), cap_price),
            r.weekdays,
            r.hour_from,
            r.hour_to,
            r.valid_from,
            r.valid_to,
        )
        for r in rules
        if r.metering_point_id in points
    ]
    slots = [(i.id, i.start_utc, i.minutes, i.local_day) for i in intervals]
    rows = await anyio.to_thread.run_sync(
        _order_rows, plain, points_plain, slots, cluster.timezone, cluster.profile_seed
    )
    inserted = 0
    insert = pg_insert if dialect_name(session) == "postgresql" else sqlite_insert
    table = cast(Table, Order.__table__)
    # One cached statement run as executemany ("insertmanyvalues"), not a fresh multi-row
    # VALUES statement per chunk: compiling those dominated large clusters.
    stmt = (
        insert(table)
        .on_conflict_do_nothing(index_elements=["standing_order_id", "interval_id"])
        .returning(table.c.id)
    )
    for k in range(0, len(rows), 5000):
        result = await session.execute(stmt, rows[k : k + 5000])
        inserted += len(result.all())
    return inserted


async def _open_intervals(session: AsyncSession, now: datetime) -> list[Interval]:
    return list(
        (
            await session.scalars(
                select(Interval)
                .where(
                    Interval.status == IntervalStatus.OPEN.value, Interval.gate_closure_utc > now
                )
                .order_by(Interval.start_utc)
            )
        ).all()
    )


async def _withdraw(session: AsyncSession, rule_id: int, now: datetime) -> None:
    """Cancel the rule's orders in intervals that are still open (they will be re-placed)."""
    open_ids = select(Interval.id).where(
        Interval.status == IntervalStatus.OPEN.value, Interval.gate_closure_utc > now
    )
    await session.execute(
        update(Order)
        .where(
            Order.standing_order_id == rule_id,
            Order.status == OrderStatus.OPEN.value,
            Order.interval_id.in_(open_ids),
        )
        .values(status=OrderStatus.CANCELLED.value, updated_at=now, standing_order_id=None)
    )


def _parse_rule(
    cluster: Cluster,
    point: MeteringPoint,
    *,
    side: object,
    mode: object,
    quantity_kwh: object,
    price: object,
    weekdays: object,
    hour_from: object,
    hour_to: object,
    valid_from: date | None,
    valid_to: date | None,
) -> dict[str, object]:
    order_side = _parse_side(side)
    try:
        rule_mode = StandingMode(str(mode or "fixed").strip().lower())
    except ValueError:
        raise OrderRejected("mode", "must be 'fixed' or 'forecast'") from None
    quantity: Decimal | None = None
    if quantity_kwh not in (None, ""):
        quantity = parse_quantity(quantity_kwh)
        check_deliverable(quantity, point, cluster.interval_minutes)
    elif rule_mode is StandingMode.FIXED:
        raise OrderRejected("quantity_kwh", "a fixed standing order needs a quantity (kWh)")
    days = "".join(sorted(set(str(weekdays or "1234567").replace(",", "").replace(" ", ""))))
    if not days or any(d not in "1234567" for d in days):
        raise OrderRejected("weekdays", "use ISO weekday digits 1 (Monday) to 7 (Sunday)")
    try:
        start_h, end_h = int(str(hour_from)), int(str(hour_to))
    except ValueError:
        raise OrderRejected("hour_from", "hours must be whole numbers 0…24") from None
    if not 0 <= start_h < end_h <= 24:
        raise OrderRejected("hour_to", "need 0 ≤ hour_from < hour_to ≤ 24 (local time)")
    if valid_from and valid_to and valid_to < valid_from:
        raise OrderRejected("valid_to", "must not be before valid_from")
    return {
        "side": order_side.value,
        "mode": rule_mode.value,
        "quantity_kwh": quantity,
        "price": parse_price(price, cluster),
        "weekdays": days,
        "hour_from": start_h,
        "hour_to": end_h,
        "valid_from": valid_from,
        "valid_to": valid_to,
    }


_own_point = own_metering_point


async def create_standing_order(
    session: AsyncSession,
    actor: Actor,
    clock: Clock,
    *,
    metering_point_id: object,
    side: object,
    price: object,
    mode: object = "fixed",
    quantity_kwh: object = None,
    weekdays: object = "1234567",
    hour_from: object = 0,
    hour_to: object = 24,
    valid_from: date | None = None,
    valid_to: date | None = None,
) -> StandingOrderView:
    try:
        cluster = await get_cluster(session)
        point = await _own_point(session, actor, metering_point_id)
        fields = _parse_rule(
            cluster,
            point,
            side=side,
            mode=mode,
            quantity_kwh=quantity_kwh,
            price=price,
            weekdays=weekdays,
            hour_from=hour_from,
            hour_to=hour_to,
            valid_from=valid_from,
            valid_to=valid_to,
        )
        rule = StandingOrder(member_id=actor.member_id, metering_point_id=point.id, **fields)
        session.add(rule)
        await session.flush()
        audit.record(session, actor, "create", "standing_order", rule.id, details=fields)
        await materialise(session, cluster, await _open_intervals(session, clock.now()), [rule])
        view = _view(rule, point)
        await session.commit()
    except BaseException:
        await session.rollback()
        raise
    return view


async def _own_rule(session: AsyncSession, actor: Actor, rule_id: object) -> StandingOrder:
    try:
        key = int(str(rule_id))
    except ValueError:
        raise OrderRejected("standing_order_id", "must be a standing order id") from None
    rule = await session.get(StandingOrder, key)
    if rule is None:
        raise NotFound("standing_order_id", f"no standing order {key}")
    if rule.member_id != actor.member_id:
        raise Forbidden("standing_order_id", "this is not your standing order")
    return rule


async def update_standing_order(
    session: AsyncSession,
    actor: Actor,
    clock: Clock,
    rule_id: object,
    *,
    side: object,
    price: object,
    mode: object = "fixed",
    quantity_kwh: object = None,
    weekdays: object = "1234567",
    hour_from: object = 0,
    hour_to: object = 24,
    valid_from: date | None = None,
    valid_to: date | None = None,
) -> StandingOrderView:
    """Replace the rule's settings; its orders in still-open intervals are re-placed."""
    try:
        cluster = await get_cluster(session)
        rule = await _own_rule(session, actor, rule_id)
        point = await _own_point(session, actor, rule.metering_point_id)
        fields = _parse_rule(
            cluster,
            point,
            side=side,
            mode=mode,
            quantity_kwh=quantity_kwh,
            price=price,
            weekdays=weekdays,
            hour_from=hour_from,
            hour_to=hour_to,
            valid_from=valid_from,
            valid_to=valid_to,
        )
        for key, value in fields.items():
            setattr(rule, key, value)
        now = clock.now()
        await _withdraw(session, rule.id, now)
        audit.record(session, actor, "update", "standing_order", rule.id, details=fields)
        await session.flush()
        await materialise(session, cluster, await _open_intervals(session, now), [rule])
        view = _view(rule, point)
        await session.commit()
    except BaseException:
        await session.rollback()
        raise
    return view


async def set_standing_paused(
    session: AsyncSession, actor: Actor, clock: Clock, rule_id: object, paused: bool
) -> StandingOrderView:
    try:
        cluster = await get_cluster(session)
        rule = await _own_rule(session, actor, rule_id)
        point = await session.get(MeteringPoint, rule.metering_point_id)
        assert point is not None
        rule.paused = bool(paused)
        now = clock.now()
        if rule.paused:
            await _withdraw(session, rule.id, now)
        audit.record(session, actor, "pause" if paused else "resume", "standing_order", rule.id)
        await session.flush()
        if not rule.paused:
            await materialise(session, cluster, await _open_intervals(session, now), [rule])
        view = _view(rule, point)
        await session.commit()
    except BaseException:
        await session.rollback()
        raise
    return view


async def delete_standing_order(
    session: AsyncSession, actor: Actor, clock: Clock, rule_id: object
) -> None:
    """Delete the rule and withdraw its orders from intervals still open (past orders stay)."""
    try:
        rule = await _own_rule(session, actor, rule_id)
        await _withdraw(session, rule.id, clock.now())
        audit.record(session, actor, "delete", "standing_order", rule.id)
        await session.delete(rule)
        await session.commit()
    except BaseException:
        await session.rollback()
        raise


async def list_standing_orders(session: AsyncSession, actor: Actor) -> list[StandingOrderView]:
    rows = (
        await session.execute(
            select(StandingOrder, MeteringPoint)
            .join(MeteringPoint, StandingOrder.metering_point_id == MeteringPoint.id)
            .where(StandingOrder.member_id == actor.member_id)
            .order_by(StandingOrder.id)
        )
    ).all()
    return [_view(r, p) for r, p in rows]
