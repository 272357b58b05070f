"""Standing orders: rules that place an order into every upcoming interval they match.

They are materialised (turned into ordinary orders tagged with `standing_order_id`) when an
interval is created, when a rule is created, changed or resumed (into the intervals still
open), and once more at gate closure, always before clearing. The unique pair
(standing_order_id, interval_id) makes materialisation idempotent. A rule's values are
checked by the same rules as an order's (`market.trading.rules`), and its orders' rows are
written by the order pipeline's `order_row`. Services here never commit.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass, replace
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from operator import attrgetter
from zoneinfo import ZoneInfo

import anyio
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from market.access import audit
from market.access.actor import Actor
from market.access.models import Role
from market.cluster.models import Cluster
from market.cluster.service import get_cluster
from market.core.clock import Clock, SystemClock
from market.core.errors import KlasterError, NotFound
from market.core.money import ENERGY
from market.metering.forecast import history_net_kwh
from market.metering.models import MeterReading
from market.metering.profiles import PointProfile, clock, net_kwh_at
from market.network.models import MeteringPoint
from market.trading import notifications
from market.trading.day_ahead_models import Market
from market.trading.intervals import for_share
from market.trading.models import (
    Interval,
    IntervalStatus,
    Order,
    OrderStatus,
    Side,
    StandingMode,
    StandingOrder,
)
from market.trading.order_input import OrderInput, StandingInput
from market.trading.pipeline import Gate, Locked, Placement, Submission, place, resolve_points
from market.trading.rules import (
    check_deliverable,
    check_price_band,
    deliverable_kwh,
    own_metering_point,
)

#: Forecast quantities below this are not worth an order (kWh).
MIN_FORECAST_KWH = Decimal("0.001")
#: A forecast below this float rounds (half even to the Wh, as `money.energy`) to less than
#: `MIN_FORECAST_KWH`: its rule places no order, and the Decimal rounding is skipped.
NO_ORDER_BELOW_KWH = float(MIN_FORECAST_KWH) / 2
#: Orders placed per pipeline call when materialising; the loop gets a turn between batches.
#: A day-ahead day places every rule's 92-100 orders (480,000 at 5,000 points); it runs in a
#: worker process (`market.db.offload`), where a big batch only saves statements.
PLACE_BATCH = 5000


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
    #: "id" (each interval's auction) or "da" (each day's day-ahead auction).
    market: str = "id"


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
        market=row.market,
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
    market: Market = Market.INTRADAY

    def applies(self, weekday: str, hour: int, day: date) -> bool:
        if weekday not in self.weekdays or not self.hour_from <= hour < self.hour_to:
            return False
        return not ((self.valid_from and day < self.valid_from) or
                    (self.valid_to and day > self.valid_to))  # fmt: skip


#: A rule's terms as `_rule_orders` reads them for each order: the rule, its point, fixed
#: (else forecast), sell (else buy), its quantity (a fixed one's, a forecast's cap) and owner.
_Terms = tuple[RuleTerms, int, bool, bool, Decimal | None, Actor]


@dataclass(frozen=True, slots=True)
class _Slot:
    """What an order row needs of an interval (`pipeline.order_row` reads `id`)."""

    id: int
    start_utc: datetime
    minutes: int
    local_day: date


def _rule_orders(
    rules: list[RuleTerms],
    points: dict[int, tuple[PointProfile, Decimal]],
    slots: list[_Slot],
    tz: str,
    seed: int,
    history: dict[tuple[int, datetime], float] | None = None,
) -> list[Submission]:
    """The orders the rules place into the intervals (pure; runs in a worker thread): price
    within the band, quantity within what the point can deliver. A forecast rule takes the
    point's net energy from `history` (its meter history, `market.metering.forecast`) where
    given for the interval, else from its synthetic profile."""
    zone = ZoneInfo(tz)
    history = history or {}
    orders: list[Submission] = []
    # A day's slots repeat the same (weekday, hour, day) four times an hour, and the same
    # member and point in every slot: what depends only on those is worked out once. (480,000
    # orders a day at 5,000 points: the per-order work is what counts.)
    applying: dict[tuple[str, int, date], list[_Terms]] = {}
    owners: dict[int, Actor] = {}
    limits: dict[tuple[int, int], Decimal] = {}
    member = Role.MEMBER.value
    # A forecast's float → its quantity (`energy`, written out): the same net energy recurs
    # (a point's load is hourly; a night's four quarters, the same hour of other days).
    wanted_of: dict[float, Decimal] = {}
    terms: list[_Terms] = []
    for rule in rules:
        owner = owners.get(rule.member_id)
        if owner is None:
            owner = owners[rule.member_id] = Actor(rule.member_id, member, "")
        terms.append((
            rule, rule.metering_point_id, rule.mode is StandingMode.FIXED,
            rule.side is Side.SELL, rule.quantity_kwh, owner,
        ))  # fmt: skip
    for slot in slots:
        local = slot.start_utc.astimezone(zone)
        key = (str(local.isoweekday()), local.hour, slot.local_day)
        active = applying.get(key)
        if active is None:
            active = applying[key] = [t for t in terms if t[0].applies(*key)]
        net: dict[int, float] = {}
        at = clock(slot.start_utc, slot.minutes, tz)  # `net_kwh`'s clock, once per slot
        for rule, pid, fixed, sell, cap, owner in active:
            if fixed:
                wanted = cap or Decimal(0)
            else:
                surplus = net.get(pid)
                if surplus is None:
                    known = history.get((pid, slot.start_utc))
                    profile, _kw = points[pid]
                    surplus = net[pid] = (
                        known if known is not None else net_kwh_at(profile, at, seed)
                    )
                if not sell:
                    surplus = -surplus
                if surplus < NO_ORDER_BELOW_KWH:
                    continue  # rounds to less than the minimum: no order (most nights' rules)
                found = wanted_of.get(surplus)
                if found is None:
                    # `energy` of a float, written out (no -0.0 here to tell from 0.0)
                    found = wanted_of[surplus] = Decimal(repr(max(0.0, surplus))).quantize(
                        ENERGY, ROUND_HALF_EVEN
                    )
                wanted = found
                if cap is not None and cap < wanted:
                    wanted = cap
            limit = limits.get((pid, slot.minutes))
            if limit is None:
                limit = limits[(pid, slot.minutes)] = deliverable_kwh(points[pid][1], slot.minutes)
            quantity = limit if limit < wanted else wanted
            if quantity < MIN_FORECAST_KWH:
                continue
            order = OrderInput(slot.id, pid, rule.side, quantity, rule.price, None, rule.market)
            orders.append(Submission(owner, order, rule.id))
    return orders


async def materialise(
    session: AsyncSession,
    cluster: Cluster,
    intervals: list[Interval],
    rules: list[StandingOrder] | None = None,
    *,
    clock: Clock | None = None,
    market: Market = Market.INTRADAY,
    refresh_forecast: bool = False,
) -> Placement:
    """Place the orders of active standing rules into the given intervals, through the order
    pipeline (idempotent: a rule's order already in an interval is not placed again). With
    `clock` (a member changing a rule) only intervals whose gate is ahead take them; without
    (the scheduler, creating intervals or closing a gate) open or just-closed ones. Returns
    the placement; the caller commits.

    `refresh_forecast` (the day-ahead gate): a forecast rule whose orders are in the day
    already (placed when the day opened) and whose point has meter history has them
    replaced if the forecast changed since (new meter data): its open orders of the day are
    cancelled and the current forecast's placed, in the caller's transaction
    (`_with_history`, `_replace_changed`)."""
    if not intervals:
        return Placement([])
    refresh: set[int] = set()
    if rules is None:
        query = select(StandingOrder).where(
            ~StandingOrder.paused, StandingOrder.market == market.value
        )
        if len(intervals) == 1:
            # At gate closure most rules are already in: load only the missing ones. (New
            # intervals, the other call, have none.)
            done = select(Order.standing_order_id).where(
                Order.interval_id == intervals[0].id, Order.standing_order_id.is_not(None)
            )
            query = query.where(StandingOrder.id.not_in(done))
        rules = list((await session.scalars(query)).all())
        placed: set[tuple[int, int]] = set()
        if market is Market.DAY_AHEAD and rules:
            # A day's auction takes them when it opens and again at its gate. A rule with
            # orders in the day was placed into it already (once per day, as a daily storage
            # order or block group is): at the gate only rules new since the day opened are,
            # and forecast rules whose forecast changed are replaced.
            in_day = await _rules_in_day(session, rules, intervals)
            if refresh_forecast:
                refresh = await _with_history(
                    session,
                    [r for r in rules if r.id in in_day and r.mode == StandingMode.FORECAST.value],
                    intervals,
                    cluster.timezone,
                )
            rules = [r for r in rules if r.id not in in_day or r.id in refresh]
            # The (rule, interval) pairs taken matter only for the rules left to place: a
            # rule not in the day has none, so only the refreshed rules' are read (not the
            # day's ~480,000 pairs, da13d).
            if refresh:
                placed = await _already_placed(
                    session, [r for r in rules if r.id in refresh], intervals
                )
    else:
        placed = await _already_placed(session, rules, intervals)
    rules = [r for r in rules if not r.paused and r.market == market.value]
    if not rules:
        return Placement([])
    # The cluster and the rules' points with their nodes, read once for the pipeline too
    # (`Locked.resolved`: each batch would read them again).
    resolved = await resolve_points(session, {r.metering_point_id for r in rules})
    points = {pid: p for pid, p in resolved.points.items() if p.active}
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
            market=Market(r.market),
        )
        for r in rules
        if r.metering_point_id in points
    ]
    slots = [_Slot(i.id, i.start_utc, i.minutes, i.local_day) for i in intervals]
    # Forecast rules read their points' meter history: one query per local day for all points.
    forecast_points = {r.metering_point_id for r in plain if r.mode is StandingMode.FORECAST}
    history = (
        await history_net_kwh(
            session, forecast_points, [s.start_utc for s in slots], cluster.timezone
        )
        if forecast_points and await _any_meter_data(session)
        else {}
    )
    submissions = await anyio.to_thread.run_sync(
        _rule_orders, plain, points_plain, slots, cluster.timezone, cluster.profile_seed, history
    )
    if refresh:
        submissions, placed = await _replace_changed(
            session, refresh, submissions, intervals, placed, (clock or SystemClock()).now()
        )
    if placed:
        submissions = [
            s for s in submissions if (s.standing_order_id, s.order.interval_id) not in placed
        ]
    # Point by point: a batch then names few metering points for the pipeline to look up.
    submissions.sort(key=attrgetter("order.metering_point_id"))
    gate = Gate.CLOSING if clock is None else Gate.OPEN
    # In batches, back to the event loop between them: a day-ahead day places every rule's
    # 92-100 orders at once (tens of thousands), and validating and inserting them in one go
    # would hold the loop for seconds (docs/benchmarks.md, day-ahead product).
    placement = Placement([])
    locked = None
    if submissions:
        # The intervals named, FOR SHARE, once for all batches (as `place` reads them for
        # each; a lock taken is held to the end of the transaction).
        named = await session.scalars(for_share({s.order.interval_id for s in submissions}))
        locked = Locked({iv.id: iv for iv in named}, {}, resolved)
    for k in range(0, len(submissions), PLACE_BATCH):
        part = await place(
            session,
            clock or SystemClock(),
            submissions[k : k + PLACE_BATCH],
            gate=gate,
            locked=locked,
        )
        placement.results.extend(part.results)
        placement.events.extend(part.events)
        placement.notified.extend(part.notified)
        if k + PLACE_BATCH < len(submissions):
            await asyncio.sleep(0)
    rejected = [
        (sub.actor.member_id, sub.standing_order_id, sub.order.interval_id, outcome)
        for sub, outcome in zip(submissions, placement.results, strict=True)
        if isinstance(outcome, KlasterError) and sub.standing_order_id is not None
    ]
    placement.notified = await notifications.record_rejections(session, rejected)
    return placement


async def _any_meter_data(session: AsyncSession) -> bool:
    """Whether any meter reading is stored at all: without one (a what-if simulation, a new
    cluster) no point has history, and the forecast's per-day probes and the instants they
    need (≈ 8 ms for a day's 96 intervals, twice a simulated day) are skipped."""
    return await session.scalar(select(MeterReading.start_utc).limit(1)) is not None


async def _with_history(
    session: AsyncSession, rules: list[StandingOrder], intervals: list[Interval], tz: str
) -> set[int]:
    """The forecast rules whose forecast may have changed since their orders were placed:
    those whose point has meter history for the intervals now. Without history a forecast
    is the point's synthetic profile, which does not change (one query per local day, as the
    forecast's own; a gate without meter data costs no more)."""
    if not rules or not await _any_meter_data(session):
        return set()
    history = await history_net_kwh(
        session, {r.metering_point_id for r in rules}, [i.start_utc for i in intervals], tz
    )
    with_data = {pid for pid, _start in history}
    return {r.id for r in rules if r.metering_point_id in with_data}


async def _replace_changed(
    session: AsyncSession,
    rule_ids: set[int],
    submissions: list[Submission],
    intervals: list[Interval],
    placed: set[tuple[int, int]],
    now: datetime,
) -> tuple[list[Submission], set[tuple[int, int]]]:
    """The day-ahead gate's refresh of forecast rules placed when the day opened. Per rule:
    the current forecast's orders (`submissions`) against the rule's open orders in the day
    (interval → quantity and price). Unchanged: its submissions are dropped (nothing to do).
    Changed: its open orders are cancelled (and unlinked from the rule, as `_withdraw` does)
    so that the submissions are placed in their stead by the pipeline. An interval whose
    order is no longer open (the member cancelled it) is left as it is. Returns the
    submissions and the (rule, interval) pairs still taken."""
    rows = (
        await session.execute(
            select(Order.standing_order_id, Order.interval_id, Order.status,
                   Order.quantity_kwh, Order.price)
            .where(
                Order.standing_order_id.in_(rule_ids),
                Order.interval_id.in_([i.id for i in intervals]),
            )
        )
    ).all()  # fmt: skip
    standing: dict[int, dict[int, tuple[Decimal, Decimal]]] = {r: {} for r in rule_ids}
    open_count: dict[int, int] = dict.fromkeys(rule_ids, 0)
    kept: set[tuple[int, int]] = set()  # pairs with an order that is not open: left alone
    for rule_id, interval_id, status, quantity, price in rows:
        assert rule_id is not None  # selected by it
        if status == OrderStatus.OPEN.value:
            standing[rule_id][interval_id] = (Decimal(quantity), Decimal(price))
            open_count[rule_id] += 1
        else:
            kept.add((rule_id, interval_id))
    wanted: dict[int, dict[int, tuple[Decimal, Decimal]]] = {r: {} for r in rule_ids}
    for sub in submissions:
        rule_id = sub.standing_order_id
        if (
            rule_id is not None
            and rule_id in rule_ids
            and ((rule_id, sub.order.interval_id) not in kept)
        ):
            wanted[rule_id][sub.order.interval_id] = (sub.order.quantity_kwh, sub.order.price)
    changed = {r for r in rule_ids if wanted[r] != standing[r]}
    if changed:
        # By rule and day, not by order id: a whole cluster's day is ~500,000 orders.
        await session.execute(
            update(Order)
            .where(
                Order.standing_order_id.in_(sorted(changed)),
                Order.interval_id.in_([i.id for i in intervals]),
                Order.status == OrderStatus.OPEN.value,
            )
            .values(status=OrderStatus.CANCELLED.value, updated_at=now, standing_order_id=None)
            .execution_options(synchronize_session=False)
        )
        for r in sorted(changed):
            audit.record(session, None, "forecast_replaced", "standing_order", r,
                         cancelled=open_count[r], placed=len(wanted[r]))  # fmt: skip
    unchanged = rule_ids - changed
    submissions = [s for s in submissions if s.standing_order_id not in unchanged]
    placed = {(r, i) for r, i in placed if r not in changed} | kept
    return submissions, placed


async def _rules_in_day(
    session: AsyncSession, rules: list[StandingOrder], intervals: list[Interval]
) -> set[int]:
    """The rules with an order (of any status) in one of the intervals: one probe of the
    unique (standing_order_id, interval_id) index per rule, not a row per order."""
    ids = [i.id for i in intervals]
    has_order = (
        select(Order.id)
        .where(Order.standing_order_id == StandingOrder.id, Order.interval_id.in_(ids))
        .exists()
    )
    found = await session.scalars(
        select(StandingOrder.id).where(StandingOrder.id.in_([r.id for r in rules]), has_order)
    )
    return set(found.all())


async def _already_placed(
    session: AsyncSession, rules: list[StandingOrder], intervals: list[Interval]
) -> set[tuple[int, int]]:
    """(rule, interval) pairs that have their order (a rule resumed twice, say)."""
    rows = await session.execute(
        select(Order.standing_order_id, Order.interval_id).where(
            Order.standing_order_id.in_([r.id for r in rules]),
            Order.interval_id.in_([i.id for i in intervals]),
        )
    )
    return {(rule_id, interval_id) for rule_id, interval_id in rows if rule_id is not None}


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
    fields["market"] = rule.market.value
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
    await materialise(
        session, cluster, await _open_intervals(session, clock.now()), [rule], clock=clock
    )
    point = await session.get(MeteringPoint, rule.metering_point_id)
    assert point is not None
    return _view(rule, point)


async def _own_rule(session: AsyncSession, actor: Actor, rule_id: int) -> StandingOrder:
    rule = await session.get(StandingOrder, rule_id)
    # Someone else's rule answers exactly as an unused id (a 403 would reveal that it exists).
    if rule is None or rule.member_id != actor.member_id:
        raise NotFound("standing_order_id", "no standing order %(id)s", id=rule_id)
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
    open_now = await _open_intervals(session, now)
    await materialise(session, cluster, open_now, [rule], clock=clock)
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
        open_now = await _open_intervals(session, now)
        await materialise(session, cluster, open_now, [rule], clock=clock)
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
