"""Reading the market: the public order book of an interval (volume by price step, no
identities), a member's orders (`OrderView`) and fills."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Protocol

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from market.access.actor import Actor
from market.core.errors import NotFound
from market.network.models import MeteringPoint, Node
from market.trading.models import Interval, IntervalStatus, Order, OrderStatus, Side


@dataclass(frozen=True, slots=True)
class BookStep:
    price: Decimal
    quantity_kwh: Decimal
    #: Cumulative quantity from the most attractive price (the supply/demand curve).
    cumulative_kwh: Decimal
    orders: int


@dataclass(frozen=True, slots=True)
class OrderBookView:
    interval_id: int
    interval_start: datetime
    status: str
    #: Buy side, highest price first.
    bids: list[BookStep]
    #: Sell side, lowest price first.
    asks: list[BookStep]

    @property
    def buy_kwh(self) -> Decimal:
        return self.bids[-1].cumulative_kwh if self.bids else Decimal("0.000")

    @property
    def sell_kwh(self) -> Decimal:
        return self.asks[-1].cumulative_kwh if self.asks else Decimal("0.000")


async def order_book(session: AsyncSession, interval_id: int) -> OrderBookView:
    """Volume by price step per side, without identities. Open orders while the interval is
    open; every order that went into the clearing afterwards."""
    interval = await session.get(Interval, interval_id)
    if interval is None:
        raise NotFound("interval_id", "no interval %(id)s", id=interval_id)
    live = [OrderStatus.OPEN.value]
    if interval.status in (IntervalStatus.CLEARED.value, IntervalStatus.FAILED.value):
        live = [OrderStatus.FILLED.value, OrderStatus.PARTLY_FILLED.value]
        live.append(OrderStatus.UNFILLED.value)
    rows = (
        await session.execute(
            select(
                Order.side,
                Order.price,
                func.sum(Order.quantity_kwh).label("quantity"),
                func.count(Order.id),
            )
            .where(Order.interval_id == interval_id, Order.status.in_(live))
            .group_by(Order.side, Order.price)
        )
    ).all()
    steps: dict[str, list[tuple[Decimal, Decimal, int]]] = {"buy": [], "sell": []}
    for side, step_price, quantity, count in rows:
        steps[side].append((step_price, Decimal(quantity).quantize(Decimal("0.001")), count))

    def curve(items: list[tuple[Decimal, Decimal, int]], descending: bool) -> list[BookStep]:
        out, total = [], Decimal("0.000")
        for p, q, c in sorted(items, key=lambda t: t[0], reverse=descending):
            total += q
            out.append(BookStep(p, q, total, c))
        return out

    return OrderBookView(
        interval_id=interval.id,
        interval_start=interval.start_utc,
        status=interval.status,
        bids=curve(steps[Side.BUY.value], True),
        asks=curve(steps[Side.SELL.value], False),
    )


@dataclass(frozen=True, slots=True)
class FillView:
    order_id: int
    interval_id: int
    interval_start: datetime
    local_day: date
    number: int
    ppe_code: str
    node: str
    side: str
    quantity_kwh: Decimal
    limit_price: Decimal
    accepted_kwh: Decimal
    clearing_price: Decimal
    #: Paid (buy) or received (sell), PLN.
    amount_pln: Decimal
    status: str


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


class OrderLike(Protocol):
    """An `Order` row, or its column values before one was loaded (the bulk insert)."""

    @property
    def id(self) -> int: ...
    @property
    def interval_id(self) -> int: ...
    @property
    def metering_point_id(self) -> int: ...
    @property
    def side(self) -> str: ...
    @property
    def quantity_kwh(self) -> Decimal: ...
    @property
    def price(self) -> Decimal: ...
    @property
    def status(self) -> str: ...
    @property
    def client_order_id(self) -> str | None: ...
    @property
    def standing_order_id(self) -> int | None: ...
    @property
    def accepted_kwh(self) -> Decimal | None: ...
    @property
    def clearing_price(self) -> Decimal | None: ...
    @property
    def amount_pln(self) -> Decimal | None: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def updated_at(self) -> datetime: ...


def order_view(order: OrderLike, interval: Interval, point: MeteringPoint, node: Node) -> OrderView:
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


def with_context() -> Select[Order, Interval, MeteringPoint, Node]:
    """Orders, each with its interval, metering point and node."""
    return (
        select(Order, Interval, MeteringPoint, Node)
        .join(Interval, Order.interval_id == Interval.id)
        .join(MeteringPoint, Order.metering_point_id == MeteringPoint.id)
        .join(Node, MeteringPoint.node_id == Node.id)
    )


async def order_views(session: AsyncSession, ids: Collection[int]) -> dict[int, OrderView]:
    """The views of orders `ids`, in one statement."""
    if not ids:
        return {}
    rows = (await session.execute(with_context().where(Order.id.in_(ids)))).all()
    return {o.id: order_view(o, i, p, n) for o, i, p, n in rows}


def member_orders(actor: Actor) -> Select[Order, Interval, MeteringPoint, Node]:
    """The actor's orders, each with its interval, metering point and node."""
    return with_context().where(Order.member_id == actor.member_id)


async def my_fills(
    session: AsyncSession,
    actor: Actor,
    *,
    interval_id: int | None = None,
    day: date | None = None,
    limit: int = 200,
) -> list[FillView]:
    query = (
        member_orders(actor)
        .where(Order.accepted_kwh > 0)
        .order_by(Interval.start_utc.desc(), Order.id)
        .limit(max(1, min(limit, 5000)))
    )
    if interval_id is not None:
        query = query.where(Order.interval_id == interval_id)
    if day is not None:
        query = query.where(Interval.local_day == day)
    rows = (await session.execute(query)).all()
    return [
        FillView(
            order_id=o.id,
            interval_id=i.id,
            interval_start=i.start_utc,
            local_day=i.local_day,
            number=i.number,
            ppe_code=p.ppe_code,
            node=n.code,
            side=o.side,
            quantity_kwh=o.quantity_kwh,
            limit_price=o.price,
            accepted_kwh=o.accepted_kwh or Decimal("0.000"),
            clearing_price=o.clearing_price or Decimal("0.0000"),
            amount_pln=o.amount_pln or Decimal("0.00"),
            status=o.status,
        )
        for o, i, p, n in rows
    ]
