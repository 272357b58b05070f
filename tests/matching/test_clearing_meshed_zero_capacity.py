"""Meshed DC networks with zero-capacity lines, 30 to 1,000 nodes (issue 11, item 3): the
documented price rule is always applied (never a fallback), checked against each node's
range computed independently on the reference's dual optimal face; no clock decides."""

from __future__ import annotations

import math

import numpy as np
from clearing_checks import assert_feasible, assert_prices_consistent
from clearing_reference import assert_nearest_on_face, price_range, rule_targets, solve_reference
from clearing_strategies import meshed_zero_capacity
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matching import clear
from matching.jsonio import result_to_dict


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(30, 45), st.integers(0, 10_000))
def test_rule_applied_on_meshed_dc_with_zero_capacity_lines(n_nodes: int, seed: int) -> None:
    problem = meshed_zero_capacity(n_nodes, seed)
    result = clear(problem)
    assert result.ok, result.reason
    assert "price rule" not in result.reason and "fell back" not in result.reason
    assert_feasible(problem, result)
    assert_prices_consistent(problem, result)
    ref = solve_reference(problem)
    assert math.isclose(result.welfare, ref.welfare, rel_tol=1e-6, abs_tol=1e-9)
    lows, highs, targets = rule_targets(problem, ref)
    # the reference's face admits 1e-9 PLN of welfare slack, which widens a range by up
    # to a few 1e-6 PLN/kWh where a price moves welfare only slightly
    np.testing.assert_allclose(result.price_low, lows, atol=1e-5)
    np.testing.assert_allclose(result.price_high, highs, atol=1e-5)
    assert_nearest_on_face(ref, targets, result.price)


def test_rule_applied_on_a_1000_node_meshed_dc_network() -> None:
    """At 1,000 nodes: optimal, the rule applied (no fallback, no budget note), the ranges
    of a sample of nodes as the reference computes them, and the same bytes twice."""
    problem = meshed_zero_capacity(1000, 0)
    result = clear(problem)
    assert result.ok, result.reason
    assert "price rule" not in result.reason and "fell back" not in result.reason
    ref = solve_reference(problem)
    assert math.isclose(result.welfare, ref.welfare, rel_tol=1e-6)
    width = np.where(
        np.isfinite(result.price_high - result.price_low),
        result.price_high - result.price_low,
        1e9,
    )
    sample = [int(np.argmax(width)), 500]
    for node in sample:
        low, high = price_range(ref, node, {})
        assert math.isclose(result.price_low[node], low, abs_tol=1e-6) or low == -math.inf
        assert math.isclose(result.price_high[node], high, abs_tol=1e-6) or high == math.inf
        assert low - 1e-6 <= result.price[node] <= high + 1e-6
    again = clear(problem)
    assert result_to_dict(problem, again, timings=False) == result_to_dict(
        problem, result, timings=False
    )
