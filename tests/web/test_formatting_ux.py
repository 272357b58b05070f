"""Formatting added for issue 16: month titles in the reader's language, local months for
form values, countdowns as the page ticks them."""

from __future__ import annotations

from datetime import UTC, datetime

from web.ui.formatting import countdown, local_month, month_title


def test_month_titles_and_local_months() -> None:
    assert month_title("2026-10", "pl") == "październik 2026"
    assert month_title("2026-02", "en") == "February 2026"
    assert month_title("nonsense", "pl") == "nonsense"
    # 31 October 23:30 UTC is already November in Warsaw
    assert local_month(datetime(2026, 10, 31, 23, 30, tzinfo=UTC)) == "2026-11"


def test_countdown() -> None:
    assert countdown(0) == "0:00" and countdown(59.6) == "1:00" and countdown(7200) == "2:00:00"
