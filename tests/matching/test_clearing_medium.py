"""Medium-sized random feeders (radial and meshed DC) against the independent reference:
the properties that the small hypothesis cases check, at a size where aggregation, the
transfer decomposition and the price propagation have real work to do."""

from __future__ import annotations

import math

import pytest
from clearing_checks import (
    assert_budget_and_trades,
    assert_feasible,
    assert_prices_consistent,
    assert_pro_rata,
)
from clearing_reference import solve_reference

from matching import clear
from tests.support.problems import random_problem


@pytest.mark.parametrize("meshed", [False, True], ids=["radial", "meshed-dc"])
@pytest.mark.parametrize("seed", range(4))
def test_medium_random_feeder(seed: int, meshed: bool) -> None:
    problem = random_problem(2_000, 120, seed=seed, meshed=meshed, price_decimals=2)
    result = clear(problem)
    assert_feasible(problem, result)
    assert "fell back" not in result.reason
    ref = solve_reference(problem)
    assert math.isclose(result.welfare, ref.welfare, rel_tol=1e-6), (result.welfare, ref.welfare)
    assert result.line_congested.any(), "the generator should produce congestion"
    assert_prices_consistent(problem, result)
    assert_pro_rata(problem, result)
    assert_budget_and_trades(problem, result)
