"""What a member asks for: an order (`OrderInput`), a change to one (`OrderChange`) or a
standing order (`StandingInput`), parsed once at the boundary from a form's strings or an
API's JSON by the same parser, so that every entry point gives the same field and message
for the same bad value."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from market.core.errors import OrderRejected
from market.core.fields import in_years
from market.core.money import read_int
from market.trading.day_ahead_models import Market
from market.trading.models import Side, StandingMode
from market.trading.rules import (
    interval_key,
    parse_client_order_id,
    parse_price_value,
    parse_quantity,
    parse_side,
    point_key,
)


@dataclass(frozen=True, slots=True)
class OrderInput:
    """One order as asked for. The rules that depend on stored state (price band, own point,
    open gate, deliverable quantity) are the pipeline's (`market.trading.pipeline`)."""

    interval_id: int
    metering_point_id: int
    side: Side
    quantity_kwh: Decimal
    price: Decimal
    #: The member's idempotency key: a retry with it returns the order placed the first time.
    client_order_id: str | None = None
    #: The interval's own (intraday) auction, or the day-ahead auction of its local day.
    market: Market = Market.INTRADAY


@dataclass(frozen=True, slots=True)
class OrderChange:
    """A new quantity and/or price for an open order (None: leave it)."""

    quantity_kwh: Decimal | None = None
    price: Decimal | None = None


def parse_order(raw: Mapping[str, object]) -> OrderInput:
    """An `OrderInput` from form or JSON values; the first bad field raises `OrderRejected`."""
    return OrderInput(
        client_order_id=parse_client_order_id(raw.get("client_order_id")),
        side=parse_side(raw.get("side")),
        quantity_kwh=parse_quantity(raw.get("quantity_kwh")),
        price=parse_price_value(raw.get("price")),
        metering_point_id=point_key(raw.get("metering_point_id")),
        interval_id=interval_key(raw.get("interval_id")),
    )


def parse_change(quantity_kwh: object = None, price: object = None) -> OrderChange:
    """An `OrderChange` from form or JSON values (empty: unchanged)."""
    return OrderChange(
        quantity_kwh=parse_quantity(quantity_kwh) if _given(quantity_kwh) else None,
        price=parse_price_value(price) if _given(price) else None,
    )


def _given(raw: object) -> bool:
    return raw is not None and str(raw).strip() != ""


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
    #: Orders into each interval's own auction, or into each day's day-ahead auction.
    market: Market = Market.INTRADAY


def _hour(raw: object, default: int) -> int:
    if not _given(raw):
        return default
    try:
        return read_int(raw)
    except ValueError:
        raise OrderRejected("hour_from", "hours must be whole numbers 0…24") from None


def _date(raw: object, field: str) -> date | None:
    if raw is None:
        return None
    if isinstance(raw, date):
        return in_years(raw, field)
    if not str(raw).strip():
        return None
    try:
        value = date.fromisoformat(str(raw).strip())
    except ValueError:
        raise OrderRejected(field, "must be a date (YYYY-MM-DD)") from None
    return in_years(value, field)


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
    try:
        market = Market(str(raw.get("market") or "id").strip().lower())
    except ValueError:
        raise OrderRejected("market", "must be 'id' (intraday) or 'da' (day-ahead)") from None
    return StandingInput(
        market=market,
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
