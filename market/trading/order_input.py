"""What a member asks for: an order (`OrderInput`) or a change to one (`OrderChange`), parsed
once at the boundary from a form's strings or an API's JSON by the same parser, so that every
entry point gives the same field and message for the same bad value."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from market.trading.models import Side
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


def _given(raw: object) -> bool:
    return raw is not None and str(raw).strip() != ""


def parse_change(quantity_kwh: object = None, price: object = None) -> OrderChange:
    """An `OrderChange` from form or JSON values (empty: unchanged)."""
    return OrderChange(
        quantity_kwh=parse_quantity(quantity_kwh) if _given(quantity_kwh) else None,
        price=parse_price_value(price) if _given(price) else None,
    )
