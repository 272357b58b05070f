"""Months without intraday clearing on the pages (issue 14), in Polish.

The export tests' cluster (tests.support.exports: 2026-10-25 00:00Z and 01:00Z cleared
intraday, no meter data; tariff 0.89 PLN/kWh, no fee rates, so no statutory benefits).

- **Meter-only hour** 2026-10-25 05:00Z (no interval row, no day-ahead position), per
  quarter: anna's A feeds in 0.5, 1, 1.5, 2 kWh at the imported 15-minute RCE 100, 200, 300,
  400 PLN/MWh → 0.05 + 0.20 + 0.45 + 0.80 = 1.50; the bakery's B takes 2.25 kWh each, 9 kWh
  × 0.89 = 8.01. The statement settles the hour against the grid exactly as the month
  without the cluster prices it: "with" and "without" both move by +8.01 (B) and −1.50 (A),
  the benefit does not move. API ↔ page ↔ CSV show the same figures.
- **Day-ahead-only month**: the same October with every interval's intraday clearing failed
  (`test_day_ahead_settlement._day_ahead`: 00:00Z and 02:00Z have firm positions): the
  coordinator's report shows 2 intervals from cleared positions, not "no results".
- **Meter-only month**: November with readings only: the report shows them from meter data,
  with no savings.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from typing import Any

import pytest
from sqlalchemy import select, update

from market.metering.models import MeterImport, MeterReading
from market.network.models import MeteringPoint
from market.prices.models import MarketPrice
from market.trading.models import Interval
from tests.exports.test_export_web import app, client, sign_in, token_for
from tests.market.test_day_ahead_settlement import _day_ahead
from tests.support.exports import PPE_A, PPE_B
from web.pages.reports import STATEMENT_ITEMS
from web.ui.i18n import gettext

__all__ = ["app", "client"]

pytestmark = pytest.mark.anyio
Q = timedelta(minutes=15)
HOUR = datetime(2026, 10, 25, 5, tzinfo=UTC)
NOVEMBER = datetime(2026, 11, 2, 10, tzinfo=UTC)
#: English words of the report's summary and notes; none may reach a Polish reader.
ENGLISH = re.compile(
    r"\b(Intervals?|intraday|day-ahead|auction|meter data|Source|cleared|positions|Savings|"
    r"Summary|Consumption|without a market|grid)\b"
)


async def _readings(s: Any, start: datetime, a_out: list[str], b_in: list[str]) -> None:
    points = dict((await s.execute(select(MeteringPoint.ppe_code, MeteringPoint.id))).all())
    imp = MeterImport(
        filename=f"{start:%Y%m%d%H}.csv", sha256=f"{start:%Y%m%d%H}".ljust(64, "0"),
        resolution_minutes=15, rows=8, stored_readings=8,
    )  # fmt: skip
    s.add(imp)
    await s.flush()
    for k, (out, take) in enumerate(zip(a_out, b_in, strict=True)):
        at = start + k * Q
        for pid, i_kwh, e_kwh in ((points[PPE_A], D(0), D(out)), (points[PPE_B], D(take), D(0))):
            s.add(
                MeterReading(
                    start_utc=at, metering_point_id=pid, import_kwh=i_kwh, export_kwh=e_kwh,
                    quality="measured", source_minutes=15, import_id=imp.id,
                )
            )  # fmt: skip
    await s.commit()


def _csv(client: Any, month: str, member: int | None = None) -> dict[str, str]:
    """The Polish statement CSV by machine key (value as written)."""
    params: dict[str, Any] = {"month": month}
    if member is not None:
        params["member"] = member
    text = client.get("/statement/csv", params=params).content.decode("utf-8-sig")
    by_label = {gettext(label, "pl"): key for key, label in STATEMENT_ITEMS.items()}
    out = {}
    for line in text.splitlines()[1:]:
        cells = line.split(";")
        out[by_label[cells[2]]] = cells[4]
    return out


def _visible(html: str) -> str:
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", html)


async def test_meter_only_hour_on_the_statement_api_page_and_csv(db: Any, client: Any) -> None:
    sign_in(client, "anna")
    token = token_for(client, "anna")
    before_api = client.get("/api/v1/statements/2026-10", headers=token).json()
    before_csv = _csv(client, "2026-10")
    assert before_api["grid_settled_lines"] == 0 and "grid_settled_import" not in before_csv
    async with db.session() as s:
        await _readings(s, HOUR, ["0.5", "1.0", "1.5", "2.0"], ["2.25"] * 4)
        for k, price in enumerate((100, 200, 300, 400)):
            s.add(
                MarketPrice(
                    start_utc=HOUR + k * Q, resolution_minutes=15,
                    price_pln_per_mwh=D(price), source="t",
                )
            )  # fmt: skip
        await s.commit()
    body = client.get("/api/v1/statements/2026-10", headers=token).json()
    f = body["figures"]
    assert (body["grid_settled_lines"], body["source"]) == (4, "mixed")
    assert (f["grid_settled_export_kwh"], f["grid_settled_export_revenue_pln"]) == (
        "5.000", "1.50",
    )  # fmt: skip
    assert (f["grid_settled_import_kwh"], f["grid_settled_import_cost_pln"]) == ("0.000", "0.00")
    total = D(before_api["figures"]["total_pln"]) - D("1.50")
    assert D(f["total_pln"]) == total
    assert f["savings_pln"] == before_api["figures"]["savings_pln"]  # no savings in the hour
    # the CSV: the same items, and with/without both moved by −1.50, the benefit not at all
    csv = _csv(client, "2026-10")
    assert csv["grid_settled_export"] == "5,000" and csv["grid_settled_export_revenue"] == "1,50"
    assert csv["total"] == f["total_pln"].replace(".", ",")
    for key in ("with_cluster", "without_cluster"):
        moved = D(csv[key].replace(",", ".")) - D(before_csv[key].replace(",", "."))
        assert moved == D("-1.50"), key
    assert csv["total_benefit"] == before_csv["total_benefit"]
    # the page: the rows in Polish, the total as in the API
    page = client.get("/statement/", params={"month": "2026-10"}).text
    assert "Oddane do sieci w okresach bez rynku (dane pomiarowe, w net-billingu)" in page
    assert "rozlicza się z siecią tak jak bez klastra" in page
    assert page.count("data-grid-settled") == 2
    shown = f["total_pln"].replace(".", ",").lstrip("-")
    assert shown in page
    statutory = client.get("/statement/statutory", params={"month": "2026-10"}).text
    assert 'data-source="mixed"' in statutory and "1,50" in statutory
    # the bakery (the coordinator asks): 9 kWh × 0.89 = 8.01 at the tariff, no savings
    coord = token_for(client, "coord")
    members = await _members(db)
    bakery = client.get(
        "/api/v1/statements/2026-10", params={"member_id": members[PPE_B]}, headers=coord
    ).json()["figures"]
    assert (bakery["grid_settled_import_kwh"], bakery["grid_settled_import_cost_pln"]) == (
        "9.000", "8.01",
    )  # fmt: skip
    sign_in(client, "coord")
    both = _csv(client, "2026-10", members[PPE_B])
    assert both["total"] == bakery["total_pln"].replace(".", ",")
    without = D(both["without_cluster"].replace(",", "."))
    with_ = D(both["with_cluster"].replace(",", "."))
    assert D(both["total_benefit"].replace(",", ".")) == without - with_
    # the report: Σ statements = the report's money; the hour's 4 intervals from meter data
    report = client.get("/reports/", params={"start": "2026-10"}).text
    assert "Okresy: 6 (rynek śróddzienny: 2, tylko aukcja dnia następnego: 0, " in report
    assert "tylko dane pomiarowe: 4)" in report
    assert "Źródło: dane pomiarowe i pozycje z rozliczenia rynku" in report


async def _members(db: Any) -> dict[str, int]:
    async with db.session() as s:
        rows = await s.execute(select(MeteringPoint.ppe_code, MeteringPoint.member_id))
        return dict(rows.all())


async def test_report_page_of_a_day_ahead_only_month_in_polish(db: Any, client: Any) -> None:
    async with db.session() as s:
        await _day_ahead(s)
        await s.execute(update(Interval).values(status="failed"))
        await s.commit()
    sign_in(client, "coord")
    page = client.get("/reports/", params={"start": "2026-10"})
    assert page.status_code == 200
    text = page.text
    assert gettext("No results in this range yet", "pl") not in text
    summary = re.search(r'<span class="muted small" id="report-intervals"[^>]*>(.*?)</span>', text)
    assert summary, text[:2000]
    assert summary.group(1) == (
        "Okresy: 2 (rynek śróddzienny: 0, tylko aukcja dnia następnego: 2, "
        "tylko dane pomiarowe: 0) · Źródło: pozycje z rozliczenia rynku"
    )
    assert 'data-source="cleared_positions"' in text
    report = text[text.index('<div id="report">') : text.index('id="storage-effect"')]
    visible = _visible(report)
    assert not ENGLISH.search(visible), ENGLISH.search(visible)
    assert "Podsumowanie" in visible or "Samowystarczalność" in visible


async def test_report_page_of_a_meter_only_month_in_polish(db: Any, client: Any) -> None:
    async with db.session() as s:
        await _readings(s, NOVEMBER, ["1", "1", "1", "1"], ["2", "2", "2", "2"])
    sign_in(client, "coord")
    before = client.get("/reports/", params={"start": "2026-12"}).text
    assert gettext("No results in this range yet", "pl") in before  # nothing at all: empty
    text = client.get("/reports/", params={"start": "2026-11"}).text
    assert gettext("No results in this range yet", "pl") not in text
    assert (
        "Okresy: 4 (rynek śróddzienny: 0, tylko aukcja dnia następnego: 0, "
        "tylko dane pomiarowe: 4) · Źródło: dane pomiarowe"
    ) in text
    assert "nie dają oszczędności ani handlu lokalnego" in text
    report = text[text.index('<div id="report">') : text.index('id="storage-effect"')]
    visible = _visible(report)
    assert not ENGLISH.search(visible), ENGLISH.search(visible)
    # consumption 8 kWh, generation 4 kWh, savings 0,00 zł
    assert re.search(r"Oszczędność względem samej sieci</dt><dd>0,00", text), text[:3000]
    # the members' statements of that month: the readings settled against the grid (B: 8 kWh
    # × 0.89 = 7.12; A: 4 kWh at November's RCEm 382.88 PLN/MWh = 1.5315)
    members = await _members(db)
    coord = token_for(client, "coord")
    bakery = client.get(
        "/api/v1/statements/2026-11", params={"member_id": members[PPE_B]}, headers=coord
    ).json()
    assert (bakery["grid_settled_lines"], bakery["source"]) == (4, "meter_data")
    assert bakery["figures"]["total_pln"] == "7.12" and bakery["figures"]["savings_pln"] == "0.00"
    assert bakery["days"] == []
    sign_in(client, "anna")
    page = client.get("/statement/", params={"month": "2026-11"})
    assert page.status_code == 200
    assert "Oddane do sieci w okresach bez rynku (dane pomiarowe, w net-billingu)" in page.text
    assert "1,53" in page.text and "4,000" in page.text
