"""Tied orders across nodes in the several-interval core (`matching/multi/ties.py`): shared
pro rata within each price zone as for one interval, so relabelling or relisting nodes,
lines and orders changes nothing (docs/clearing.md, "Ties, determinism, trades")."""

from __future__ import annotations

import copy
import json
import math
import random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from multi_reference import check_multi_result
from multi_strategies import multi_problems

from matching import clear_document

HOUR = [{"start": "2026-06-15T12:00:00+00:00", "minutes": 60}]


def clear(doc: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = clear_document(copy.deepcopy(doc))
    return result


def two_sellers(fee: float) -> dict[str, Any]:
    line: dict[str, Any] = {"id": "L", "from": "A", "to": "B", "capacity_kw": 100.0}
    if fee:
        line["fee_per_kwh"] = fee
    return {
        "intervals": HOUR,
        "network": {"nodes": [{"id": "A"}, {"id": "B"}], "lines": [line]},
        "orders": [
            {"id": "s1", "node": "A", "side": "sell", "quantity_kwh": 10.0, "price": 0.3},
            {"id": "s2", "node": "B", "side": "sell", "quantity_kwh": 30.0, "price": 0.3 - fee},
            {"id": "b", "node": "A", "side": "buy", "quantity_kwh": 20.0, "price": 0.9},
        ],
    }


def accepted(result: dict[str, Any]) -> dict[str, float]:
    return {o["id"]: o["accepted_kwh"] for o in result["orders"]}


def test_two_tied_sellers_at_two_nodes_share_pro_rata() -> None:
    """20 kWh bought at A; 10 kWh offered at A and 30 kWh at B at the same price across an
    uncongested line: each seller sells half of its offer, whichever node is listed first."""
    doc = two_sellers(0.0)
    result = clear(doc)
    assert result["status"] == "optimal", result["reason"]
    assert accepted(result) == {"s1": 5.0, "s2": 15.0, "b": 20.0}
    assert result["intervals"][0]["lines"][0]["flow_kwh"] == -15.0
    swapped = copy.deepcopy(doc)
    swapped["network"]["nodes"].reverse()
    swapped["orders"].reverse()
    assert accepted(clear(swapped)) == accepted(result)


def test_a_fee_line_at_exactly_its_fee_shares_the_tie_too() -> None:
    """The seller at B offers 0.05 below A's, the line costs 0.05 a kWh: delivered to A both
    cost 0.3, prices differ by exactly the fee, and the two share pro rata."""
    result = clear(two_sellers(0.05))
    assert result["status"] == "optimal", result["reason"]
    assert accepted(result) == {"s1": 5.0, "s2": 15.0, "b": 20.0}
    prices = {n["id"]: n["price"] for n in result["intervals"][0]["nodes"]}
    assert math.isclose(prices["A"] - prices["B"], 0.05, abs_tol=1e-12)
    assert not check_multi_result(two_sellers(0.05), result)


def _relabelled(doc: dict[str, Any], rnd: random.Random) -> tuple[dict[str, Any], dict[str, str]]:
    """The same problem with nodes and lines renamed and every list shuffled; and the
    node renaming."""
    out = copy.deepcopy(doc)
    net = out["network"]
    names = [n["id"] for n in net["nodes"]]
    fresh = [f"X{k}" for k in range(len(names))]
    rnd.shuffle(fresh)
    node_map = dict(zip(names, fresh, strict=True))
    line_map = {ln["id"]: f"M{k}" for k, ln in enumerate(net["lines"])}
    for n in net["nodes"]:
        n["id"] = node_map[n["id"]]
    for ln in net["lines"]:
        ln["id"], ln["from"], ln["to"] = (
            line_map[ln["id"]],
            node_map[ln["from"]],
            node_map[ln["to"]],
        )
    for g in net.get("grid_connections", []):
        g["node"] = node_map[g["node"]]
    for key in ("orders", "storage", "blocks"):
        for item in out.get(key, []):
            item["node"] = node_map[item["node"]]
    for key in ("nodes", "lines"):
        rnd.shuffle(net[key])
    for key in ("orders", "storage", "blocks"):
        if key in out:
            rnd.shuffle(out[key])
    return out, node_map


def _close(a: float | None, b: float | None, where: str) -> None:
    if a is None or b is None:
        assert a is b, (where, a, b)
    else:
        assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9), (where, a, b)


