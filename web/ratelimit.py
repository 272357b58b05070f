"""Rate limiting on single handlers (sign-in, order submission).

Litestar's `RateLimitMiddleware` is built from a `RateLimitConfig`; the configs live in
`app.state` (they depend on the environment), so handlers declare `rate_limited("...")` and
the middleware is built on first use for the app that serves the request. Counters sit in
the app's `rate_limit` store: per process in memory, shared when Redis is configured.
"""

from __future__ import annotations

from typing import Any

from litestar.middleware.rate_limit import RateLimitMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send


def rate_limited(state_key: str) -> Any:
    """Middleware for a handler, limited by the `RateLimitConfig` at `app.state[state_key]`."""

    def factory(app: ASGIApp) -> ASGIApp:
        built: dict[int, ASGIApp] = {}

        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            litestar_app = scope["litestar_app"]
            inner = built.get(id(litestar_app))
            if inner is None:
                config = litestar_app.state[state_key]
                inner = built[id(litestar_app)] = RateLimitMiddleware(app=app, config=config)
            await inner(scope, receive, send)

        return middleware

    return factory
