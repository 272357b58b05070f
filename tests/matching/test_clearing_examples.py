"""The hand-checkable problems from shared/clearing-examples, with their exact answers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from clearing_checks import assert_budget_and_trades, assert_feasible, assert_prices_consistent

from matching import clear
from matching.jsonio import problem_from_dict, result_to_dict

EXAMPLES = Path(__file__).parent / "examples"

EXPECTED = {
    "01-single-node-merit-order": (1.70, {"s1": 5, "s2": 0, "b1": 4, "b2": 1}, {"A": 0.50}, 0.0),
    "02-congested-line-two-prices": (
        2.00,
        {"s1": 2, "b1": 6, "s2": 4},
        {"A": 0.30, "B": 0.70},
        0.80,
    ),
    "03-grid-connection": (3.17, {"b1": 10, "s1": 3}, {"A": 0.89, "B": 0.89}, 0.0),
    "04-tie-pro-rata": (1.20, {"b1": 4, "s1": 1, "s2": 3}, {"A": 0.50}, 0.0),
    "05-price-range": (1.60, {"s1": 4, "b1": 4}, {"A": 0.60}, 0.0),
    "06-meshed-dc-flow": (
        15.00,
        {"sA": 15, "bC": 30, "sC": 15},
        {"A": 0.20, "B": 1.40, "C": 0.80},
        9.0,
    ),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example(name: str) -> None:
    problem = problem_from_dict(json.loads((EXAMPLES / f"{name}.json").read_text()))
    result = clear(problem)
    welfare, accepted, prices, rent = EXPECTED[name]
    out = result_to_dict(problem, result)
    assert out["status"] == "optimal"
    assert out["welfare"] == pytest.approx(welfare, abs=1e-9)
    assert {o["id"]: o["accepted_kwh"] for o in out["orders"]} == pytest.approx(accepted, abs=1e-9)
    assert {n["id"]: n["price"] for n in out["nodes"]} == pytest.approx(prices, abs=1e-9)
    assert out["congestion_rent"] == pytest.approx(rent, abs=1e-9)
    assert_feasible(problem, result)
    assert_prices_consistent(problem, result)
    assert_budget_and_trades(problem, result)


def test_price_range_reported_and_midpoint_chosen() -> None:
    problem = problem_from_dict(json.loads((EXAMPLES / "05-price-range.json").read_text()))
    node = result_to_dict(problem, clear(problem))["nodes"][0]
    assert (node["price_low"], node["price"], node["price_high"]) == (0.4, 0.6, 0.8)


def test_grid_trade_and_line_direction() -> None:
    problem = problem_from_dict(json.loads((EXAMPLES / "03-grid-connection.json").read_text()))
    out = result_to_dict(problem, clear(problem))
    assert out["lines"] == [{"id": "AB", "flow_kwh": -3.0, "limit_kwh": 10.0, "congested": False}]
    assert out["grid_connections"] == [{"node": "A", "import_kwh": 7.0, "export_kwh": 0.0}]
    trades = {(t["seller"], t["buyer"]): t["quantity_kwh"] for t in out["trades"]}
    assert trades == {(None, "b1"): 7.0, ("s1", "b1"): 3.0}
    grid = next(t for t in out["trades"] if t["seller"] is None)
    assert grid["seller_kind"] == "grid" and grid["seller_node"] == "A"


def test_congested_line_trades_carry_both_prices() -> None:
    problem = problem_from_dict(
        json.loads((EXAMPLES / "02-congested-line-two-prices.json").read_text())
    )
    out = result_to_dict(problem, clear(problem))
    t = next(t for t in out["trades"] if t["seller"] == "s1")
    assert (t["buyer"], t["quantity_kwh"], t["seller_price"], t["buyer_price"]) == (
        "b1",
        2.0,
        0.3,
        0.7,
    )
    assert out["lines"][0]["congested"] is True


def test_time_limit_gives_a_status_and_nothing_accepted() -> None:
    from matching import Status
    from tests.support.problems import random_problem

    base = random_problem(60_000, 1_500, seed=3, meshed=True)
    problem = type(base)(base.interval, base.network, base.orders, time_limit_s=1e-4)
    result = clear(problem)
    assert result.status is Status.TIME_LIMIT, result.reason
    assert "time limit" in result.reason
    assert not result.accepted_kwh.any() and len(result.trades) == 0
    out = result_to_dict(problem, result)
    assert out["status"] == "time_limit" and out["nodes"][0]["price"] is None
    # a limit that stops GLOP mid-simplex (it then says "abnormal") is still time_limit
    for limit_s in (0.05, 0.1, 0.15):
        stopped = clear(type(base)(base.interval, base.network, base.orders, time_limit_s=limit_s))
        assert stopped.status in (Status.TIME_LIMIT, Status.OPTIMAL), stopped.reason


def test_islands_are_cleared_separately() -> None:
    data = json.loads((EXAMPLES / "02-congested-line-two-prices.json").read_text())
    data["network"]["nodes"] += [{"id": "C"}, {"id": "D"}]
    data["network"]["lines"].append({"id": "CD", "from": "C", "to": "D", "capacity_kw": 400})
    data["orders"] += [
        {"id": "sC", "node": "C", "side": "sell", "quantity_kwh": 3, "price": 0.25},
        {"id": "bD", "node": "D", "side": "buy", "quantity_kwh": 2, "price": 0.95},
    ]
    problem = problem_from_dict(data)
    out = result_to_dict(problem, clear(problem))
    prices = {n["id"]: n["price"] for n in out["nodes"]}
    # the island C–D: sC is marginal (partly accepted), so it sets the island's price
    assert prices == {"A": 0.3, "B": 0.7, "C": 0.25, "D": 0.25}
    assert {o["id"]: o["accepted_kwh"] for o in out["orders"]}["sC"] == 2.0


def test_degenerate_dc_prices_follow_the_rule() -> None:
    """A degenerate meshed DC optimum (zero-capacity lines): the documented rule is applied
    (no budget, no fallback); every price is the midpoint of its own range, clipped to the
    problem's price span [0.1, 0.6]."""
    from clearing_checks import assert_prices_consistent

    data = {
        "interval": {"start": "2026-06-15T12:00:00Z", "minutes": 15},
        "network": {
            "nodes": [{"id": f"N{i}"} for i in range(4)],
            "lines": [
                {"id": "L1", "from": "N0", "to": "N1", "capacity_kw": 0, "reactance": 0.5},
                {"id": "L2", "from": "N1", "to": "N2", "capacity_kw": 0, "reactance": 0.5},
                {"id": "L3", "from": "N0", "to": "N3", "capacity_kw": 0, "reactance": 0.5},
                {"id": "C0", "from": "N0", "to": "N1", "capacity_kw": 0, "reactance": 0.5},
            ],
            "grid_connections": [
                {
                    "node": "N2",
                    "import_price": 0.6,
                    "export_price": 0.1,
                    "import_limit_kw": 0,
                    "export_limit_kw": 0,
                }
            ],
        },
        "orders": [{"id": "o0", "node": "N1", "side": "buy", "quantity_kwh": 0.5, "price": 0.2}],
    }
    problem = problem_from_dict(data)
    result = clear(problem)
    assert result.ok, result.reason
    assert_prices_consistent(problem, result)
    # the lines carry nothing: N1 only knows price ≥ 0.2 (its buy is rejected), N2 ≤ 0.6
    # (no import), N0 and N3 nothing: targets 0.4, 0.35, 0.35 (span [0.1, 0.6])...
    lows, highs = result.price_low.tolist(), result.price_high.tolist()
    for k in range(4):
        lo = max(lows[k], 0.1)
        hi = min(highs[k], 0.6)
        assert result.price[k] == pytest.approx((lo + hi) / 2, abs=1e-9), (k, lows, highs)
