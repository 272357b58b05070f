"""Jinja2 environment: translation functions, locale-aware filters, asset names.

Templates get `_()` / `ngettext()`, `error_text(error)` (a market error or anything with a
`message_id` and `params`) and filters (`kwh`, `pln`, `price`, `num`, `day`, `date`, `dt`,
`span`) that read the locale from the render context: `locale` when the caller passed one
(fragments rendered for the live socket), else the request's language cookie. Times are shown
in the cluster's zone, the `timezone` global (`Settings.timezone`, given to `configure`).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from jinja2 import pass_context
from litestar.plugins.jinja import JinjaTemplateEngine
from markupsafe import Markup, escape

from market.core.settings import DEFAULT_TIMEZONE
from web.ui import formatting as fmt
from web.ui.i18n import context_locale, gettext, ngettext, translate_message

TEMPLATE_DIR = Path(__file__).resolve().parents[1] / "templates"
STATIC_DIR = Path(__file__).resolve().parents[1] / "static"

#: Vendored front-end files, version in the name (see web/static/README.md).
ASSETS = {
    "htmx": "htmx-2.0.11.min.js",
    "htmx_ws": "ws-2.0.4.min.js",
}


@pass_context
def _gettext(ctx: Any, message: str, **values: Any) -> str:
    text = gettext(message, context_locale(ctx))
    if ctx.eval_ctx.autoescape:
        text = Markup(escape(text))
    return text % values if values else text


@pass_context
def _ngettext(ctx: Any, singular: str, plural: str, n: int, **values: Any) -> str:
    locale = context_locale(ctx)
    text = ngettext(singular, plural, n, locale, **{k: escape(v) for k, v in values.items()})
    return Markup(text) if ctx.eval_ctx.autoescape else text


@pass_context
def _error_text(ctx: Any, error: Any) -> str:
    """A market error (`message_id`, `params`) in the reader's language."""
    return translate_message(
        error.message_id, error.params, context_locale(ctx), ctx.get("timezone", DEFAULT_TIMEZONE)
    )


def _with_locale(func: Any) -> Any:
    @pass_context
    def filter_(ctx: Any, value: Any, *args: Any) -> str:
        return str(func(value, context_locale(ctx), *args))

    return filter_


def configure(engine: JinjaTemplateEngine, timezone: str = DEFAULT_TIMEZONE) -> None:
    """Globals and filters of the app's Jinja environment; times shown in `timezone`."""
    env = engine.engine
    tz = timezone
    env.globals.update(
        _=_gettext,
        ngettext=_ngettext,
        error_text=_error_text,
        assets=ASSETS,
        timezone=tz,
        timedelta1=timedelta(days=1),
    )
    env.filters.update(
        num=_with_locale(lambda v, loc, places=2: fmt.number(v, places, loc)),
        kwh=_with_locale(lambda v, loc, places=3: fmt.energy_kwh(v, loc, places)),
        kw=_with_locale(lambda v, loc, places=1: fmt.power_kw(v, loc, places)),
        pln=_with_locale(fmt.money_pln),
        price=_with_locale(lambda v, loc, places=4: fmt.price(v, loc, places)),
        pct=_with_locale(lambda v, loc, places=0: fmt.percent(v, loc, places)),
        day=_with_locale(lambda v, loc: fmt.date_long(v, loc, tz)),
        date=_with_locale(lambda v, loc: fmt.date_short(v, loc, tz)),
        dt=_with_locale(lambda v, loc: fmt.datetime_short(v, loc, tz)),
        span=lambda v, minutes=15: fmt.interval_label(v, minutes, tz),
        hm=lambda v: fmt.time_hm(v, tz),
        countdown=fmt.countdown,
        month_title=_with_locale(fmt.month_title),
        local_month=lambda v: fmt.local_month(v, tz),
        iso=lambda v: fmt.iso_utc(v) if v is not None else "",
    )
    from web.ui import labels, svg_views

    env.globals.update(svg_views.GLOBALS)
    env.globals.update(labels.GLOBALS)
    env.trim_blocks = True
    env.lstrip_blocks = True
