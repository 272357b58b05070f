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
from clearing_reference import assert_nearest_on_face, rule_targets, solve_reference
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


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems(max_nodes=4, max_orders=7))
def test_price_rule_on_the_dual_optimal_face(problem: ClearingProblem) -> None:
    """The price rule, checked on the reference's own dual optimal face: each node's
    reported range is its own range over the whole face, and the prices are the optimal
    vector nearest to the targets (the targets themselves whenever they are optimal)."""
    result = clear(problem)
    assert result.ok, result.reason
    ref = solve_reference(problem)
    lows, highs, targets = rule_targets(problem, ref)
    for node in range(ref.n_nodes):
        for got, want in (
            (result.price_low[node], lows[node]),
            (result.price_high[node], highs[node]),
        ):
            assert got == want or abs(got - want) <= 1e-6, (node, got, want)
    assert_nearest_on_face(ref, targets, result.price)


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
