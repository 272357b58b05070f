"""Form bodies as posted by the pages (all text), and parsing that names the bad field.

Pages post `application/x-www-form-urlencoded`; every field arrives as text so that a typo
("12,5" with a decimal comma, an empty box) comes back as an inline message on that field with
HTTP 422, never as a generic 400. Both decimal comma and dot are accepted.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Annotated

from litestar.params import QueryParameter

from market.core.errors import ValidationFailed

NextParam = Annotated[str | None, QueryParameter(name="next")]


def parse_decimal(text: str | None, field: str, *, required: bool = True) -> Decimal | None:
    raw = (text or "").strip().replace("\u00a0", "").replace(" ", "").replace(",", ".")
    if not raw:
        if required:
            raise ValidationFailed(field, "enter a number")
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise ValidationFailed(field, "enter a number, e.g. 12,5") from None
    if not value.is_finite():
        raise ValidationFailed(field, "enter a number, e.g. 12,5")
    return value


def parse_int(text: str | None, field: str, *, required: bool = True) -> int | None:
    raw = (text or "").strip()
    if not raw:
        if required:
            raise ValidationFailed(field, "choose a value")
        return None
    try:
        return int(raw)
    except ValueError:
        raise ValidationFailed(field, "choose a value") from None


@dataclass
class LoginForm:
    login: str = ""
    password: str = ""
    next: str = ""


@dataclass
class OrderForm:
    interval_id: str = ""
    metering_point_id: str = ""
    side: str = ""
    quantity_kwh: str = ""
    price: str = ""
    client_order_id: str = ""


@dataclass
class ModifyOrderForm:
    quantity_kwh: str = ""
    price: str = ""


@dataclass
class StandingForm:
    metering_point_id: str = ""
    side: str = ""
    mode: str = "fixed"
    quantity_kwh: str = ""
    price: str = ""
    hour_from: str = "0"
    hour_to: str = "24"
    weekdays: str = "1234567"
