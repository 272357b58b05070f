"""Route handlers of the pages, the API and the sockets."""

from __future__ import annotations

from typing import Any

from litestar import Router
from litestar.di import Provide

from web.deps import provide_actor, provide_clock, provide_db, provide_publisher


def route_handlers() -> list[Any]:
    from web.api import api_router
    from web.controllers import auth, live_ws

    pages: list[Any] = [
        auth.index,
        auth.login_page,
        auth.login,
        auth.logout,
        auth.switch_language,
        live_ws.live_socket,
    ]
    for module_name in ("member", "live", "results", "coordinator", "distributor_home"):
        module = _optional(f"web.controllers.{module_name}")
        if module is not None:
            pages.extend(module.HANDLERS)
    # The exports helper's distributor views (web/controllers/distributor.py), when present.
    exports = _optional("web.controllers.distributor")
    if exports is not None:
        pages.extend(getattr(exports, "HANDLERS", []))
    return [
        Router(path="/", route_handlers=pages, include_in_schema=False),
        api_router(),
        live_ws.feed_socket,
    ]


def _optional(name: str) -> Any:
    import importlib

    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:
            raise
        return None


DEPENDENCIES = {
    "db": Provide(provide_db),
    "clock": Provide(provide_clock, sync_to_thread=False),
    "publisher": Provide(provide_publisher, sync_to_thread=False),
    "actor": Provide(provide_actor, sync_to_thread=False),
}
