"""The result depends only on the problem, not on how it is written: relabelling ids (so
they sort differently), reordering nodes, lines, grid connections and orders, and flipping a
line's direction give the same result up to that relabelling (issue 11, item 6); flows in the
transport model have no loops (item 7)."""

from __future__ import annotations

import random

import numpy as np
from clearing_strategies import problems
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matching import (
    GRID,
    ClearingProblem,
    ClearingResult,
    Line,
    Network,
    Node,
    OrderBook,
    clear,
)
from matching.network import build_topology

TOL = 2e-9


def relabel(problem: ClearingProblem, rnd: random.Random) -> tuple[ClearingProblem, dict]:
    """The same problem written differently; returns it with the maps new → old."""
    net, book = problem.network, problem.orders
    names = [f"z{rnd.randrange(10**6)}-{k}" for k in range(len(net.nodes))]
    node_perm = list(range(len(net.nodes)))
    rnd.shuffle(node_perm)  # new position p holds old node node_perm[p]
    new_name = {net.nodes[old].id: names[old] for old in range(len(net.nodes))}
    nodes = tuple(Node(new_name[net.nodes[old].id]) for old in node_perm)
    line_perm = list(range(len(net.lines)))
    rnd.shuffle(line_perm)
    flipped = [rnd.random() < 0.5 for _ in net.lines]
    lines = []
    for old in line_perm:
        ln = net.lines[old]
        a, b = new_name[ln.from_node], new_name[ln.to_node]
        if flipped[old]:
            a, b = b, a
        lines.append(Line(f"line-{rnd.randrange(10**6)}-{old}", a, b, ln.capacity_kw, ln.reactance))
    g_perm = list(range(len(net.grid_connections)))
    rnd.shuffle(g_perm)
    conns = tuple(
        type(net.grid_connections[old])(
            new_name[net.grid_connections[old].node],
            *(
                getattr(net.grid_connections[old], f)
                for f in ("import_price", "export_price", "import_limit_kw", "export_limit_kw")
            ),
        )
        for old in g_perm
    )
    o_perm = list(range(len(book)))
    rnd.shuffle(o_perm)
    p = np.array(o_perm, dtype=np.int64)
    node_pos = {old: new for new, old in enumerate(node_perm)}
    new_book = OrderBook(
        tuple(f"{rnd.choice('abcxyz')}{rnd.randrange(10**6)}-{k}" for k in o_perm),
        np.array([node_pos[int(book.node[k])] for k in o_perm], dtype=np.int64),
        book.is_buy[p],
        book.quantity_kwh[p],
        book.price[p],
    )
    other = ClearingProblem(
        problem.interval, Network(nodes, tuple(lines), conns), new_book
    ).validated()
    maps = {"node": node_perm, "line": line_perm, "flip": flipped, "grid": g_perm, "order": o_perm}
    return other, maps


def assert_same_up_to_relabelling(
    a: ClearingResult, b: ClearingResult, maps: dict, *, primal: bool = True
) -> None:
    """Everything equal up to the relabelling; with `primal=False` only the prices, their
    ranges, welfare and rent (the documented residual: a meshed DC optimum that is
    degenerate through the network itself is left as the solver found it)."""
    assert a.status == b.status, (a.reason, b.reason)
    node, line, grid, order = maps["node"], maps["line"], maps["grid"], maps["order"]
    np.testing.assert_allclose(b.price, a.price[node], atol=TOL)
    np.testing.assert_allclose(b.price_low, a.price_low[node], atol=TOL)
    np.testing.assert_allclose(b.price_high, a.price_high[node], atol=TOL)
    assert abs(a.welfare - b.welfare) <= 1e-8 and abs(a.congestion_rent - b.congestion_rent) <= 1e-8
    if not primal:
        return
    np.testing.assert_allclose(b.accepted_kwh, a.accepted_kwh[order], atol=TOL)
    sign = np.array([-1.0 if maps["flip"][old] else 1.0 for old in line])
    np.testing.assert_allclose(b.flow_kwh, sign * a.flow_kwh[line], atol=TOL)
    np.testing.assert_array_equal(b.line_congested, a.line_congested[line])
    np.testing.assert_allclose(b.import_kwh, a.import_kwh[grid], atol=TOL)
    np.testing.assert_allclose(b.export_kwh, a.export_kwh[grid], atol=TOL)

    def trades(r: ClearingResult, order_map: list[int] | None, node_map: list[int] | None) -> list:
        out = []
        t = r.trades
        for s, d, sn, dn, q in zip(
            t.seller.tolist(),
            t.buyer.tolist(),
            t.seller_node.tolist(),
            t.buyer_node.tolist(),
            t.quantity_kwh.tolist(),
            strict=True,
        ):
            if order_map is not None:
                s = GRID if s == GRID else order_map[s]
                d = GRID if d == GRID else order_map[d]
                sn, dn = node_map[sn], node_map[dn]
            out.append((s, d, sn, dn, round(q, 7)))
        return sorted(out)

    assert trades(b, order, node) == trades(a, None, None)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems(max_nodes=6, max_orders=12), st.randoms(use_true_random=False))
def test_result_is_invariant_under_relabelling(
    problem: ClearingProblem, rnd: random.Random
) -> None:
    first = clear(problem)
    other, maps = relabel(problem, rnd)
    assert_same_up_to_relabelling(first, clear(other), maps)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems(max_nodes=6, max_orders=12))
def test_flows_have_no_loops(problem: ClearingProblem) -> None:
    """No directed cycle of lines each carrying flow in its direction of travel."""
    r = clear(problem)
    assert r.ok, r.reason
    idx = problem.network.node_index()
    succ: dict[int, set[int]] = {}
    for j, ln in enumerate(problem.network.lines):
        f = r.flow_kwh[j]
        a, b = idx[ln.from_node], idx[ln.to_node]
        if f < 0:
            a, b = b, a
        if f != 0:
            succ.setdefault(a, set()).add(b)
    state: dict[int, int] = {}

    def visit(u: int) -> None:
        state[u] = 1
        for v in succ.get(u, ()):
            assert state.get(v) != 1, f"flow loop through node {v}: {r.flow_kwh}"
            if v not in state:
                visit(v)
        state[u] = 2

    for u in list(succ):
        if u not in state:
            visit(u)
