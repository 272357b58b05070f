"""The several-interval reference checks themselves (tests/matching/multi_reference.py): they
accept the reference's own answers, and they catch each kind of broken answer."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import HealthCheck, given, settings
from multi_reference import check_multi_result, reference_result
from multi_strategies import multi_problems

from tests.support.multi_problems import random_multi_problem


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(multi_problems(max_intervals=4))
def test_reference_answers_pass_the_checks(doc: dict[str, Any]) -> None:
    assert check_multi_result(doc, reference_result(doc)) == []


def _problem() -> dict[str, Any]:
    return random_multi_problem(
        6, 60, 8, seed=5, n_storage=2, n_blocks=4, n_groups=1, group_size=2, minutes=60
    )


def test_checks_catch_broken_answers() -> None:
    doc = _problem()
    good = reference_result(doc)
    assert check_multi_result(doc, good) == []

    def broken(change: Any) -> list[str]:
        bad = copy.deepcopy(good)
        change(bad)
        return check_multi_result(doc, bad)

    def more_accepted(r: dict[str, Any]) -> None:
        o = next(o for o in r["orders"] if o["accepted_kwh"] > 0.5)
        o["accepted_kwh"] -= 0.25

    assert any("out of balance" in p for p in broken(more_accepted))

    def dear_price(r: dict[str, Any]) -> None:
        for n in r["intervals"][2]["nodes"]:
            n["price"] += 0.5

    assert broken(dear_price)

    def soc_jump(r: dict[str, Any]) -> None:
        r["storage"][0]["soc_kwh"][1] += 1.0

    assert any("dynamics" in p for p in broken(soc_jump))

    def lazy_storage(r: dict[str, Any]) -> None:
        s = r["storage"][0]
        n = len(s["charge_kwh"])
        s["charge_kwh"] = [0.0] * n
        s["discharge_kwh"] = [0.0] * n
        s["soc_kwh"] = [doc["storage"][0]["soc_initial_kwh"]] * n

    assert broken(lazy_storage)

    def lost_trade(r: dict[str, Any]) -> None:
        iv = next(iv for iv in r["intervals"] if iv["trades"])
        iv["trades"][0]["quantity_kwh"] *= 0.5

    assert any("in trades" in p for p in broken(lost_trade))

    def wrong_welfare(r: dict[str, Any]) -> None:
        r["welfare"] += 0.01

    assert any("welfare" in p for p in broken(wrong_welfare))

    def wrong_fee(r: dict[str, Any]) -> None:
        r["fees"] += 0.01

    assert any("fees" in p for p in broken(wrong_fee))


def test_paradoxically_accepted_block_is_caught() -> None:
    """A one-node market: a sell block at 0.50 for 4 kWh accepted while the price is 0.40."""
    doc = {
        "intervals": [{"start": "2026-06-15T12:00:00Z", "minutes": 60}],
        "network": {"nodes": [{"id": "A"}], "lines": []},
        "orders": [
            {"id": "s", "node": "A", "side": "sell", "quantity_kwh": 10, "price": 0.4},
            {"id": "b", "node": "A", "side": "buy", "quantity_kwh": 4, "price": 0.9},
        ],
        "blocks": [
            {
                "id": "B",
                "node": "A",
                "side": "sell",
                "price": 0.5,
                "first_interval": 0,
                "quantities_kwh": [4],
            }
        ],
    }
    result = {
        "status": "optimal",
        "welfare": 4 * 0.9 - 4 * 0.5,
        "congestion_rent": 0.0,
        "fees": 0.0,
        "orders": [{"id": "s", "accepted_kwh": 0.0}, {"id": "b", "accepted_kwh": 4.0}],
        "blocks": [
            {"id": "B", "accepted_ratio": 1.0, "surplus": -0.4, "paradoxically_rejected": False}
        ],
        "storage": [],
        "intervals": [
            {
                "start": "2026-06-15T12:00:00Z",
                "nodes": [{"id": "A", "price": 0.4, "price_low": 0.4, "price_high": 0.4}],
                "lines": [],
                "grid_connections": [],
                "trades": [
                    {
                        "seller": "B",
                        "seller_kind": "block",
                        "seller_node": "A",
                        "buyer": "b",
                        "buyer_kind": "order",
                        "buyer_node": "A",
                        "quantity_kwh": 4.0,
                    }
                ],
            }
        ],
    }
    problems = check_multi_result(doc, result)
    assert any("paradoxically accepted" in p for p in problems), problems
