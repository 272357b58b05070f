"""Prices with storage in the several-interval core (issue 12, docs/clearing.md "Prices per
(node, interval)", rule 1): the storage units' values of stored energy μ are not taken from
the solver; the documented rule runs over the whole dual optimal face, μ free, so an idle
battery no longer pins the prices of quiet intervals at whatever μ the solver returned."""

from __future__ import annotations

import copy
import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from multi_strategies import multi_problems
from scipy.optimize import linprog

from matching import clear_document
from tests.matching.multi_reference import (
    _face,
    block_surplus_row,
    check_multi_result,
    midpoint_prices,
    parse,
    solve_lp,
)

HOURS = [{"start": f"2026-06-15T{h}:00:00+00:00", "minutes": 60} for h in ("16", "17", "18")]


def idle_battery() -> dict[str, Any]:
    """One node, the grid (import 0.89, export 0.20), a half-full battery that must end where
    it began (η 0.95 each way, wear 0.01), and one buy at 0.5 in the first hour: nothing
    trades and the battery stays idle."""
    return {
        "intervals": HOURS,
        "network": {
            "nodes": [{"id": "A"}],
            "grid_connections": [
                {
                    "node": "A",
                    "import_price": 0.89,
                    "export_price": 0.20,
                    "import_limit_kw": 100,
                    "export_limit_kw": 100,
                },
            ],
        },
        "orders": [
            {
                "id": "h",
                "node": "A",
                "side": "buy",
                "quantity_kwh": 3.0,
                "price": 0.5,
                "interval": 0,
            },
        ],
        "storage": [
            {
                "id": "bat",
                "node": "A",
                "energy_kwh": 20,
                "soc_initial_kwh": 10,
                "charge_kw": 4,
                "discharge_kw": 4,
                "efficiency_charge": 0.95,
                "efficiency_discharge": 0.95,
                "cost_per_kwh": 0.01,
            },
        ],
    }


def test_an_idle_battery_gets_the_midpoints_of_the_whole_face() -> None:
    """By hand. The battery's μ is one number over the three hours (its state stays strictly
    inside [0, 20]), not charging means 0.95 μ ≤ λ_t and not discharging λ_t ≤ μ/0.95 + 0.01.
    Greatest: every λ_t = 0.89 (the unused import). Least: λ₀ ≥ 0.5 (the rejected buy), so
    μ ≥ 0.95 × (0.5 − 0.01) = 0.4655 and λ₁, λ₂ ≥ 0.95 μ = 0.442225 (above the export's 0.20).
    Targets: (0.5 + 0.89)/2 = 0.695 and (0.442225 + 0.89)/2 = 0.6661125; they are optimal
    together (any μ in [0.65075, 0.70117] fits), so they are the prices. Before the rule the
    solver's μ gave 0.80405 in every hour with ranges of that μ alone ([0.7581, 0.85])."""
    out = clear_document(idle_battery(), timings=False)
    assert out["status"] == "optimal", out["reason"]
    assert out["storage"][0]["charge_kwh"] == [0.0, 0.0, 0.0]
    got = [
        (iv["nodes"][0]["price"], iv["nodes"][0]["price_low"], iv["nodes"][0]["price_high"])
        for iv in out["intervals"]
    ]
    assert got[0] == pytest.approx((0.695, 0.5, 0.89), abs=1e-12)
    for t in (1, 2):
        assert got[t] == pytest.approx((0.6661125, 0.442225, 0.89), abs=1e-12)
    assert check_multi_result(idle_battery(), out) == []


def test_more_quiet_hours_keep_the_same_face() -> None:
    """Three more quiet hours after the idle battery's: its μ is still one number, so every
    quiet hour has the same range as before, [0.442225, 0.89] (not whatever μ the solver's
    basis for the longer LP holds)."""
    doc = idle_battery()
    doc["intervals"] = [
        {"start": f"2026-06-15T{h}:00:00+00:00", "minutes": 60} for h in range(16, 22)
    ]
    out = clear_document(copy.deepcopy(doc), timings=False)
    assert out["status"] == "optimal", out["reason"]
    assert len(out["intervals"]) == 6
    quiet = {
        (iv["nodes"][0]["price_low"], iv["nodes"][0]["price_high"]) for iv in out["intervals"][1:]
    }
    assert quiet == {(0.442225, 0.89)}


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    multi_problems(
        max_intervals=3, max_nodes=3, max_orders=8, max_storage=2, max_blocks=0, meshed=False
    )
)
def test_storage_prices_and_ranges_are_the_rule_on_the_whole_dual_face(
    doc: dict[str, Any],
) -> None:
    """Radial networks (fees, grid prices per interval) with storage: every node-interval's
    range equals the reference's two LPs over the whole dual optimal face of an
    independently written LP (scipy's HiGHS; μ free), and every price the reference's rule on
    that face (the clipped midpoints if optimal, else the greatest optimal vector not above
    them)."""
    out = clear_document(copy.deepcopy(doc), timings=False)
    assert out["status"] == "optimal", out["reason"]
    assert check_multi_result(doc, out) == []
    pb = parse(doc)
    want, low, high = midpoint_prices(pb, solve_lp(pb))
    for t, iv in enumerate(out["intervals"]):
        for k, nd in enumerate(iv["nodes"]):
            where = (t, nd["id"])
            for got, ref in ((nd["price_low"], low[t, k]), (nd["price_high"], high[t, k])):
                if got is None:
                    assert abs(ref) == float("inf"), (where, got, ref)
                else:
                    assert got == pytest.approx(ref, abs=1e-7), (where, got, ref)
            assert nd["price"] == pytest.approx(want[t, k], abs=1e-7), (where, nd, want[t, k])


