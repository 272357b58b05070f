"""One exception hierarchy for the market domain.

Every error names the `field` it is about (a form field or a dotted path; "" when it concerns
the whole request) and a `message` that says what to fix. `web/` maps each class to a status:
`ValidationFailed`/`OrderRejected`/`GateClosed` → 422 (or 409 for a closed gate),
`NotFound` → 404, `Forbidden` → 403, `Conflict` → 409, `NotAuthenticated` → 401.
"""

from __future__ import annotations


class KlasterError(Exception):
    """Base of every error the market raises on purpose."""

    #: Suggested HTTP status for the web layer.
    status_code = 400

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.message = message

    def to_dict(self) -> dict[str, str]:
        return {"error": type(self).__name__, "field": self.field, "message": self.message}


class ValidationFailed(KlasterError):
    """A value breaks a rule (format, range, reference)."""

    status_code = 422


class OrderRejected(ValidationFailed):
    """An order breaks a market rule (quantity, price, metering point, interval)."""


class GateClosed(KlasterError):
    """The interval's gate has closed: no new, modified or cancelled orders."""

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
