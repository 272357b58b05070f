"""The three places where the several-interval core publishes the LP's own duals instead of
the midpoint rule (docs/clearing.md, "Prices per (node, interval)", "Where the prices are the
LP's duals"): each answer still passes every rule the independent reference checks."""

from __future__ import annotations

import copy
import math
from typing import Any

from multi_reference import check_multi_result

from matching import clear_document

TWO_HOURS = [
    {"start": "2026-06-15T00:00:00+00:00", "minutes": 60},
    {"start": "2026-06-15T01:00:00+00:00", "minutes": 60},
]


def clear(doc: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = clear_document(copy.deepcopy(doc))
    assert result["status"] == "optimal", result["reason"]
    return result


def prices(result: dict[str, Any]) -> list[list[tuple[float, float, float]]]:
    return [
        [(n["price"], n["price_low"], n["price_high"]) for n in iv["nodes"]]
        for iv in result["intervals"]
    ]


def test_a_partly_accepted_block_is_held_at_the_money_by_the_lp_duals() -> None:
    """A 2 × 10 kWh buy block at 0.5 (r = 0.5) meets 7 kWh at 0.3 in the first hour and
    20 kWh at 0.2 in the second: it runs at 0.7. Its intervals' prices must add up to
    keep it at zero surplus (0.5 × 2 = λ₀ + λ₁), which the interval-by-interval midpoint
    rule cannot do; the LP's duals do: λ₁ = 0.2 (the second seller is partly accepted),
    λ₀ = 0.8, surplus 0, every order consistent with them."""
    doc = {
        "intervals": TWO_HOURS,
        "network": {"nodes": [{"id": "A"}], "lines": []},
        "orders": [
            {
                "id": "s1",
                "node": "A",
                "side": "sell",
                "quantity_kwh": 7,
                "price": 0.3,
                "interval": 0,
            },
            {
                "id": "s2",
                "node": "A",
                "side": "sell",
                "quantity_kwh": 20,
                "price": 0.2,
                "interval": 1,
            },
        ],
        "blocks": [
            {
                "id": "B",
                "node": "A",
                "side": "buy",
                "price": 0.5,
                "first_interval": 0,
                "quantities_kwh": [10, 10],
                "min_acceptance_ratio": 0.5,
            },
        ],
    }
    result = clear(doc)
    block = result["blocks"][0]
    assert math.isclose(block["accepted_ratio"], 0.7)
    assert abs(block["surplus"]) <= 1e-9
    got = prices(result)
    assert math.isclose(got[0][0][0], 0.8) and math.isclose(got[1][0][0], 0.2)
    assert all(p == lo == hi for iv in got for p, lo, hi in iv)  # the LP's duals: no range
    assert check_multi_result(doc, result, strict_partial_blocks=True) == []


def test_a_partly_accepted_one_hour_block_pins_its_price_by_the_rule() -> None:
    """A one-hour buy block of 4 kWh at 0.5 (r = 0.25) takes the 2 kWh a seller at 0.3
    leaves after a buy at 0.9: it runs at 0.5, so its hour's price is its limit, 0.5 — a
    bound of the rule like a marginal order's, not the LP's duals. The second hour (a sell
    at 0.7, a buy at 0.4, nothing trades) then gets the rule too: the midpoint 0.55 of
    [0.4, 0.7] with its range (before: the LP's dual 0.4 with no range)."""
    doc = {
        "intervals": TWO_HOURS,
        "network": {"nodes": [{"id": "A"}]},
        "orders": [
            {"id": "s", "node": "A", "side": "sell", "quantity_kwh": 3, "price": 0.3},
            {"id": "b", "node": "A", "side": "buy", "quantity_kwh": 1, "price": 0.9},
            {
                "id": "s1",
                "node": "A",
                "side": "sell",
                "quantity_kwh": 1,
                "price": 0.7,
                "interval": 1,
            },
            {
                "id": "b1",
                "node": "A",
                "side": "buy",
                "quantity_kwh": 1,
                "price": 0.4,
                "interval": 1,
            },
        ],
        "blocks": [
            {
                "id": "k",
                "node": "A",
                "side": "buy",
                "price": 0.5,
                "first_interval": 0,
                "quantities_kwh": [4.0],
                "min_acceptance_ratio": 0.25,
            },
        ],
    }
    result = clear(doc)
    assert result["blocks"][0]["accepted_ratio"] == 0.5
    assert result["blocks"][0]["surplus"] == 0.0
    assert prices(result) == [[(0.5, 0.5, 0.5)], [(0.55, 0.4, 0.7)]]
    assert not check_multi_result(doc, result)


def test_meshed_dc_with_a_fee_line_passes_every_rule() -> None:
    """A DC triangle with a fee on one line (priced by rule 3 since branch meshfee12, no
    longer by the LP's duals; the optimum is unique here, so no range), and the prices
    satisfy the reference's rules: orders, grid, KVL, fees (|Δλ| ≤ fee on an
    uncongested fee line carrying nothing, Δλ = fee where it carries energy), rent ≥ 0."""
    lines = [
        {
            "id": "L1",
            "from": "A",
            "to": "B",
            "capacity_kw": 5.0,
            "reactance": 1.0,
            "fee_per_kwh": 0.05,
        },
        {"id": "L2", "from": "B", "to": "C", "capacity_kw": 5.0, "reactance": 1.0},
        {"id": "L3", "from": "A", "to": "C", "capacity_kw": 2.0, "reactance": 1.0},
    ]
    doc = {
        "intervals": TWO_HOURS,
        "network": {"nodes": [{"id": "A"}, {"id": "B"}, {"id": "C"}], "lines": lines},
        "orders": [
            {
                "id": "s",
                "node": "A",
                "side": "sell",
                "quantity_kwh": 12,
                "price": 0.2,
                "interval": t,
            }
            for t in (0, 1)
        ]
        + [
            {
                "id": f"b{t}",
                "node": "C",
                "side": "buy",
                "quantity_kwh": 8,
                "price": 0.9,
                "interval": t,
            }
            for t in (0, 1)
        ],
    }
    doc["orders"][1]["id"] = "s1"
    result = clear(doc)
    assert result["flow_model"] == "dc"
    assert all(p == lo == hi for iv in prices(result) for p, lo, hi in iv)
    assert check_multi_result(doc, result) == []


def test_an_idle_storage_unit_whose_value_is_not_unique_is_still_a_price_taker() -> None:
    """Flat prices (the grid at 0.5 both hours, nothing to gain from shifting): the state of
    charge's dual could be anything that keeps the unit idle; the one GLOP returns still
    leaves the unit's own profit LP nothing to improve at the published prices."""
    doc = {
        "intervals": TWO_HOURS,
        "network": {
            "nodes": [{"id": "A"}],
            "lines": [],
            "grid_connections": [
                {
                    "node": "A",
                    "import_price": 0.5,
                    "export_price": 0.5,
                    "import_limit_kw": 50.0,
                    "export_limit_kw": 50.0,
                },
            ],
        },
        "orders": [
            {"id": "b", "node": "A", "side": "buy", "quantity_kwh": 4, "price": 0.9, "interval": 0},
        ],
        "storage": [
            {
                "id": "S",
                "node": "A",
                "energy_kwh": 10,
                "soc_initial_kwh": 5,
                "charge_kw": 5,
                "discharge_kw": 5,
                "efficiency_charge": 0.9,
                "efficiency_discharge": 0.9,
            },
        ],
    }
    result = clear(doc)
    unit = result["storage"][0]
    assert unit["charge_kwh"] == [0.0, 0.0] and unit["discharge_kwh"] == [0.0, 0.0]
    assert check_multi_result(doc, result) == []
