"""Helpers for the several-interval core's own tests: a small random problem generator and
a plain, loop-written scipy (HiGHS) formulation of the same welfare problem, used as an
independent check (the official reference lives with the property tests)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

Json = dict[str, Any]


def random_problem(
    seed: int,
    *,
    n_intervals: int = 4,
    n_nodes: int = 4,
    n_orders: int = 20,
    n_storage: int = 2,
    n_blocks: int = 0,
    fees: bool = True,
    meshed: bool = False,
    minutes: int = 15,
) -> Json:
    rng = np.random.default_rng(seed)
    nodes = [{"id": f"n{k}"} for k in range(n_nodes)]
    lines = []
    for k in range(1, n_nodes):
        line: Json = {
            "id": f"l{k}",
            "from": f"n{int(rng.integers(0, k))}",
            "to": f"n{k}",
            "capacity_kw": float(rng.choice([5.0, 20.0, 200.0])),
        }
        if fees and rng.random() < 0.5:
            line["fee_per_kwh"] = float(rng.choice([0.01, 0.05]))
        lines.append(line)
    if meshed and n_nodes > 2:
        lines.append({"id": "loop", "from": f"n{n_nodes - 1}", "to": "n0", "capacity_kw": 10.0})
        for ln in lines:
            ln["reactance"] = float(rng.choice([0.5, 1.0, 2.0]))
    t = n_intervals
    start = "2026-06-15T00:00:00+00:00"
    intervals = [
        {
            "start": f"2026-06-15T{(m * minutes) // 60:02d}:{(m * minutes) % 60:02d}:00+00:00",
            "minutes": minutes,
        }
        for m in range(t)
    ]
    del start
    grid = [
        {
            "node": "n0",
            "import_price": [round(float(v), 2) for v in rng.uniform(0.3, 1.0, t)],
            "export_price": [round(float(v), 2) for v in rng.uniform(0.0, 0.25, t)],
            "import_limit_kw": 80.0,
            "export_limit_kw": float(rng.choice([0.0, 50.0])),
        }
    ]
    orders = []
    for k in range(n_orders):
        orders.append(
            {
                "id": f"o{k}",
                "node": f"n{int(rng.integers(0, n_nodes))}",
                "side": "buy" if rng.random() < 0.5 else "sell",
                "quantity_kwh": float(rng.choice([1.0, 2.0, 5.0])),
                "price": round(float(rng.uniform(0.1, 1.1)), 2),
                "interval": int(rng.integers(0, t)),
            }
        )
    storage = []
    for k in range(n_storage):
        e = float(rng.choice([5.0, 10.0]))
        storage.append(
            {
                "id": f"s{k}",
                "node": f"n{int(rng.integers(0, n_nodes))}",
                "energy_kwh": e,
                "soc_initial_kwh": float(rng.choice([0.0, e / 2])),
                "charge_kw": 8.0,
                "discharge_kw": 8.0,
                "efficiency_charge": float(rng.choice([0.9, 1.0])),
                "efficiency_discharge": float(rng.choice([0.9, 1.0])),
                "cost_per_kwh": float(rng.choice([0.0, 0.02])),
            }
        )
    blocks = []
    for k in range(n_blocks):
        length = int(rng.integers(1, t + 1))
        first = int(rng.integers(0, t - length + 1))
        block: Json = {
            "id": f"b{k}",
            "node": f"n{int(rng.integers(0, n_nodes))}",
            "side": "buy" if rng.random() < 0.6 else "sell",
            "price": round(float(rng.uniform(0.2, 1.0)), 2),
            "first_interval": first,
            "quantities_kwh": [float(rng.choice([1.0, 3.0])) for _ in range(length)],
            "min_acceptance_ratio": float(rng.choice([1.0, 0.5])),
        }
        if rng.random() < 0.4:
            block["group"] = f"g{k % 2}"
        blocks.append(block)
    return {
        "intervals": intervals,
        "network": {"nodes": nodes, "lines": lines, "grid_connections": grid},
        "orders": orders,
        "storage": storage,
        "blocks": blocks,
    }


def reference_welfare(doc: Json, block_on: dict[str, bool] | None = None) -> float:
    """The optimal welfare, written variable by variable with scipy's HiGHS. With
    `block_on` the blocks' acceptance is fixed (True: ratio in [r, 1]); without it the
    blocks are free (a MIP)."""
    t_n = len(doc["intervals"])
    hours = doc["intervals"][0]["minutes"] / 60
    nodes = [n["id"] for n in doc["network"]["nodes"]]
    lines = doc["network"].get("lines", [])
    var_lo: list[float] = []
    var_hi: list[float] = []
    cost: list[float] = []
    integral: list[int] = []
    bal: dict[tuple[int, str], dict[int, float]] = {(t, n): {} for t in range(t_n) for n in nodes}
    rows: list[tuple[dict[int, float], float, float]] = []

    def var(lo: float, hi: float, c: float, integer: bool = False) -> int:
        var_lo.append(lo)
        var_hi.append(hi)
        cost.append(c)
        integral.append(1 if integer else 0)
        return len(var_lo) - 1

    for o in doc["orders"]:
        sgn = -1.0 if o["side"] == "buy" else 1.0
        j = var(0, o["quantity_kwh"], sgn * o["price"])
        bal[(o.get("interval", 0), o["node"])][j] = sgn
    flows: dict[tuple[int, int], list[tuple[int, float]]] = {}
    for t in range(t_n):
        for k, ln in enumerate(lines):
            cap = ln["capacity_kw"] * hours
            fee = ln.get("fee_per_kwh", 0.0)
            parts = []
            for d in (1.0, -1.0):
                j = var(0, cap, fee)
                parts.append((j, d))
                bal[(t, ln["from"])][j] = bal[(t, ln["from"])].get(j, 0) - d
                bal[(t, ln["to"])][j] = bal[(t, ln["to"])].get(j, 0) + d
            flows[(t, k)] = parts
    for g in doc["network"].get("grid_connections", []):

        def at(v: Any, t: int) -> float:
            return float(v[t]) if isinstance(v, list) else float(v)

        for t in range(t_n):
            m = var(0, at(g["import_limit_kw"], t) * hours, at(g["import_price"], t))
            e = var(0, at(g["export_limit_kw"], t) * hours, -at(g["export_price"], t))
            bal[(t, g["node"])][m] = 1.0
            bal[(t, g["node"])][e] = -1.0
    for s in doc.get("storage", []):
        prev: int | None = None
        for t in range(t_n):
            c = var(0, s["charge_kw"] * hours, 0.0)
            d = var(0, s["discharge_kw"] * hours, s.get("cost_per_kwh", 0.0))
            lo = s.get("soc_final_min_kwh", s["soc_initial_kwh"]) if t == t_n - 1 else 0.0
            q = var(lo, s["energy_kwh"], 0.0)
            bal[(t, s["node"])][c] = -1.0
            bal[(t, s["node"])][d] = 1.0
            row = {q: 1.0, c: -s["efficiency_charge"], d: 1.0 / s["efficiency_discharge"]}
            rhs = s["soc_initial_kwh"] if prev is None else 0.0
            if prev is not None:
                row[prev] = -1.0
            rows.append((row, rhs, rhs))
            prev = q
    groups: dict[str, list[int]] = {}
    for b in doc.get("blocks", []):
        r = b.get("min_acceptance_ratio", 1.0)
        value = b["price"] * sum(b["quantities_kwh"])
        sgn = -1.0 if b["side"] == "buy" else 1.0
        if block_on is None:
            x = var(0, 1, sgn * value)
            y = var(0, 1, 0.0, integer=True)
            rows.append(({x: 1.0, y: -r}, 0.0, math.inf))
            rows.append(({x: 1.0, y: -1.0}, -math.inf, 0.0))
            if "group" in b:
                groups.setdefault(str(b["group"]), []).append(y)
        else:
            on = block_on[b["id"]]
            x = var(r if on else 0.0, 1.0 if on else 0.0, sgn * value)
        for k, qk in enumerate(b["quantities_kwh"]):
            bal[(b["first_interval"] + k, b["node"])][x] = sgn * qk
    for ys in groups.values():
        rows.append(({y: 1.0 for y in ys}, -math.inf, 1.0))
    if any(ln.get("reactance") is not None for ln in lines) and len(lines) >= len(nodes):
        # KVL through node angles: f = (θ_from − θ_to) / x
        for t in range(t_n):
            theta = {n: var(-1e6, 1e6, 0.0) for n in nodes}
            for k, ln in enumerate(lines):
                (jp, _), (jn, _) = flows[(t, k)]
                x = ln["reactance"]
                rows.append(
                    ({jp: x, jn: -x, theta[ln["from"]]: -1.0, theta[ln["to"]]: 1.0}, 0.0, 0.0)
                )
    for entries in bal.values():
        rows.append((entries, 0.0, 0.0))
    n_var = len(var_lo)
    a = np.zeros((len(rows), n_var))
    lo = np.zeros(len(rows))
    hi = np.zeros(len(rows))
    for i, (entries, rl, rh) in enumerate(rows):
        for j, v in entries.items():
            a[i, j] += v
        lo[i], hi[i] = rl, rh
    if any(integral):
        res = milp(
            np.array(cost),
            constraints=LinearConstraint(a, lo, hi),
            bounds=Bounds(np.array(var_lo), np.array(var_hi)),
            integrality=np.array(integral),
            options={"mip_rel_gap": 0.0},
        )
    else:
        eq = lo == hi
        res = linprog(
            np.array(cost),
            A_ub=np.vstack([a[~eq & np.isfinite(hi)], -a[~eq & np.isfinite(lo)]])
            if (~eq).any()
            else None,
            b_ub=np.concatenate([hi[~eq & np.isfinite(hi)], -lo[~eq & np.isfinite(lo)]])
            if (~eq).any()
            else None,
            A_eq=a[eq],
            b_eq=lo[eq],
            bounds=list(zip(var_lo, var_hi, strict=True)),
            method="highs",
        )
    assert res.status == 0, res.message
    return float(-res.fun)


def storage_best_profit(prices: list[float], s: Json, hours: float) -> float:
    """The storage unit's own best profit at the given prices of its node (scipy HiGHS)."""
    t_n = len(prices)
    ec, ed = s["efficiency_charge"], s["efficiency_discharge"]
    wear = s.get("cost_per_kwh", 0.0)
    # variables c[t], d[t], q[t]
    cost = np.concatenate([np.array(prices), -np.array(prices) + wear, np.zeros(t_n)])
    a = np.zeros((t_n, 3 * t_n))
    b = np.zeros(t_n)
    for t in range(t_n):
        a[t, 2 * t_n + t] = 1.0
        if t:
            a[t, 2 * t_n + t - 1] = -1.0
        a[t, t] = -ec
        a[t, t_n + t] = 1.0 / ed
    b[0] = s["soc_initial_kwh"]
    final = s.get("soc_final_min_kwh", s["soc_initial_kwh"])
    bounds = (
        [(0, s["charge_kw"] * hours)] * t_n
        + [(0, s["discharge_kw"] * hours)] * t_n
        + [(0, s["energy_kwh"])] * (t_n - 1)
        + [(final, s["energy_kwh"])]
    )
    res = linprog(cost, A_eq=a, b_eq=b, bounds=bounds, method="highs")
    assert res.status == 0, res.message
    return float(-res.fun)


