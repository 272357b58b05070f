"""Hypothesis properties of the clearing core against an independent reference solver."""

from __future__ import annotations

import json
import math

import numpy as np
from clearing_checks import (
    assert_budget_and_trades,
    assert_feasible,
    assert_prices_consistent,
    assert_pro_rata,
)
from clearing_reference import price_range, solve_reference
from clearing_strategies import problems
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matching import ClearingProblem, OrderBook, clear
from matching.jsonio import result_to_dict

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(problems())
def test_feasible_and_optimal_against_highs(problem: ClearingProblem) -> None:
    result = clear(problem)
    assert_feasible(problem, result)
    assert "fell back" not in result.reason, result.reason
    ref = solve_reference(problem)
    assert math.isclose(result.welfare, ref.welfare, rel_tol=1e-6, abs_tol=1e-9), (
        result.welfare,
        ref.welfare,
    )


@SETTINGS
@given(problems())
def test_prices_consistent_with_acceptance(problem: ClearingProblem) -> None:
    result = clear(problem)
    assert_prices_consistent(problem, result)
    assert_pro_rata(problem, result)
    assert_budget_and_trades(problem, result)


def _bfs(problem: ClearingProblem) -> tuple[list[int], list[int]]:
    """Independent re-statement of the documented visiting order and parents."""
    net = problem.network
    idx = net.node_index()
    n = len(net.nodes)
    adj: list[list[int]] = [[] for _ in range(n)]
    for ln in net.lines:
        a, b = idx[ln.from_node], idx[ln.to_node]
        adj[a].append(b)
        adj[b].append(a)
    parent = [-2] * n
    order: list[int] = []
    for root in [idx[g.node] for g in net.grid_connections] + list(range(n)):
        if parent[root] != -2:
            continue
        parent[root] = -1
        queue = [root]
        while queue:
            u = queue.pop(0)
            order.append(u)
            for v in adj[u]:
                if parent[v] == -2:
                    parent[v] = u
                    queue.append(v)
    return order, parent


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems(max_nodes=4, max_orders=7))
def test_price_rule_on_the_dual_optimal_face(problem: ClearingProblem) -> None:
    """Rule 4, checked on the reference's own dual optimal face: the root gets the midpoint of
    its range, each later node the point of its remaining range closest to its parent."""
    result = clear(problem)
    ref = solve_reference(problem)
    order, parent = _bfs(problem)
    fixed: dict[int, float] = {}
    for node in order:
        low, high = price_range(ref, node, fixed)
        if parent[node] < 0:
            if math.isfinite(low) and math.isfinite(high):
                expected = (low + high) / 2
            elif math.isfinite(low) or math.isfinite(high):
                expected = low if math.isfinite(low) else high
            else:
                expected = 0.0
        else:
            expected = min(max(fixed[parent[node]], low), high)
        assert abs(result.price[node] - expected) <= 1e-6, (node, low, high, result.price[node])
        fixed[node] = float(result.price[node])


@SETTINGS
@given(problems(), st.randoms(use_true_random=False))
def test_deterministic_and_independent_of_order_listing(problem: ClearingProblem, rnd) -> None:
    first = result_to_dict(problem, clear(problem), timings=False)
    again = result_to_dict(problem, clear(problem), timings=False)
    assert json.dumps(first) == json.dumps(again)
    book = problem.orders
    perm = list(range(len(book)))
    rnd.shuffle(perm)
    p = np.array(perm, dtype=np.int64)
    shuffled = ClearingProblem(
        problem.interval,
        problem.network,
        OrderBook(
            tuple(book.ids[k] for k in perm),
            book.node[p],
            book.is_buy[p],
            book.quantity_kwh[p],
            book.price[p],
        ),
    )
    other = result_to_dict(shuffled, clear(shuffled), timings=False)
    assert sorted(other["orders"], key=lambda o: o["id"]) == sorted(
        first["orders"], key=lambda o: o["id"]
    )
    for key in ("nodes", "lines", "grid_connections", "welfare", "congestion_rent", "trades"):
        assert other[key] == first[key], key
