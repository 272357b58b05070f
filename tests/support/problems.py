"""Random clearing problems: radial feeders with congested lines, and meshed DC networks.

Deterministic for a seed. Used by the matching tests and by `bench clearing` (bench imports
it from here; tests never import bench).
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from matching import ClearingProblem, GridConnection, Interval, Line, Network, Node, OrderBook

START = datetime(2026, 6, 15, 10, 0, tzinfo=UTC)


def feeder_tree(n_nodes: int, rng: np.random.Generator) -> list[int]:
    """Parent of each node (−1 for the GPZ) in a distribution-grid-like tree: the GPZ feeds
    a few 15 kV feeders, each a chain of MV/LV stations with laterals (depth ≈ 20–60);
    the remaining nodes are LV circuits hanging off the stations in short chains."""
    parent = [-1] * n_nodes
    if n_nodes <= 1:
        return parent
    n_mv = max(1, min(n_nodes - 1, n_nodes // 8))
    n_feeders = max(1, min(n_mv, n_nodes // 300 + 2))
    last = [0] * n_feeders  # the GPZ starts every feeder
    stations: list[list[int]] = [[] for _ in range(n_feeders)]
    for i in range(1, n_mv + 1):
        f = (i - 1) % n_feeders
        if stations[f] and rng.random() < 0.25:  # a lateral off an earlier station
            parent[i] = int(rng.choice(stations[f]))
        else:
            parent[i] = last[f]
        last[f] = i
        stations[f].append(i)
    lv_tail: dict[int, int] = {}
    for i in range(n_mv + 1, n_nodes):
        station = int(rng.integers(1, n_mv + 1))
        tail = lv_tail.get(station, station)
        # LV circuits: a short chain (at most three deep) below its station
        parent[i] = tail if tail != station and rng.random() < 0.5 else station
        lv_tail[station] = i
    return parent


def random_problem(
    n_orders: int,
    n_nodes: int,
    *,
    seed: int = 0,
    meshed: bool = False,
    chords: int | None = None,
    price_decimals: int = 2,
    grid: bool = True,
) -> ClearingProblem:
    """A feeder tree rooted at a GPZ node (with a grid connection), lines sized so that many
    are congested; `meshed` adds chords (closing rings between nearby stations) and
    reactances on every line (DC power flow)."""
    rng = np.random.default_rng(seed)
    nodes = tuple(Node(f"n{i}") for i in range(n_nodes))
    parent = feeder_tree(n_nodes, rng)
    lines = []
    for i in range(1, n_nodes):
        cap = float(np.round(rng.uniform(10.0, 120.0), 1))
        react = float(np.round(rng.uniform(0.1, 1.0), 3)) if meshed else None
        lines.append(Line(f"l{i}", f"n{parent[i]}", f"n{i}", cap, react))
    if meshed and n_nodes > 2:
        n_chords = chords if chords is not None else max(1, n_nodes // 10)
        for k in range(n_chords):
            a = int(rng.integers(1, n_nodes))
            # close a ring to a node a few hops up the tree's numbering (a nearby station)
            b = int(rng.integers(max(0, a - 40), a))
            if b == parent[a]:
                b = max(0, b - 1) if b > 0 else int(rng.integers(1, n_nodes))
            if a == b:
                continue
            cap = float(np.round(rng.uniform(10.0, 120.0), 1))
            react = float(np.round(rng.uniform(0.1, 1.0), 3))
            lines.append(Line(f"c{k}", f"n{b}", f"n{a}", cap, react))
    conns: tuple[GridConnection, ...] = ()
    if grid:
        limit = float(20.0 * max(1, n_nodes) ** 0.5)
        conns = (GridConnection("n0", 0.89, 0.30, limit, limit),)
    node_idx = rng.integers(0, n_nodes, size=n_orders)
    is_buy = rng.random(n_orders) < 0.5
    qty = np.round(rng.uniform(0.1, 10.0, size=n_orders), 3)
    # sellers ask low, buyers bid high, with overlap so that the market is active
    base = np.where(is_buy, rng.uniform(0.30, 1.00, n_orders), rng.uniform(0.20, 0.90, n_orders))
    price = np.round(base, price_decimals)
    book = OrderBook(tuple(f"o{k}" for k in range(n_orders)), node_idx, is_buy, qty, price)
    return ClearingProblem(
        Interval(START, 15), Network(nodes, tuple(lines), conns), book
    ).validated()
