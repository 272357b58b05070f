"""The cluster report's charts are drawn, not black blocks: every bar has a colour in the SVG
itself and in the stylesheet, a short range's bar stays a bar, the charts keep their drawn
size (so their text stays legible), and the summary figures are styled."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from types import SimpleNamespace

from web.ui.report_charts import congestion_chart, shares_chart
from web.ui.templating import STATIC_DIR

SVG = "{http://www.w3.org/2000/svg}"
CSS = (STATIC_DIR / "klaster.css").read_text(encoding="utf-8")


def _rule(selector: str) -> str:
    match = re.search(re.escape(selector) + r"\s*(?:,[^{]*)?\{([^}]*)\}", CSS)
    assert match, f"no rule for {selector}"
    return match.group(1)


def test_self_sufficiency_bars_have_colour_and_a_bar_width() -> None:
    rows = [("2026-10", SimpleNamespace(self_sufficiency=0.42))]
    svg = ET.fromstring(str(shares_chart(rows, "pl", threshold=0.5)))
    (bar,) = [r for r in svg.iter(f"{SVG}rect") if "bar" in r.get("class", "")]
    assert bar.get("fill") not in (None, "", "black", "#000")
    assert float(bar.get("width", "0")) <= 56  # one month is a bar, not a 600-px block
    threshold = next(ln for ln in svg.iter(f"{SVG}line") if ln.get("class") == "threshold")
    assert threshold.get("stroke")
    assert "fill:" in _rule("svg .bar") and "stroke:" in _rule("svg .threshold")


def test_congested_lines_chart_is_coloured_and_keeps_its_size() -> None:
    svg = ET.fromstring(str(congestion_chart({1: 12, 2: 3}, {1: "GPZ–S1", 2: "S1–S2"}, "pl")))
    bars = [r for r in svg.iter(f"{SVG}rect") if "congested" in r.get("class", "")]
    assert len(bars) == 2 and all(b.get("fill") for b in bars)
    assert "fill:" in _rule("svg .bar.congested")
    assert "max-width" in _rule("svg.chart-bars, svg.chart-hbars")


def test_summary_figures_are_styled() -> None:
    assert "grid" in _rule("dl.figures") and "font-size" in _rule("dl.figures dd")