def day_ahead(
    seed: int,
    *,
    n_intervals: int = 96,
    n_nodes: int = 500,
    n_orders: int = 10_000,
    n_storage: int = 50,
    n_blocks: int = 0,
    group_size: int = 5,
    meshed: bool = False,
    fees: bool = True,
) -> Json:
    """The issue's day-ahead scale: a radial feeder (meshed: plus a few ties, reactances),
    a grid connection with quarter-hour prices, storage and blocks in exclusive groups."""
    rng = np.random.default_rng(seed)
    t = n_intervals
    nodes = [{"id": f"n{k}"} for k in range(n_nodes)]
    parent = [0] + [int(rng.integers(max(0, k - 20), k)) for k in range(1, n_nodes)]
    lines: list[Json] = [
        {
            "id": f"l{k}",
            "from": f"n{parent[k]}",
            "to": f"n{k}",
            "capacity_kw": float(rng.choice([150.0, 400.0, 2000.0])),
            "fee_per_kwh": float(rng.choice([0.0, 0.0, 0.02])) if fees else 0.0,
        }
        for k in range(1, n_nodes)
    ]
    if meshed:
        for k in range(n_nodes // 50):
            a, b = rng.choice(n_nodes, 2, replace=False)
            lines.append({"id": f"tie{k}", "from": f"n{a}", "to": f"n{b}", "capacity_kw": 200.0})
        for ln in lines:
            ln["reactance"] = float(rng.uniform(0.5, 2.0))
            ln.pop("fee_per_kwh", None)
    day = np.sin(np.linspace(0, 2 * np.pi, t, endpoint=False) - np.pi / 2)
    imp = np.round(0.6 + 0.3 * day + rng.uniform(-0.05, 0.05, t), 4)
    intervals = [
        {"start": f"2026-06-15T{(15 * m) // 60:02d}:{(15 * m) % 60:02d}:00+00:00", "minutes": 15}
        for m in range(t)
    ] if t <= 96 else [
        {"start": (np.datetime64("2026-10-24T22:00") + np.timedelta64(15 * m, "m")).astype(str)
         + "+00:00", "minutes": 15}
        for m in range(t)
    ]  # fmt: skip
    grid = [
        {
            "node": "n0",
            "import_price": imp.tolist(),
            "export_price": np.round(imp - 0.25, 4).tolist(),
            "import_limit_kw": 5000.0,
            "export_limit_kw": 5000.0,
        }
    ]
    node = rng.integers(0, n_nodes, n_orders)
    buy = rng.random(n_orders) < 0.5
    iv = rng.integers(0, t, n_orders)
    price = np.round(rng.uniform(0.1, 1.2, n_orders), 3)
    qty = np.round(rng.uniform(0.5, 30.0, n_orders), 2)
    orders = [
        {
            "id": f"o{k}",
            "node": f"n{node[k]}",
            "side": "buy" if buy[k] else "sell",
            "quantity_kwh": float(qty[k]),
            "price": float(price[k]),
            "interval": int(iv[k]),
        }
        for k in range(n_orders)
    ]
    storage = [
        {
            "id": f"s{k}",
            "node": f"n{int(rng.integers(0, n_nodes))}",
            "energy_kwh": 200.0,
            "soc_initial_kwh": 100.0,
            "charge_kw": 100.0,
            "discharge_kw": 100.0,
            "efficiency_charge": 0.95,
            "efficiency_discharge": 0.95,
            "cost_per_kwh": 0.01,
        }
        for k in range(n_storage)
    ]
    blocks = []
    for k in range(n_blocks):
        length = 8
        first = int(rng.integers(0, t - length))
        blocks.append(
            {
                "id": f"b{k}",
                "node": f"n{int(rng.integers(0, n_nodes))}",
                "side": "buy" if k % 3 else "sell",
                "price": round(float(rng.uniform(0.3, 0.9)), 3),
                "first_interval": first,
                "quantities_kwh": [float(rng.choice([10.0, 25.0]))] * length,
                "min_acceptance_ratio": 1.0,
                "group": f"g{k // group_size}",
            }
        )
    return {
        "intervals": intervals,
        "network": {"nodes": nodes, "lines": lines, "grid_connections": grid},
        "orders": orders,
        "storage": storage,
        "blocks": blocks,
    }
