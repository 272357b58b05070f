"""Standing orders: rules that place an order into every upcoming interval they match.

They are materialised (turned into ordinary orders tagged with `standing_order_id`) when an
interval is created, when a rule is created, changed or resumed (into the intervals still
open), and once more at gate closure, always before clearing. The unique pair
(standing_order_id, interval_id) makes materialisation idempotent. A rule's values are
checked by the same rules as an order's (`market.trading.rules`), and its orders' rows are
written by the order pipeline's `order_row`. Services here never commit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
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
from market.access.models import Role
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
    Side,
    StandingMode,
    StandingOrder,
)
from market.trading.order_input import OrderInput
from market.trading.pipeline import Submission, order_row
from market.trading.rules import (
    check_deliverable,
    check_price_band,
    deliverable_kwh,
    own_metering_point,
    parse_price_value,
    parse_quantity,
    parse_side,
    point_key,
)

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


@dataclass(frozen=True, slots=True)
class StandingInput:
    """A standing order as asked for (from a form or JSON, by `parse_standing`)."""

    metering_point_id: int
    side: Side
    price: Decimal
    mode: StandingMode = StandingMode.FIXED
    #: Per interval; with mode "forecast" an optional cap.
    quantity_kwh: Decimal | None = None
    #: ISO weekday digits, e.g. "12345".
    weekdays: str = "1234567"
    hour_from: int = 0
    hour_to: int = 24
    valid_from: date | None = None
    valid_to: date | None = None


def _given(raw: object) -> bool:
    return raw is not None and str(raw).strip() != ""


def _hour(raw: object, default: int) -> int:
    if not _given(raw):
        return default
    try:
        return int(str(raw).strip())
    except ValueError:
        raise OrderRejected("hour_from", "hours must be whole numbers 0…24") from None


def _date(raw: object, field: str) -> date | None:
    if isinstance(raw, date) or raw is None:
        return raw
    if not str(raw).strip():
        return None
    try:
        return date.fromisoformat(str(raw).strip())
    except ValueError:
        raise OrderRejected(field, "must be a date (YYYY-MM-DD)") from None


def parse_standing(raw: Mapping[str, object]) -> StandingInput:
    """A `StandingInput` from form or JSON values; the first bad field raises. The values an
    order also has are parsed as an order's are (`market.trading.rules`)."""
    point = point_key(raw.get("metering_point_id"))
    side = parse_side(raw.get("side"))
    try:
        mode = StandingMode(str(raw.get("mode") or "fixed").strip().lower())
    except ValueError:
        raise OrderRejected("mode", "must be 'fixed' or 'forecast'") from None
    quantity = parse_quantity(raw["quantity_kwh"]) if _given(raw.get("quantity_kwh")) else None
    if quantity is None and mode is StandingMode.FIXED:
        raise OrderRejected("quantity_kwh", "a fixed standing order needs a quantity (kWh)")
    price = parse_price_value(raw.get("price"))
    weekdays = str(raw.get("weekdays") or "1234567").replace(",", "").replace(" ", "")
    days = "".join(sorted(set(weekdays)))
    if not days or any(d not in "1234567" for d in days):
        raise OrderRejected("weekdays", "use ISO weekday digits 1 (Monday) to 7 (Sunday)")
    start_h, end_h = _hour(raw.get("hour_from"), 0), _hour(raw.get("hour_to"), 24)
    if not 0 <= start_h < end_h <= 24:
        raise OrderRejected("hour_to", "need 0 ≤ hour_from < hour_to ≤ 24 (local time)")
    valid_from = _date(raw.get("valid_from"), "valid_from")
    valid_to = _date(raw.get("valid_to"), "valid_to")
    if valid_from and valid_to and valid_to < valid_from:
        raise OrderRejected("valid_to", "must not be before valid_from")
    return StandingInput(
        metering_point_id=point,
        side=side,
        price=price,
        mode=mode,
        quantity_kwh=quantity,
        weekdays=days,
        hour_from=start_h,
        hour_to=end_h,
        valid_from=valid_from,
        valid_to=valid_to,
    )


