from __future__ import annotations

import xml.etree.ElementTree as ET

from web.ui.charts import (
    BookLevel,
    DayPoint,
    crossing,
    day_chart_svg,
    step_curve,
    supply_demand_svg,
)
from web.ui.netmap import MapLine, MapNode, layout, loading_class, network_svg

SVG = "{http://www.w3.org/2000/svg}"


def _sd(offers, bids, **kw):  # type: ignore[no-untyped-def]
    return supply_demand_svg(
        offers,
        bids,
        title="Book <1>",
        supply_label="Offers",
        demand_label="Bids",
        empty_label="No orders",
        fmt_price=lambda p: f"{p:.2f}",
        fmt_qty=lambda q: f"{q:.0f}",
        **kw,
    )


def test_step_curves_sort_merit_order() -> None:
    offers = [BookLevel(0.6, 10), BookLevel(0.3, 10)]
    bids = [BookLevel(0.5, 10), BookLevel(0.8, 5)]
    assert step_curve(offers, descending=False).points == (
        (0, 0.3),
        (10, 0.3),
        (10, 0.6),
        (20, 0.6),
    )
    assert step_curve(bids, descending=True).points == ((0, 0.8), (5, 0.8), (5, 0.5), (15, 0.5))


def test_crossing_of_hand_example() -> None:
    # Offers 10 kWh at 0.30 and 10 at 0.60; bids 5 at 0.80 and 10 at 0.50: 10 kWh match, the
    # 0.30 offer against the 0.50 bid on the last matched step, marker at the band's middle.
    supply = step_curve([BookLevel(0.3, 10), BookLevel(0.6, 10)], descending=False)
    demand = step_curve([BookLevel(0.8, 5), BookLevel(0.5, 10)], descending=True)
    assert crossing(supply, demand) == (10, 0.4)
    no_match = step_curve([BookLevel(0.9, 5)], descending=False)
    assert crossing(no_match, demand) is None


def test_supply_demand_svg_is_valid_and_escaped() -> None:
    svg = _sd([BookLevel(0.3, 10)], [BookLevel(0.5, 4)], reference_prices=[("grid <import>", 0.89)])
    root = ET.fromstring(svg)
    assert root.find(f"{SVG}title").text == "Book <1>"
    classes = [el.get("class") for el in root.iter()]
    assert "supply" in classes and "demand" in classes and "cross" in classes
    assert "grid &lt;import&gt;" in svg
    assert "No orders" in _sd([], [])
    ET.fromstring(_sd([], []))


def test_day_chart() -> None:
    points = [
        DayPoint("00:00", 0.42, 10, 5),
        DayPoint("00:15", None, 0, 0),
        DayPoint("00:30", 0.5, 3, -2),
    ]
    svg = day_chart_svg(
        points, title="Day", price_label="Price", local_label="Local", grid_label="Grid",
        empty_label="Nothing", fmt_price=str, fmt_qty=str,
    )  # fmt: skip
    root = ET.fromstring(svg)
    assert (
        len([e for e in root.iter(f"{SVG}rect") if e.get("class") == "bar-local"]) == 4
    )  # 3 + legend
    price_line = next(e for e in root.iter(f"{SVG}polyline") if e.get("class") == "price")
    assert len(price_line.get("points").split()) == 2  # the uncleared interval has no price


def test_radial_layout_tree() -> None:
    nodes = [MapNode(i, i) for i in ("gpz", "f1", "f2", "s1", "s2", "s3")]
    lines = [
        MapLine("l1", "gpz", "f1", 100), MapLine("l2", "gpz", "f2", 100),
        MapLine("l3", "f1", "s1", 50), MapLine("l4", "f1", "s2", 50), MapLine("l5", "f2", "s3", 50),
    ]  # fmt: skip
    pos = layout(nodes, lines, root="gpz")
    assert pos["gpz"] == (0.0, 0.0)
    for leaf in ("s1", "s2", "s3"):
        x, y = pos[leaf]
        assert abs((x * x + y * y) ** 0.5 - 1.0) < 1e-9  # leaves on the outer ring
    x, y = pos["f1"]
    assert abs((x * x + y * y) ** 0.5 - 0.5) < 1e-9
    # An island (no line to it) is still placed.
    pos2 = layout([*nodes, MapNode("island", "island")], lines, root="gpz")
    assert "island" in pos2


def test_loading_classes_and_congestion_highlight() -> None:
    assert loading_class(MapLine("a", "x", "y", 100, flow_kw=-100)) == "congested"
    assert loading_class(MapLine("a", "x", "y", 100, flow_kw=85)) == "high"
    assert loading_class(MapLine("a", "x", "y", 100, flow_kw=50)) == "medium"
    assert loading_class(MapLine("a", "x", "y", 100, flow_kw=10)) == "low"
    assert loading_class(MapLine("a", "x", "y", 100)) == "idle"
    assert loading_class(MapLine("a", "x", "y", 100, flow_kw=10, binding=True)) == "congested"
    nodes = [MapNode("gpz", "GPZ <S>", "gpz", 0.5), MapNode("s", "S", "station", 0.7)]
    svg = network_svg(
        nodes,
        [MapLine("l1", "gpz", "s", 100, flow_kw=100)],
        title="Network",
        describe_line=lambda ln: f"{ln.id}: {ln.flow_kw}/{ln.capacity_kw}",
        describe_node=lambda n: n.label,
        root="gpz",
        label_depth_nodes=["gpz"],
    )
    root = ET.fromstring(svg)
    line = next(root.iter(f"{SVG}line"))
    assert "congested" in line.get("class")
    assert "GPZ &lt;S&gt;" in svg
    ranks = {g.get("data-node"): g.get("data-price-rank") for g in root.iter(f"{SVG}g")}
    assert ranks == {"gpz": "0", "s": "4"}
