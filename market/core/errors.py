"""One exception hierarchy for the market domain.

Every error names the `field` it is about (a form field or a dotted path; "" when it concerns
the whole request), a `message_id` and its `params`. The message id is the English text with
`%(name)s` placeholders (gettext style): it is the key of the translation catalogue in
`web/locale/`, so pages translate the id and format the params for the reader's locale
(decimal comma, Europe/Warsaw times) — never by matching English sentences. `message` is the
English text with the params filled in (logs, the CLI, the API's `message`).

    raise ValidationFailed("quantity_kwh", "must be at least %(minimum)s kWh", minimum=q)

`web/` maps each class to a status: `ValidationFailed`/`OrderRejected` → 422,
`GateClosed` → 409, `NotFound` → 404, `Forbidden` → 403, `Conflict` → 409,
`NotAuthenticated` → 401.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal

#: What a message parameter may be; the web layer formats each kind for the locale.
Param = str | int | Decimal | float | date | datetime


class KlasterError(Exception):
    """Base of every error the market raises on purpose."""

    #: Suggested HTTP status for the web layer.
    status_code = 400

    def __init__(self, field: str, message_id: str, /, **params: Param) -> None:
        self.field = field
        self.message_id = message_id
        self.params: Mapping[str, Param] = params
        self.message = render_message(message_id, params)
        super().__init__(f"{field}: {self.message}" if field else self.message)

    def to_dict(self) -> dict[str, object]:
        return {
            "error": type(self).__name__,
            "field": self.field,
            "message": self.message,
            "message_id": self.message_id,
            "params": {k: _plain(v) for k, v in self.params.items()},
        }


def render_message(message_id: str, params: Mapping[str, Param]) -> str:
    """The English text: `message_id` with its params (ISO dates, plain decimals)."""
    if not params:
        return message_id
    return message_id % {k: _plain(v) for k, v in params.items()}


def _plain(value: Param) -> str | int | float:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


class ValidationFailed(KlasterError):
    """A value breaks a rule (format, range, reference)."""

    status_code = 422


class OrderRejected(ValidationFailed):
    """An order breaks a market rule (quantity, price, metering point, interval)."""


class GateClosed(KlasterError):
    """The interval's gate has closed: no new, modified or cancelled orders."""

    status_code = 409


class MarketHalted(KlasterError):
    """The coordinator has halted the market: no new, modified or cancelled orders."""

    status_code = 409


class NotFound(KlasterError):
    status_code = 404


class Forbidden(KlasterError):
    """The actor may not do this (someone else's order, wrong role)."""

    status_code = 403


class NotAuthenticated(KlasterError):
    status_code = 401


class Conflict(KlasterError):
    """The request clashes with the current state (duplicate, already cancelled...)."""

    status_code = 409