def journey_group() -> dict[str, Any]:
    """The day-ahead journey's case (issue 13, docs/clearing.md): an idle battery that must
    end where it began, the grid at 0.89/0.20 and a buy group of 4 kWh at 0.85 at 18, 19 or
    20 h; nothing can serve a block below 0.89."""
    hours = [{"start": f"2026-12-01T{h:02d}:00:00+00:00", "minutes": 60} for h in range(24)]
    return {
        "intervals": hours,
        "network": {
            "nodes": [{"id": "A"}],
            "grid_connections": [
                {
                    "node": "A",
                    "import_price": 0.89,
                    "export_price": 0.20,
                    "import_limit_kw": 100,
                    "export_limit_kw": 100,
                },
            ],
        },
        "orders": [],
        "storage": [
            {
                "id": "bat",
                "node": "A",
                "energy_kwh": 20,
                "soc_initial_kwh": 10,
                "charge_kw": 5,
                "discharge_kw": 5,
                "efficiency_charge": 0.95,
                "efficiency_discharge": 0.95,
                "cost_per_kwh": 0.01,
            },
        ],
        "blocks": [
            {
                "id": f"p{h}",
                "node": "A",
                "side": "buy",
                "price": 0.85,
                "first_interval": h,
                "quantities_kwh": [4.0],
                "group": "pump",
            }
            for h in (18, 19, 20)
        ],
    }


def test_a_block_nothing_can_serve_is_labelled_at_the_published_prices() -> None:
    """Quiet hours: every price in [0.20, 0.89] is optimal, the published one is the midpoint
    0.545, where the block would gain (0.85 − 0.545) × 4 = 1.22. The label follows the
    published prices it reports (the issue's definition): rejected although in the money at
    them. At the other end of the range (0.89) it would lose, so no price choice makes every
    such block look in the money: the flag is never raised on the solver's whim."""
    out = clear_document(journey_group(), timings=False)
    assert out["status"] == "optimal", out["reason"]
    assert [iv["nodes"][0]["price"] for iv in out["intervals"][18:21]] == [0.545] * 3
    for b in out["blocks"]:
        assert b["accepted_ratio"] == 0.0
        assert b["surplus"] == pytest.approx(1.22, abs=1e-12)
        assert b["rejected_reason"] == "paradoxically_rejected"
        assert b["paradoxically_rejected"] is True
    assert check_multi_result(journey_group(), out) == []


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    multi_problems(
        max_intervals=3, max_nodes=3, max_orders=8, max_storage=1, max_blocks=3, meshed=False
    )
)
def test_a_block_in_the_money_at_every_optimal_price_is_flagged(
    doc: dict[str, Any],
) -> None:
    """Radial networks with storage and blocks: the flag follows the published prices, and a
    rejected block whose least surplus over the whole dual optimal face of the fixed-decision
    LP (scipy's HiGHS, one LP per block) is positive, with no other block of its group
    running, is always flagged (whatever optimal prices the rule publishes)."""
    out = clear_document(copy.deepcopy(doc), timings=False)
    assert out["status"] == "optimal", out["reason"]
    assert check_multi_result(doc, out) == []
    pb = parse(doc)
    ratios = [float(b["accepted_ratio"]) for b in out["blocks"]]
    sol = solve_lp(pb, [(r, r) for r in ratios])
    a_eq, b_eq, a_ub, b_ub, bounds = _face(sol, 1e-10 * max(1.0, abs(sol.welfare)))
    for bi, blk in enumerate(pb.blocks):
        if ratios[bi] > 0:
            continue
        coef, const = block_surplus_row(pb, blk, 1.0, a_eq.shape[1])
        res = linprog(
            coef, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs"
        )
        assert res.status in (0, 3), res.message
        least = -math.inf if res.status == 3 else float(res.fun) + const
        excluded = blk.group is not None and any(
            pb.blocks[o].group == blk.group and ratios[o] > 0 for o in range(len(pb.blocks))
        )
        money = 1e-7 * max(1.0, abs(blk.price) * sum(blk.qty))
        if abs(least) <= money:
            continue
        entry = out["blocks"][bi]
        if least > 0 and not excluded:
            assert entry["paradoxically_rejected"] is True, (blk.id, least)
        assert (
            entry["paradoxically_rejected"] == (float(entry["surplus"]) > money and not excluded)
            or abs(float(entry["surplus"])) <= money
        ), (blk.id, entry)
