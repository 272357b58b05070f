"""The JSON API under /api/v1: everything the pages do, for programs (bearer tokens from POST
/auth/token; OpenAPI at /schema). Errors are `KlasterError.to_dict()` (`error`, `field`,
`message`, `message_id`, `params`) with the status of the market error. Each handler parses,
calls one market service and returns its view (Decimals as strings, times ISO 8601 UTC)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Router


def api_router() -> Router:
    from web.api import account, coordinator, day_ahead, market, orders, statements
    from web.api.responses import document_errors

    # Plain requests: the app's HTMXRequest parses htmx headers on every request, which
    # programs never send.
    return Router(
        path="/api/v1",
        route_handlers=document_errors(
            [
                *account.HANDLERS,
                *market.HANDLERS,
                *orders.HANDLERS,
                *coordinator.HANDLERS,
                *day_ahead.HANDLERS,
                *statements.HANDLERS,
            ]
        ),
        tags=["v1"],
        request_class=Request,
    )


__all__: list[Any] = ["api_router"]