def profile_of(point: MeteringPoint) -> PointProfile:
    return PointProfile(
        key=point.ppe_code,
        load_profile=point.load_profile,
        annual_use_kwh=float(point.annual_use_kwh),
        pv_kwp=float(point.pv_kwp),
        other_generation_kw=float(point.other_generation_kw),
    )


@dataclass(frozen=True, slots=True)
class RuleTerms:
    """A rule's terms as plain values (no ORM object), for the worker thread."""

    id: int
    member_id: int
    metering_point_id: int
    side: Side
    mode: StandingMode
    quantity_kwh: Decimal | None
    #: Within the current price band.
    price: Decimal
    weekdays: str
    hour_from: int
    hour_to: int
    valid_from: date | None
    valid_to: date | None

    def applies(self, weekday: str, hour: int, day: date) -> bool:
        if weekday not in self.weekdays or not self.hour_from <= hour < self.hour_to:
            return False
        return not ((self.valid_from and day < self.valid_from) or
                    (self.valid_to and day > self.valid_to))  # fmt: skip


@dataclass(frozen=True, slots=True)
class _Slot:
    """What an order row needs of an interval (`pipeline.order_row` reads `id`)."""

    id: int
    start_utc: datetime
    minutes: int
    local_day: date


@dataclass(frozen=True, slots=True)
class _Point:
    id: int


def _order_rows(
    rules: list[RuleTerms],
    points: dict[int, tuple[PointProfile, Decimal]],
    slots: list[_Slot],
    tz: str,
    seed: int,
) -> list[dict[str, object]]:
    """The orders the rules place into the intervals (pure; runs in a worker thread). Each
    is a valid order by construction: price within the band, quantity within what the
    point can deliver."""
    now = datetime.now(tz=ZoneInfo("UTC"))
    zone = ZoneInfo(tz)
    rows = []
    for slot in slots:
        local = slot.start_utc.astimezone(zone)
        weekday, hour = str(local.isoweekday()), local.hour
        net: dict[int, float] = {}
        for rule in rules:
            if not rule.applies(weekday, hour, slot.local_day):
                continue
            pid = rule.metering_point_id
            profile, contracted_kw = points[pid]
            if rule.mode is StandingMode.FIXED:
                wanted = rule.quantity_kwh or Decimal(0)
            else:
                if pid not in net:
                    net[pid] = net_kwh(profile, slot.start_utc, slot.minutes, tz, seed)
                surplus = net[pid] if rule.side is Side.SELL else -net[pid]
                wanted = energy(max(0.0, surplus))
                if rule.quantity_kwh is not None:
                    wanted = min(wanted, rule.quantity_kwh)
            quantity = min(wanted, deliverable_kwh(contracted_kw, slot.minutes))
            if quantity < MIN_FORECAST_KWH:
                continue
            order = OrderInput(slot.id, pid, rule.side, quantity, rule.price)
            owner = Actor(rule.member_id, Role.MEMBER.value, "")
            submission = Submission(owner, order, standing_order_id=rule.id)
            rows.append(order_row(submission, cast(Any, _Point(pid)), cast(Any, slot), now))
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
        RuleTerms(
            id=r.id,
            member_id=r.member_id,
            metering_point_id=r.metering_point_id,
            side=Side(r.side),
            mode=StandingMode(r.mode),
            quantity_kwh=r.quantity_kwh,
            price=min(max(r.price, floor), cap_price),
            weekdays=r.weekdays,
            hour_from=r.hour_from,
            hour_to=r.hour_to,
            valid_from=r.valid_from,
            valid_to=r.valid_to,
        )
        for r in rules
        if r.metering_point_id in points
    ]
    slots = [_Slot(i.id, i.start_utc, i.minutes, i.local_day) for i in intervals]
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


