"""Line fees in the several-interval price rule (issue 12, docs/clearing.md "Prices per (node,
interval)"): across a fee line the prices may differ by up to its fee, and the documented rule
always applies on trees (transport model, with or without reactances)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matching import clear_document
from tests.matching.multi_reference import check_multi_result, midpoint_prices, parse, solve_lp
from tests.support.multi_problems import intervals


def star(fees: dict[str, float]) -> dict[str, Any]:
    """A in the centre, B, C, D around it; only two buys at B, so nothing trades."""
    lines = []
    for leaf in "BCD":
        line: dict[str, Any] = {"id": f"{leaf}A", "from": leaf, "to": "A", "capacity_kw": 100}
        if fees.get(leaf):
            line["fee_per_kwh"] = fees[leaf]
        lines.append(line)
    return {
        "intervals": [{"start": "2026-06-15T12:00:00+02:00", "minutes": 60}],
        "network": {"nodes": [{"id": n} for n in "ABCD"], "lines": lines},
        "orders": [
            {"id": "b1", "node": "B", "side": "buy", "quantity_kwh": 0.5, "price": 0.5},
            {"id": "b2", "node": "B", "side": "buy", "quantity_kwh": 0.5, "price": 0.2},
        ],
    }


def node_prices(out: dict[str, Any], t: int = 0) -> dict[str, tuple[Any, Any, Any]]:
    return {
        n["id"]: (n["price"], n["price_low"], n["price_high"]) for n in out["intervals"][t]["nodes"]
    }


def test_two_fee_lines_in_a_row_give_the_midpoints() -> None:
    """B –fee– A –fee– C: B's bound (≥ 0.5, its unmet buy at 0.5) reaches C over two fee
    lines (C ≥ 0.40); the midpoints clipped to the span [0.2, 0.5] satisfy every fee."""
    out = clear_document(star({"B": 0.05, "C": 0.05}), timings=False)
    assert out["status"] == "optimal", out["reason"]
    got = node_prices(out)
    assert got["B"] == (0.5, 0.5, None)
    assert got["A"] == pytest.approx((0.475, 0.45, None))
    assert got["D"] == got["A"]  # a fee-free line inside its limit: one price zone
    assert got["C"] == pytest.approx((0.45, 0.40, None))
    assert check_multi_result(star({"B": 0.05, "C": 0.05}), out) == []


def test_one_fee_line() -> None:
    out = clear_document(star({"B": 0.05}), timings=False)
    assert out["status"] == "optimal", out["reason"]
    got = node_prices(out)
    assert got["B"] == (0.5, 0.5, None)
    assert got["A"] == got["C"] == got["D"] == pytest.approx((0.475, 0.45, None))


def test_a_long_chain_of_fee_lines() -> None:
    """N0 –fee– N1 –fee– … N7 (each line's fee 0.01), an unmet buy at 0.5 at N0 and an unmet
    sell at 0.9 at N7: the ranges [0.5 − 0.01·k, 0.9 + 0.01·(7 − k)] at N_k, each bound found
    however far it has to travel."""
    n = 8
    doc = {
        "intervals": [{"start": "2026-06-15T12:00:00+02:00", "minutes": 60}],
        "network": {
            "nodes": [{"id": f"N{k}"} for k in range(n)],
            "lines": [
                {"id": f"L{k}", "from": f"N{k + 1}", "to": f"N{k}", "capacity_kw": 10,
                 "fee_per_kwh": 0.01}
                for k in range(n - 1)
            ],
        },
        "orders": [
            {"id": "b1", "node": "N0", "side": "buy", "quantity_kwh": 1, "price": 0.5},
            {"id": "s1", "node": f"N{n - 1}", "side": "sell", "quantity_kwh": 1, "price": 0.9},
        ],
    }  # fmt: skip
    out = clear_document(doc, timings=False)
    assert out["status"] == "optimal", out["reason"]
    lows = [nd["price_low"] for nd in out["intervals"][0]["nodes"]]
    highs = [nd["price_high"] for nd in out["intervals"][0]["nodes"]]
    assert lows == pytest.approx([0.5 - 0.01 * k for k in range(n)])
    assert highs == pytest.approx([0.9 + 0.01 * (n - 1 - k) for k in range(n)])
    # every range covers the span [0.5, 0.9]: its midpoint everywhere
    assert [nd["price"] for nd in out["intervals"][0]["nodes"]] == pytest.approx([0.7] * n)
    assert check_multi_result(doc, out) == []


# --- property: random small trees with fees (radial feeders, trees, DC trees)

PRICES = [0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
QUANTITIES = [0.5, 1.0, 2.0, 3.0]
CAPACITIES_KW = [0.0, 1.0, 2.0, 4.0, 20.0]
FEES = [0.0, 0.01, 0.05, 0.05, 0.1, 0.3]


@st.composite
def fee_trees(draw: st.DrawFn, max_intervals: int = 3, storage: bool = True) -> dict[str, Any]:
    """A tree of 2–5 nodes (a feeder: a chain, or any tree), most lines with a fee, with or
    without reactances; 1 to `max_intervals` intervals; orders, sometimes a grid connection
    and (if `storage`) a storage unit."""
    n_t = draw(st.integers(1, max_intervals))
    n = draw(st.integers(2, 5))
    chain = draw(st.booleans())
    dc = draw(st.booleans())
    lines: list[dict[str, Any]] = []
    for i in range(1, n):
        parent = i - 1 if chain else draw(st.integers(0, i - 1))
        a, b = (f"N{parent}", f"N{i}") if draw(st.booleans()) else (f"N{i}", f"N{parent}")
        line: dict[str, Any] = {
            "id": f"L{i}",
            "from": a,
            "to": b,
            "capacity_kw": draw(st.sampled_from(CAPACITIES_KW)),
        }
        fee = draw(st.sampled_from(FEES))
        if fee:
            line["fee_per_kwh"] = fee
        if dc:
            line["reactance"] = draw(st.sampled_from([0.5, 1.0]))
        lines.append(line)
    network: dict[str, Any] = {"nodes": [{"id": f"N{i}"} for i in range(n)], "lines": lines}
    if draw(st.booleans()):
        network["grid_connections"] = [
            {
                "node": f"N{draw(st.integers(0, n - 1))}",
                "import_price": draw(st.sampled_from([0.6, 0.9])),
                "export_price": draw(st.sampled_from([0.1, 0.3])),
                "import_limit_kw": draw(st.sampled_from([0.0, 2.0, 20.0])),
                "export_limit_kw": draw(st.sampled_from([0.0, 2.0, 20.0])),
            }
        ]
    orders = [
        {
            "id": f"o{k}",
            "node": f"N{draw(st.integers(0, n - 1))}",
            "side": draw(st.sampled_from(["buy", "sell"])),
            "quantity_kwh": draw(st.sampled_from(QUANTITIES)),
            "price": draw(st.sampled_from(PRICES)),
            "interval": draw(st.integers(0, n_t - 1)),
        }
        for k in range(draw(st.integers(0, 8)))
    ]
    doc: dict[str, Any] = {"intervals": intervals(n_t, 60), "network": network, "orders": orders}
    if storage and draw(st.integers(0, 2)) == 0:
        doc["storage"] = [
            {
                "id": "S0",
                "node": f"N{draw(st.integers(0, n - 1))}",
                "energy_kwh": 2.0,
                "soc_initial_kwh": draw(st.sampled_from([0.0, 1.0])),
                "charge_kw": 1.0,
                "discharge_kw": 1.0,
                "efficiency_charge": 0.9,
                "efficiency_discharge": 0.9,
            }
        ]
    return doc


def fast(n: int) -> settings:
    return settings(
        max_examples=n,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


@fast(50)
@given(fee_trees())
def test_the_price_rule_applies_on_every_tree_with_fees(doc: dict[str, Any]) -> None:
    """No error; every rule of `check_multi_result` holds: feasibility, prices against every
    order, the grid and the lines (|Δprice| ≤ fee, = fee where a fee line carries energy
    inside its limit), storage optimal at its prices, fees and rent as defined, trades."""
    out = clear_document(copy.deepcopy(doc), timings=False)
    assert out["status"] == "optimal", out["reason"]
    assert check_multi_result(doc, out) == []


@fast(20)
@given(fee_trees(max_intervals=1, storage=False))
def test_prices_and_ranges_are_the_documented_rule_on_trees_with_fees(
    doc: dict[str, Any],
) -> None:
    """Without storage (`test_multi_storage_prices.py` covers storage) every
    node's range and price equal the rule recomputed by the reference on the whole dual
    optimal face (two LPs per node for the range, the midpoint clipped to the span, the
    greatest optimal vector below it if that is not optimal)."""
    out = clear_document(copy.deepcopy(doc), timings=False)
    assert out["status"] == "optimal", out["reason"]
    pb = parse(doc)
    want, low, high = midpoint_prices(pb, solve_lp(pb))
    for t, iv in enumerate(out["intervals"]):
        for k, nd in enumerate(iv["nodes"]):
            where = (t, nd["id"])
            assert nd["price"] == pytest.approx(want[t, k], abs=1e-7), where
            for got, ref in ((nd["price_low"], low[t, k]), (nd["price_high"], high[t, k])):
                if got is None:
                    assert abs(ref) == float("inf"), where
                else:
                    assert got == pytest.approx(ref, abs=1e-7), where