def _trade(tr: dict[str, Any], node_map: dict[str, str] | None) -> str:
    t = dict(tr)
    if node_map is not None:
        for k in ("seller_node", "buyer_node"):
            if t.get(k) is not None:
                t[k] = node_map[t[k]]
    for k in ("quantity_kwh", "seller_price", "buyer_price"):
        t[k] = round(t[k], 9)
    return json.dumps(t, sort_keys=True)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    multi_problems(max_intervals=3, max_nodes=5, max_orders=12, max_storage=0, max_blocks=0,
                   meshed=False),
    st.randoms(use_true_random=False),
)  # fmt: skip
def test_invariant_under_relabelling_nodes_lines_and_orders(
    doc: dict[str, Any], rnd: random.Random
) -> None:
    """Radial transport networks with fees, many equal prices (ties at several nodes):
    renaming nodes and lines and shuffling nodes, lines and orders gives the same result
    under that renaming — acceptances, prices and ranges, flows, fees, grid exchanges and
    trades (as a multiset per interval)."""
    other, node_map = _relabelled(doc, rnd)
    first, second = clear(doc), clear(other)
    assert first["status"] == second["status"] == "optimal", (first["reason"], second["reason"])
    for key in ("welfare", "congestion_rent", "fees"):
        _close(first[key], second[key], key)
    acc = accepted(second)
    for k, v in accepted(first).items():
        _close(v, acc[k], f"order {k}")
    line_map = {ln["id"]: f"M{k}" for k, ln in enumerate(doc["network"]["lines"])}
    for t, (a, b) in enumerate(zip(first["intervals"], second["intervals"], strict=True)):
        b_nodes = {n["id"]: n for n in b["nodes"]}
        for n in a["nodes"]:
            m = b_nodes[node_map[n["id"]]]
            for k in ("price", "price_low", "price_high"):
                _close(n[k], m[k], f"interval {t} node {n['id']} {k}")
        b_lines = {ln["id"]: ln for ln in b["lines"]}
        for ln in a["lines"]:
            m = b_lines[line_map[ln["id"]]]
            _close(ln["flow_kwh"], m["flow_kwh"], f"interval {t} line {ln['id']} flow")
            _close(ln["fee"], m["fee"], f"interval {t} line {ln['id']} fee")
        assert sorted(_trade(tr, node_map) for tr in a["trades"]) == sorted(
            _trade(tr, None) for tr in b["trades"]
        ), f"interval {t} trades"


def triangle(order: str) -> dict[str, Any]:
    """A loop of three fee-free lines without reactances (transport model), 100 kW each;
    sellers at A (10 kWh) and B (30 kWh) at one price, a buyer of 20 kWh at C."""
    return {
        "intervals": HOUR,
        "network": {
            "nodes": [{"id": x} for x in order],
            "lines": [
                {"id": "AB", "from": "A", "to": "B", "capacity_kw": 100},
                {"id": "BC", "from": "B", "to": "C", "capacity_kw": 100},
                {"id": "CA", "from": "C", "to": "A", "capacity_kw": 100},
            ],
        },
        "orders": [
            {"id": "sa", "node": "A", "side": "sell", "quantity_kwh": 10.0, "price": 0.3},
            {"id": "sb", "node": "B", "side": "sell", "quantity_kwh": 30.0, "price": 0.3},
            {"id": "bc", "node": "C", "side": "buy", "quantity_kwh": 20.0, "price": 0.9},
        ],
    }


def test_a_zone_with_a_loop_of_free_lines_shares_pro_rata_with_the_potential_flow() -> None:
    """Before, the loop kept the solver's ties (A sold nothing, 100 kWh circled the loop).
    Now pro rata (A 5, B 15) with the least Σ f² flow: B → A 10/3, A → C 25/3, B → C 35/3
    (injections +5, +15, −20 balance at every node), whatever the listing."""
    for order in ("ABC", "CBA", "BCA"):
        result = clear(triangle(order))
        assert result["status"] == "optimal", result["reason"]
        assert accepted(result) == {"sa": 5.0, "sb": 15.0, "bc": 20.0}
        flows = {ln["id"]: ln["flow_kwh"] for ln in result["intervals"][0]["lines"]}
        assert flows == pytest.approx({"AB": -10 / 3, "BC": 35 / 3, "CA": -25 / 3}, abs=1e-9)
        assert "loop" not in result["reason"]
        assert not check_multi_result(triangle(order), result)