async def _checked(
    session: AsyncSession, cluster: Cluster, actor: Actor, rule: StandingInput
) -> dict[str, object]:
    """The rule's column values, after the rules that depend on stored state (the same as an
    order's: own active point, price band, deliverable quantity)."""
    point = await own_metering_point(session, actor, rule.metering_point_id)
    check_price_band(rule.price, cluster)
    if rule.quantity_kwh is not None:
        check_deliverable(rule.quantity_kwh, point, cluster.interval_minutes)
    fields = asdict(rule)
    fields["side"], fields["mode"] = rule.side.value, rule.mode.value
    return fields


def _details(fields: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in fields.items() if k != "metering_point_id"}


async def create_standing_order(
    session: AsyncSession, actor: Actor, clock: Clock, rule_input: StandingInput
) -> StandingOrderView:
    """A rule, and its orders in the intervals still open."""
    cluster = await get_cluster(session)
    fields = await _checked(session, cluster, actor, rule_input)
    rule = StandingOrder(member_id=actor.member_id, **fields)
    session.add(rule)
    await session.flush()
    audit.record(session, actor, "create", "standing_order", rule.id, details=_details(fields))
    await materialise(session, cluster, await _open_intervals(session, clock.now()), [rule])
    point = await session.get(MeteringPoint, rule.metering_point_id)
    assert point is not None
    return _view(rule, point)


async def _own_rule(session: AsyncSession, actor: Actor, rule_id: int) -> StandingOrder:
    rule = await session.get(StandingOrder, rule_id)
    if rule is None:
        raise NotFound("standing_order_id", "no standing order %(id)s", id=rule_id)
    if rule.member_id != actor.member_id:
        raise Forbidden("standing_order_id", "this is not your standing order")
    return rule


async def update_standing_order(
    session: AsyncSession, actor: Actor, clock: Clock, rule_id: int, rule_input: StandingInput
) -> StandingOrderView:
    """Replace the rule's settings (its metering point stays); its orders in still-open
    intervals are re-placed."""
    cluster = await get_cluster(session)
    rule = await _own_rule(session, actor, rule_id)
    same_point = replace(rule_input, metering_point_id=rule.metering_point_id)
    fields = await _checked(session, cluster, actor, same_point)
    for key, value in fields.items():
        setattr(rule, key, value)
    now = clock.now()
    await _withdraw(session, rule.id, now)
    audit.record(session, actor, "update", "standing_order", rule.id, details=_details(fields))
    await session.flush()
    await materialise(session, cluster, await _open_intervals(session, now), [rule])
    point = await session.get(MeteringPoint, rule.metering_point_id)
    assert point is not None
    return _view(rule, point)


async def set_standing_paused(
    session: AsyncSession, actor: Actor, clock: Clock, rule_id: int, paused: bool
) -> StandingOrderView:
    cluster = await get_cluster(session)
    rule = await _own_rule(session, actor, rule_id)
    point = await session.get(MeteringPoint, rule.metering_point_id)
    assert point is not None
    rule.paused = paused
    now = clock.now()
    if rule.paused:
        await _withdraw(session, rule.id, now)
    audit.record(session, actor, "pause" if paused else "resume", "standing_order", rule.id)
    await session.flush()
    if not rule.paused:
        await materialise(session, cluster, await _open_intervals(session, now), [rule])
    return _view(rule, point)


async def delete_standing_order(
    session: AsyncSession, actor: Actor, clock: Clock, rule_id: int
) -> None:
    """Delete the rule and withdraw its orders from intervals still open (past orders stay)."""
    rule = await _own_rule(session, actor, rule_id)
    await _withdraw(session, rule.id, clock.now())
    audit.record(session, actor, "delete", "standing_order", rule.id)
    await session.delete(rule)
    await session.flush()


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
