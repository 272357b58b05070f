"""Template functions that turn market views into the SVG charts and map (translated labels,
locale formatting). The drawing itself is in `web.charts` and `web.netmap`."""

from __future__ import annotations

from typing import Any

from jinja2 import pass_context
from markupsafe import Markup

from market.core.settings import DEFAULT_TIMEZONE
from web.ui import formatting as fmt
from web.ui.charts import BookLevel, DayPoint, day_chart_svg, supply_demand_svg
from web.ui.day_ahead_charts import price_heatmap_svg, storage_svg
from web.ui.i18n import context_locale, gettext
from web.ui.netmap import MapLine, MapNode, network_svg


def _f(value: Any) -> float | None:
    return None if value is None else float(value)


@pass_context
def book_chart(ctx: Any, book: Any, cluster: Any = None) -> Markup:
    """Supply/demand curves of an order book, with the grid prices as reference lines."""
    loc = context_locale(ctx)
    refs: list[tuple[str, float]] = []
    if cluster is not None:
        for label, attr in (
            (gettext("price cap", loc), "price_cap"),
            (gettext("price floor", loc), "price_floor"),
        ):
            value = getattr(cluster, attr, None)
            if value is not None:
                refs.append((label, float(value)))
    bids = [BookLevel(float(s.price), float(s.quantity_kwh)) for s in (book.bids if book else [])]
    asks = [BookLevel(float(s.price), float(s.quantity_kwh)) for s in (book.asks if book else [])]
    return Markup(
        supply_demand_svg(
            asks,
            bids,
            title=gettext("Supply and demand", loc),
            supply_label=gettext("Offers (sell)", loc),
            demand_label=gettext("Bids (buy)", loc),
            empty_label=gettext("No orders yet for this interval", loc),
            fmt_price=lambda p: fmt.number(p, 2, loc),
            fmt_qty=lambda q: fmt.number(q, 0, loc) + " kWh",
            reference_prices=refs,
        )
    )


@pass_context
def day_chart(ctx: Any, results: Any) -> Markup:
    """Price and local/grid volumes over a day of results (oldest first)."""
    loc = context_locale(ctx)
    points = [
        DayPoint(
            label=fmt.time_hm(r.start_utc, ctx.get("timezone", DEFAULT_TIMEZONE)),
            price=_f(r.price_max) if r.status == "cleared" else None,
            local_kwh=float(r.local_kwh or 0),
            grid_kwh=float((r.import_kwh or 0) + (r.export_kwh or 0)),
        )
        for r in results
    ]
    return Markup(
        day_chart_svg(
            points,
            title=gettext("Prices and volumes over the day", loc),
            price_label=gettext("price", loc),
            local_label=gettext("traded locally", loc),
            grid_label=gettext("from/to the grid", loc),
            empty_label=gettext("No cleared intervals on this day", loc),
            fmt_price=lambda p: fmt.number(p, 2, loc),
            fmt_qty=lambda q: fmt.number(q, 0, loc) + " kWh",
        )
    )


@pass_context
def network_map(ctx: Any, network: Any, result: Any = None) -> Markup:
    """The network with each line's loading in `result` (if any) and nodal prices."""
    loc = context_locale(ctx)
    if network is None:
        return Markup("")
    prices = {n.code: _f(n.price) for n in (result.nodes if result else [])}
    flows = {ln.code: ln for ln in (result.lines if result else [])}
    per_hour = 60.0 / result.summary.minutes if result else 4.0
    nodes = [MapNode(n.code, n.name, n.kind, prices.get(n.code)) for n in network.nodes]
    lines = []
    for line in network.lines:
        flow = flows.get(line.code)
        lines.append(
            MapLine(
                line.code,
                line.from_node,
                line.to_node,
                float(line.capacity_kw),
                float(flow.flow_kwh) * per_hour if flow else None,
                bool(flow.congested) if flow else False,
            )
        )

    def describe_line(ln: MapLine) -> str:
        if ln.flow_kw is None:
            return gettext(
                "%(line)s: limit %(cap)s", loc, line=ln.id, cap=fmt.power_kw(ln.capacity_kw, loc)
            )
        return gettext(
            "%(line)s: %(flow)s of %(cap)s (%(load)s)",
            loc,
            line=ln.id,
            flow=fmt.power_kw(abs(ln.flow_kw), loc),
            cap=fmt.power_kw(ln.capacity_kw, loc),
            load=fmt.percent(ln.loading, loc),
        ) + (" — " + gettext("congested", loc) if ln.congested else "")

    def describe_node(node: MapNode) -> str:
        if node.price is None:
            return node.label
        return f"{node.label}: {fmt.price(node.price, loc)}"

    top = [n.code for n in network.nodes if n.kind in ("gpz", "feeder", "station")]
    root = next((n.code for n in network.nodes if n.kind == "gpz"), None)
    return Markup(
        network_svg(
            nodes,
            lines,
            title=gettext("Network map with line loading", loc),
            describe_line=describe_line,
            describe_node=describe_node,
            root=root,
            label_depth_nodes=top,
        )
    )


def _hour_labels(ctx: Any, starts: Any) -> list[tuple[int, str]]:
    """A column mark every three local hours (on DST days too)."""
    tz = ctx.get("timezone", DEFAULT_TIMEZONE)
    marks = []
    for t, start in enumerate(starts):
        text = fmt.time_hm(start, tz)
        if text.endswith(":00") and int(text[:2]) % 3 == 0:
            marks.append((t, text))
    return marks


@pass_context
def day_ahead_heatmap(ctx: Any, view: Any) -> Markup:
    """The day-ahead prices per interval and node (`DayAheadView`)."""
    loc = context_locale(ctx)
    tz = ctx.get("timezone", DEFAULT_TIMEZONE)
    prices = [[_f(p) for p in row] for row in view.prices]

    def describe(t: int, k: int, price: float) -> str:
        return f"{view.nodes[k]} {fmt.time_hm(view.starts[t], tz)}: {fmt.price(price, loc)}"

    return Markup(
        price_heatmap_svg(
            prices,
            view.nodes,
            _hour_labels(ctx, view.starts),
            title=gettext("Day-ahead prices per interval and node", loc),
            empty_label=gettext("The day-ahead auction of this day is not cleared yet", loc),
            describe=describe,
            fmt_price=lambda p: fmt.price(p, loc),
        )
    )


@pass_context
def storage_chart(ctx: Any, view: Any, unit: Any) -> Markup:
    """A storage unit's day: charging, discharging and state of charge (`StorageView`)."""
    loc = context_locale(ctx)
    return Markup(
        storage_svg(
            [float(v) for v in unit.charge_kwh],
            [float(v) for v in unit.discharge_kwh],
            [float(v) for v in unit.soc_kwh],
            float(unit.energy_kwh or 0),
            _hour_labels(ctx, view.starts),
            title=gettext("Storage schedule and state of charge", loc),
            charge_label=gettext("charging", loc),
            discharge_label=gettext("discharging", loc),
            soc_label=gettext("state of charge", loc),
            fmt_qty=lambda q: fmt.number(q, 0, loc) + " kWh",
        )
    )


GLOBALS = {
    "book_chart": book_chart,
    "day_chart": day_chart,
    "network_map": network_map,
    "day_ahead_heatmap": day_ahead_heatmap,
    "storage_chart": storage_chart,
}
