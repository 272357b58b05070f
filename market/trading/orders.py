"""Placing, modifying, cancelling and listing my orders.

Placing goes through the one order pipeline (`market.trading.pipeline`). Every service here
works in the caller's transaction (it never commits) and returns the view with the order-book
events for the caller to publish after its commit (`pipeline.publish`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from market.access import audit
from market.access.actor import Actor
from market.cluster.service import get_cluster
from market.core.clock import Clock
from market.core.errors import Conflict, NotFound, OrderRejected
from market.network.models import MeteringPoint
from market.trading.book import OrderView, member_orders, order_view, order_views
from market.trading.day_ahead_gate import auctions_still_open, day_ahead_interval
from market.trading.day_ahead_models import Market
from market.trading.halt import check_trading
from market.trading.intervals import open_interval, still_open
from market.trading.models import Interval, Order, OrderStatus
from market.trading.order_input import OrderChange, OrderInput
from market.trading.pipeline import Event, Submission, order_event, place_one
from market.trading.rules import check_deliverable, check_price_band


@dataclass(frozen=True, slots=True)
class OrderResult:
    """An order after a change, and the events to publish once the change is committed."""

    view: OrderView
    events: list[Event] = field(default_factory=list)


async def place_order(
    session: AsyncSession, actor: Actor, clock: Clock, order: OrderInput
) -> OrderResult:
    """Place one order. With a `client_order_id` already used by this member, the order
    placed with it, unchanged (a retried submission never makes a duplicate)."""
    placement = await place_one(session, clock, Submission(actor, order))
    view = placement.outcomes[0]
    assert isinstance(view, OrderView)
    return OrderResult(view, placement.events)


async def _own_open_order(session: AsyncSession, actor: Actor, order_id: int) -> Order:
    order = await session.scalar(select(Order).where(Order.id == order_id).with_for_update())
    # Someone else's order answers exactly as an unused id: a 403 would let a member count
    # (and date) every order in the market by walking the ids.
    if order is None or order.member_id != actor.member_id:
        raise NotFound("order_id", "no order %(id)s", id=order_id)
    if order.status != OrderStatus.OPEN.value:
        raise Conflict(
            "order_id",
            "order %(id)s is %(status)s; only open orders change",
            id=order_id,
            status=order.status,
        )
    return order


async def _result(session: AsyncSession, order: Order, interval: Interval) -> OrderResult:
    views = await order_views(session, [order.id])
    return OrderResult(views[order.id], [order_event(interval)])


async def _open_gate(
    session: AsyncSession, order: Order, now: datetime
) -> tuple[Interval, Callable[[], Awaitable[None]]]:
    """The order's interval if its gate (the day-ahead gate for a day-ahead order) is ahead,
    and the re-check to run after the write (`intervals.still_open`)."""
    if order.market == Market.DAY_AHEAD.value:
        interval, auction = await day_ahead_interval(session, order.interval_id, now)
        return interval, lambda: auctions_still_open(session, [auction])
    interval = await open_interval(session, order.interval_id, now)
    return interval, lambda: still_open(session, [interval])


async def modify_order(
    session: AsyncSession, actor: Actor, clock: Clock, order_id: int, change: OrderChange
) -> OrderResult:
    """Change quantity and/or price of my open order before its gate closes."""
    check_trading(await get_cluster(session))
    order = await _own_open_order(session, actor, order_id)
    now = clock.now()
    interval, still = await _open_gate(session, order, now)
    changes: dict[str, str] = {}
    if change.quantity_kwh is not None:
        point = await session.get(MeteringPoint, order.metering_point_id)
        assert point is not None
        check_deliverable(change.quantity_kwh, point, interval.minutes)
        changes["quantity_kwh"] = f"{order.quantity_kwh} -> {change.quantity_kwh}"
        order.quantity_kwh = change.quantity_kwh
    if change.price is not None:
        check_price_band(change.price, await get_cluster(session))
        changes["price"] = f"{order.price} -> {change.price}"
        order.price = change.price
    if not changes:
        raise OrderRejected("quantity_kwh", "give a new quantity or a new price")
    order.updated_at = now
    await session.flush()
    await still()
    audit.record(
        session, actor, "modify", "order", order.id, interval_id=interval.id, details=changes
    )
    await session.flush()
    return await _result(session, order, interval)


async def cancel_order(
    session: AsyncSession, actor: Actor, clock: Clock, order_id: int
) -> OrderResult:
    """Cancel my open order before its gate closes."""
    check_trading(await get_cluster(session))
    order = await _own_open_order(session, actor, order_id)
    now = clock.now()
    interval, still = await _open_gate(session, order, now)
    order.status = OrderStatus.CANCELLED.value
    order.updated_at = now
    await session.flush()
    await still()
    audit.record(session, actor, "cancel", "order", order.id, interval_id=interval.id)
    await session.flush()
    return await _result(session, order, interval)


async def list_my_orders(
    session: AsyncSession,
    actor: Actor,
    *,
    interval_id: int | None = None,
    status: str | None = None,
    limit: int = 100,
) -> list[OrderView]:
    query = (
        member_orders(actor)
        .order_by(Interval.start_utc.desc(), Order.id.desc())
        .limit(max(1, min(limit, 1000)))
    )
    if interval_id is not None:
        query = query.where(Order.interval_id == interval_id)
    if status:
        query = query.where(Order.status == status)
    rows = (await session.execute(query)).all()
    return [order_view(o, i, p, n) for o, i, p, n in rows]


async def find_my_order(session: AsyncSession, actor: Actor, order_id: int) -> OrderView | None:
    """One of my orders, if it is."""
    rows = (await session.execute(member_orders(actor).where(Order.id == order_id))).all()
    return order_view(*rows[0]) if rows else None
