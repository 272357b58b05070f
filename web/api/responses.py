"""What the OpenAPI document says each API operation answers besides success: every status
the app can return for it, each with the real error body (`web.errors.ErrorBody`).

Derived once from each handler's declaration, so a new handler is documented like the rest:
- every operation: 400 (a malformed body or parameter), 422 (a value refused, also by the
  request-level check `web.input_guard`), 503 (the database cannot be reached);
- a guard: 401 (no or a bad token) and 403 (a role that may not);
- a path parameter, a body or an id in the query: 404 (no such record);
- a body: 409 (clashes with the current state: gate closed, duplicate) and 413 (too large);
- a rate limit: 429 (with Retry-After).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec

from web.errors import ErrorBody

DESCRIPTIONS = {
    400: "The request could not be understood (malformed body or parameter).",
    401: "Not signed in: no token, or a token that is not valid.",
    403: "Signed in with a role that may not do this.",
    404: "No such record (or not yours).",
    409: "Conflicts with the current state (gate closed, duplicate, already cancelled).",
    413: "The request body is too large.",
    422: "A value was refused; `field` names it and `message` says what to fix.",
    429: "Too many requests; retry after the `Retry-After` seconds.",
    503: "The market's database cannot be reached; retry in a moment.",
}


def statuses(handler: HTTPRouteHandler) -> set[int]:
    """The error statuses `handler` can answer (see the module's docstring)."""
    found = {400, 422, 503}
    methods = set(handler.http_methods)
    if handler.guards:
        found |= {401, 403}
    has_body = bool(methods & {"POST", "PUT", "PATCH"})
    if "{" in "".join(handler.paths) or has_body or "DELETE" in methods:
        found.add(404)
    if has_body or "DELETE" in methods:
        found |= {409, 413}
    limits = (getattr(m, "__qualname__", "") for m in handler.middleware or ())
    if any(name.startswith("rate_limited") for name in limits):
        found.add(429)
    return found


def error_spec(status: int, description: str | None = None) -> ResponseSpec:
    return ResponseSpec(data_container=ErrorBody, description=description or DESCRIPTIONS[status])


def document_errors(
    handlers: Iterable[Any], extra: dict[int, ResponseSpec] | None = None
) -> list[Any]:
    """Set each handler's documented error responses; returns the handlers."""
    handlers = list(handlers)
    for handler in handlers:
        if not isinstance(handler, HTTPRouteHandler):
            continue
        specs = {status: error_spec(status) for status in sorted(statuses(handler))}
        handler.responses = {**specs, **(handler.responses or {}), **(extra or {})}
    return handlers
