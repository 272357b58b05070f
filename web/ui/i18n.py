"""Translations: Polish by default, English available.

Message ids are the English text; `web/locale/pl.json` maps each to Polish. Placeholders use
`%(name)s` so that a translation may reorder them. Templates call `_()` calls; Python code marks
strings with `N_()` (no-op marker) and translates them when rendering, so that the
extraction test in tests/web finds every string.

Error messages raised by the market domain are English sentences with values in them; they
are translated through `pl.json`'s `"patterns"` section, regular expressions whose groups are
substituted into the Polish text (`{1}`, `{2}`, …). An untranslated message is shown in English
rather than dropped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from litestar.connection import ASGIConnection

LOCALES = ("pl", "en")
DEFAULT_LOCALE = "pl"
LANG_COOKIE = "lang"
LOCALE_DIR = Path(__file__).resolve().parents[1] / "locale"


def N_(message: str) -> str:
    """Mark a string for translation without translating it (translated at render time)."""
    return message


@cache
def _catalog(locale: str) -> tuple[dict[str, str], tuple[tuple[re.Pattern[str], str], ...]]:
    path = LOCALE_DIR / f"{locale}.json"
    if not path.exists():
        return {}, ()
    data = json.loads(path.read_text(encoding="utf-8"))
    messages = {k: v for k, v in data.get("messages", {}).items() if v}
    patterns = tuple(
        (re.compile(f"^{pattern}$"), text) for pattern, text in data.get("patterns", {}).items()
    )
    return messages, patterns


def catalog_messages(locale: str) -> dict[str, str]:
    return dict(_catalog(locale)[0])


def normalize_locale(value: str | None) -> str:
    value = (value or "").strip().lower()[:2]
    return value if value in LOCALES else DEFAULT_LOCALE


def gettext(message: str, locale: str, **values: object) -> str:
    """Translate `message` into `locale` and substitute `%(name)s` values."""
    text = message if locale == "en" else _catalog(locale)[0].get(message, message)
    return text % values if values else text


def ngettext(singular: str, plural: str, n: int, locale: str, **values: object) -> str:
    """Plural forms; Polish has three (1 / 2–4 except 12–14 / other), stored as `msgid|1`, `|2`."""
    values.setdefault("num", n)
    if locale == "en":
        text = singular if n == 1 else plural
    else:
        messages = _catalog(locale)[0]
        form = 0 if n == 1 else (1 if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14 else 2)
        key = singular if form == 0 else f"{plural}|{form}"
        text = messages.get(key, singular if n == 1 else plural)
    return text % values


def translate_error(message: str, locale: str) -> str:
    """Translate a market error message (exact match, then the regex patterns)."""
    if locale == "en":
        return message
    messages, patterns = _catalog(locale)
    if message in messages:
        return messages[message]
    for pattern, text in patterns:
        match = pattern.match(message)
        if match:
            groups = [_DECIMAL.sub(r"\1,\2", g or "") for g in match.groups()]
            return text.format(None, *groups)
    return message


#: A decimal number in a market message, shown with the locale's decimal comma.
_DECIMAL = re.compile(r"^(-?\d+)\.(\d+)$")


def connection_locale(connection: ASGIConnection[Any, Any, Any, Any] | None) -> str:
    if connection is None:
        return DEFAULT_LOCALE
    return normalize_locale(connection.cookies.get(LANG_COOKIE))


def context_locale(ctx: Mapping[str, Any]) -> str:
    locale = ctx.get("locale")
    if locale:
        return str(locale)
    return connection_locale(ctx.get("request"))
