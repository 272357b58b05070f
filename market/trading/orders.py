"""Placing, modifying, cancelling and listing my orders. The order book and fills live in
`market.book` (re-exported here)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from market.access import audit
from market.access.actor import Actor
from market.access.models import AuditEntry
from market.cluster.service import get_cluster
from market.core.clock import Clock
from market.core.errors import Conflict, Forbidden, GateClosed, NotFound, OrderRejected
from market.core.events import ORDERBOOK, Publisher, publish_safely
from market.network.models import MeteringPoint, Node
from market.trading.book import (
    BookStep,
    FillView,
    OrderBookView,
    member_orders,
    my_fills,
    order_book,
)
from market.trading.models import Interval, IntervalStatus, Order, OrderStatus, Side
from market.trading.rules import (
    check_deliverable,
    own_metering_point,
    parse_client_order_id,
    parse_price,
    parse_quantity,
    parse_side,
)


@dataclass(frozen=True, slots=True)
class OrderView:
    id: int
    interval_id: int
    interval_start: datetime
    metering_point_id: int
    ppe_code: str
    node: str
    side: str
    quantity_kwh: Decimal
    price: Decimal
    status: str
    client_order_id: str | None
    standing_order_id: int | None
    accepted_kwh: Decimal | None
    clearing_price: Decimal | None
    amount_pln: Decimal | None
    created_at: datetime
    updated_at: datetime


async def _view(session: AsyncSession, order: Order) -> OrderView:
    interval = await session.get(Interval, order.interval_id)
    point = await session.get(MeteringPoint, order.metering_point_id)
    assert interval is not None and point is not None
    node = await session.get(Node, point.node_id)
    assert node is not None
    return _view_of(order, interval, point, node)


class OrderLike(Protocol):
    """An `Order` row, or its column values before one was loaded (the batched intake)."""

    id: int
    interval_id: int
    metering_point_id: int
    side: str
    quantity_kwh: Decimal
    price: Decimal
    status: str
    client_order_id: str | None
    standing_order_id: int | None
    accepted_kwh: Decimal | None
    clearing_price: Decimal | None
    amount_pln: Decimal | None
    created_at: datetime
    updated_at: datetime


def _view_of(order: OrderLike, interval: Interval, point: MeteringPoint, node: Node) -> OrderView:
    return OrderView(
        id=order.id,
        interval_id=order.interval_id,
        interval_start=interval.start_utc,
        metering_point_id=order.metering_point_id,
        ppe_code=point.ppe_code,
        node=node.code,
        side=order.side,
        quantity_kwh=order.quantity_kwh,
        price=order.price,
        status=order.status,
        client_order_id=order.client_order_id,
        standing_order_id=order.standing_order_id,
        accepted_kwh=order.accepted_kwh,
        clearing_price=order.clearing_price,
        amount_pln=order.amount_pln,
        created_at=order.created_at,
        updated_at=order.updated_at,
    )


def _interval_key(interval_id: object) -> int:
    try:
        return int(str(interval_id))
    except ValueError:
        raise OrderRejected("interval_id", "must be an interval number id") from None


def _check_open(interval: Interval | None, key: int, now: datetime) -> Interval:
    """`interval` (loaded for id `key`) if it takes orders at `now`, else the error why not."""
    if interval is None:
        raise NotFound("interval_id", f"no interval {key}")
    if interval.status != IntervalStatus.OPEN.value or now >= interval.gate_closure_utc:
        raise GateClosed(
            "interval_id",
            f"the gate for the interval starting {interval.start_utc:%Y-%m-%d %H:%M} UTC closed "
            f"at {interval.gate_closure_utc:%H:%M} UTC; choose a later interval",
        )
    return interval


def _for_share(keys: Iterable[int]) -> Select[Interval]:
    # FOR SHARE: a gate closing at this moment waits for this order's transaction, so the
    # clearing never misses an order that was accepted. Rows in id order: one lock order.
    return (
        select(Interval)
        .where(Interval.id.in_(sorted(set(keys))))
        .order_by(Interval.id)
        .with_for_update(read=True)
    )


async def _open_interval(session: AsyncSession, interval_id: object, now: datetime) -> Interval:
    key = _interval_key(interval_id)
    return _check_open(await session.scalar(_for_share([key])), key, now)


async def _still_open(session: AsyncSession, *intervals: Interval) -> None:
    """Re-check the gates inside the write transaction. On SQLite the write lock taken by our
    first write keeps a gate from closing until we commit, so a gate that closed between our
    first read and our write is caught here. On PostgreSQL the FOR SHARE lock taken when the
    interval was read does that already (closing a gate UPDATEs its row and waits for us):
    nothing to re-check, no round trip."""
    if session.get_bind().dialect.name != "sqlite":
        return
    rows = await session.execute(
        select(Interval.id, Interval.status).where(Interval.id.in_({iv.id for iv in intervals}))
    )
    status = {interval_id: value for interval_id, value in rows}
    for interval in intervals:
        if status.get(interval.id) != IntervalStatus.OPEN.value:
            raise GateClosed(
                "interval_id",
                f"the gate for the interval starting {interval.start_utc:%Y-%m-%d %H:%M} UTC "
                "has just closed; choose a later interval",
            )


_own_point = own_metering_point


def _event(interval: Interval) -> dict[str, object]:
    return {
        "type": ORDERBOOK,
        "interval_id": interval.id,
        "interval_start": interval.start_utc.isoformat(),
    }


def open_order_row(
    actor: Actor,
    point: MeteringPoint,
    interval: Interval,
    side: Side,
    quantity: Decimal,
    price: Decimal,
    client_id: str | None,
    now: datetime,
) -> dict[str, object]:
    """The column values of a newly placed order (one place for the single and the batched
    path)."""
    return {
        "member_id": actor.member_id,
        "metering_point_id": point.id,
        "interval_id": interval.id,
        "side": side.value,
        "quantity_kwh": quantity,
        "price": price,
        "status": OrderStatus.OPEN.value,
        "client_order_id": client_id,
        "standing_order_id": None,
        "created_at": now,
        "updated_at": now,
    }


def placed_entry(
    actor: Actor, order: OrderLike, interval: Interval, point: MeteringPoint
) -> dict[str, object]:
    """The audit entry of a placed order (the order has its id)."""
    return audit.row(
        actor,
        "place",
        "order",
        order.id,
        interval_id=interval.id,
        side=order.side,
        quantity_kwh=str(order.quantity_kwh),
        price=str(order.price),
        metering_point=point.ppe_code,
        client_order_id=order.client_order_id,
    )


async def place_order(
    session: AsyncSession,
    actor: Actor,
    clock: Clock,
    publisher: Publisher,
    *,
    interval_id: object,
    metering_point_id: object,
    side: object,
    quantity_kwh: object,
    price: object,
    client_order_id: object = None,
) -> OrderView:
    """Place an order. With a `client_order_id` already used by this member, return that
    order unchanged (a retried submission never makes a duplicate)."""
    try:
        client_id = parse_client_order_id(client_order_id)
        if client_id is not None:
            existing = await session.scalar(
                select(Order).where(
                    Order.member_id == actor.member_id, Order.client_order_id == client_id
                )
            )
            if existing is not None:
                return await _view(session, existing)
        cluster = await get_cluster(session)
        order_side = parse_side(side)
        quantity = parse_quantity(quantity_kwh)
        limit_price = parse_price(price, cluster)
        point = await _own_point(session, actor, metering_point_id)
        now = clock.now()
        interval = await _open_interval(session, interval_id, now)
        check_deliverable(quantity, point, interval.minutes)
        order = Order(
            **open_order_row(
                actor, point, interval, order_side, quantity, limit_price, client_id, now
            )
        )
        session.add(order)
        await session.flush()
        await _still_open(session, interval)
        session.add(AuditEntry(**placed_entry(actor, order, interval, point)))
        view = await _view(session, order)
        await session.commit()
    except IntegrityError:
        await session.rollback()
        if client_id is None:
            raise
        existing = await session.scalar(
            select(Order).where(
                Order.member_id == actor.member_id, Order.client_order_id == client_id
            )
        )
        if existing is None:
            raise
        return await _view(session, existing)
    except BaseException:
        await session.rollback()
        raise
    await publish_safely(publisher, ORDERBOOK, _event(interval))
    return view


async def _own_open_order(session: AsyncSession, actor: Actor, order_id: object) -> Order:
    try:
        key = int(str(order_id))
    except ValueError:
        raise OrderRejected("order_id", "must be an order id") from None
    order = await session.scalar(select(Order).where(Order.id == key).with_for_update())
    if order is None:
        raise NotFound("order_id", f"no order {key}")
    if order.member_id != actor.member_id:
        raise Forbidden("order_id", "this is not your order")
    if order.status != OrderStatus.OPEN.value:
        raise Conflict("order_id", f"order {key} is {order.status}; only open orders change")
    return order


async def modify_order(
    session: AsyncSession,
    actor: Actor,
    clock: Clock,
    publisher: Publisher,
    order_id: object,
    *,
    quantity_kwh: object = None,
    price: object = None,
) -> OrderView:
    """Change quantity and/or price of my open order before its gate closes."""
    try:
        order = await _own_open_order(session, actor, order_id)
        now = clock.now()
        interval = await _open_interval(session, order.interval_id, now)
        cluster = await get_cluster(session)
        changes: dict[str, str] = {}
        if quantity_kwh is not None and quantity_kwh != "":
            quantity = parse_quantity(quantity_kwh)
            point = await session.get(MeteringPoint, order.metering_point_id)
            assert point is not None
            check_deliverable(quantity, point, interval.minutes)
            changes["quantity_kwh"] = f"{order.quantity_kwh} -> {quantity}"
            order.quantity_kwh = quantity
        if price is not None and price != "":
            new_price = parse_price(price, cluster)
            changes["price"] = f"{order.price} -> {new_price}"
            order.price = new_price
        if not changes:
            raise OrderRejected("quantity_kwh", "give a new quantity or a new price")
        order.updated_at = now
        await session.flush()
        await _still_open(session, interval)
        audit.record(
            session, actor, "modify", "order", order.id, interval_id=interval.id, details=changes
        )
        await session.flush()
        view = await _view(session, order)
        await session.commit()
    except BaseException:
        await session.rollback()
        raise
    await publish_safely(publisher, ORDERBOOK, _event(interval))
    return view


async def cancel_order(
    session: AsyncSession, actor: Actor, clock: Clock, publisher: Publisher, order_id: object
) -> OrderView:
    """Cancel my open order before its gate closes."""
    try:
        order = await _own_open_order(session, actor, order_id)
        interval = await _open_interval(session, order.interval_id, clock.now())
        order.status = OrderStatus.CANCELLED.value
        order.updated_at = clock.now()
        await session.flush()
        await _still_open(session, interval)
        audit.record(session, actor, "cancel", "order", order.id, interval_id=interval.id)
        await session.flush()
        view = await _view(session, order)
        await session.commit()
    except BaseException:
        await session.rollback()
        raise
    await publish_safely(publisher, ORDERBOOK, _event(interval))
    return view


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
    return [_view_of(o, i, p, n) for o, i, p, n in rows]


__all__ = [
    "BookStep",
    "FillView",
    "OrderBookView",
    "OrderView",
    "cancel_order",
    "list_my_orders",
    "modify_order",
    "my_fills",
    "order_book",
    "place_order",
]
