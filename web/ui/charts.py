"""SVG charts rendered on the server: supply/demand curves and a day's prices and volumes.

Pure functions: numbers and already-translated labels in, an SVG string out (no I/O, no
templates). Every text is escaped. The SVGs scale to their container (`viewBox`, width 100%)
so they work at phone width, and carry a `<title>`/`<desc>` for screen readers.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

Formatter = Callable[[float], str]


@dataclass(frozen=True, slots=True)
class BookLevel:
    """Aggregated volume at one price step of the order book (no identities)."""

    price: float
    quantity_kwh: float


@dataclass(frozen=True, slots=True)
class DayPoint:
    """One cleared interval of a day, for the day charts."""

    label: str  # local start, e.g. "14:15"
    price: float | None  # clearing price (PLN/kWh) at the reference node, None if not cleared
    local_kwh: float  # energy traded inside the cluster
    grid_kwh: float  # energy bought from or sold to the upstream grid


@dataclass(frozen=True, slots=True)
class Curve:
    points: tuple[tuple[float, float], ...]  # (cumulative kWh, price) step vertices


def _fmt(value: float) -> str:
    """Compact coordinates (1 decimal place) keep the SVG small."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def step_curve(levels: Sequence[BookLevel], descending: bool) -> Curve:
    """Merit-order step curve: offers sorted cheapest first (supply), bids dearest first
    (demand). Vertices alternate horizontal and vertical segments."""
    ordered = sorted(levels, key=lambda lv: lv.price, reverse=descending)
    points: list[tuple[float, float]] = []
    x = 0.0
    for level in ordered:
        if level.quantity_kwh <= 0:
            continue
        points.append((x, level.price))
        x += level.quantity_kwh
        points.append((x, level.price))
    return Curve(tuple(points))


def _price_at(curve: Curve, x: float) -> float | None:
    for (x0, p0), (x1, _p1) in zip(curve.points[::2], curve.points[1::2], strict=True):
        if x0 <= x < x1:
            return p0
    return None


def crossing(supply: Curve, demand: Curve) -> tuple[float, float] | None:
    """Where the step curves cross: (quantity, price) of the uniform-price match at a single
    node, or None when no bid meets an offer. The price is the midpoint of the last matched
    segment's band (a chart marker only: the real price comes from the clearing)."""
    xs = sorted({q for q, _ in supply.points} | {q for q, _ in demand.points})
    matched: tuple[float, float] | None = None
    for x0, x1 in itertools.pairwise(xs):
        s, d = _price_at(supply, x0), _price_at(demand, x0)
        if s is None or d is None or s > d:
            break
        matched = (x1, (s + d) / 2)
    return matched


