"""The JSON API under /api/v1 (bearer tokens; OpenAPI at /schema)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Router


def api_router() -> Router:
    from web.api import v1

    # Plain requests: the app's HTMXRequest parses htmx headers on every request, which
    # programs never send.
    return Router(
        path="/api/v1",
        route_handlers=v1.HANDLERS,  # type: ignore[arg-type]
        tags=["v1"],
        request_class=Request,
    )


__all__: list[Any] = ["api_router"]
