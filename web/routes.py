"""Route handlers of the pages, the API and the sockets."""

from __future__ import annotations

from typing import Any

from litestar import Router
from litestar.di import Provide

from web.deps import (
    provide_actor,
    provide_clock,
    provide_db,
    provide_publisher,
    provide_settings,
)


def route_handlers() -> list[Any]:
    from web.api import api_router
    from web.live import sockets as live_ws
    from web.pages import auth

    pages: list[Any] = [
        auth.index,
        auth.login_page,
        auth.login,
        auth.logout,
        auth.switch_language,
        live_ws.live_socket,
    ]
    from web.pages import (
        account,
        coordinator,
        day_ahead,
        distributor,
        fee_rates,
        live,
        member,
        results,
        storage,
    )

    for module in (member, live, results, coordinator, fee_rates, distributor, account, day_ahead,
                   storage):  # fmt: skip
        pages.extend(module.HANDLERS)
    # Handlers of the page modules that serve /api/... (the distributor's exports and meter
    # data) belong in the OpenAPI document with the rest of the API; the pages do not.
    api = [h for h in pages if any(p.startswith("/api/") for p in getattr(h, "paths", ()))]
    return [
        Router(
            path="/", route_handlers=[h for h in pages if h not in api], include_in_schema=False
        ),
        Router(path="/", route_handlers=api, tags=["v1"]),
        api_router(),
        live_ws.feed_socket,
    ]


DEPENDENCIES = {
    "db": Provide(provide_db),
    "clock": Provide(provide_clock, sync_to_thread=False),
    "publisher": Provide(provide_publisher, sync_to_thread=False),
    "actor": Provide(provide_actor, sync_to_thread=False),
    "settings": Provide(provide_settings, sync_to_thread=False),
}
