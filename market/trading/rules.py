"""Validation rules for orders and standing orders. Each failure names the field, and its
message id says the rule (params: the values involved, formatted by the web layer)."""

from __future__ import annotations

import functools
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from market.access.actor import Actor
from market.cluster.models import Cluster
from market.core.errors import Forbidden, NotFound, OrderRejected
from market.core.money import ENERGY_PLACES, PRICE_PLACES, decimal_places, read_decimal, read_id
from market.network.models import MeteringPoint
from market.trading.models import Side

MAX_CLIENT_ORDER_ID = 64
KWH = "kWh"
PLN_PER_KWH = "PLN/kWh"


def parse_side(raw: object) -> Side:
    try:
        return Side(str(raw).strip().lower())
    except ValueError:
        raise OrderRejected("side", "must be 'buy' or 'sell'") from None


def parse_amount(raw: object, field: str, unit: str) -> Decimal:
    """A finite Decimal from a form or JSON value ('.' or ',' as the decimal mark)."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        raise OrderRejected(field, "required (%(unit)s)", unit=unit)
    try:
        return read_decimal(raw)
    except ValueError:
        if str(raw).strip().lower().lstrip("+-") in ("nan", "snan", "inf", "infinity"):
            raise OrderRejected(field, "must be a finite number (%(unit)s)", unit=unit) from None
        raise OrderRejected(
            field, "must be a number (got %(value)s) (%(unit)s)", value=str(raw)[:50], unit=unit
        ) from None


def parse_quantity(raw: object, field: str = "quantity_kwh") -> Decimal:
    value = parse_amount(raw, field, KWH)
    if value <= 0:
        raise OrderRejected(field, "must be greater than 0 kWh (got %(quantity)s)", quantity=value)
    if decimal_places(value) > ENERGY_PLACES:
        raise OrderRejected(field, "at most 3 decimals: quantities are kept to the Wh")
    return value


def parse_price_value(raw: object, field: str = "price") -> Decimal:
    """A price's form: a number with at most 4 decimals (the band is `check_price_band`)."""
    value = parse_amount(raw, field, PLN_PER_KWH)
    if decimal_places(value) > PRICE_PLACES:
        raise OrderRejected(field, "at most 4 decimals (PLN/kWh, e.g. 0.4512)")
    return value


def check_price_band(value: Decimal, cluster: Cluster, field: str = "price") -> Decimal:
    """`value` if it lies in the cluster's price band (a rule that depends on stored state)."""
    if not cluster.price_floor <= value <= cluster.price_cap:
        raise OrderRejected(
            field,
            "must be between the price floor %(floor)s and the cap %(cap)s PLN/kWh (got %(price)s)",
            floor=cluster.price_floor,
            cap=cluster.price_cap,
            price=value,
        )
    return value


@functools.lru_cache(maxsize=4096)
def deliverable_kwh(contracted_power_kw: Decimal, minutes: int) -> Decimal:
    """What a contracted power can deliver (or take) in one interval. (Remembered: a day's
    standing orders ask it hundreds of thousands of times for a few powers.)"""
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
            "%(quantity)s kWh is more than metering point %(ppe)s can deliver in one "
            "%(minutes)s-minute interval (%(limit)s kWh at %(power)s kW contracted power)",
            quantity=quantity,
            ppe=point.ppe_code,
            minutes=minutes,
            limit=limit,
            power=point.contracted_power_kw,
        )


def parse_client_order_id(raw: object) -> str | None:
    if raw is None:
        return None
    value = str(raw).strip()
    if not value:
        return None
    if len(value) > MAX_CLIENT_ORDER_ID or not value.isprintable():
        raise OrderRejected(
            "client_order_id",
            "at most %(length)s printable characters",
            length=MAX_CLIENT_ORDER_ID,
        )
    return value


def point_key(point_id: object) -> int:
    try:
        return read_id(point_id)
    except ValueError:
        raise OrderRejected("metering_point_id", "choose one of your metering points") from None


def interval_key(interval_id: object) -> int:
    try:
        return read_id(interval_id)
    except ValueError:
        raise OrderRejected("interval_id", "must be an interval number id") from None


async def own_metering_point(session: AsyncSession, actor: Actor, key: int) -> MeteringPoint:
    """The actor's own, active metering point `key`, or the error that says why not."""
    return check_own_point(await session.get(MeteringPoint, key), key, actor)


def check_own_point(point: MeteringPoint | None, key: int, actor: Actor) -> MeteringPoint:
    """`point` (loaded for id `key`) if it is the actor's own and active, else why not."""
    if point is None:
        raise NotFound("metering_point_id", "no metering point %(id)s", id=key)
    if point.member_id != actor.member_id:
        raise Forbidden("metering_point_id", "you can only trade for your own metering points")
    if not point.active:
        raise OrderRejected(
            "metering_point_id", "metering point %(ppe)s is inactive", ppe=point.ppe_code
        )
    return point
