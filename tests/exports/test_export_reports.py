"""Report figures, statutory shares and the SVG charts."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from xml.etree import ElementTree

from market.export.scope import PointInfo
from market.reports.service import Figures, IntervalFigures, rollup, statutory_shares

D = Decimal


def fig(
    day: int,
    c: str,
    g: str,
    bought: str,
    sold: str,
    cost: str,
    grid_only: str,
    lines: tuple[int, ...] = (),
) -> IntervalFigures:
    t = datetime(2026, 10, day, 10, tzinfo=UTC)
    return IntervalFigures(t, t, date(2026, 10, day), D(c), D(g), D(bought), D(sold), D(g),
                           D(cost), D(grid_only), D("0.5"), lines)  # fmt: skip


def test_shares_per_interval_then_summed() -> None:
    # interval 1: 10 used, 4 generated → 4 covered; interval 2: 2 used, 6 generated → 2
    a = fig(1, "10", "4", "3", "4", "5.00", "8.90", (7,))
    b = fig(2, "2", "6", "2", "2", "-1.00", "0.68", (7, 8))
    total = Figures()
    for f in (a, b):
        total.add(f)
    assert total.covered_kwh == D(6)
    assert total.self_sufficiency == 0.5  # 6 / 12
    assert total.self_consumption == 0.6  # 6 / 10
    assert total.local_share == 5 / 12  # min(3,4) + min(2,2)
    assert total.savings_pln == D("9.58") - D("4.00")
    assert total.congestion == {7: 2, 8: 1}
    days = rollup([a, b], "day")
    assert [k for k, _ in days] == ["2026-10-01", "2026-10-02"]
    assert rollup([a, b], "month")[0][1].intervals == 2


def point(
    pv: str = "0", other: str = "0", storage: str = "0", use: str = "0", power: str = "10"
) -> PointInfo:
    return PointInfo(1, "x", "r", 1, "n", 1, "m", True, D(power), D(pv), D(other), D(storage),
                     D(use))  # fmt: skip


def test_statutory_shares_met_and_not_met() -> None:
    totals = Figures(generation_kwh=D(100), renewable_fed_in_kwh=D(25))
    points = [
        point(pv="100", use="200000"),  # 105,000 kWh a year vs 200,000: 52.5 %
        point(storage="5", power="3"),  # storage power min(3 kW, 5 kWh/h) = 3 → 3 %
    ]
    renewable, cover, storage = statutory_shares(points, totals)
    assert (renewable.value, renewable.met) == (0.25, False)
    assert (cover.value, cover.met) == (0.525, True)
    assert storage.value == 0.03 and storage.met


def test_svg_charts_are_well_formed_and_escaped() -> None:
    # Imported here, not at collection (when `web` would be the tests' package tests/web).
    from web.ui.report_charts import bars_svg, hbars_svg

    svg = bars_svg(
        [("2026-10", 0.42), ("<b>", None)],
        title="S & C",
        empty_label="none",
        fmt_value=lambda v: f"{v:.0%}",
        threshold=0.4,
    )
    root = ElementTree.fromstring(svg)
    assert root.tag.endswith("svg") and "S &amp; C" in svg and "&lt;b&gt;" in svg
    assert svg.count("<rect") == 1  # the missing value draws no bar
    h = hbars_svg([("L2", 12), ("L1", 3)], title="t", empty_label="e", unit="intervals")
    ElementTree.fromstring(h)
    assert "12 intervals" in h
    assert "e</text>" in hbars_svg([], title="t", empty_label="e", unit="u")
