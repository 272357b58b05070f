"""Random clearing problems: radial feeders with congested lines, and meshed DC networks.

Deterministic for a seed. Used by the benchmarks and the property tests.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from matching import ClearingProblem, GridConnection, Interval, Line, Network, Node, OrderBook

START = datetime(2026, 6, 15, 10, 0, tzinfo=UTC)


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
    are congested; `meshed` adds chords and reactances on every line (DC power flow)."""
    rng = np.random.default_rng(seed)
    nodes = tuple(Node(f"n{i}") for i in range(n_nodes))
    lines = []
    for i in range(1, n_nodes):
        parent = int(rng.integers(max(0, i - 8), i))
        cap = float(np.round(rng.uniform(10.0, 120.0), 1))
        react = float(np.round(rng.uniform(0.1, 1.0), 3)) if meshed else None
        lines.append(Line(f"l{i}", f"n{parent}", f"n{i}", cap, react))
    if meshed and n_nodes > 2:
        n_chords = chords if chords is not None else max(1, n_nodes // 10)
        for k in range(n_chords):
            a, b = rng.choice(n_nodes, size=2, replace=False)
            cap = float(np.round(rng.uniform(10.0, 120.0), 1))
            lines.append(
                Line(f"c{k}", f"n{a}", f"n{b}", cap, float(np.round(rng.uniform(0.1, 1.0), 3)))
            )
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
