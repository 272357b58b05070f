"""The welfare problem of issue 12 written again from the issue text, solved with scipy's
HiGHS (`linprog` / `milp`). DC power flow through voltage angles (not cycles), fee lines as
two non-negative columns, blocks with an on/off integer each."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, linprog, milp
from scipy.sparse import coo_matrix

Json = dict[str, Any]


def per_interval(value: Any, t: int) -> list[float]:
    return [float(v) for v in value] if isinstance(value, list) else [float(value)] * t


def is_dc(problem: Json) -> bool:
    lines = problem["network"].get("lines", [])
    return bool(lines) and all(ln.get("reactance") is not None for ln in lines)


@dataclass
class Lp:
    """A max-welfare LP being written: columns with bounds and costs, equality rows,
    inequality rows (≤ 0 right-hand side unless given)."""

    cost: list[float]
    lo: list[float]
    hi: list[float]
    integer: list[int]
    eq: list[tuple[dict[int, float], float]]
    le: list[tuple[dict[int, float], float]]

    def col(self, cost: float, lo: float, hi: float, integer: bool = False) -> int:
        self.cost.append(cost)
        self.lo.append(lo)
        self.hi.append(hi)
        self.integer.append(int(integer))
        return len(self.cost) - 1

    def matrix(self, rows: list[tuple[dict[int, float], float]]) -> tuple[Any, np.ndarray]:
        r, c, v = [], [], []
        for i, (row, _) in enumerate(rows):
            for j, a in row.items():
                r.append(i)
                c.append(j)
                v.append(a)
        shape = (len(rows), len(self.cost))
        return coo_matrix((v, (r, c)), shape=shape).tocsr(), np.array([b for _, b in rows])


def build(problem: Json, decisions: dict[int, bool] | None = None, mip: bool = False) -> Lp:
    """decisions: block index -> accepted (ratio in [r, 1]) / rejected (0). Without them
    and with mip the on/off columns are integers; without both the LP relaxation."""
    t_n = len(problem["intervals"])
    h = problem["intervals"][0].get("minutes", 15) / 60
    nodes = [nd["id"] for nd in problem["network"]["nodes"]]
    at = {nd: k for k, nd in enumerate(nodes)}
    lp = Lp([], [], [], [], [], [])
    bal: list[list[dict[int, float]]] = [[{} for _ in range(t_n)] for _ in nodes]

    def add(n: str, t: int, j: int, a: float) -> None:
        row = bal[at[n]][t]
        row[j] = row.get(j, 0.0) + a

    for o in problem["orders"]:
        sign = 1.0 if o["side"] == "buy" else -1.0
        j = lp.col(sign * o["price"], 0.0, o["quantity_kwh"])
        add(o["node"], o.get("interval", 0), j, -sign)
    for g in problem["network"].get("grid_connections", []):
        ip, ep = per_interval(g["import_price"], t_n), per_interval(g["export_price"], t_n)
        il, el = per_interval(g["import_limit_kw"], t_n), per_interval(g["export_limit_kw"], t_n)
        for t in range(t_n):
            add(g["node"], t, lp.col(-ip[t], 0.0, il[t] * h), 1.0)
            add(g["node"], t, lp.col(ep[t], 0.0, el[t] * h), -1.0)
    dc = is_dc(problem)
    theta: list[list[int]] = []
    if dc:
        theta = [[lp.col(0.0, -np.inf, np.inf) for _ in range(t_n)] for _ in nodes]
    for ln in problem["network"].get("lines", []):
        cap = ln["capacity_kw"] * h
        fee = float(ln.get("fee_per_kwh", 0.0))
        for t in range(t_n):
            if fee > 0:
                fp, fm = lp.col(-fee, 0.0, cap), lp.col(-fee, 0.0, cap)
                terms = {fp: 1.0, fm: -1.0}
                lp.le.append(({fp: 1.0, fm: 1.0}, cap))
            else:
                f = lp.col(0.0, -cap, cap)
                terms = {f: 1.0}
            for j, a in terms.items():
                add(ln["from"], t, j, -a)
                add(ln["to"], t, j, a)
            if dc:
                row = {j: a * ln["reactance"] for j, a in terms.items()}
                row[theta[at[ln["from"]]][t]] = -1.0
                row[theta[at[ln["to"]]][t]] = row.get(theta[at[ln["to"]]][t], 0.0) + 1.0
                lp.eq.append((row, 0.0))
    for s in problem.get("storage", []):
        ec, ed = s["efficiency_charge"], s["efficiency_discharge"]
        prev = None
        for t in range(t_n):
            c = lp.col(0.0, 0.0, s["charge_kw"] * h)
            d = lp.col(-float(s.get("cost_per_kwh", 0.0)), 0.0, s["discharge_kw"] * h)
            last = t == t_n - 1
            lo = float(s.get("soc_final_min_kwh", s["soc_initial_kwh"])) if last else 0.0
            soc = lp.col(0.0, lo, s["energy_kwh"])
            row = {soc: 1.0, c: -ec, d: 1.0 / ed}
            if prev is None:
                lp.eq.append((row, s["soc_initial_kwh"]))
            else:
                row[prev] = -1.0
                lp.eq.append((row, 0.0))
            prev = soc
            add(s["node"], t, c, -1.0)
            add(s["node"], t, d, 1.0)
    groups: dict[str, list[int]] = {}
    for b_i, b in enumerate(problem.get("blocks", [])):
        sign = 1.0 if b["side"] == "buy" else -1.0
        qs = b["quantities_kwh"]
        r = float(b.get("min_acceptance_ratio", 1.0))
        if decisions is not None:
            x = lp.col(
                sign * b["price"] * sum(qs),
                r if decisions[b_i] else 0.0,
                1.0 if decisions[b_i] else 0.0,
            )
        else:
            x = lp.col(sign * b["price"] * sum(qs), 0.0, 1.0)
            y = lp.col(0.0, 0.0, 1.0, integer=mip)
            lp.le.append(({x: 1.0, y: -1.0}, 0.0))
            lp.le.append(({x: -1.0, y: r}, 0.0))
            if "group" in b:
                groups.setdefault(str(b["group"]), []).append(y)
        for k, q in enumerate(qs):
            if q:
                add(b["node"], b["first_interval"] + k, x, -sign * q)
    for ys in groups.values():
        lp.le.append(({y: 1.0 for y in ys}, 1.0))
    for rows in bal:
        for row in rows:
            lp.eq.append((row, 0.0))
    return lp


def optimum(lp: Lp, mip: bool = False) -> float:
    """The LP's (or MIP's) maximal welfare."""
    c = -np.array(lp.cost)
    a_eq, b_eq = lp.matrix(lp.eq)
    if mip:
        cons = [LinearConstraint(a_eq, b_eq, b_eq)]
        if lp.le:
            a_le, b_le = lp.matrix(lp.le)
            cons.append(LinearConstraint(a_le, -np.inf, b_le))
        res = milp(
            c,
            constraints=cons,
            integrality=np.array(lp.integer),
            bounds=Bounds(np.array(lp.lo), np.array(lp.hi)),
            options={"mip_rel_gap": 1e-9},
        )
    else:
        kw: dict[str, Any] = {}
        if lp.le:
            kw["A_ub"], kw["b_ub"] = lp.matrix(lp.le)
        res = linprog(
            c,
            A_eq=a_eq,
            b_eq=b_eq,
            bounds=list(zip(lp.lo, lp.hi, strict=True)),
            method="highs",
            **kw,
        )
    if res.status != 0:
        raise AssertionError(f"reference not optimal: {res.message}")
    return float(-res.fun)


def storage_best_profit(unit: Json, prices: list[float], h: float) -> float:
    """The unit alone at the published prices: max Σ p (d − c) − wear × d."""
    t_n = len(prices)
    lp = Lp([], [], [], [], [], [])
    prev = None
    wear = float(unit.get("cost_per_kwh", 0.0))
    for t in range(t_n):
        c = lp.col(-prices[t], 0.0, unit["charge_kw"] * h)
        d = lp.col(prices[t] - wear, 0.0, unit["discharge_kw"] * h)
        last = t == t_n - 1
        lo = float(unit.get("soc_final_min_kwh", unit["soc_initial_kwh"])) if last else 0.0
        soc = lp.col(0.0, lo, unit["energy_kwh"])
        row = {soc: 1.0, c: -unit["efficiency_charge"], d: 1.0 / unit["efficiency_discharge"]}
        if prev is None:
            lp.eq.append((row, unit["soc_initial_kwh"]))
        else:
            row[prev] = -1.0
            lp.eq.append((row, 0.0))
        prev = soc
    return optimum(lp)
