"""The JSON API under /api/v1 (bearer tokens; OpenAPI at /schema)."""

from __future__ import annotations

from typing import Any

from litestar import Router


def api_router() -> Router:
    from web.api import v1

    return Router(path="/api/v1", route_handlers=v1.HANDLERS, tags=["v1"])  # type: ignore[arg-type]


__all__: list[Any] = ["api_router"]
