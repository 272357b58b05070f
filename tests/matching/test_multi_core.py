"""The several-interval core (issue 12): storage, fees, blocks, prices per interval."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from matching import ProblemError, clear_document
from tests.matching.multi_support import random_problem, reference_welfare, storage_best_profit

EXAMPLES = Path(__file__).parent / "examples"
ROOT = Path(__file__).resolve().parents[2]


def hours(doc: dict[str, Any]) -> float:
    return float(doc["intervals"][0]["minutes"]) / 60.0


def battery() -> dict[str, Any]:
    """Cheap noon, dear evening: a 20 kWh battery at the grid node."""
    return {
        "intervals": [
            {"start": f"2026-06-15T{h:02d}:00:00+02:00", "minutes": 60} for h in (12, 13, 14, 15)
        ],
        "network": {
            "nodes": [{"id": "A"}],
            "grid_connections": [
                {
                    "node": "A",
                    "import_price": [0.2, 0.3, 0.9, 1.0],
                    "export_price": [0.1, 0.1, 0.5, 0.6],
                    "import_limit_kw": 100,
                    "export_limit_kw": 0,
                }
            ],
        },
        "orders": [
            {"id": "evening", "node": "A", "side": "buy", "quantity_kwh": 10, "price": 1.5,
             "interval": 3},
        ],
        "storage": [
            {"id": "bat", "node": "A", "energy_kwh": 20, "soc_initial_kwh": 0,
             "charge_kw": 10, "discharge_kw": 10, "efficiency_charge": 1,
             "efficiency_discharge": 1, "cost_per_kwh": 0.01}
        ],
    }  # fmt: skip


def test_battery_charges_at_cheap_noon_and_discharges_in_the_evening() -> None:
    out = clear_document(battery(), timings=False)
    assert out["status"] == "optimal"
    bat = out["storage"][0]
    assert bat["charge_kwh"] == [10.0, 0.0, 0.0, 0.0]
    assert bat["discharge_kwh"] == [0.0, 0.0, 0.0, 10.0]
    assert bat["soc_kwh"] == [10.0, 10.0, 10.0, 0.0]
    prices = [iv["nodes"][0]["price"] for iv in out["intervals"]]
    assert prices[0] == 0.2
    # the evening buyer is served by the battery at the price that makes it indifferent
    assert out["orders"][0]["accepted_kwh"] == 10.0
    assert bat["profit"] == pytest.approx(sum(p * (d - c) for p, c, d in zip(
        prices, bat["charge_kwh"], bat["discharge_kwh"], strict=True)) - 0.1)  # fmt: skip
    best = storage_best_profit(prices, battery()["storage"][0], 1.0)
    assert bat["profit"] >= best - 1e-9
    # trades: storage charging is a buyer, discharging a seller
    t0 = out["intervals"][0]["trades"]
    assert [(t["seller_kind"], t["buyer_kind"], t["quantity_kwh"]) for t in t0] == [
        ("grid", "storage", 10.0)
    ]
    t3 = out["intervals"][3]["trades"]
    assert [(t["seller"], t["buyer"], t["quantity_kwh"]) for t in t3] == [("bat", "evening", 10.0)]


def fee_problem() -> dict[str, Any]:
    return {
        "intervals": [{"start": "2026-06-15T12:00:00+02:00", "minutes": 60}],
        "network": {
            "nodes": [{"id": "A"}, {"id": "B"}],
            "lines": [
                {"id": "AB", "from": "A", "to": "B", "capacity_kw": 100, "fee_per_kwh": 0.05}
            ],
        },
        "orders": [
            {"id": "s", "node": "A", "side": "sell", "quantity_kwh": 10, "price": 0.4},
            {"id": "b", "node": "B", "side": "buy", "quantity_kwh": 6, "price": 0.8},
        ],
    }


def test_a_fee_splits_two_prices_on_an_uncongested_line() -> None:
    out = clear_document(fee_problem(), timings=False)
    nodes = out["intervals"][0]["nodes"]
    assert [n["price"] for n in nodes] == [0.4, 0.45]
    assert out["intervals"][0]["lines"] == [{"id": "AB", "flow_kwh": 6.0, "fee": 0.3}]
    assert out["fees"] == 0.3
    assert out["welfare"] == pytest.approx(6 * (0.8 - 0.4) - 0.3)
    assert out["congestion_rent"] == pytest.approx(0.0)


def test_a_fee_larger_than_the_gain_stops_the_trade() -> None:
    doc = fee_problem()
    doc["network"]["lines"][0]["fee_per_kwh"] = 0.5
    out = clear_document(doc, timings=False)
    assert [o["accepted_kwh"] for o in out["orders"]] == [0.0, 0.0]
    a, b = out["intervals"][0]["nodes"]
    assert b["price"] - a["price"] <= 0.5 + 1e-9


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("0*.json")), ids=lambda p: p.stem)
def test_one_interval_without_the_new_parts_matches_the_single_path(path: Path) -> None:
    single = json.loads(path.read_text())
    several = copy.deepcopy(single)
    several["intervals"] = [several.pop("interval")]
    s = clear_document(single, timings=False)
    m = clear_document(several, timings=False)
    iv = m["intervals"][0]
    assert m["status"] == s["status"] == "optimal"
    assert iv["nodes"] == s["nodes"]
    assert m["orders"] == s["orders"]
    assert m["welfare"] == s["welfare"]
    assert m["congestion_rent"] == s["congestion_rent"]
    assert [ln["flow_kwh"] for ln in iv["lines"]] == [ln["flow_kwh"] for ln in s["lines"]]


VARIANTS = [
    {},
    {"meshed": True, "fees": False},
    {"meshed": True},
    {"n_blocks": 4},
    {"n_blocks": 4, "meshed": True, "fees": False},
]


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: "-".join(v) or "plain")
def test_random_problems_against_an_independent_formulation(
    seed: int, variant: dict[str, Any]
) -> None:
    doc = random_problem(seed, **variant)
    out = clear_document(doc, timings=False)
    assert out["status"] == "optimal", out["reason"]
    fixed = {b["id"]: b["accepted_ratio"] > 0 for b in out["blocks"]} if doc["blocks"] else None
    ref = reference_welfare(doc, fixed)
    assert out["welfare"] == pytest.approx(ref, rel=1e-6, abs=1e-6)
    if doc["blocks"]:
        # the block rule never does better than the unrestricted MIP
        assert out["welfare"] <= reference_welfare(doc) + 1e-6
    node_index = {n["id"]: k for k, n in enumerate(doc["network"]["nodes"])}
    for k, s in enumerate(doc["storage"]):
        prices = [iv["nodes"][node_index[s["node"]]]["price"] for iv in out["intervals"]]
        assert out["storage"][k]["profit"] >= storage_best_profit(prices, s, hours(doc)) - 1e-6
    check_prices_and_trades(doc, out)


def check_prices_and_trades(doc: dict[str, Any], out: dict[str, Any]) -> None:
    node_index = {n["id"]: k for k, n in enumerate(doc["network"]["nodes"])}
    for o, a in zip(doc["orders"], out["orders"], strict=True):
        lam = out["intervals"][o.get("interval", 0)]["nodes"][node_index[o["node"]]]["price"]
        acc = a["accepted_kwh"]
        gain = o["price"] - lam if o["side"] == "buy" else lam - o["price"]
        if gain > 1e-7:
            assert acc == pytest.approx(o["quantity_kwh"])
        if gain < -1e-7:
            assert acc == 0.0
    for b in out["blocks"]:
        if b["accepted_ratio"] > 0:
            assert b["surplus"] >= -1e-6  # no paradoxically accepted block
        assert b["paradoxically_rejected"] == (b["accepted_ratio"] == 0 and b["surplus"] > 1e-6)
    for iv in out["intervals"]:
        for n in iv["nodes"]:
            if n["price_low"] is not None:
                assert n["price"] >= n["price_low"] - 1e-9
            if n["price_high"] is not None:
                assert n["price"] <= n["price_high"] + 1e-9
    # trades add up to every participant's energy
    sold: dict[tuple[str, Any, int], float] = defaultdict(float)
    bought: dict[tuple[str, Any, int], float] = defaultdict(float)
    for t, iv in enumerate(out["intervals"]):
        for tr in iv["trades"]:
            sold[(tr["seller_kind"], tr["seller"], t)] += tr["quantity_kwh"]
            bought[(tr["buyer_kind"], tr["buyer"], t)] += tr["quantity_kwh"]
    for o, a in zip(doc["orders"], out["orders"], strict=True):
        side = bought if o["side"] == "buy" else sold
        assert side[("order", o["id"], o.get("interval", 0))] == pytest.approx(
            a["accepted_kwh"], abs=1e-8
        )
    for s in out["storage"]:
        for t in range(len(out["intervals"])):
            assert bought[("storage", s["id"], t)] == pytest.approx(s["charge_kwh"][t], abs=1e-8)
            assert sold[("storage", s["id"], t)] == pytest.approx(s["discharge_kwh"][t], abs=1e-8)
    for b, r in zip(doc["blocks"], out["blocks"], strict=True):
        side = bought if b["side"] == "buy" else sold
        for k, q in enumerate(b["quantities_kwh"]):
            t = b["first_interval"] + k
            assert side[("block", b["id"], t)] == pytest.approx(q * r["accepted_ratio"], abs=1e-8)


def test_reordering_orders_storage_and_blocks_changes_nothing() -> None:
    doc = random_problem(3, n_blocks=4, n_storage=3)
    out = clear_document(doc, timings=False)
    rev = copy.deepcopy(doc)
    for key in ("orders", "storage", "blocks"):
        rev[key].reverse()
    back = clear_document(rev, timings=False)
    for key in ("orders", "storage", "blocks"):
        assert sorted(out[key], key=lambda x: x["id"]) == sorted(back[key], key=lambda x: x["id"])
    assert out["welfare"] == back["welfare"]
    for a, b in zip(out["intervals"], back["intervals"], strict=True):
        assert a["nodes"] == b["nodes"]
        assert a["lines"] == b["lines"]


def paradox_problem() -> dict[str, Any]:
    """A 2-hour load at 0.5 PLN/kWh: running it adds welfare (2.0 paid for 1.8 of extra
    supply), but it sets the prices to 0.6 and 0.7 (the dear sellers become marginal), at
    which it would lose; without it the prices are 0.2 and 0.3, at which it would gain."""
    return {
        "intervals": [
            {"start": "2026-06-15T10:00:00+02:00", "minutes": 60},
            {"start": "2026-06-15T11:00:00+02:00", "minutes": 60},
        ],
        "network": {"nodes": [{"id": "A"}]},
        "orders": [
            {"id": "s1", "node": "A", "side": "sell", "quantity_kwh": 5, "price": 0.2,
             "interval": 0},
            {"id": "s2", "node": "A", "side": "sell", "quantity_kwh": 5, "price": 0.6,
             "interval": 0},
            {"id": "s3", "node": "A", "side": "sell", "quantity_kwh": 5, "price": 0.3,
             "interval": 1},
            {"id": "s4", "node": "A", "side": "sell", "quantity_kwh": 5, "price": 0.7,
             "interval": 1},
            {"id": "b1", "node": "A", "side": "buy", "quantity_kwh": 4, "price": 0.8,
             "interval": 0},
            {"id": "b2", "node": "A", "side": "buy", "quantity_kwh": 4, "price": 0.8,
             "interval": 1},
        ],
        "blocks": [
            {"id": "pump", "node": "A", "side": "buy", "price": 0.5, "first_interval": 0,
             "quantities_kwh": [2, 2]}
        ],
    }  # fmt: skip


def test_a_block_that_would_lose_money_is_rejected_and_flagged_paradoxically() -> None:
    out = clear_document(paradox_problem(), timings=False)
    assert out["status"] == "optimal"
    (pump,) = out["blocks"]
    assert pump["accepted_ratio"] == 0.0
    prices = [iv["nodes"][0]["price"] for iv in out["intervals"]]
    assert prices == [0.2, 0.3]
    assert pump["surplus"] == pytest.approx(1.0)
    assert pump["paradoxically_rejected"]
    assert out["welfare"] == pytest.approx(4 * 0.6 + 4 * 0.5)
    assert out["welfare"] < reference_welfare(paradox_problem())
    assert "paradoxically accepted block rejected" in out["reason"]


BAD = [
    (lambda d: d["intervals"][1].update(start="2026-06-15T13:15:00+02:00"),
     r"intervals\[1\]\.start: intervals must be consecutive"),
    (lambda d: d["intervals"][1].update(minutes=15), r"intervals\[1\]\.minutes: all intervals"),
    (lambda d: d["orders"][0].update(interval=3),
     r"orders\[0\]\.interval: must be between 0 and 2"),
    (lambda d: d["blocks"][0].update(first_interval=2), r"blocks\[0\]\.quantities_kwh: runs past"),
    (lambda d: d["blocks"][0]["quantities_kwh"].__setitem__(0, -1),
     r"blocks\[0\]\.quantities_kwh\[0\]: must be 0 or more"),
    (lambda d: d["blocks"][0].update(min_acceptance_ratio=0),
     r"blocks\[0\]\.min_acceptance_ratio: must be greater than 0 and at most 1"),
    (lambda d: d["storage"][0].update(efficiency_charge=1.2),
     r"storage\[0\]\.efficiency_charge: must be greater than 0 and at most 1"),
    (lambda d: d["storage"][0].update(efficiency_discharge=0),
     r"storage\[0\]\.efficiency_discharge"),
    (lambda d: d["storage"][0].update(soc_initial_kwh=50),
     r"storage\[0\]\.soc_initial_kwh: must not exceed energy_kwh \(40\)"),
    (lambda d: d["storage"][0].update(charge_kw=5, soc_final_min_kwh=39),
     r"storage\[0\]\.soc_final_min_kwh: cannot be reached"),
    (lambda d: d["network"]["grid_connections"][0].update(import_price=[1, 2]),
     r"network\.grid_connections\[0\]\.import_price: must have one value per interval \(3\)"),
    (lambda d: d["storage"][0].update(efficency_charge=1), r"did you mean 'efficiency_charge'"),
    (lambda d: d["network"]["lines"][0].update(fee_per_kwh=-1),
     r"network\.lines\[0\]\.fee_per_kwh: must be 0 or more"),
    (lambda d: d["orders"].append(dict(d["orders"][0])), r"orders\[2\]\.id: duplicate"),
    (lambda d: d.update(intervals=[]), r"intervals: must hold 1 to 100"),
    # each way out of the orders' whole-list fast path names the field as the checked loop does
    (lambda d: d["orders"][1].update(node="Z"), r"orders\[1\]\.node: unknown node 'Z'"),
    (lambda d: d["orders"][1].update(side="Buy"), r"orders\[1\]\.side: must be 'buy' or 'sell'"),
    (lambda d: d["orders"][1].update(quantity_kwh=0),
     r"orders\[1\]\.quantity_kwh: must be greater"),
    (lambda d: d["orders"][1].update(price=True), r"orders\[1\]\.price: must be a number"),
    (lambda d: d["orders"][1].update(price=1e400), r"orders\[1\]\.price: must be a finite"),
    (lambda d: d["orders"][1].update(interval=1.0), r"orders\[1\]\.interval: must be a whole"),
    (lambda d: d["orders"][1].update(id=""), r"orders\[1\]\.id: must be a non-empty"),
    (lambda d: d["orders"][1].pop("price"), r"orders\[1\]\.price: is missing"),
    (lambda d: d["orders"][1].update(prize=1),
     r"orders\[1\]\.prize: unknown field \(did you mean 'price'"),
]  # fmt: skip


def small() -> dict[str, Any]:
    return {
        "intervals": [
            {"start": f"2026-06-15T{h}:00:00+02:00", "minutes": 60} for h in (12, 13, 14)
        ],
        "network": {
            "nodes": [{"id": "A"}, {"id": "B"}],
            "lines": [{"id": "AB", "from": "A", "to": "B", "capacity_kw": 50}],
            "grid_connections": [
                {"node": "A", "import_price": [0.2, 0.5, 0.9], "export_price": 0.1,
                 "import_limit_kw": 100, "export_limit_kw": 100}
            ],
        },
        "orders": [
            {"id": "b1", "node": "B", "side": "buy", "quantity_kwh": 30, "price": 1.0,
             "interval": 2},
            {"id": "b2", "node": "B", "side": "buy", "quantity_kwh": 30, "price": 0.7},
        ],
        "storage": [
            {"id": "bat", "node": "A", "energy_kwh": 40, "soc_initial_kwh": 0,
             "charge_kw": 20, "discharge_kw": 20, "efficiency_charge": 0.9,
             "efficiency_discharge": 0.9}
        ],
        "blocks": [
            {"id": "pump", "node": "B", "side": "buy", "price": 0.6, "first_interval": 1,
             "quantities_kwh": [10, 10]}
        ],
    }  # fmt: skip


@pytest.mark.parametrize("change,message", BAD)
def test_bad_input_names_the_field(change: Any, message: str) -> None:
    doc = small()
    assert clear_document(doc, timings=False)["status"] == "optimal"
    change(doc)
    with pytest.raises(ProblemError, match=message):
        clear_document(doc)


def test_cli_clears_the_several_interval_form_and_exits_2_on_bad_input(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text(json.dumps(small()))
    cmd = [sys.executable, "-m", "web.cli", "clear", str(path), "--no-timings"]
    ok = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout) == clear_document(small(), timings=False)
    again = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert again.stdout == ok.stdout
    bad = small()
    bad["storage"][0]["soc_initial_kwh"] = 50
    path.write_text(json.dumps(bad))
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "klaster clear: storage[0].soc_initial_kwh: must not exceed energy_kwh (40)"
    ]
    assert proc.stdout == ""


def test_integer_ids_are_echoed_as_given() -> None:
    doc = small()
    doc["orders"][0]["id"] = 7
    doc["storage"][0]["id"] = 12345678901234567890123
    out = clear_document(doc, timings=False)
    assert out["orders"][0]["id"] == 7
    assert out["storage"][0]["id"] == 12345678901234567890123


def test_time_limit_used_up_gives_time_limit_and_nothing_accepted() -> None:
    out = clear_document(small(), time_limit_s=1e-9)
    assert out["status"] == "time_limit"
    assert all(o["accepted_kwh"] == 0 for o in out["orders"])


def test_identical_storage_units_listed_the_other_way_round_get_the_same_schedules() -> None:
    doc = battery()
    twin = dict(doc["storage"][0], id="twin")
    doc["storage"].append(twin)
    doc["orders"][0]["quantity_kwh"] = 15
    out = clear_document(doc, timings=False)
    rev = copy.deepcopy(doc)
    rev["storage"].reverse()
    back = clear_document(rev, timings=False)
    by_id = {s["id"]: s for s in back["storage"]}
    assert all(s == by_id[s["id"]] for s in out["storage"])
    assert out["intervals"] == back["intervals"]
    assert out["welfare"] == back["welfare"]


@pytest.mark.parametrize("seed", range(4))
def test_the_radial_reduction_changes_nothing_but_the_lp_size(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    from matching.multi import clearing
    from matching.multi.model import no_reduction

    doc = random_problem(seed, n_intervals=5, n_nodes=7, n_orders=40, n_storage=2, n_blocks=2)
    reduced = clear_document(doc, timings=False)
    monkeypatch.setattr(
        clearing, "reduce_tree", lambda problem, steps, topo, down: no_reduction(problem, topo)
    )
    full = clear_document(doc, timings=False)
    assert reduced["status"] == full["status"] == "optimal"
    assert reduced["welfare"] == pytest.approx(full["welfare"], abs=1e-7)
    for a, b in zip(reduced["intervals"], full["intervals"], strict=True):
        for na, nb in zip(a["nodes"], b["nodes"], strict=True):
            for key in ("price_low", "price_high"):
                if na[key] is None or nb[key] is None:
                    continue
                # equal ranges where the optimum is unique; else both are valid optima
                assert na["price_low"] is None or na["price_low"] <= na["price"] + 1e-9


def _trade_multiset(out: dict[str, Any]) -> list[list[str]]:
    return [
        sorted(json.dumps(tr, sort_keys=True) for tr in iv["trades"]) for iv in out["intervals"]
    ]


def test_trades_do_not_depend_on_how_nodes_are_listed() -> None:
    """Relisting the network's nodes (same LP solution) gives the same trades: node-intervals
    are ranked by what they are, never by their position."""
    checked = 0
    for seed in range(12):
        doc = random_problem(seed, n_nodes=5, n_orders=30, n_storage=2, fees=False)
        out = clear_document(doc, timings=False)
        rev = copy.deepcopy(doc)
        rev["network"]["nodes"].reverse()
        back = clear_document(rev, timings=False)
        same_solution = out["orders"] == back["orders"] and out["storage"] == back["storage"]
        same_solution &= all(
            a["lines"] == b["lines"]
            for a, b in zip(out["intervals"], back["intervals"], strict=True)
        )
        if not same_solution:
            continue  # another optimal solution: trades may rightly differ
        checked += 1
        assert _trade_multiset(out) == _trade_multiset(back), seed
    assert checked >= 3


def test_lossless_storage_never_charges_and_discharges_at_once() -> None:
    """A unit with both efficiencies 1 and no wear gets the net schedule (never both in one
    interval), whatever the solver returned."""
    seen = 0
    for seed in range(10):
        doc = random_problem(seed, n_storage=3)
        for s in doc["storage"]:
            s["efficiency_charge"] = s["efficiency_discharge"] = 1.0
            s["cost_per_kwh"] = 0.0
        out = clear_document(doc, timings=False)
        assert out["status"] == "optimal"
        for s in out["storage"]:
            for c, d in zip(s["charge_kwh"], s["discharge_kwh"], strict=True):
                seen += c > 0 or d > 0
                assert c == 0 or d == 0, (seed, s)
    assert seen


def test_rejected_reason_separates_group_exclusion_from_paradox() -> None:
    """Two blocks of one group, both in the money: the one accepted excludes the other, which
    is `group_exclusive`, not paradoxically rejected."""
    doc = {
        "intervals": [{"start": "2026-06-15T10:00:00+02:00", "minutes": 60}],
        "network": {
            "nodes": [{"id": "A"}],
            "grid_connections": [
                {"node": "A", "import_price": 0.3, "export_price": 0.1, "import_limit_kw": 100,
                 "export_limit_kw": 100}
            ],
        },
        "orders": [],
        "blocks": [
            {"id": "big", "node": "A", "side": "buy", "price": 0.8, "first_interval": 0,
             "quantities_kwh": [10], "group": "g"},
            {"id": "small", "node": "A", "side": "buy", "price": 0.8, "first_interval": 0,
             "quantities_kwh": [5], "group": "g"},
            {"id": "cheap", "node": "A", "side": "buy", "price": 0.2, "first_interval": 0,
             "quantities_kwh": [5]},
        ],
    }  # fmt: skip
    out = clear_document(doc, timings=False)
    by_id = {b["id"]: b for b in out["blocks"]}
    assert by_id["big"]["accepted_ratio"] == 1.0
    assert by_id["big"]["rejected_reason"] is None
    assert by_id["small"]["accepted_ratio"] == 0.0
    assert by_id["small"]["surplus"] > 0
    assert by_id["small"]["rejected_reason"] == "group_exclusive"
    assert by_id["small"]["paradoxically_rejected"] is False
    assert by_id["cheap"]["rejected_reason"] == "out_of_the_money"
    assert by_id["cheap"]["paradoxically_rejected"] is False


def test_vectorised_node_ranks_equal_the_one_interval_ranking() -> None:
    """`matching.multi.ranks.node_ranks` gives exactly `matching.transfers.node_ranks`."""
    from types import SimpleNamespace

    import numpy as np

    from matching.multi.ranks import node_ranks as fast
    from matching.transfers import node_ranks as slow

    rng = np.random.default_rng(0)
    for _ in range(400):
        n, m = int(rng.integers(1, 12)), int(rng.integers(0, 16))
        lf, lt = rng.integers(0, n, m), rng.integers(0, n, m)
        price = rng.choice([0.1, 0.2, 0.2000000000001], n)
        sup, dem = rng.choice([0.0, 1.0, 2.0], n), rng.choice([0.0, 1.0], n)
        flow = rng.choice([0.0, 1.0, -1.0, 2.0], m)
        topo = SimpleNamespace(n_nodes=n, line_from=lf, line_to=lt)
        want = slow(topo, price, sup, dem, flow)  # type: ignore[arg-type]
        got = fast(n, lf, lt, price, sup, dem, flow)
        assert np.array_equal(want[0], got[0]) and np.array_equal(want[1], got[1])


def test_vectorised_node_ranks_on_wide_nodes_equal_the_one_interval_ranking() -> None:
    """Nodes with many flowing lines: the refinement's rows no longer fit one packed key."""
    from types import SimpleNamespace

    import numpy as np

    from matching.multi.ranks import node_ranks as fast
    from matching.transfers import node_ranks as slow

    rng = np.random.default_rng(1)
    for _ in range(6):
        n, m = 300, 2000
        lf, lt = rng.integers(0, n, m), rng.integers(0, n, m)
        price = rng.choice([0.1, 0.2], n)
        sup, dem = rng.choice([0.0, 1.0], n), rng.choice([0.0, 1.0], n)
        flow = rng.choice([0.0, 1.0, -1.0, 2.0], m)
        topo = SimpleNamespace(n_nodes=n, line_from=lf, line_to=lt)
        want = slow(topo, price, sup, dem, flow)  # type: ignore[arg-type]
        got = fast(n, lf, lt, price, sup, dem, flow)
        assert np.array_equal(want[0], got[0]) and np.array_equal(want[1], got[1])


def test_packed_dense_rank_equals_the_column_by_column_rank() -> None:
    """`_dense_int` ranks integer rows as `_dense` does, also when a key holds one column."""
    import numpy as np

    from matching.multi.ranks import _dense, _dense_int

    rng = np.random.default_rng(2)
    for high in (3, 300, 2**40):
        table = rng.integers(-1, high, (500, 9))
        table[::3, 4:] = table[1::3, 4:][: table[::3].shape[0]]  # rows sharing a prefix
        table[::7] = table[0]  # equal rows
        assert np.array_equal(_dense_int(table), _dense(table.astype(np.float64)))
