"""Rendering helpers shared by the page controllers: the common template context, and the
full page vs. fragment choice for htmx requests."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from litestar import Request
from litestar.response import Template

from web.ui.i18n import connection_locale

if TYPE_CHECKING:
    from web.config import AppServices


def base_context(request: Request[Any, Any, Any]) -> dict[str, Any]:
    # web.config sits above web.ui: the services are reached through the app's state
    services: AppServices = request.app.state.services
    clock = services.clock
    return {
        "actor": request.scope.get("user"),
        "locale": connection_locale(request),
        "clock_speed": getattr(clock, "speed", 1.0),
        "market_now": clock.now(),
    }


#: The page that frames a part (see `render`).
PART_PAGE = "part_page.html"


def opened_as_page(request: Request[Any, Any, Any], template: str) -> bool:
    """Whether a browser opened the address of a part (a `_thing.html` that htmx loads into
    a page: /my/fills, /account/tokens, /reports/storage, …) as a page of its own — typed,
    bookmarked, opened in a new tab. `Sec-Fetch-Dest: document` is sent by browsers on a
    top-level navigation only; htmx requests, scripts and programs never send it."""
    return (
        template.rsplit("/", 1)[-1].startswith("_")
        and request.method == "GET"
        and request.headers.get("hx-request") != "true"
        and request.headers.get("sec-fetch-dest") == "document"
    )


def render(
    request: Request[Any, Any, Any],
    template: str,
    *,
    status_code: int = 200,
    **context: Any,
) -> Template:
    """`template` with the common context. A part opened as a page is framed by the site's
    layout (`PART_PAGE`): on its own it had no stylesheet, no `lang`, no navigation — it
    overflowed a phone's width and read as a broken page."""
    context = {**base_context(request), **context}
    if opened_as_page(request, template):
        context["part_template"] = template
        template = PART_PAGE
    return Template(template, context=context, status_code=status_code)


def page(
    request: Request[Any, Any, Any],
    full: str,
    fragment: str | None = None,
    **context: Any,
) -> Template:
    """The whole page, or only `fragment` when htmx asks for a part (not a boosted link)."""
    htmx = request.headers.get("hx-request") == "true"
    boosted = request.headers.get("hx-boosted") == "true"
    template = fragment if fragment and htmx and not boosted else full
    return render(request, template, **context)


def expect_form(
    request: Request[Any, Any, Any],
    template: str,
    *,
    check: tuple[Callable[[Any], object], Mapping[str, object]] | None = None,
    **context: Any,
) -> None:
    """Tell the error handler which form to re-render (with inline errors, 422) if the
    service call that follows raises a `KlasterError`. With `check` (the form's parser and
    the posted fields) the form shows every field's error at once, not only the first
    (`market.core.fields.every_error`)."""
    state = request.scope.setdefault("state", {})
    state["form"] = (template, {**base_context(request), **context})
    if check is not None:
        state["form_check"] = check
