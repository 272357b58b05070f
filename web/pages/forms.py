"""Form bodies as posted by the pages (all text), and parsing that names the bad field.

Pages post `application/x-www-form-urlencoded`; every field arrives as text so that a typo
("12,5" with a decimal comma, an empty box) comes back as an inline message on that field with
HTTP 422, never as a generic 400. Both decimal comma and dot are accepted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from litestar.params import QueryParameter

NextParam = Annotated[str | None, QueryParameter(name="next")]


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
