"""Route handlers of the pages, the API and the sockets."""

from __future__ import annotations

import logging
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
    from web.controllers import coordinator, live, member, results

    for module in (member, live, results, coordinator):
        pages.extend(module.HANDLERS)
    # ---- Distributor slot ------------------------------------------------------------------
    # The distributor's page (/distributor: exports, meter-data upload, reports) lives in
    # web/controllers/distributor.py, owned by the exports work; it is mounted here when
    # present. The nav link "Distributor" in base.html points at it.
    exports = _optional("web.controllers.distributor")
    if exports is not None:
        pages.extend(getattr(exports, "HANDLERS", []))
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


def _optional(name: str) -> Any:
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError as exc:
        if getattr(exc, "name", None) != name:
            logging.getLogger("klaster.web").error("%s not mounted: %s", name, exc)
        return None


DEPENDENCIES = {
    "db": Provide(provide_db),
    "clock": Provide(provide_clock, sync_to_thread=False),
    "publisher": Provide(provide_publisher, sync_to_thread=False),
    "actor": Provide(provide_actor, sync_to_thread=False),
}
