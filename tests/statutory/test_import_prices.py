"""`klaster import-prices`: RCE prices from a CSV, checked whole (line-numbered errors, exit 2,
nothing stored), stored idempotently; and the hour's price the counterfactual uses."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import anyio
import pytest
from sqlalchemy import func, select

from market.prices.models import MarketPrice
from market.statutory.prices import PriceBook, hourly_means, quarter_prices, rcem_pln_per_kwh
from web.cli import main

pytestmark = pytest.mark.anyio


@pytest.fixture
async def cli_db(db: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    from market.core.settings import get_settings

    monkeypatch.setenv("DATABASE_URL", db.url)
    get_settings.cache_clear()
    yield db
    get_settings.cache_clear()


async def klaster(*argv: str) -> int:
    return int(await anyio.to_thread.run_sync(main, list(argv)))


async def _prices(db: Any) -> dict[tuple[datetime, int], D]:
    async with db.session() as s:
        rows = await s.execute(
            select(
                MarketPrice.start_utc,
                MarketPrice.resolution_minutes,
                MarketPrice.price_pln_per_mwh,
            )
        )
        return {(a, m): p for a, m, p in rows}


QUARTERS = (
    "interval_start;price_pln_per_mwh\n"
    "2026-06-01T10:00:00Z;100,00\n"
    "2026-06-01T10:15:00Z;200,00\n"
    "2026-06-01T10:30:00Z;-50,50\n"
    "2026-06-01T10:45:00Z;150,50\n"
)


async def test_quarter_hours_stored_and_reimport_replaces(
    cli_db: Any, tmp_path: Path, capsys: Any
) -> None:
    f = tmp_path / "rce.csv"
    f.write_text(QUARTERS, "utf-8")
    assert await klaster("import-prices", str(f)) == 0
    assert "stored 4 prices (PT15M" in capsys.readouterr().out
    stored = await _prices(cli_db)
    assert stored[(datetime(2026, 6, 1, 10, 30, tzinfo=UTC), 15)] == D("-50.50")
    # the same file again: nothing doubles; a changed price replaces the old one
    f.write_text(QUARTERS.replace("200,00", "210,00"), "utf-8")
    assert await klaster("import-prices", str(f)) == 0
    stored = await _prices(cli_db)
    assert len(stored) == 4
    assert stored[(datetime(2026, 6, 1, 10, 15, tzinfo=UTC), 15)] == D("210.00")


async def test_hourly_local_times_with_commas(cli_db: Any, tmp_path: Path) -> None:
    f = tmp_path / "rce.csv"
    # local times (CEST, +02:00) and the ',' separator with decimal points
    f.write_text("start,rce_pln\n2026-06-01 12:00,300.5\n2026-06-01 13:00,280\n", "utf-8")
    assert await klaster("import-prices", str(f)) == 0
    stored = await _prices(cli_db)
    assert stored == {
        (datetime(2026, 6, 1, 10, tzinfo=UTC), 60): D("300.50"),
        (datetime(2026, 6, 1, 11, tzinfo=UTC), 60): D("280.00"),
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("when;price\n2026-06-01T10:00Z;1\n", "header:"),
        (
            "interval_start;price_pln_per_mwh\n2026-06-01T10:00Z;1\n2026-06-01T10:15Z;abc\n",
            "line 3: price_pln_per_mwh: not a number",
        ),
        (
            "interval_start;price_pln_per_mwh\n2026-06-01T10:00Z;1\n2026-06-01T10:15Z;1,234\n",
            "line 3: price_pln_per_mwh: more than 2 decimals",
        ),
        (
            "interval_start;price_pln_per_mwh\n2026-06-01T10:00Z;1\n2026-06-01T10:00Z;2\n",
            "line 3: interval_start: the period starting",
        ),
        (
            "interval_start;price_pln_per_mwh\n2026-10-25 02:00;1\n2026-10-25T01:00Z;2\n",
            "line 2: interval_start: local time 2026-10-25 02:00 is ambiguous",
        ),
        (
            "interval_start;price_pln_per_mwh\n2026-06-01T10:00Z;1\n2026-06-01T10:15Z;99999\n",
            "line 3: price_pln_per_mwh: price 99999",
        ),
        ("interval_start;price_pln_per_mwh\n", "file: the file has no data rows"),
    ],
)
async def test_bad_file_exits_2_and_stores_nothing(
    cli_db: Any, tmp_path: Path, capsys: Any, text: str, expected: str
) -> None:
    f = tmp_path / "rce.csv"
    f.write_text(text, "utf-8")
    assert await klaster("import-prices", str(f)) == 2
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err
    assert await _prices(cli_db) == {}


async def test_bad_row_among_good_ones_stores_nothing(cli_db: Any, tmp_path: Path) -> None:
    f = tmp_path / "rce.csv"
    f.write_text(QUARTERS + "2026-06-01T11:07:00Z;10\n", "utf-8")
    assert await klaster("import-prices", str(f)) == 2
    async with cli_db.session() as s:
        assert await s.scalar(select(func.count()).select_from(MarketPrice)) == 0


def test_hour_price_from_quarters_hourly_wins_rcem_fallback() -> None:
    h = datetime(2026, 6, 1, 10, tzinfo=UTC)
    means = hourly_means(
        [
            (h, 15, D("100")),
            (h.replace(minute=15), 15, D("200")),
            (h.replace(minute=30), 15, D("-50.5")),
            (h.replace(minute=45), 15, D("150.5")),
            (h.replace(hour=11), 15, D("80")),
            (h.replace(hour=11), 60, D("90")),
        ]
    )
    # the negative quarter-hour counts as zero in the mean: (100 + 200 + 0 + 150.5) / 4 / 1000
    assert means[h] == D("0.112625")
    assert means[h.replace(hour=11)] == D("0.09")  # the hourly row wins
    book = PriceBook(means)
    assert book.price(h, date(2026, 6, 1)) == (D("0.112625"), "rce")
    assert book.price(h.replace(hour=12), date(2026, 6, 1)) == (D("0.1363"), "rcem")
    assert rcem_pln_per_kwh(1) == D("0.48001")


def test_negative_prices_value_feed_in_at_zero() -> None:
    """Net-billing never charges a prosumer for energy fed in: a negative RCE, hourly or
    15-minute, values the energy at zero (the rest of the hour at its own price)."""
    h = datetime(2026, 10, 11, 11, tzinfo=UTC)  # after QUARTER_HOUR_RCE_FROM
    day = date(2026, 10, 11)
    rows = [
        (h, 15, D("-120")),
        (h.replace(minute=15), 15, D("-0.01")),
        (h.replace(minute=30), 15, D("0")),
        (h.replace(minute=45), 15, D("200")),
        (h.replace(hour=12), 60, D("-300")),
    ]
    book = PriceBook(hourly_means(rows), quarter_prices(rows))
    assert book.quarter_price(h, day) == 0
    assert book.quarter_price(h.replace(minute=45), day) == D("0.2")
    assert book.price(h, day) == (D("0.05"), "rce")  # (0 + 0 + 0 + 200) / 4 / 1000
    by_start = [(h.replace(minute=m), D("1.5")) for m in (0, 15, 30, 45)]
    assert book.export_value(h, day, D("6"), by_start) == (D("0.3"), "rce")  # 1.5 × 0.2
    assert book.export_value(h.replace(hour=12), day, D("4")) == (D("0"), "rce")
