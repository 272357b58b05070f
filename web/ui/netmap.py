"""SVG map of the cluster's network: nodes laid out as a radial tree from the grid
connection (GPZ), lines coloured by loading, congested lines highlighted.

Pure function: nodes, lines and flows in, SVG text out. Distribution networks run radially, so
the layout walks a breadth-first spanning tree from the root; lines that close a mesh are
drawn straight between their ends. Loading is |flow| / capacity; a line at (or within 0.1 %
of) its limit, or flagged as binding by the clearing, counts as congested.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

CONGESTED_AT = 0.999


@dataclass(frozen=True, slots=True)
class MapNode:
    id: str
    label: str
    kind: str = ""  # gpz, feeder, station, lv, ... (CSS class)
    price: float | None = None  # nodal price in the shown interval, PLN/kWh


@dataclass(frozen=True, slots=True)
class MapLine:
    id: str
    from_node: str
    to_node: str
    capacity_kw: float
    flow_kw: float | None = None  # positive from → to
    binding: bool = False

    @property
    def loading(self) -> float | None:
        if self.flow_kw is None or self.capacity_kw <= 0:
            return None
        return abs(self.flow_kw) / self.capacity_kw

    @property
    def congested(self) -> bool:
        return self.binding or (self.loading is not None and self.loading >= CONGESTED_AT)


def layout(
    nodes: Sequence[MapNode], lines: Sequence[MapLine], root: str | None = None
) -> dict[str, tuple[float, float]]:
    """Radial tree layout in the unit disc: root at the centre, depth d on the ring of radius
    d / max_depth, each subtree given an angle proportional to its number of leaves."""
    ids = [n.id for n in nodes]
    if not ids:
        return {}
    adjacency: dict[str, list[str]] = {i: [] for i in ids}
    for line in lines:
        if line.from_node in adjacency and line.to_node in adjacency:
            adjacency[line.from_node].append(line.to_node)
            adjacency[line.to_node].append(line.from_node)
    start = root if root in adjacency else ids[0]
    children: dict[str, list[str]] = {i: [] for i in ids}
    depth = {start: 0}
    order = [start]
    queue = deque([start])
    while True:
        while queue:
            current = queue.popleft()
            for nxt in adjacency[current]:
                if nxt not in depth:
                    depth[nxt] = depth[current] + 1
                    children[current].append(nxt)
                    order.append(nxt)
                    queue.append(nxt)
        rest = [i for i in ids if i not in depth]
        if not rest:
            break
        # A disconnected island hangs off the root so it is still drawn.
        depth[rest[0]] = 1
        children[start].append(rest[0])
        order.append(rest[0])
        queue.append(rest[0])
    leaves: dict[str, int] = {}
    for node in reversed(order):
        leaves[node] = sum(leaves[c] for c in children[node]) or 1
    max_depth = max(depth.values()) or 1
    positions: dict[str, tuple[float, float]] = {start: (0.0, 0.0)}

    def place(node: str, lo: float, hi: float) -> None:
        total = leaves[node]
        angle = lo
        for child in children[node]:
            span = (hi - lo) * leaves[child] / total
            mid = angle + span / 2
            r = depth[child] / max_depth
            positions[child] = (r * math.cos(mid), r * math.sin(mid))
            place(child, angle, angle + span)
            angle += span

    place(start, -math.pi / 2, 3 * math.pi / 2)
    return positions


def loading_class(line: MapLine) -> str:
    load = line.loading
    if line.congested:
        return "congested"
    if load is None:
        return "idle"
    if load >= 0.8:
        return "high"
    if load >= 0.4:
        return "medium"
    return "low"


def network_svg(
    nodes: Sequence[MapNode],
    lines: Sequence[MapLine],
    *,
    title: str,
    describe_line: Callable[[MapLine], str],
    describe_node: Callable[[MapNode], str],
    root: str | None = None,
    size: int = 520,
    label_depth_nodes: Sequence[str] = (),
) -> str:
    """The network map. `describe_*` give the (translated) tooltip text for each element;
    `label_depth_nodes` are the node ids whose labels are printed (others show on hover)."""
    pos = layout(nodes, lines, root)
    margin = 70
    radius = size / 2 - margin
    centre = size / 2

    def xy(node_id: str) -> tuple[str, str]:
        x, y = pos[node_id]
        return f"{centre + x * radius:.1f}", f"{centre + y * radius:.1f}"

    prices = [n.price for n in nodes if n.price is not None]
    p_lo, p_hi = (min(prices), max(prices)) if prices else (0.0, 0.0)
    parts = [
        f'<svg class="netmap" viewBox="0 0 {size} {size}" role="img" '
        f'aria-labelledby="netmap-title" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="netmap-title">{escape(title)}</title>',
    ]
    for line in lines:
        if line.from_node not in pos or line.to_node not in pos:
            continue
        (x1, y1), (x2, y2) = xy(line.from_node), xy(line.to_node)
        css = loading_class(line)
        width = 2 + 5 * min(line.loading or 0.0, 1.0)
        parts.append(
            f'<line class="line {css}" data-line="{escape(line.id)}" x1="{x1}" y1="{y1}" '
            f'x2="{x2}" y2="{y2}" stroke-width="{width:.1f}">'
            f"<title>{escape(describe_line(line))}</title></line>"
        )
    shown = set(label_depth_nodes)
    for node in nodes:
        x, y = xy(node.id)
        shade = ""
        if node.price is not None and p_hi > p_lo:
            # Cheaper nodes light, dearer nodes dark: nodal prices differ only under congestion.
            shade = f' data-price-rank="{round((node.price - p_lo) / (p_hi - p_lo) * 4)}"'
        r = 9 if node.kind == "gpz" else 6 if node.kind in ("feeder", "station") else 4
        parts.append(
            f'<g class="node {escape(node.kind)}" data-node="{escape(node.id)}"{shade}>'
            f'<circle cx="{x}" cy="{y}" r="{r}"><title>{escape(describe_node(node))}</title>'
            "</circle>"
        )
        if node.id in shown:
            # Labels sit outside the node, away from the centre; the GPZ gets its name,
            # others their short code (the full name is in the tooltip).
            px, py = pos[node.id]
            dist = math.hypot(px, py)
            text = node.label if node.kind == "gpz" else node.id
            if dist < 1e-9:
                lx, ly, anchor = float(x), float(y) + r + 14, "middle"
            else:
                ux, uy = px / dist, py / dist
                lx, ly = float(x) + ux * (r + 5), float(y) + uy * (r + 5) + 4
                anchor = "start" if ux > 0.3 else "end" if ux < -0.3 else "middle"
                ly += 8 if uy > 0.7 else -4 if uy < -0.7 else 0
            parts.append(
                f'<text x="{lx:.1f}" y="{ly:.1f}" text-anchor="{anchor}">{escape(text)}</text>'
            )
        parts.append("</g>")
    parts.append("</svg>")
    return "".join(parts)
