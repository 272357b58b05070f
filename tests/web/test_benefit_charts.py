"""The money charts: bars from a zero line for signed amounts, two bars per row for two
scenarios, escaped labels, an empty state."""

from __future__ import annotations

import re

from web.ui.benefit_charts import paired_bars_svg, signed_bars_svg


def _rects(svg: str) -> list[tuple[float, float]]:
    return [
        (float(x), float(w))
        for x, w in re.findall(
            r'<rect class="bar[^"]*"[^>]* x="([\d.]+)" y="[\d.]+" width="([\d.]+)"', svg
        )
    ]


def test_signed_bars_start_at_zero_and_scale_both_ways() -> None:
    svg = signed_bars_svg(
        [("With", 100.0, "with"), ("Without", 300.0, "without"), ("Gain <b>", -100.0, "benefit")],
        title="t", empty_label="none", fmt_value=lambda v: f"{v:.0f} zł",
    )  # fmt: skip
    (x1, w1), (x2, w2), (x3, w3) = _rects(svg)
    zero = x1
    assert x2 == zero and x3 + w3 == zero  # positive bars start, the negative one ends, at 0
    assert abs(w2 - 3 * w1) < 0.2 and abs(w3 - w1) < 0.2  # 300 is three times 100
    assert "Gain &lt;b&gt;" in svg and "-100 zł" in svg and "bar-benefit" in svg
    assert "none" in signed_bars_svg([], title="t", empty_label="none", fmt_value=str)


def test_paired_bars_draw_a_and_b_and_skip_a_missing_value() -> None:
    svg = paired_bars_svg(
        [("household", 40.0, 60.0), ("storage", None, 10.0)],
        names=("A run", "B run"), title="t", empty_label="none", fmt_value=lambda v: f"{v:.0f}",
    )  # fmt: skip
    assert svg.count('class="bar bar-a"') == 1 and svg.count('class="bar bar-b"') == 2
    assert "A run" in svg and "B run" in svg and "storage" in svg
    widths = [w for _, w in _rects(svg)]
    assert abs(widths[1] - 1.5 * widths[0]) < 0.2  # 60 against 40
    assert "none" in paired_bars_svg([("x", None, None)], names=("a", "b"), title="t",
                                     empty_label="none", fmt_value=str)  # fmt: skip
