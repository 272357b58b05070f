"""Form bodies as posted by the pages (all text), and parsing that names the bad field.

Pages post `application/x-www-form-urlencoded`; every field arrives as text so that a typo
("12,5" with a decimal comma, an empty box) comes back as an inline message on that field with
HTTP 422, never as a generic 400. Both decimal comma and dot are accepted.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from litestar.params import QueryParameter
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Template

from market.core.errors import KlasterError
from market.trading.rules import (
    interval_key,
    parse_price_value,
    parse_quantity,
    parse_side,
    point_key,
)
from web.ui.i18n import connection_locale, translate_message
from web.ui.render import render

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


#: The order form's fields and their parsers (the ones `parse_order` uses), each checked on its
#: own so that a form with several mistakes shows them all at once.
ORDER_FIELDS: dict[str, Callable[[object], object]] = {
    "side": parse_side,
    "quantity_kwh": parse_quantity,
    "price": parse_price_value,
    "metering_point_id": point_key,
    "interval_id": interval_key,
}


def every_error(
    raw: Mapping[str, object], parsers: Mapping[str, Callable[[object], object]]
) -> list[KlasterError]:
    """Every field's error, not only the first (blank optional fields are the parsers' call)."""
    found = []
    for name, parse in parsers.items():
        try:
            parse(raw.get(name))
        except KlasterError as error:
            found.append(error)
    return found


def with_errors(
    request: HTMXRequest, template: str, errors: list[KlasterError], tz: str, **context: Any
) -> Template:
    """The form again with all its errors (422), each in the reader's language."""
    locale = connection_locale(request)
    shown = {
        e.field or "__all__": translate_message(e.message_id, e.params, locale, tz)
        for e in reversed(errors)  # the first error of a field wins
    }
    return render(request, template, status_code=422, errors=shown, **context)
