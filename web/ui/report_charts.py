"""SVG charts of the cluster report: shares per period (bars with a threshold line), the most
congested lines (horizontal bars) and price/volume over a day (drawn by `web.charts`).

Pure functions: numbers and translated labels in, escaped SVG out; the `*_chart` helpers
below translate and format for a template.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape
from typing import Any

from markupsafe import Markup

from market.core.settings import DEFAULT_TIMEZONE
from web.ui import formatting as fmt
from web.ui.charts import DayPoint, day_chart_svg
from web.ui.i18n import gettext

#: Fills drawn into the SVG itself, so that a chart never falls back to black (the
#: stylesheet's `svg .bar` rules take precedence where they apply).
BAR_FILL = "#0b8a5f"
CONGESTED_FILL = "#c62828"
THRESHOLD_STROKE = "#e08a00"
#: A bar of a range of one or two periods stays a bar, not a block filling the chart.
MAX_BAR_W = 56.0


def _f(x: float) -> str:
    text = f"{x:.1f}"
    return text[:-2] if text.endswith(".0") else text


def bars_svg(
    items: Sequence[tuple[str, float | None]],
    *,
    title: str,
    empty_label: str,
    fmt_value: Callable[[float], str],
    threshold: float | None = None,
    width: int = 640,
    height: int = 220,
) -> str:
    """Vertical bars of shares in [0, 1] (e.g. self-sufficiency per month)."""
    pad_l, pad_r, pad_t, pad_b = 44, 12, 24, 40
    parts = [
        f'<svg class="chart chart-bars" viewBox="0 0 {width} {height}" role="img" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
    ]
    if not items:
        parts.append(
            f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" class="empty">'
            f"{escape(empty_label)}</text></svg>"
        )
        return "".join(parts)
    plot_w, plot_h = width - pad_l - pad_r, height - pad_t - pad_b
    y0 = pad_t + plot_h
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        y = y0 - tick * plot_h
        parts.append(
            f'<line class="grid" x1="{pad_l}" x2="{width - pad_r}" y1="{_f(y)}" y2="{_f(y)}"/>'
        )
        parts.append(
            f'<text class="tick" x="{pad_l - 6}" y="{_f(y + 4)}" text-anchor="end">'
            f"{escape(fmt_value(tick))}</text>"
        )
    step = plot_w / len(items)
    label_every = max(1, len(items) // 12)
    for k, (label, value) in enumerate(items):
        x = pad_l + k * step
        if value is not None:
            h = max(0.0, min(1.0, value)) * plot_h
            bar_w = min(step * 0.7, MAX_BAR_W)
            parts.append(
                f'<rect class="bar" fill="{BAR_FILL}" x="{_f(x + (step - bar_w) / 2)}" '
                f'y="{_f(y0 - h)}" width="{_f(bar_w)}" height="{_f(h)}">'
                f"<title>{escape(label)}: "
                f"{escape(fmt_value(value))}</title></rect>"
            )
        if k % label_every == 0:
            parts.append(
                f'<text class="tick" x="{_f(x + step / 2)}" y="{y0 + 16}" text-anchor="middle">'
                f"{escape(label)}</text>"
            )
    if threshold is not None:
        y = y0 - threshold * plot_h
        parts.append(
            f'<line class="threshold" stroke="{THRESHOLD_STROKE}" x1="{pad_l}" '
            f'x2="{width - pad_r}" y1="{_f(y)}" y2="{_f(y)}" stroke-dasharray="4 3"/>'
        )
    parts.append("</svg>")
    return "".join(parts)


def hbars_svg(
    items: Sequence[tuple[str, int]],
    *,
    title: str,
    empty_label: str,
    unit: str,
    width: int = 640,
) -> str:
    """Horizontal bars of counts (e.g. congested intervals per line), largest first."""
    row_h, pad_l, pad_r, pad_t = 22, 120, 80, 8
    height = pad_t * 2 + max(1, len(items)) * row_h
    parts = [
        f'<svg class="chart chart-hbars" viewBox="0 0 {width} {height}" role="img" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
    ]
    if not items:
        parts.append(
            f'<text x="{width / 2}" y="{height / 2 + 4}" text-anchor="middle" class="empty">'
            f"{escape(empty_label)}</text></svg>"
        )
        return "".join(parts)
    top = max(v for _, v in items) or 1
    plot_w = width - pad_l - pad_r
    for k, (label, value) in enumerate(items):
        y = pad_t + k * row_h
        w = plot_w * value / top
        label_y, bar_h = y + 15, row_h - 6
        parts.append(
            f'<text class="tick" x="{pad_l - 6}" y="{label_y}" text-anchor="end">'
            f"{escape(label)}</text>"
            f'<rect class="bar congested" fill="{CONGESTED_FILL}" x="{pad_l}" y="{y + 3}" '
            f'width="{_f(w)}" '
            f'height="{bar_h}"/><text class="value" x="{_f(pad_l + w + 6)}" y="{label_y}">'
            f"{value} {escape(unit)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def shares_chart(
    rows: Sequence[tuple[str, Any]], loc: str, threshold: float | None = None
) -> Markup:
    items = [(label, f.self_sufficiency) for label, f in rows]
    return Markup(
        bars_svg(
            items,
            title=gettext("Self-sufficiency", loc),
            empty_label=gettext("No cleared intervals in this range", loc),
            fmt_value=lambda v: fmt.percent(v, loc),
            threshold=threshold,
        )
    )


def congestion_chart(congestion: dict[int, int], names: dict[int, str], loc: str) -> Markup:
    top = sorted(congestion.items(), key=lambda kv: (-kv[1], names.get(kv[0], "")))[:8]
    return Markup(
        hbars_svg(
            [(names.get(k, str(k)), v) for k, v in top],
            title=gettext("Most congested lines", loc),
            empty_label=gettext("No congested lines in this range", loc),
            unit=gettext("intervals", loc),
        )
    )


def price_volume_chart(day: Sequence[Any], loc: str, timezone: str = DEFAULT_TIMEZONE) -> Markup:
    points = [
        DayPoint(
            label=fmt.time_hm(f.start_utc, timezone),
            price=None if f.price_pln_per_kwh is None else float(f.price_pln_per_kwh),
            local_kwh=float(min(f.bought_kwh, f.sold_kwh)),
            grid_kwh=float(abs(f.bought_kwh - f.sold_kwh)),
        )
        for f in day
    ]
    return Markup(
        day_chart_svg(
            points,
            title=gettext("Price and volume over the day", loc),
            price_label=gettext("Price (PLN/kWh)", loc),
            local_label=gettext("Traded locally", loc),
            grid_label=gettext("With the grid", loc),
            empty_label=gettext("No cleared intervals in this range", loc),
            fmt_price=lambda p: fmt.number(p, 2, loc),
            fmt_qty=lambda q: fmt.number(q, 0, loc) + " kWh",
        )
    )
