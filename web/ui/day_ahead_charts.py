"""SVG charts of a day-ahead result, rendered on the server (pure: numbers and translated
labels in, an SVG string out, every text escaped; `viewBox` so they scale to phone width):
the price heat map (interval × node) and a storage unit's charge/discharge and state of
charge over the day."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape

Formatter = Callable[[float], str]


def _fmt(value: float) -> str:
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _colour(share: float) -> str:
    """Cheap (0) green to dear (1) red, through yellow."""
    share = min(1.0, max(0.0, share))
    if share < 0.5:
        r, g = int(60 + 390 * share), 170
    else:
        r, g = 255, int(170 - 240 * (share - 0.5))
    return f"rgb({min(r, 255)},{max(g, 40)},60)"


def price_heatmap_svg(
    prices: Sequence[Sequence[float | None]],
    nodes: Sequence[str],
    hour_labels: Sequence[tuple[int, str]],
    *,
    title: str,
    empty_label: str,
    describe: Callable[[int, int, float], str],
    fmt_price: Formatter,
    width: int = 760,
) -> str:
    """prices[t][k] for interval t and node k; `hour_labels` are (interval index, "HH:MM")
    column marks; `describe(t, k, price)` the tooltip of a cell."""
    n, m = len(prices), len(nodes)
    pad_l, pad_t, pad_r, pad_b = 110, 24, 12, 44
    row_h = 14
    height = pad_t + max(1, m) * row_h + pad_b
    parts = [
        f'<svg class="chart chart-heatmap" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="hm-title" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="hm-title">{escape(title)}</title>',
    ]
    values = [p for row in prices for p in row if p is not None]
    if not n or not m or not values:
        parts.append(
            f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" class="empty">'
            f"{escape(empty_label)}</text></svg>"
        )
        return "".join(parts)
    lo, hi = min(values), max(values)
    span = hi - lo or 1.0
    cell_w = (width - pad_l - pad_r) / n
    for k, node in enumerate(nodes):
        y = pad_t + k * row_h
        parts.append(
            f'<text x="{pad_l - 6}" y="{_fmt(y + row_h - 3)}" text-anchor="end" '
            f'class="tick">{escape(node)}</text>'
        )
        for t in range(n):
            p = prices[t][k]
            if p is None:
                continue
            x = pad_l + t * cell_w
            parts.append(
                f'<rect x="{_fmt(x)}" y="{y}" width="{_fmt(cell_w + 0.3)}" height="{row_h - 1}" '
                f'fill="{_colour((p - lo) / span)}"><title>{escape(describe(t, k, p))}</title>'
                f"</rect>"
            )
    base = pad_t + m * row_h
    for t, text in hour_labels:
        x = pad_l + t * cell_w
        parts.append(
            f'<text x="{_fmt(x)}" y="{base + 14}" text-anchor="middle" class="tick">'
            f"{escape(text)}</text>"
        )
    legend_y = base + 32
    parts.append(
        f'<rect x="{pad_l}" y="{legend_y - 9}" width="12" height="10" fill="{_colour(0)}"/>'
        f'<text x="{pad_l + 16}" y="{legend_y}" class="tick">{escape(fmt_price(lo))}</text>'
        f'<rect x="{pad_l + 120}" y="{legend_y - 9}" width="12" height="10" '
        f'fill="{_colour(1)}"/><text x="{pad_l + 136}" y="{legend_y}" class="tick">'
        f"{escape(fmt_price(hi))}</text>"
    )
    parts.append("</svg>")
    return "".join(parts)


def storage_svg(
    charge: Sequence[float],
    discharge: Sequence[float],
    soc: Sequence[float],
    energy: float,
    hour_labels: Sequence[tuple[int, str]],
    *,
    title: str,
    charge_label: str,
    discharge_label: str,
    soc_label: str,
    fmt_qty: Formatter,
    width: int = 760,
    height: int = 240,
) -> str:
    """Bars: charging above the axis, discharging below (kWh per interval); line: state of
    charge (right scale, 0…energy)."""
    n = len(soc)
    pad_l, pad_r, pad_t, pad_b = 56, 56, 28, 34
    parts = [
        f'<svg class="chart chart-storage" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="st-title" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="st-title">{escape(title)}</title>',
    ]
    if not n:
        parts.append("</svg>")
        return "".join(parts)
    plot_w, plot_h = width - pad_l - pad_r, height - pad_t - pad_b
    mid = pad_t + plot_h / 2
    peak = max([*charge, *discharge, 0.001])
    cell = plot_w / n
    top = max(energy, max(soc), 0.001)
    for t in range(n):
        x = pad_l + t * cell
        if charge[t] > 0:
            h = charge[t] / peak * plot_h / 2
            parts.append(
                f'<rect class="bar charge" x="{_fmt(x)}" y="{_fmt(mid - h)}" '
                f'width="{_fmt(cell * 0.9)}" height="{_fmt(h)}"/>'
            )
        if discharge[t] > 0:
            h = discharge[t] / peak * plot_h / 2
            parts.append(
                f'<rect class="bar discharge" x="{_fmt(x)}" y="{_fmt(mid)}" '
                f'width="{_fmt(cell * 0.9)}" height="{_fmt(h)}"/>'
            )
    path = " ".join(
        f"{'M' if t == 0 else 'L'}{_fmt(pad_l + (t + 1) * cell)},"
        f"{_fmt(pad_t + plot_h - soc[t] / top * plot_h)}"
        for t in range(n)
    )
    parts.append(f'<path class="line soc" d="{path}" fill="none"/>')
    parts.append(
        f'<line class="axis" x1="{pad_l}" y1="{_fmt(mid)}" x2="{pad_l + plot_w}" y2="{_fmt(mid)}"/>'
    )
    parts.append(
        f'<text x="{pad_l - 6}" y="{pad_t + 10}" text-anchor="end" class="tick">'
        f"{escape(fmt_qty(peak))}</text>"
        f'<text x="{width - pad_r + 6}" y="{pad_t + 10}" class="tick">{escape(fmt_qty(top))}'
        f"</text>"
    )
    for t, text in hour_labels:
        parts.append(
            f'<text x="{_fmt(pad_l + t * cell)}" y="{height - pad_b + 16}" '
            f'text-anchor="middle" class="tick">{escape(text)}</text>'
        )
    legend = ((charge_label, "charge"), (discharge_label, "discharge"), (soc_label, "soc"))
    for k, (text, cls) in enumerate(legend):
        x = pad_l + k * 170
        parts.append(
            f'<rect class="legend {cls}" x="{x}" y="8" width="12" height="10"/>'
            f'<text x="{x + 16}" y="17" class="tick">{escape(text)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
