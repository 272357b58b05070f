"""Line fees on meshed DC networks in the several-interval price rule (issue 12,
docs/clearing.md "Prices per (node, interval)", rule 3): the one-interval DC rule with each
fee line's dual in its range (−fee carrying energy from → to inside its limit, within ±fee
carrying nothing, ≤ −fee at its limit), checked against the whole dual optimal face of an
independently written LP (scipy's HiGHS)."""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from matching import clear_document
from tests.matching.multi_reference import (
    _face,
    check_multi_result,
    interval_spans,
    midpoint_prices,
    parse,
    solve_lp,
)
from tests.support.multi_problems import intervals

PRICES = [0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
QUANTITIES = [0.5, 1.0, 2.0, 3.0, 5.0]
CAPACITIES_KW = [0.0, 1.0, 2.0, 4.0, 20.0]
FEES = [0.0, 0.01, 0.05, 0.05, 0.1, 0.3]


def node_prices(out: dict[str, Any], t: int = 0) -> dict[str, tuple[Any, Any, Any]]:
    return {
        n["id"]: (n["price"], n["price_low"], n["price_high"]) for n in out["intervals"][t]["nodes"]
    }


def triangle(fee: float, buy_price: float = 0.9, capacity_ac: float = 2.0) -> dict[str, Any]:
    """A → B (fee) , B → C, A → C (reactance 1 each); a seller at A (0.2), a buyer at C."""
    lines: list[dict[str, Any]] = [
        {"id": "AB", "from": "A", "to": "B", "capacity_kw": 20, "reactance": 1.0},
        {"id": "BC", "from": "B", "to": "C", "capacity_kw": 20, "reactance": 1.0},
        {"id": "AC", "from": "A", "to": "C", "capacity_kw": capacity_ac, "reactance": 1.0},
    ]
    if fee:
        lines[0]["fee_per_kwh"] = fee
    return {
        "intervals": intervals(1, 60),
        "network": {"nodes": [{"id": n} for n in "ABC"], "lines": lines},
        "orders": [
            {"id": "s", "node": "A", "side": "sell", "quantity_kwh": 3, "price": 0.2},
            {"id": "b", "node": "C", "side": "buy", "quantity_kwh": 6, "price": buy_price},
        ],
    }


def test_a_fee_line_carrying_energy_inside_its_limit_shifts_the_dc_prices_by_its_fee() -> None:
    """The seller at A (3 kWh at 0.2) sells everything, the buyer at C (6 at 0.9) is marginal:
    λ_C = 0.9. The 3 kWh split 2 over A–C (its limit) and 1 over A–B–C. Per line, ν = λ_from −
    λ_to ± κ (the loop's KVL dual): B–C inside its limit ν = 0, A–B carrying energy with the
    fee 0.05 ν = −0.05, A–C at +limit ν ≤ 0. So κ = 0.9 − λ_B, λ_A = 2 λ_B − 0.95, λ_B ≤ 2.75/3
    and λ_A ≥ 0.2 (the seller): ranges A [0.2, 0.88333], B [0.575, 0.91667]; the targets
    (0.541667, 0.7375) are not on the line λ_A = 2 λ_B − 0.95, the nearest point of it is
    (0.538333, 0.744167). Without the fee: λ_A = 2 λ_B − 0.9, A [0.2, 0.9], B [0.55, 0.9].
    Before: the LP's duals, with no range."""
    doc = triangle(0.05)
    out = clear_document(copy.deepcopy(doc), timings=False)
    assert out["status"] == "optimal", out["reason"]
    assert out["flow_model"] == "dc"
    flows = {ln["id"]: ln["flow_kwh"] for ln in out["intervals"][0]["lines"]}
    assert flows == pytest.approx({"AB": 1.0, "BC": 1.0, "AC": 2.0})
    got = node_prices(out)
    assert got["A"] == pytest.approx((0.538333333, 0.2, 2.65 / 3), abs=1e-9)
    assert got["B"] == pytest.approx((0.744166667, 0.575, 2.75 / 3), abs=1e-9)
    assert got["C"] == (0.9, 0.9, 0.9)
    assert 2 * got["B"][0] - got["A"][0] == pytest.approx(0.95, abs=1e-8)
    free = node_prices(clear_document(triangle(0.0), timings=False))
    assert free == {"A": (0.55, 0.2, 0.9), "B": (0.725, 0.55, 0.9), "C": (0.9, 0.9, 0.9)}
    # the ranges are the reference's, on the whole dual optimal face
    pb = parse(doc)
    _, low, high = midpoint_prices(pb, solve_lp(pb))
    for k, name in enumerate("ABC"):
        assert got[name][1] == pytest.approx(low[0, k], abs=1e-9)
        assert got[name][2] == pytest.approx(high[0, k], abs=1e-9)
    assert check_multi_result(doc, out) == []


def test_an_idle_fee_line_lets_the_prices_move_within_its_fee() -> None:
    """A triangle (reactance 1 each), the fee 0.1 on A–B only; an unmet buy at A (0.6) and an
    unmet sell at B (0.55). Moving 1 kWh from B to A sends 2/3 over A–B: 0.0667 of fees
    against a spread of 0.05, so nothing trades. The idle fee line's dual ν ∈ [−0.1, 0.1]
    is the only freedom: λ_A − λ_B = 2ν/3, λ_C = (λ_A + λ_B)/2, with λ_A ≥ 0.6 and
    λ_B ≤ 0.55: ranges A [0.6, 0.61667], B [0.53333, 0.55], C [0.56667, 0.58333]; the
    targets clipped to the span [0.55, 0.6] (0.6, 0.55, 0.575) are optimal together. Before:
    the LP's duals, one point each."""
    doc = {
        "intervals": intervals(1, 60),
        "network": {
            "nodes": [{"id": n} for n in "ABC"],
            "lines": [
                {"id": "AB", "from": "A", "to": "B", "capacity_kw": 10, "reactance": 1.0,
                 "fee_per_kwh": 0.1},
                {"id": "BC", "from": "B", "to": "C", "capacity_kw": 10, "reactance": 1.0},
                {"id": "CA", "from": "C", "to": "A", "capacity_kw": 10, "reactance": 1.0},
            ],
        },
        "orders": [
            {"id": "b", "node": "A", "side": "buy", "quantity_kwh": 1, "price": 0.6},
            {"id": "s", "node": "B", "side": "sell", "quantity_kwh": 1, "price": 0.55},
        ],
    }  # fmt: skip
    out = clear_document(copy.deepcopy(doc), timings=False)
    assert out["status"] == "optimal", out["reason"]
    assert out["flow_model"] == "dc"
    assert [o["accepted_kwh"] for o in out["orders"]] == [0.0, 0.0]
    got = node_prices(out)
    assert got["A"] == pytest.approx((0.6, 0.6, 0.6 + 0.1 / 6), abs=1e-9)
    assert got["B"] == pytest.approx((0.55, 0.6 - 0.2 / 3, 0.55), abs=1e-9)
    assert got["C"] == pytest.approx((0.575, 0.6 - 0.1 / 3, 0.55 + 0.1 / 3), abs=1e-9)
    assert check_multi_result(doc, out) == []


# --- property: small random meshed DC networks with fees


@st.composite
def meshed_fee_problems(draw: st.DrawFn, max_intervals: int = 2) -> dict[str, Any]:
    """3–5 nodes: a random tree plus one or two chords, every line with a reactance and most
    with a fee; 1 to `max_intervals` intervals, orders, sometimes a grid connection. No
    storage (its μ is the solver's on meshed DC networks: docs/clearing.md)."""
    n_t = draw(st.integers(1, max_intervals))
    n = draw(st.integers(3, 5))
    lines: list[dict[str, Any]] = []

    def line(ident: str, a: int, b: int) -> dict[str, Any]:
        ln: dict[str, Any] = {
            "id": ident,
            "from": f"N{a}",
            "to": f"N{b}",
            "capacity_kw": draw(st.sampled_from(CAPACITIES_KW)),
            "reactance": draw(st.sampled_from([0.5, 1.0, 2.0])),
        }
        fee = draw(st.sampled_from(FEES))
        if fee:
            ln["fee_per_kwh"] = fee
        return ln

    for i in range(1, n):
        parent = draw(st.integers(0, i - 1))
        a, b = (parent, i) if draw(st.booleans()) else (i, parent)
        lines.append(line(f"L{i}", a, b))
    for k in range(draw(st.integers(1, 2))):
        a = draw(st.integers(0, n - 1))
        b = draw(st.integers(0, n - 1).filter(lambda x, a=a: x != a))
        lines.append(line(f"C{k}", a, b))
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
    return {"intervals": intervals(n_t, 60), "network": network, "orders": orders}


def fast(n: int) -> settings:
    return settings(
        max_examples=n,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


def targets(pb: Any, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Each node-interval's midpoint clipped to its interval's span (the nearer end when
    the range misses the span)."""
    tgt = np.zeros(low.shape)
    for t, (p_lo, p_hi) in enumerate(interval_spans(pb)):
        a = np.maximum(low[t], p_lo)
        b = np.minimum(high[t], p_hi)
        tgt[t] = np.where(a <= b, 0.5 * (a + b), np.where(high[t] < p_lo, high[t], low[t]))
    return tgt


def assert_nearest_on_face(pb: Any, sol: Any, tgt: np.ndarray, prices: np.ndarray) -> None:
    """`prices` (T, N) is the optimal price vector nearest (Euclidean) to `tgt`: it lies on
    the reference's dual optimal face, and no point q of the face has (t − p)·q > (t − p)·p
    (the projection condition, one LP). Without storage the face is a product over intervals,
    so this is the one-interval rule interval by interval."""
    slack = 1e-10 * max(1.0, abs(sol.welfare))
    a_eq, b_eq, a_ub, b_ub, bounds = _face(sol, slack)
    width = a_eq.shape[1]
    n_bal = sol.model.n_bal
    p = prices.ravel()
    fix = sp.csr_matrix(
        (np.ones(n_bal), (np.arange(n_bal), np.arange(n_bal))), shape=(n_bal, width)
    )
    # on the face, within float dust: let each price move by 1e-8
    on_face = linprog(
        np.zeros(width),
        A_ub=sp.vstack([a_ub, fix, -fix]).tocsr(),
        b_ub=np.concatenate([b_ub, p + 1e-8, -p + 1e-8]),
        A_eq=a_eq,
        b_eq=b_eq,
        bounds=bounds,
        method="highs",
    )
    assert on_face.status == 0, ("prices not optimal", prices, on_face.message)
    d = tgt.ravel() - p
    obj = np.zeros(width)
    obj[:n_bal] = -d
    best = linprog(obj, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs")
    assert best.status == 0, best.message
    assert -best.fun <= float(d @ p) + 1e-7, ("not the nearest", prices, tgt, -best.fun)


@fast(60)
@given(meshed_fee_problems())
def test_the_price_rule_applies_on_meshed_dc_networks_with_fees(doc: dict[str, Any]) -> None:
    """No error, no fall-back to the LP's duals; every rule of `check_multi_result` holds
    (|Δprice| ≤ fee on an idle fee line, = fee where it carries energy inside its limit, the
    network's flows optimal at the prices, rent and budget); every node-interval's range is
    the range over the whole dual optimal face (two HiGHS LPs each) and the prices are the
    optimal vector nearest the clipped midpoints."""
    out = clear_document(copy.deepcopy(doc), timings=False)
    assert out["status"] == "optimal", out["reason"]
    assert check_multi_result(doc, out) == []
    pb = parse(doc)
    sol = solve_lp(pb)
    _, low, high = midpoint_prices(pb, sol)
    got = np.array([[nd["price"] for nd in iv["nodes"]] for iv in out["intervals"]])
    for t, iv in enumerate(out["intervals"]):
        for k, nd in enumerate(iv["nodes"]):
            where = (t, nd["id"], out["flow_model"])
            for val, ref in ((nd["price_low"], low[t, k]), (nd["price_high"], high[t, k])):
                if val is None:
                    assert math.isinf(ref), where
                else:
                    assert val == pytest.approx(ref, abs=1e-7), where
    assert_nearest_on_face(pb, sol, targets(pb, low, high), got)


@fast(25)
@given(meshed_fee_problems(max_intervals=2), st.randoms(use_true_random=False))
def test_dc_fee_prices_do_not_depend_on_how_the_problem_is_written(
    doc: dict[str, Any], rnd: Any
) -> None:
    """Shuffling nodes, lines and orders and flipping lines (with the flow's sign) gives the
    same prices and ranges for every node-interval."""
    out = clear_document(copy.deepcopy(doc), timings=False)
    assert out["status"] == "optimal", out["reason"]
    other = copy.deepcopy(doc)
    rnd.shuffle(other["network"]["nodes"])
    rnd.shuffle(other["network"]["lines"])
    rnd.shuffle(other["orders"])
    for ln in other["network"]["lines"]:
        if rnd.random() < 0.5:
            ln["from"], ln["to"] = ln["to"], ln["from"]
    out2 = clear_document(other, timings=False)
    assert out2["status"] == "optimal", out2["reason"]
    for iv, iv2 in zip(out["intervals"], out2["intervals"], strict=True):
        a = {nd["id"]: nd for nd in iv["nodes"]}
        b = {nd["id"]: nd for nd in iv2["nodes"]}
        for key in a:
            for f in ("price", "price_low", "price_high"):
                x, y = a[key][f], b[key][f]
                assert (x is None) == (y is None), (key, f)
                if x is not None:
                    assert x == pytest.approx(y, abs=1e-9), (key, f)
