"""SVG charts of money with and without the cluster: signed horizontal bars around a zero line
(a member's month: with the cluster, without it, the benefit) and paired bars (two simulated
scenarios side by side, per member kind).

Pure functions: numbers and translated labels in, escaped SVG out, like
`web.ui.report_charts`. Amounts may be negative (money received), so every bar starts at the
zero line and the scale spans the smallest and the largest value.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from html import escape

from web.ui.report_charts import BAR_FILL, THRESHOLD_STROKE

#: Fills drawn into the SVG (the stylesheet may override them): the cluster's colour, the grid
#: alone in grey, the second scenario in orange.
WITH_FILL = BAR_FILL
WITHOUT_FILL = "#7a8691"
BENEFIT_FILL = "#1565c0"
SECOND_FILL = THRESHOLD_STROKE
FILLS = {"with": WITH_FILL, "without": WITHOUT_FILL, "benefit": BENEFIT_FILL}


def _f(x: float) -> str:
    text = f"{x:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _label_room(labels: Iterable[str]) -> int:
    """Room left of the bars for the longest label (11 px text: ~6.5 px a character)."""
    return int(min(240, 20 + 6.5 * max((len(t) for t in labels), default=8)))


def _scale(
    values: Sequence[float], x0: float, plot_w: float
) -> tuple[float, Callable[[float], float]]:
    lo, hi = min(0.0, *values), max(0.0, *values)
    span = (hi - lo) or 1.0
    zero = x0 + plot_w * (-lo / span)
    return zero, lambda v: x0 + plot_w * ((v - lo) / span)


def signed_bars_svg(
    items: Sequence[tuple[str, float, str]],
    *,
    title: str,
    empty_label: str,
    fmt_value: Callable[[float], str],
    width: int = 640,
) -> str:
    """One horizontal bar per (label, value, kind) from the zero line; kind picks the fill
    (`with`, `without`, `benefit`)."""
    row_h, pad_r, pad_t = 28, 96, 10
    pad_l = _label_room(label for label, _, _ in items)
    height = pad_t * 2 + max(1, len(items)) * row_h
    parts = [
        f'<svg class="chart chart-signed" viewBox="0 0 {width} {height}" role="img" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
    ]
    if not items:
        parts.append(
            f'<text x="{width / 2}" y="{height / 2 + 4}" text-anchor="middle" class="empty">'
            f"{escape(empty_label)}</text></svg>"
        )
        return "".join(parts)
    zero, at = _scale([v for _, v, _ in items], pad_l, width - pad_l - pad_r)
    for k, (label, value, kind) in enumerate(items):
        y = pad_t + k * row_h
        x1, x2 = sorted((zero, at(value)))
        # the value right of the bar, or right of the zero line for a negative one
        text_x, anchor = (x2 + 6 if value >= 0 else zero + 6), "start"
        parts.append(
            f'<text class="tick" x="{pad_l - 8}" y="{y + 18}" text-anchor="end">'
            f"{escape(label)}</text>"
            f'<rect class="bar bar-{escape(kind)}" fill="{FILLS.get(kind, WITH_FILL)}" '
            f'x="{_f(x1)}" y="{y + 4}" width="{_f(max(1.0, x2 - x1))}" height="{row_h - 8}">'
            f"<title>{escape(label)}: {escape(fmt_value(value))}</title></rect>"
            f'<text class="value" x="{_f(text_x)}" y="{y + 18}" text-anchor="{anchor}">'
            f"{escape(fmt_value(value))}</text>"
        )
    parts.append(
        f'<line class="axis" stroke="#333" x1="{_f(zero)}" x2="{_f(zero)}" y1="{pad_t}" '
        f'y2="{height - pad_t}"/></svg>'
    )
    return "".join(parts)


def paired_bars_svg(
    rows: Sequence[tuple[str, float | None, float | None]],
    *,
    names: tuple[str, str],
    title: str,
    empty_label: str,
    fmt_value: Callable[[float], str],
    width: int = 640,
) -> str:
    """Two horizontal bars per row (scenario A above B) from the zero line, with a legend;
    a missing value (the kind is not in that scenario) draws no bar."""
    row_h, pad_r, pad_t, legend_h = 44, 96, 8, 22
    pad_l = _label_room(label for label, _, _ in rows)
    height = pad_t * 2 + legend_h + max(1, len(rows)) * row_h
    parts = [
        f'<svg class="chart chart-paired" viewBox="0 0 {width} {height}" role="img" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
    ]
    values = [v for _, a, b in rows for v in (a, b) if v is not None]
    if not values:
        parts.append(
            f'<text x="{width / 2}" y="{height / 2 + 4}" text-anchor="middle" class="empty">'
            f"{escape(empty_label)}</text></svg>"
        )
        return "".join(parts)
    for k, (name, fill) in enumerate(zip(names, (WITH_FILL, SECOND_FILL), strict=True)):
        x = 8 + k * width // 2
        parts.append(
            f'<rect x="{x}" y="{pad_t + 2}" width="12" height="12" fill="{fill}"/>'
            f'<text class="legend" x="{x + 18}" y="{pad_t + 12}">{escape(name)}</text>'
        )
    zero, at = _scale(values, pad_l, width - pad_l - pad_r)
    top = pad_t + legend_h
    for k, (label, *pair) in enumerate(rows):
        y = top + k * row_h
        parts.append(
            f'<text class="tick" x="{pad_l - 8}" y="{y + row_h / 2 + 4}" text-anchor="end">'
            f"{escape(label)}</text>"
        )
        for j, (value, fill, name, css) in enumerate(
            zip(pair, (WITH_FILL, SECOND_FILL), names, ("bar-a", "bar-b"), strict=True)
        ):
            if value is None:
                continue
            by = y + 3 + j * (row_h - 6) / 2
            bh = (row_h - 6) / 2 - 2
            x1, x2 = sorted((zero, at(value)))
            # the value right of the bar, or right of the zero line for a negative one
            text_x = x2 + 4 if value >= 0 else zero + 4
            anchor = "start"
            parts.append(
                f'<rect class="bar {css}" fill="{fill}" x="{_f(x1)}" y="{_f(by)}" '
                f'width="{_f(max(1.0, x2 - x1))}" height="{_f(bh)}">'
                f"<title>{escape(name)} · {escape(label)}: {escape(fmt_value(value))}</title>"
                f'</rect><text class="value" x="{_f(text_x)}" y="{_f(by + bh - 2)}" '
                f'text-anchor="{anchor}">{escape(fmt_value(value))}</text>'
            )
    parts.append(
        f'<line class="axis" stroke="#333" x1="{_f(zero)}" x2="{_f(zero)}" y1="{top}" '
        f'y2="{height - pad_t}"/></svg>'
    )
    return "".join(parts)
