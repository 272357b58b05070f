"""Locale formatting for numbers, money, energy and times (Polish default, English available).

Polish uses a decimal comma and a (non-breaking) space as thousands separator; English a dot
and a comma. Times are shown in the cluster's zone (`Settings.timezone`, passed by the
caller) whatever the server's zone.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from market.core.settings import DEFAULT_TIMEZONE

NBSP = "\u00a0"

_SEPARATORS = {"pl": (",", NBSP), "en": (".", ",")}
_MONTHS = {
    "pl": (
        "stycznia", "lutego", "marca", "kwietnia", "maja", "czerwca",
        "lipca", "sierpnia", "września", "października", "listopada", "grudnia",
    ),
    "en": (
        "January", "February", "March", "April", "May", "June",
        "July", "August", "September", "October", "November", "December",
    ),
}  # fmt: skip


def _to_decimal(value: object) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, Decimal):
        return value
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def number(value: object, places: int = 2, locale: str = "pl", grouping: bool = True) -> str:
    """`1234.5` → `1 234,50` (pl) or `1,234.50` (en); rounds half up; '–' for no value."""
    d = _to_decimal(value)
    if d is None:
        return "–"
    quantum = Decimal(1).scaleb(-places)
    d = d.quantize(quantum, rounding=ROUND_HALF_UP)
    if d == 0:
        d = abs(d)  # no "-0,00"
    decimal_sep, group_sep = _SEPARATORS.get(locale, _SEPARATORS["pl"])
    sign = "-" if d < 0 else ""
    text = f"{abs(d):.{places}f}"
    whole, _, frac = text.partition(".")
    # Polish style guides do not group four-digit numbers (1234, but 12 345).
    if grouping and len(whole) > (4 if locale == "pl" else 3):
        groups = []
        while whole:
            groups.append(whole[-3:])
            whole = whole[:-3]
        whole = group_sep.join(reversed(groups))
    return sign + whole + (decimal_sep + frac if places > 0 else "")


def energy_kwh(value: object, locale: str = "pl", places: int = 3) -> str:
    return f"{number(value, places, locale)}{NBSP}kWh"


def power_kw(value: object, locale: str = "pl", places: int = 1) -> str:
    return f"{number(value, places, locale)}{NBSP}kW"


def money_pln(value: object, locale: str = "pl") -> str:
    return (
        f"{number(value, 2, locale)}{NBSP}zł"
        if locale == "pl"
        else f"PLN{NBSP}{number(value, 2, locale)}"
    )


def price(value: object, locale: str = "pl", places: int = 4) -> str:
    """A price in PLN/kWh (four decimals: orders may be priced to 0.0001 PLN)."""
    return (
        f"{number(value, places, locale)}{NBSP}zł/kWh"
        if locale == "pl"
        else f"{number(value, places, locale)}{NBSP}PLN/kWh"
    )


def percent(value: object, locale: str = "pl", places: int = 0) -> str:
    d = _to_decimal(value)
    if d is None:
        return "–"
    return f"{number(d * 100, places, locale)}{NBSP}%"


def to_local(moment: datetime, tz: str = DEFAULT_TIMEZONE) -> datetime:
    """A UTC (or naive-UTC, as SQLite returns) datetime in the display zone."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(ZoneInfo(tz))


def time_hm(moment: datetime | None, tz: str = DEFAULT_TIMEZONE) -> str:
    """`14:15` in the display zone (24-hour clock in both languages)."""
    return "–" if moment is None else to_local(moment, tz).strftime("%H:%M")


def date_long(day: date | datetime | None, locale: str = "pl", tz: str = DEFAULT_TIMEZONE) -> str:
    """`26 listopada 2026` / `26 November 2026`."""
    if day is None:
        return "–"
    if isinstance(day, datetime):
        day = to_local(day, tz).date()
    months = _MONTHS.get(locale, _MONTHS["pl"])
    return f"{day.day} {months[day.month - 1]} {day.year}"


def date_short(day: date | datetime | None, locale: str = "pl", tz: str = DEFAULT_TIMEZONE) -> str:
    """`26.11.2026` (pl) / `2026-11-26` (en)."""
    if day is None:
        return "–"
    if isinstance(day, datetime):
        day = to_local(day, tz).date()
    return day.strftime("%d.%m.%Y") if locale == "pl" else day.isoformat()


def datetime_short(moment: datetime | None, locale: str = "pl", tz: str = DEFAULT_TIMEZONE) -> str:
    if moment is None:
        return "–"
    return f"{date_short(moment, locale, tz)} {time_hm(moment, tz)}"


def interval_label(start: datetime, minutes: int = 15, tz: str = DEFAULT_TIMEZONE) -> str:
    """`14:15–14:30` in the display zone."""
    from datetime import timedelta

    return f"{time_hm(start, tz)}–{time_hm(start + timedelta(minutes=minutes), tz)}"


def iso_utc(moment: datetime) -> str:
    """ISO 8601 in UTC with `Z`, for machine-readable attributes (countdowns, JSON)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


#: The Polish alphabet (with q, v, x), the order of a Polish dictionary: Ł after L, Ś after S.
_POLISH_ALPHABET = "aąbcćdeęfghijklłmnńoópqrsśtuvwxyzźż"
_POLISH_RANK = {c: i for i, c in enumerate(_POLISH_ALPHABET)}


def polish_sort_key(text: str) -> tuple[tuple[int, ...], str]:
    """A collation key for Polish names without system locales (PyICU or `locale`): letters
    ranked by the Polish alphabet ignoring case, other characters after them by code point;
    ties broken by the text itself."""
    ranks = tuple(
        _POLISH_RANK.get(c, len(_POLISH_ALPHABET) + ord(c)) if c.isalpha() else ord(c) - 1000
        for c in text.casefold()
    )
    return ranks, text


def countdown(seconds: float) -> str:
    """`4:05` or `1:02:03`, as klaster.js ticks it (the first render says the same)."""
    left = max(0, round(seconds))
    hours, rest = divmod(left, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


_MONTHS_NOMINATIVE = {
    "pl": (
        "styczeń", "luty", "marzec", "kwiecień", "maj", "czerwiec",
        "lipiec", "sierpień", "wrzesień", "październik", "listopad", "grudzień",
    ),
    "en": _MONTHS["en"],
}  # fmt: skip


def month_title(month: str, locale: str = "pl") -> str:
    """`2026-10` → `październik 2026` / `October 2026` (as typed when it is not a month)."""
    try:
        year, number = int(month[:4]), int(month[5:7])
        name = _MONTHS_NOMINATIVE.get(locale, _MONTHS_NOMINATIVE["pl"])[number - 1]
    except (ValueError, IndexError):
        return month
    return f"{name} {year}"


def local_month(moment: datetime, tz: str = DEFAULT_TIMEZONE) -> str:
    """`2026-10`: the local month of a moment (form values)."""
    return to_local(moment, tz).strftime("%Y-%m")
