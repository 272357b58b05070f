"""Hypothesis strategies for small clearing problems (ties and degenerate ranges likely)."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import strategies as st

from matching import ClearingProblem, GridConnection, Interval, Line, Network, Node, Order, Side

PRICES = [0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
QUANTITIES = [0.5, 1.0, 2.0, 3.0, 5.0]
CAPACITIES_KW = [0.0, 2.0, 4.0, 8.0, 20.0, 100.0]


@st.composite
def problems(draw: st.DrawFn, max_nodes: int = 5, max_orders: int = 10) -> ClearingProblem:
    n = draw(st.integers(1, max_nodes))
    nodes = tuple(Node(f"N{i}") for i in range(n))
    dc = draw(st.booleans())
    # optionally two islands (each of at least two nodes): nodes [0, split) and [split, n)
    split = n // 2 if n >= 4 and draw(st.booleans()) else 0
    lines = []
    for i in range(1, n):
        if i == split:
            continue  # the first node of the second island has no parent
        low = split if i > split else 0
        parent = draw(st.integers(low, i - 1))
        ends = (f"N{parent}", f"N{i}") if draw(st.booleans()) else (f"N{i}", f"N{parent}")
        lines.append(
            Line(
                f"L{i}",
                *ends,
                draw(st.sampled_from(CAPACITIES_KW)),
                draw(st.sampled_from([0.5, 1.0, 2.0])) if dc else None,
            )
        )
    if n >= 3 and not split:
        for k in range(draw(st.integers(0, 2))):
            a = draw(st.integers(0, n - 1))
            b = draw(st.integers(0, n - 1).filter(lambda x, a=a: x != a))
            lines.append(
                Line(
                    f"C{k}",
                    f"N{a}",
                    f"N{b}",
                    draw(st.sampled_from(CAPACITIES_KW)),
                    draw(st.sampled_from([0.5, 1.0, 2.0])) if dc else None,
                )
            )
    conns = []
    if draw(st.booleans()):
        imp = draw(st.sampled_from([0.6, 0.89, 1.0]))
        exp = draw(st.sampled_from([p for p in [0.1, 0.3, 0.5] if p <= imp]))
        conns.append(
            GridConnection(
                f"N{draw(st.integers(0, n - 1))}",
                imp,
                exp,
                draw(st.sampled_from([0.0, 4.0, 8.0, 40.0])),
                draw(st.sampled_from([0.0, 4.0, 8.0, 40.0])),
            )
        )
    orders = [
        Order(
            f"o{k}",
            f"N{draw(st.integers(0, n - 1))}",
            draw(st.sampled_from([Side.BUY, Side.SELL])),
            draw(st.sampled_from(QUANTITIES)),
            draw(st.sampled_from(PRICES)),
        )
        for k in range(draw(st.integers(0, max_orders)))
    ]
    return ClearingProblem.build(
        Interval(datetime(2026, 6, 15, 10, 0, tzinfo=UTC), draw(st.sampled_from([15, 60]))),
        Network(nodes, tuple(lines), tuple(conns)),
        orders,
    )


def meshed_zero_capacity(n_nodes: int, seed: int) -> ClearingProblem:
    """A meshed DC network where about a fifth of the lines (and a third of the chords)
    have zero capacity: the degenerate optimum of issue 11, item 3. Deterministic per seed."""
    import numpy as np

    rng = np.random.default_rng(seed)
    nodes = tuple(Node(f"n{i}") for i in range(n_nodes))
    lines = []
    for i in range(1, n_nodes):
        parent = int(rng.integers(max(0, i - 5), i))
        cap = 0.0 if rng.random() < 0.2 else float(np.round(rng.uniform(1, 50), 1))
        lines.append(
            Line(f"l{i}", f"n{parent}", f"n{i}", cap, float(np.round(rng.uniform(0.1, 1), 2)))
        )
    for k in range(max(1, n_nodes // 5)):
        a, b = (int(v) for v in rng.integers(0, n_nodes, 2))
        if a == b:
            continue
        cap = 0.0 if rng.random() < 0.3 else float(np.round(rng.uniform(1, 50), 1))
        lines.append(Line(f"c{k}", f"n{a}", f"n{b}", cap, float(np.round(rng.uniform(0.1, 1), 2))))
    orders = [
        Order(
            f"o{k}",
            f"n{int(rng.integers(0, n_nodes))}",
            Side.BUY if rng.random() < 0.5 else Side.SELL,
            float(rng.choice([0.5, 1.0, 2.0, 5.0])),
            float(rng.choice([0.2, 0.4, 0.5, 0.6, 0.8, 1.0])),
        )
        for k in range(3 * n_nodes)
    ]
    conns = (GridConnection("n0", 0.89, 0.3, 20.0, 20.0),) if rng.random() < 0.5 else ()
    return ClearingProblem.build(
        Interval(datetime(2026, 6, 15, 10, 0, tzinfo=UTC), 15),
        Network(nodes, tuple(lines), conns),
        orders,
    )
