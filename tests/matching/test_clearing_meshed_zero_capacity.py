"""Meshed DC networks with zero-capacity lines, 30 to 1,000 nodes (issue 11, items 3, 4, 6):
the documented price rule is always applied (never a fallback), checked against an
independent computation — each node's range over the dual optimal face of a separately
written primal (scipy's HiGHS, `clearing_reference`) and the projection condition of the
chosen prices onto that face; the tied orders are shared by the rule, never "as solved", and
the result is the same under relabelling; no clock decides."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from clearing_checks import assert_feasible, assert_prices_consistent
from clearing_reference import (
    assert_nearest_on_face,
    price_range,
    problem_span,
    rule_targets,
    solve_reference,
)
from clearing_strategies import meshed_zero_capacity
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_clearing_invariance import document, mapped_back, relabel

from matching import ClearingProblem, ClearingResult, clear


def _applied(result: ClearingResult) -> None:
    assert result.ok, result.reason
    for fallback in ("price rule", "fell back", "as solved", "not applied", "budget"):
        assert fallback not in result.reason, result.reason


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(30, 45), st.integers(0, 10_000))
def test_rule_applied_on_meshed_dc_with_zero_capacity_lines(n_nodes: int, seed: int) -> None:
    problem = meshed_zero_capacity(n_nodes, seed)
    result = clear(problem)
    _applied(result)
    assert_feasible(problem, result)
    assert_prices_consistent(problem, result)
    ref = solve_reference(problem)
    assert math.isclose(result.welfare, ref.welfare, rel_tol=1e-6, abs_tol=1e-9)
    lows, highs, targets = rule_targets(problem, ref)
    # the reference's face admits 1e-9 PLN of welfare slack, which widens a range by up
    # to ~1e-5 PLN/kWh where a price moves welfare only slightly (n=38, seed=319: 1.1e-5
    # at one node); such a node is checked again on a face with 1e-12 PLN of slack
    for ours, theirs, end in ((result.price_low, lows, 0), (result.price_high, highs, 1)):
        for node in np.flatnonzero(~np.isclose(ours, theirs, rtol=1e-7, atol=1e-5)).tolist():
            tight = price_range(ref, node, {}, slack=1e-12)[end]
            assert math.isclose(ours[node], tight, rel_tol=1e-7, abs_tol=1e-6), (node, end)
    assert_nearest_on_face(ref, targets, result.price)


def _sample(result: ClearingResult, k: int, seed: int) -> list[int]:
    """Nodes whose ranges are checked: the widest finite ranges, some unbounded ends, and a
    random rest (deterministic per seed)."""
    width = result.price_high - result.price_low
    finite = np.flatnonzero(np.isfinite(width))
    widest = finite[np.argsort(-width[finite], kind="stable")][: k // 2].tolist()
    unbounded = np.flatnonzero(~np.isfinite(width))[:2].tolist()
    rng = random.Random(seed)
    rest = rng.sample(range(result.price.shape[0]), k)
    out: list[int] = []
    for node in widest + unbounded + rest:
        if node not in out:
            out.append(node)
    return out[:k]


def _check_against_reference(problem: ClearingProblem, result: ClearingResult, k: int) -> None:
    """Each sampled node's reported range equals its range over the reference's dual
    optimal face; the reported price is the optimal vector nearest to the targets built
    from the reported ranges (midpoint clipped to the span), which the projection
    condition on the reference's face checks for all nodes at once."""
    ref = solve_reference(problem)
    assert math.isclose(result.welfare, ref.welfare, rel_tol=1e-6)
    nodes = _sample(result, k, seed=problem.network.nodes.__len__())
    assert any(result.price_high[n] - result.price_low[n] > 1e-6 for n in nodes), (
        "the sample has no node with a price range: the check would be vacuous"
    )
    for node in nodes:
        low, high = price_range(ref, node, {})
        if math.isinf(low):
            assert math.isinf(result.price_low[node]) and result.price_low[node] < 0
        else:
            assert math.isclose(result.price_low[node], low, abs_tol=1e-5), (node, low)
        if math.isinf(high):
            assert math.isinf(result.price_high[node]) and result.price_high[node] > 0
        else:
            assert math.isclose(result.price_high[node], high, abs_tol=1e-5), (node, high)
    p_lo, p_hi = problem_span(problem)
    lo = np.maximum(result.price_low, p_lo)
    hi = np.minimum(result.price_high, p_hi)
    targets = np.where(
        lo <= hi,
        0.5 * (lo + hi),
        np.where(result.price_high < p_lo, result.price_high, result.price_low),
    )
    assert_nearest_on_face(ref, targets.tolist(), result.price)


@pytest.mark.parametrize(("n_nodes", "seed", "k"), [(100, 11, 12), (300, 2, 8), (1000, 0, 2)])
def test_price_ranges_and_choice_against_the_reference(n_nodes: int, seed: int, k: int) -> None:
    problem = meshed_zero_capacity(n_nodes, seed)
    result = clear(problem)
    _applied(result)
    assert_feasible(problem, result)
    assert_prices_consistent(problem, result)
    _check_against_reference(problem, result, k)


def test_the_same_bytes_under_relabelling_at_1000_nodes() -> None:
    """At 1,000 nodes the result (prices, ranges, accepted energy, flows, trades) is the
    same JSON once the ids of a relabelled, reordered, re-directed copy are mapped back."""
    problem = meshed_zero_capacity(1000, 1)
    result = clear(problem)
    _applied(result)
    other, maps = relabel(problem, random.Random(7))
    again = clear(other)
    assert mapped_back(problem, other, again, maps) == document(problem, result)
