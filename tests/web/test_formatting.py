from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from web.ui import formatting as fmt

NBSP = "\u00a0"


@pytest.mark.parametrize(
    ("value", "places", "locale", "expected"),
    [
        (Decimal("1234.5"), 2, "pl", "1234,50"),  # Polish: four digits are not grouped
        (Decimal("12345.678"), 2, "pl", f"12{NBSP}345,68"),
        (Decimal("1234567"), 0, "pl", f"1{NBSP}234{NBSP}567"),
        (Decimal("1234.5"), 2, "en", "1,234.50"),
        (Decimal("-0.004"), 2, "pl", "0,00"),  # no negative zero
        (Decimal("-2.5"), 1, "pl", "-2,5"),
        (Decimal("0.12345"), 4, "pl", "0,1235"),  # half up
        (None, 2, "pl", "–"),
    ],
)
def test_number(value: object, places: int, locale: str, expected: str) -> None:
    assert fmt.number(value, places, locale) == expected


def test_money_energy_price_units() -> None:
    assert fmt.money_pln(Decimal("1234.5"), "pl") == f"1234,50{NBSP}zł"
    assert fmt.money_pln(Decimal("1234.5"), "en") == f"PLN{NBSP}1,234.50"
    assert fmt.energy_kwh(Decimal("2.5"), "pl") == f"2,500{NBSP}kWh"
    assert fmt.price(Decimal("0.4321"), "pl") == f"0,4321{NBSP}zł/kWh"
    assert fmt.price(Decimal("0.4321"), "en") == f"0.4321{NBSP}PLN/kWh"


def test_times_in_warsaw_across_dst() -> None:
    summer = datetime(2026, 7, 1, 10, 15, tzinfo=UTC)  # +02:00
    winter = datetime(2026, 12, 1, 10, 15, tzinfo=UTC)  # +01:00
    assert fmt.time_hm(summer) == "12:15"
    assert fmt.time_hm(winter) == "11:15"
    assert fmt.time_hm(datetime(2026, 12, 1, 10, 15)) == "11:15"  # naive means UTC (SQLite)
    assert fmt.interval_label(summer, 15) == "12:15–12:30"
    # The autumn change: 00:45 and 01:45 UTC are both 02:45 local, at +02:00 and +01:00.
    assert fmt.time_hm(datetime(2026, 10, 25, 0, 45, tzinfo=UTC)) == "02:45"
    assert fmt.time_hm(datetime(2026, 10, 25, 1, 45, tzinfo=UTC)) == "02:45"
    # 23:30 UTC on 31 Dec is already 1 Jan in Warsaw.
    assert fmt.date_short(datetime(2026, 12, 31, 23, 30, tzinfo=UTC), "pl") == "01.01.2027"


def test_dates() -> None:
    assert fmt.date_long(date(2026, 11, 26), "pl") == "26 listopada 2026"
    assert fmt.date_long(date(2026, 11, 26), "en") == "26 November 2026"
    assert fmt.iso_utc(datetime(2026, 7, 1, 12, 0, tzinfo=UTC)) == "2026-07-01T12:00:00Z"


def test_templates_show_times_in_the_configured_zone() -> None:
    """The filters and the footer take the cluster's zone from the settings, not a literal."""
    from litestar.plugins.jinja import JinjaTemplateEngine

    from web.ui.templating import TEMPLATE_DIR, configure

    moment = datetime(2026, 6, 15, 10, 0, tzinfo=UTC)
    source = "{{ t|dt }} {{ t|span }} {{ t|day }} | {{ _('Times in %(zone)s', zone=timezone) }}"
    shown = {}
    for zone in ("Europe/Warsaw", "America/New_York"):
        engine = JinjaTemplateEngine(directory=TEMPLATE_DIR)
        configure(engine, timezone=zone)
        template = engine.engine.from_string(source)
        shown[zone] = template.render(t=moment, locale="en")
    assert shown["Europe/Warsaw"] == (
        "2026-06-15 12:00 12:00–12:15 15 June 2026 | Times in Europe/Warsaw"
    )
    assert shown["America/New_York"] == (
        "2026-06-15 06:00 06:00–06:15 15 June 2026 | Times in America/New_York"
    )
