"""/api/v1 trading: my metering points, orders (through the order intake's group commit), fills,
trades and standing orders."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from typing import Annotated, Any

from litestar import Request, Response, delete, get, patch, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from market.clearing import results
from market.members.queries import MyPointView, my_metering_points
from market.trading import book, orders, standing
from market.trading.order_input import parse_change, parse_order, parse_standing
from web.api.intake import OrderIntake, publish_later
from web.auth import requires_role
from web.deps import ClockDep, CurrentActor, Db, PublisherDep
from web.ratelimit import rate_limited


@dataclass
class NewOrder:
    interval_id: int
    metering_point_id: int
    side: str
    quantity_kwh: str
    price: str
    client_order_id: str | None = None


@dataclass
class OrderChange:
    quantity_kwh: str | None = None
    price: str | None = None


@dataclass
class NewStandingOrder:
    metering_point_id: int
    side: str
    price: str
    mode: str = "fixed"
    quantity_kwh: str | None = None
    weekdays: str = "1234567"
    hour_from: int = 0
    hour_to: int = 24
    valid_from: date | None = None
    valid_to: date | None = None
    #: "id": into each interval's own auction; "da": into each day's day-ahead auction.
    market: str = "id"


@dataclass
class Paused:
    paused: bool


member_only = [requires_role("member")]


@get("/metering-points", guards=member_only)
async def my_points(db: Db, actor: CurrentActor) -> list[MyPointView]:
    """My metering points."""
    return await my_metering_points(db, actor)


@get("/orders", guards=member_only)
async def my_orders(
    db: Db,
    actor: CurrentActor,
    interval_id: FromQuery[int | None] = None,
    status: FromQuery[str | None] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
) -> list[book.OrderView]:
    """My orders, newest first."""
    return await orders.list_my_orders(
        db, actor, interval_id=interval_id, status=status, limit=limit
    )


@post("/orders", guards=member_only, middleware=[rate_limited("order_limit")], status_code=201)
async def place_order(
    request: Request[Any, Any, Any], actor: CurrentActor, data: JSONBody[NewOrder]
) -> book.OrderView:
    """Place a bid (buy) or offer (sell). Retrying with the same `client_order_id` returns the
    order placed the first time. (Concurrent submissions are committed together.)"""
    intake: OrderIntake = request.app.state.services.intake
    return await intake.submit(actor, parse_order(asdict(data)))


@patch("/orders/{order_id:int}", guards=member_only)
async def modify_order(
    db: Db,
    actor: CurrentActor,
    clock: ClockDep,
    publisher: PublisherDep,
    order_id: FromPath[int],
    data: JSONBody[OrderChange],
) -> Response[book.OrderView]:
    """Change quantity and/or price until the gate closes."""
    change = parse_change(data.quantity_kwh, data.price)
    done = await orders.modify_order(db, actor, clock, order_id, change)
    return Response(done.view, background=publish_later(publisher, done.events))


@delete("/orders/{order_id:int}", guards=member_only, status_code=200)
async def cancel_order(
    db: Db,
    actor: CurrentActor,
    clock: ClockDep,
    publisher: PublisherDep,
    order_id: FromPath[int],
) -> Response[book.OrderView]:
    """Cancel until the gate closes."""
    done = await orders.cancel_order(db, actor, clock, order_id)
    return Response(done.view, background=publish_later(publisher, done.events))


@get("/fills", guards=member_only)
async def my_fills(
    db: Db,
    actor: CurrentActor,
    interval_id: FromQuery[int | None] = None,
    day: FromQuery[date | None] = None,
) -> list[book.FillView]:
    """My accepted quantities with price and amount."""
    return await book.my_fills(db, actor, interval_id=interval_id, day=day)


@get("/intervals/{interval_id:int}/trades", guards=member_only)
async def my_trades(
    db: Db, actor: CurrentActor, interval_id: FromPath[int]
) -> list[results.TradeView]:
    """My trades in an interval; counterparties by node unless they agreed to be named."""
    return await results.my_trades(db, actor, interval_id)


@get("/standing-orders", guards=member_only)
async def list_standing(db: Db, actor: CurrentActor) -> list[standing.StandingOrderView]:
    return await standing.list_standing_orders(db, actor)


@post("/standing-orders", guards=member_only, status_code=201)
async def create_standing(
    db: Db,
    actor: CurrentActor,
    clock: ClockDep,
    data: JSONBody[NewStandingOrder],
) -> standing.StandingOrderView:
    """A rule that places an order into every matching upcoming interval."""
    return await standing.create_standing_order(db, actor, clock, parse_standing(asdict(data)))


@patch("/standing-orders/{rule_id:int}", guards=member_only)
async def pause_standing(
    db: Db,
    actor: CurrentActor,
    clock: ClockDep,
    rule_id: FromPath[int],
    data: JSONBody[Paused],
) -> standing.StandingOrderView:
    """Pause (`{"paused": true}`) or resume a standing order."""
    return await standing.set_standing_paused(db, actor, clock, rule_id, data.paused)


@delete("/standing-orders/{rule_id:int}", guards=member_only, status_code=204)
async def delete_standing(
    db: Db, actor: CurrentActor, clock: ClockDep, rule_id: FromPath[int]
) -> None:
    await standing.delete_standing_order(db, actor, clock, rule_id)


HANDLERS: list[Any] = [
    my_points,
    my_orders,
    place_order,
    modify_order,
    cancel_order,
    my_fills,
    my_trades,
    list_standing,
    create_standing,
    pause_standing,
    delete_standing,
]
