"""Validation rules for orders and standing orders. Each failure names the field and rule."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from market.access.actor import Actor
from market.cluster.models import Cluster
from market.core.errors import Forbidden, NotFound, OrderRejected
from market.core.money import ENERGY_PLACES, PRICE_PLACES, decimal_places, parse_decimal
from market.network.models import MeteringPoint
from market.trading.models import Side

MAX_CLIENT_ORDER_ID = 64


def parse_side(raw: object) -> Side:
    try:
        return Side(str(raw).strip().lower())
    except ValueError:
        raise OrderRejected("side", "must be 'buy' or 'sell'") from None


def parse_quantity(raw: object, field: str = "quantity_kwh") -> Decimal:
    try:
        value = parse_decimal(raw, field)
    except ValueError as exc:
        raise OrderRejected(field, f"{exc} (kWh)") from None
    if value <= 0:
        raise OrderRejected(field, f"must be greater than 0 kWh (got {value})")
    if decimal_places(value) > ENERGY_PLACES:
        raise OrderRejected(field, "at most 3 decimals: quantities are kept to the Wh")
    return value


def parse_price(raw: object, cluster: Cluster, field: str = "price") -> Decimal:
    try:
        value = parse_decimal(raw, field)
    except ValueError as exc:
        raise OrderRejected(field, f"{exc} (PLN/kWh)") from None
    if decimal_places(value) > PRICE_PLACES:
        raise OrderRejected(field, "at most 4 decimals (PLN/kWh, e.g. 0.4512)")
    if not cluster.price_floor <= value <= cluster.price_cap:
        raise OrderRejected(
            field,
            f"must be between the price floor {cluster.price_floor} and the cap "
            f"{cluster.price_cap} PLN/kWh (got {value})",
        )
    return value


def deliverable_kwh(contracted_power_kw: Decimal, minutes: int) -> Decimal:
    """What a contracted power can deliver (or take) in one interval."""
    return (contracted_power_kw * minutes / Decimal(60)).quantize(Decimal("0.001"))


def max_quantity_kwh(point: MeteringPoint, minutes: int) -> Decimal:
    return deliverable_kwh(point.contracted_power_kw, minutes)


def check_deliverable(
    quantity: Decimal, point: MeteringPoint, minutes: int, field: str = "quantity_kwh"
) -> None:
    limit = max_quantity_kwh(point, minutes)
    if quantity > limit:
        raise OrderRejected(
            field,
            f"{quantity} kWh is more than metering point {point.ppe_code} can deliver in one "
            f"{minutes}-minute interval ({limit} kWh at {point.contracted_power_kw} kW "
            "contracted power)",
        )


def parse_client_order_id(raw: object) -> str | None:
    if raw is None:
        return None
    value = str(raw).strip()
    if not value:
        return None
    if len(value) > MAX_CLIENT_ORDER_ID or not value.isprintable():
        raise OrderRejected("client_order_id", "at most 64 printable characters")
    return value


def point_key(point_id: object) -> int:
    try:
        return int(str(point_id))
    except ValueError:
        raise OrderRejected("metering_point_id", "choose one of your metering points") from None


async def own_metering_point(
    session: AsyncSession, actor: Actor, point_id: object
) -> MeteringPoint:
    """The actor's own, active metering point `point_id`, or the error that says why not."""
    key = point_key(point_id)
    return check_own_point(await session.get(MeteringPoint, key), key, actor)


def check_own_point(point: MeteringPoint | None, key: int, actor: Actor) -> MeteringPoint:
    """`point` (loaded for id `key`) if it is the actor's own and active, else why not."""
    if point is None:
        raise NotFound("metering_point_id", f"no metering point {key}")
    if point.member_id != actor.member_id:
        raise Forbidden("metering_point_id", "you can only trade for your own metering points")
    if not point.active:
        raise OrderRejected("metering_point_id", f"metering point {point.ppe_code} is inactive")
    return point
