"""Translations: Polish by default, English available.

Message ids are the English text; `web/locale/pl.json` maps each to Polish under
`"messages"`. Placeholders use `%(name)s` so that a translation may reorder them. Templates
call `_()` / `ngettext()`; Python code marks strings with `N_()` (no-op marker) and translates
them when rendering, so that `tests/web/test_catalogue.py` finds every id.

Errors raised by the market domain carry a message id and params (`market.core.errors`);
`translate_message` looks the id up and formats each param for the reader (decimal comma,
dates and times in the cluster's zone). Polish has three plural forms (one / few / many):
`ngettext` keys them `singular`, `plural|1`, `plural|2`; a market message with an integer
`count` param keys them `msgid`, `msgid|1`, `msgid|2`. An untranslated id is shown in English
rather than dropped (the catalogue test fails on it).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from litestar.connection import ASGIConnection

from web.ui import formatting as fmt

LOCALES = ("pl", "en")
DEFAULT_LOCALE = "pl"
LANG_COOKIE = "lang"
LOCALE_DIR = Path(__file__).resolve().parents[1] / "locale"


def N_(message: str) -> str:
    """Mark a string for translation without translating it (translated at render time)."""
    return message


@cache
def _catalog(locale: str) -> dict[str, str]:
    path = LOCALE_DIR / f"{locale}.json"
    if not path.exists():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    return {str(k): str(v) for k, v in data.get("messages", {}).items() if v}


def normalize_locale(value: str | None) -> str:
    value = (value or "").strip().lower()[:2]
    return value if value in LOCALES else DEFAULT_LOCALE


def gettext(message: str, locale: str, **values: object) -> str:
    """Translate `message` into `locale` and substitute `%(name)s` values."""
    text = message if locale == "en" else _catalog(locale).get(message, message)
    return text % values if values else text


def plural_form(n: int, locale: str) -> int:
    """0, 1 or 2: Polish one (1), few (2–4, 22–24, … but not 12–14), many (the rest);
    English only one and other (0, 2)."""
    if n == 1:
        return 0
    if locale == "pl" and 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return 1
    return 2


def ngettext(singular: str, plural: str, n: int, locale: str, **values: object) -> str:
    """Plural forms; Polish has three, stored as `singular`, `plural|1`, `plural|2`."""
    values.setdefault("num", n)
    if locale == "en":
        text = singular if n == 1 else plural
    else:
        form = plural_form(n, locale)
        key = singular if form == 0 else f"{plural}|{form}"
        text = _catalog(locale).get(key, singular if n == 1 else plural)
    return text % values


#: Params of market messages that list the codes a field takes ("must be one of: %(values)s"):
#: shown with the labels the page uses for them (`web.ui.labels.choices_label`).
#: Names a list of codes as the page's selects do (`web.ui.labels` sets it when imported:
#: labels builds on this module, so this one may not import it).
choices_label: Callable[[str, str], str] | None = None

CHOICE_PARAMS = frozenset({"values", "choices"})


def translate_message(
    message_id: str, params: Mapping[str, object], locale: str, timezone: str
) -> str:
    """A market message in `locale`: the id looked up (its plural form when it has an integer
    `count`), each param formatted for the locale, times in `timezone`."""
    text = message_id
    if locale != "en":
        messages = _catalog(locale)
        count = params.get("count")
        key = message_id
        if isinstance(count, int) and not isinstance(count, bool):
            form = plural_form(count, locale)
            key = message_id if form == 0 else f"{message_id}|{form}"
        text = messages.get(key) or messages.get(message_id) or message_id
    if not params:
        return text
    shown = {k: format_param(v, locale, timezone) for k, v in params.items()}
    if locale != "en" and choices_label is not None:
        for key in CHOICE_PARAMS.intersection(shown):
            shown[key] = choices_label(shown[key], locale)
    return text % shown


def format_param(value: object, locale: str, timezone: str) -> str:
    """One message param for the reader: decimals with the locale's separator (as many places
    as the value has), dates and times in the cluster's zone, never "UTC"."""
    if isinstance(value, datetime):
        return fmt.datetime_short(value, locale, timezone)
    if isinstance(value, date):
        return fmt.date_short(value, locale)
    if isinstance(value, float):
        value = Decimal(repr(value))
    if isinstance(value, Decimal) and value.is_finite():
        exponent = value.as_tuple().exponent
        places = -exponent if isinstance(exponent, int) and exponent < 0 else 0
        return fmt.number(value, places, locale)
    return str(value)


def connection_locale(connection: ASGIConnection[Any, Any, Any, Any] | None) -> str:
    if connection is None:
        return DEFAULT_LOCALE
    return normalize_locale(connection.cookies.get(LANG_COOKIE))


def context_locale(ctx: Mapping[str, Any]) -> str:
    locale = ctx.get("locale")
    if locale:
        return str(locale)
    return connection_locale(ctx.get("request"))