def _nice_ticks(lo: float, hi: float, count: int = 4) -> list[float]:
    span = hi - lo
    if span <= 0:
        return [lo]
    raw = span / count
    magnitude = 10 ** _floor_log10(raw)
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = (lo // step) * step
    ticks = []
    t = first
    while t <= hi + step * 1e-9:
        if t >= lo - step * 1e-9:
            ticks.append(round(t, 10))
        t += step
    return ticks


def _floor_log10(x: float) -> int:
    n = 0
    while x >= 10:
        x /= 10
        n += 1
    while x < 1:
        x *= 10
        n -= 1
    return n


def supply_demand_svg(
    offers: Sequence[BookLevel],
    bids: Sequence[BookLevel],
    *,
    title: str,
    supply_label: str,
    demand_label: str,
    empty_label: str,
    fmt_price: Formatter,
    fmt_qty: Formatter,
    reference_prices: Sequence[tuple[str, float]] = (),
    width: int = 640,
    height: int = 300,
) -> str:
    """Supply (offers) and demand (bids) step curves of one interval's order book.

    `reference_prices` draws dashed horizontal lines (e.g. grid import and export prices)."""
    pad_l, pad_r, pad_t, pad_b = 64, 16, 28, 36
    supply = step_curve(offers, descending=False)
    demand = step_curve(bids, descending=True)
    parts = [
        f'<svg class="chart chart-sd" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="sd-title" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="sd-title">{escape(title)}</title>',
    ]
    if not supply.points and not demand.points:
        parts.append(
            f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" class="empty">'
            f"{escape(empty_label)}</text></svg>"
        )
        return "".join(parts)
    all_prices = [p for _, p in supply.points + demand.points] + [p for _, p in reference_prices]
    p_lo, p_hi = min(0.0, *all_prices), max(all_prices)
    p_hi = p_hi * 1.08 if p_hi > 0 else 1.0
    q_hi = max([x for x, _ in supply.points + demand.points] + [1e-9]) * 1.05
    plot_w, plot_h = width - pad_l - pad_r, height - pad_t - pad_b

    def sx(q: float) -> float:
        return pad_l + q / q_hi * plot_w

    def sy(p: float) -> float:
        return pad_t + (1 - (p - p_lo) / (p_hi - p_lo)) * plot_h

    for tick in _nice_ticks(p_lo, p_hi):
        y = sy(tick)
        parts.append(
            f'<line class="grid" x1="{pad_l}" y1="{_fmt(y)}" x2="{width - pad_r}" y2="{_fmt(y)}"/>'
            f'<text class="tick" x="{pad_l - 6}" y="{_fmt(y + 4)}" text-anchor="end">'
            f"{escape(fmt_price(tick))}</text>"
        )
    for tick in _nice_ticks(0, q_hi):
        x = sx(tick)
        parts.append(
            f'<text class="tick" x="{_fmt(x)}" y="{height - pad_b + 16}" text-anchor="middle">'
            f"{escape(fmt_qty(tick))}</text>"
        )
    parts.append(
        f'<line class="axis" x1="{pad_l}" y1="{height - pad_b}" x2="{width - pad_r}" '
        f'y2="{height - pad_b}"/><line class="axis" x1="{pad_l}" y1="{pad_t}" x2="{pad_l}" '
        f'y2="{height - pad_b}"/>'
    )
    for label, value in reference_prices:
        y = sy(value)
        parts.append(
            f'<line class="ref" x1="{pad_l}" y1="{_fmt(y)}" x2="{width - pad_r}" y2="{_fmt(y)}"/>'
            f'<text class="ref-label" x="{width - pad_r - 4}" y="{_fmt(y - 4)}" '
            f'text-anchor="end">{escape(label)}</text>'
        )
    for curve, css in ((supply, "supply"), (demand, "demand")):
        if curve.points:
            path = " ".join(f"{_fmt(sx(q))},{_fmt(sy(p))}" for q, p in curve.points)
            parts.append(f'<polyline class="{css}" points="{path}"/>')
    cross = crossing(supply, demand)
    if cross is not None:
        parts.append(
            f'<circle class="cross" cx="{_fmt(sx(cross[0]))}" cy="{_fmt(sy(cross[1]))}" r="4"/>'
        )
    parts.append(
        f'<g class="legend"><rect class="supply" x="{pad_l + 8}" y="8" width="12" height="4"/>'
        f'<text x="{pad_l + 24}" y="14">{escape(supply_label)}</text>'
        f'<rect class="demand" x="{pad_l + 170}" y="8" width="12" height="4"/>'
        f'<text x="{pad_l + 186}" y="14">{escape(demand_label)}</text></g></svg>'
    )
    return "".join(parts)


def day_chart_svg(
    points: Sequence[DayPoint],
    *,
    title: str,
    price_label: str,
    local_label: str,
    grid_label: str,
    empty_label: str,
    fmt_price: Formatter,
    fmt_qty: Formatter,
    width: int = 1000,
    height: int = 280,
) -> str:
    """A day of cleared intervals: stacked volume bars (local, grid) with the price line."""
    pad_l, pad_r, pad_t, pad_b = 64, 64, 28, 32
    parts = [
        f'<svg class="chart chart-day" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="day-title" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="day-title">{escape(title)}</title>',
    ]
    if not points:
        parts.append(
            f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" class="empty">'
            f"{escape(empty_label)}</text></svg>"
        )
        return "".join(parts)
    plot_w, plot_h = width - pad_l - pad_r, height - pad_t - pad_b
    n = len(points)
    bar_w = plot_w / n
    q_hi = max(max(p.local_kwh + abs(p.grid_kwh) for p in points), 1e-9) * 1.1
    prices = [p.price for p in points if p.price is not None]
    p_lo = min([0.0, *prices])
    p_hi = max(prices) * 1.1 if prices and max(prices) > 0 else 1.0

    def qy(q: float) -> float:
        return pad_t + (1 - q / q_hi) * plot_h

    def py(p: float) -> float:
        return pad_t + (1 - (p - p_lo) / (p_hi - p_lo)) * plot_h

    for tick in _nice_ticks(0, q_hi):
        y = qy(tick)
        parts.append(
            f'<line class="grid" x1="{pad_l}" y1="{_fmt(y)}" x2="{width - pad_r}" y2="{_fmt(y)}"/>'
            f'<text class="tick" x="{pad_l - 6}" y="{_fmt(y + 4)}" text-anchor="end">'
            f"{escape(fmt_qty(tick))}</text>"
        )
    for tick in _nice_ticks(p_lo, p_hi):
        parts.append(
            f'<text class="tick tick-price" x="{width - pad_r + 6}" y="{_fmt(py(tick) + 4)}">'
            f"{escape(fmt_price(tick))}</text>"
        )
    label_every = max(1, round(n / 8))
    for i, point in enumerate(points):
        x = pad_l + i * bar_w
        local_top = qy(point.local_kwh)
        grid_top = qy(point.local_kwh + abs(point.grid_kwh))
        parts.append(
            f"<g><title>{escape(point.label)}: {escape(local_label)} "
            f"{escape(fmt_qty(point.local_kwh))}, {escape(grid_label)} "
            f"{escape(fmt_qty(point.grid_kwh))}"
            + (f", {escape(price_label)} {escape(fmt_price(point.price))}" if point.price else "")
            + "</title>"
            f'<rect class="bar-local" x="{_fmt(x + 1)}" y="{_fmt(local_top)}" '
            f'width="{_fmt(max(bar_w - 2, 1))}" height="{_fmt(qy(0) - local_top)}"/>'
            f'<rect class="bar-grid" x="{_fmt(x + 1)}" y="{_fmt(grid_top)}" '
            f'width="{_fmt(max(bar_w - 2, 1))}" height="{_fmt(local_top - grid_top)}"/></g>'
        )
        if i % label_every == 0:
            parts.append(
                f'<text class="tick" x="{_fmt(x + bar_w / 2)}" y="{height - pad_b + 16}" '
                f'text-anchor="middle">{escape(point.label)}</text>'
            )
    line = [
        f"{_fmt(pad_l + (i + 0.5) * bar_w)},{_fmt(py(p.price))}"
        for i, p in enumerate(points)
        if p.price is not None
    ]
    if line:
        parts.append(f'<polyline class="price" points="{" ".join(line)}"/>')
    parts.append(
        f'<g class="legend"><rect class="bar-local" x="{pad_l + 8}" y="6" width="12" height="10"/>'
        f'<text x="{pad_l + 24}" y="15">{escape(local_label)}</text>'
        f'<rect class="bar-grid" x="{pad_l + 170}" y="6" width="12" height="10"/>'
        f'<text x="{pad_l + 186}" y="15">{escape(grid_label)}</text>'
        f'<rect class="price" x="{pad_l + 330}" y="10" width="12" height="3"/>'
        f'<text x="{pad_l + 346}" y="15">{escape(price_label)}</text></g></svg>'
    )
    return "".join(parts)
