"""Every rule of issue 12 checked on a result read as JSON. `check(problem, result)` returns
a list of failures (empty = the result keeps every rule)."""

from __future__ import annotations

import math
import re
from collections import defaultdict
from typing import Any

import numpy as np

from .reference import build, is_dc, optimum, per_interval, storage_best_profit

Json = dict[str, Any]
KWH = 1e-6
PRICE = 1e-6
TOP = {
    "status",
    "welfare",
    "congestion_rent",
    "fees",
    "timings",
    "orders",
    "blocks",
    "storage",
    "intervals",
}


def _near(a: float, b: float, tol: float, scale: float = 1.0) -> bool:
    return abs(a - b) <= tol * max(1.0, scale)


def _shape(problem: Json, res: Json, out: list[str]) -> None:
    if missing := TOP - set(res):
        out.append(f"shape: missing top-level {sorted(missing)}")
    t_n = len(problem["intervals"])
    ids = [o["id"] for o in problem["orders"]]
    if [o["id"] for o in res["orders"]] != ids:
        out.append("shape: orders not in input order")
    if [b["id"] for b in res["blocks"]] != [b["id"] for b in problem.get("blocks", [])]:
        out.append("shape: blocks not in input order")
    if [s["id"] for s in res["storage"]] != [s["id"] for s in problem.get("storage", [])]:
        out.append("shape: storage not in input order")
    for b in res["blocks"]:
        if not {"id", "accepted_ratio", "surplus", "paradoxically_rejected"} <= set(b):
            out.append(f"shape: block {b.get('id')} lacks a field")
    for s in res["storage"]:
        if not {"id", "charge_kwh", "discharge_kwh", "soc_kwh", "profit"} <= set(s):
            out.append(f"shape: storage {s.get('id')} lacks a field")
        elif not len(s["charge_kwh"]) == len(s["discharge_kwh"]) == len(s["soc_kwh"]) == t_n:
            out.append(f"shape: storage {s['id']} lists are not one value per interval")
    if len(res["intervals"]) != t_n:
        out.append("shape: not one entry per interval")
    nodes = [n["id"] for n in problem["network"]["nodes"]]
    lines = [ln["id"] for ln in problem["network"].get("lines", [])]
    grids = [g["node"] for g in problem["network"].get("grid_connections", [])]
    for t, iv in enumerate(res["intervals"]):
        if iv["start"] != problem["intervals"][t]["start"]:
            out.append(f"shape: interval {t} start {iv['start']!r}")
        if [n["id"] for n in iv["nodes"]] != nodes:
            out.append(f"shape: interval {t} nodes not in input order")
        if [ln["id"] for ln in iv["lines"]] != lines:
            out.append(f"shape: interval {t} lines not in input order")
        if [g["node"] for g in iv["grid_connections"]] != grids:
            out.append(f"shape: interval {t} grid connections not in input order")
        for n in iv["nodes"]:
            if not {"price", "price_low", "price_high"} <= set(n):
                out.append(f"shape: interval {t} node {n['id']} lacks a price field")
        if "trades" not in iv:
            out.append(f"shape: interval {t} has no trades")


class View:
    """The result's numbers in arrays indexed like the problem."""

    def __init__(self, problem: Json, res: Json) -> None:
        self.t_n = len(problem["intervals"])
        self.h = problem["intervals"][0].get("minutes", 15) / 60
        self.nodes = [n["id"] for n in problem["network"]["nodes"]]
        self.at = {n: k for k, n in enumerate(self.nodes)}
        self.price = np.array(
            [[n["price"] for n in iv["nodes"]] for iv in res["intervals"]], dtype=float
        ).T  # node × interval
        self.low = [[n["price_low"] for n in iv["nodes"]] for iv in res["intervals"]]
        self.high = [[n["price_high"] for n in iv["nodes"]] for iv in res["intervals"]]
        self.flow = (
            np.array(
                [[ln["flow_kwh"] for ln in iv["lines"]] for iv in res["intervals"]], dtype=float
            )
            .reshape(self.t_n, -1)
            .T
        )
        self.fee_paid = (
            np.array([[ln["fee"] for ln in iv["lines"]] for iv in res["intervals"]], dtype=float)
            .reshape(self.t_n, -1)
            .T
        )
        self.imp = (
            np.array(
                [[g["import_kwh"] for g in iv["grid_connections"]] for iv in res["intervals"]],
                dtype=float,
            )
            .reshape(self.t_n, -1)
            .T
        )
        self.exp = (
            np.array(
                [[g["export_kwh"] for g in iv["grid_connections"]] for iv in res["intervals"]],
                dtype=float,
            )
            .reshape(self.t_n, -1)
            .T
        )


def check(problem: Json, res: Json, *, mip_optimum: float | None = None) -> list[str]:
    """mip_optimum: the reference MIP's welfare if already known (blocks)."""
    out: list[str] = []
    if res.get("status") == "infeasible" and not _reference_feasible(problem):
        return []  # e.g. a final state of charge no energy can reach: infeasible for both
    if res.get("status") != "optimal":
        return [f"status {res.get('status')}: {res.get('reason')}"]
    _shape(problem, res, out)
    if out:
        return out
    v = View(problem, res)
    t_n, h = v.t_n, v.h
    net = np.zeros((len(v.nodes), t_n))  # injections
    through = np.zeros_like(net)
    welfare = 0.0
    payments = 0.0  # at nodal prices, from buyers minus to sellers
    scale = 1.0
    # orders
    for o, r in zip(problem["orders"], res["orders"], strict=True):
        q, x, p, t = o["quantity_kwh"], r["accepted_kwh"], o["price"], o.get("interval", 0)
        n = v.at[o["node"]]
        lam = v.price[n, t]
        scale = max(scale, q * abs(p), q)
        if not (-KWH <= x <= q + KWH):
            out.append(f"order {o['id']}: accepted {x} outside [0, {q}]")
        buy = o["side"] == "buy"
        net[n, t] += -x if buy else x
        through[n, t] += x
        welfare += (p if buy else -p) * x
        payments += (lam if buy else -lam) * x
        gain = (p - lam) if buy else (lam - p)
        if gain > PRICE and x < q - KWH:
            out.append(f"order {o['id']}: in the money by {gain} at {lam} yet {x} of {q}")
        if gain < -PRICE and x > KWH:
            out.append(f"order {o['id']}: out of the money by {-gain} at {lam} yet {x} accepted")
        lo, hi = v.low[t][n], v.high[t][n]
        if KWH < x < q - KWH and not _near(p, lam, PRICE):
            out.append(f"order {o['id']}: partly accepted ({x}/{q}) at {lam} != its limit {p}")
        if (lo is not None and lam < lo - PRICE) or (hi is not None and lam > hi + PRICE):
            out.append(f"node {o['node']} interval {t}: price {lam} outside [{lo}, {hi}]")
    # grid
    for g_i, g in enumerate(problem["network"].get("grid_connections", [])):
        ip, ep = per_interval(g["import_price"], t_n), per_interval(g["export_price"], t_n)
        il, el = per_interval(g["import_limit_kw"], t_n), per_interval(g["export_limit_kw"], t_n)
        n = v.at[g["node"]]
        for t in range(t_n):
            m, e, lam = v.imp[g_i, t], v.exp[g_i, t], v.price[n, t]
            if not (-KWH <= m <= il[t] * h + KWH and -KWH <= e <= el[t] * h + KWH):
                out.append(f"grid {g_i} interval {t}: import {m} / export {e} outside limits")
            net[n, t] += m - e
            through[n, t] += m + e
            welfare += -ip[t] * m + ep[t] * e
            payments += -ip[t] * m + ep[t] * e  # the docs: the grid at its own prices
            if m > KWH and lam < ip[t] - PRICE:
                out.append(f"grid {g_i} interval {t}: imports {m} at price {lam} < {ip[t]}")
            if m < il[t] * h - KWH and lam > ip[t] + PRICE:
                out.append(f"grid {g_i} interval {t}: import {m} below limit at {lam} > {ip[t]}")
            if e > KWH and lam > ep[t] + PRICE:
                out.append(f"grid {g_i} interval {t}: exports {e} at price {lam} > {ep[t]}")
            if e < el[t] * h - KWH and lam < ep[t] - PRICE:
                out.append(f"grid {g_i} interval {t}: export {e} below limit at {lam} < {ep[t]}")
    # storage
    for s, r in zip(problem.get("storage", []), res["storage"], strict=True):
        n = v.at[s["node"]]
        c, d, soc = (
            np.array(r[k], dtype=float) for k in ("charge_kwh", "discharge_kwh", "soc_kwh")
        )
        wear = float(s.get("cost_per_kwh", 0.0))
        prev = s["soc_initial_kwh"]
        for t in range(t_n):
            if not (-KWH <= c[t] <= s["charge_kw"] * h + KWH):
                out.append(f"storage {s['id']} interval {t}: charge {c[t]} outside limit")
            if not (-KWH <= d[t] <= s["discharge_kw"] * h + KWH):
                out.append(f"storage {s['id']} interval {t}: discharge {d[t]} outside limit")
            want = prev + s["efficiency_charge"] * c[t] - d[t] / s["efficiency_discharge"]
            if not _near(soc[t], want, KWH, s["energy_kwh"]):
                out.append(f"storage {s['id']} interval {t}: soc {soc[t]} != {want}")
            if not (-KWH <= soc[t] <= s["energy_kwh"] + KWH):
                out.append(f"storage {s['id']} interval {t}: soc {soc[t]} outside capacity")
            prev = soc[t]
        final = float(s.get("soc_final_min_kwh", s["soc_initial_kwh"]))
        if soc[-1] < final - KWH:
            out.append(f"storage {s['id']}: final soc {soc[-1]} < {final}")
        net[n] += d - c
        through[n] += d + c
        welfare -= wear * d.sum()
        payments += float((v.price[n] * (c - d)).sum())
        profit = float((v.price[n] * (d - c)).sum() - wear * d.sum())
        if not _near(r["profit"], profit, 1e-6, abs(profit)):
            out.append(f"storage {s['id']}: reported profit {r['profit']} != {profit}")
        best = storage_best_profit(s, list(v.price[n]), h)
        if best > profit + 1e-6 * max(1.0, abs(best)):
            out.append(f"storage {s['id']}: profit {profit} but {best} possible at the prices")
    # blocks
    group_taken: dict[str, int] = defaultdict(int)
    for b, r in zip(problem.get("blocks", []), res["blocks"], strict=True):
        x = r["accepted_ratio"]
        ratio = float(b.get("min_acceptance_ratio", 1.0))
        if not (abs(x) <= 1e-9 or ratio - 1e-9 <= x <= 1 + 1e-9):
            out.append(f"block {b['id']}: ratio {x} not in {{0}} ∪ [{ratio}, 1]")
        if x > 1e-9 and "group" in b:
            group_taken[str(b["group"])] += 1
        n = v.at[b["node"]]
        buy = b["side"] == "buy"
        gain_full = 0.0
        for k, q in enumerate(b["quantities_kwh"]):
            t = b["first_interval"] + k
            net[n, t] += (-q if buy else q) * x
            through[n, t] += q * x
            payments += (v.price[n, t] if buy else -v.price[n, t]) * q * x
            gain_full += ((b["price"] - v.price[n, t]) if buy else (v.price[n, t] - b["price"])) * q
        welfare += (b["price"] if buy else -b["price"]) * sum(b["quantities_kwh"]) * x
        tol = 1e-6 * max(1.0, sum(b["quantities_kwh"]))
        accepted = x > 1e-9
        surplus = gain_full * x if accepted else gain_full
        if r["surplus"] is None or not _near(r["surplus"], surplus, 1e-6, abs(surplus)):
            out.append(f"block {b['id']}: surplus {r['surplus']} != {surplus} at the prices")
        if accepted and surplus < -tol:
            out.append(f"block {b['id']}: paradoxically accepted (surplus {surplus})")
        if r["paradoxically_rejected"] and (accepted or gain_full <= tol * 0):
            out.append(f"block {b['id']}: flagged paradoxically rejected, surplus {gain_full}")
    for b, r in zip(problem.get("blocks", []), res["blocks"], strict=True):
        if r["accepted_ratio"] <= 1e-9 and r["surplus"] is not None and r["surplus"] > 1e-6:
            excluded = "group" in b and group_taken[str(b["group"])] > 0
            if not excluded and not r["paradoxically_rejected"]:
                out.append(f"block {b['id']}: rejected in the money ({r['surplus']}), not flagged")
    for g, k in group_taken.items():
        if k > 1:
            out.append(f"group {g}: {k} blocks accepted")
    # lines
    lines = problem["network"].get("lines", [])
    fees = 0.0
    transport = not is_dc(problem) or _is_tree(problem)
    for l_i, ln in enumerate(lines):
        a, b = v.at[ln["from"]], v.at[ln["to"]]
        cap = ln["capacity_kw"] * h
        fee = float(ln.get("fee_per_kwh", 0.0))
        for t in range(t_n):
            f = v.flow[l_i, t]
            if abs(f) > cap + KWH:
                out.append(f"line {ln['id']} interval {t}: flow {f} over {cap}")
            net[a, t] -= f
            net[b, t] += f
            through[a, t] += abs(f)
            through[b, t] += abs(f)
            paid = fee * abs(f)
            fees += paid
            if not _near(v.fee_paid[l_i, t], paid, 1e-9, paid):
                out.append(f"line {ln['id']} interval {t}: fee {v.fee_paid[l_i, t]} != {paid}")
            dp = v.price[b, t] - v.price[a, t]
            if transport:
                if abs(f) < cap - KWH and abs(dp) > fee + PRICE:
                    out.append(
                        f"line {ln['id']} interval {t}: uncongested, prices differ {dp} > fee {fee}"
                    )
                if f > KWH and dp < fee - PRICE:
                    out.append(
                        f"line {ln['id']} interval {t}: carries {f} to a price {dp} "
                        f"higher only (fee {fee})"
                    )
                if f < -KWH and -dp < fee - PRICE:
                    out.append(
                        f"line {ln['id']} interval {t}: carries {f} to a price {-dp} "
                        f"higher only (fee {fee})"
                    )
    welfare -= fees
    # the total and every flow are written to 9 decimals: their rounding adds up
    if not _near(res["fees"], fees, 1e-8, fees):
        out.append(f"fees {res['fees']} != Σ fee × |flow| {fees}")
    bad = np.abs(net) > KWH + 1e-13 * through
    for n, t in zip(*np.nonzero(bad), strict=True):
        out.append(f"balance node {v.nodes[n]} interval {t}: off by {net[n, t]}")
    if is_dc(problem) and not _is_tree(problem):
        out += _kvl(problem, v)
    rent = payments - fees
    if not _near(res["congestion_rent"], rent, 1e-6, scale):
        out.append(f"congestion rent {res['congestion_rent']} != {rent}")
    if rent < -1e-6 * scale:
        out.append(f"congestion rent {rent} < 0")
    if not _near(res["welfare"], welfare, 1e-6, abs(welfare)):
        out.append(f"welfare {res['welfare']} != recomputed {welfare}")
    out += _welfare_optimal(problem, res, welfare, mip_optimum)
    out += _trades(problem, res, v)
    return out


def _reference_feasible(problem: Json) -> bool:
    try:
        optimum(build(problem))
    except AssertionError:
        return False
    return True


def _is_tree(problem: Json) -> bool:
    return len(problem["network"].get("lines", [])) == len(problem["network"]["nodes"]) - 1


def _kvl(problem: Json, v: View) -> list[str]:
    """Flows must be θ_from − θ_to over the reactance for some angles, per interval."""
    lines = problem["network"]["lines"]
    a = np.zeros((len(lines), len(v.nodes)))
    x = np.array([ln["reactance"] for ln in lines])
    for l_i, ln in enumerate(lines):
        a[l_i, v.at[ln["from"]]] += 1
        a[l_i, v.at[ln["to"]]] -= 1
    out = []
    for t in range(v.t_n):
        target = x * v.flow[:, t]
        theta, *_ = np.linalg.lstsq(a, target, rcond=None)
        err = np.abs(a @ theta - target).max() if len(lines) else 0.0
        if err > KWH * max(1.0, float(np.abs(target).max())):
            out.append(f"KVL interval {t}: off by {err}")
    return out


def _welfare_optimal(problem: Json, res: Json, welfare: float, mip_opt: float | None) -> list[str]:
    out = []
    blocks = problem.get("blocks", [])
    if not blocks:
        best = optimum(build(problem))
        if not _near(welfare, best, 1e-6, abs(best)):
            out.append(f"welfare {welfare} != reference optimum {best}")
        return out
    decisions = {k: r["accepted_ratio"] > 1e-9 for k, r in enumerate(res["blocks"])}
    fixed = optimum(build(problem, decisions))
    if not _near(welfare, fixed, 1e-6, abs(fixed)):
        out.append(f"welfare {welfare} != the LP with its block decisions fixed {fixed}")
    if mip_opt is None:
        mip_opt = optimum(build(problem, mip=True), mip=True)
    if welfare > mip_opt + 1e-6 * max(1.0, abs(mip_opt)):
        out.append(f"welfare {welfare} above the MIP optimum {mip_opt}")
    m = re.search(r"(\d+) paradoxically accepted block", res.get("reason", ""))
    if (m is None or m.group(1) == "0") and mip_opt - welfare > 1e-4 * max(
        1.0, abs(mip_opt)
    ) + 1e-6:
        out.append(
            f"no block rejected by step 3, yet welfare {welfare} short of the MIP optimum"
            f" {mip_opt} by more than the 1e-4 gap"
        )
    return out


def _trades(problem: Json, res: Json, v: View) -> list[str]:
    """Trades add up to every order's, unit's and block's energy and the grid's exchange."""
    out = []
    sold: dict[tuple[str, Any, int], float] = defaultdict(float)
    bought: dict[tuple[str, Any, int], float] = defaultdict(float)
    for t, iv in enumerate(res["intervals"]):
        for tr in iv["trades"]:
            q = tr["quantity_kwh"]
            if q < -KWH:
                out.append(f"interval {t}: negative trade {tr}")
            sk = tr["seller_kind"]
            bk = tr["buyer_kind"]
            sold[(sk, tr["seller"] if sk != "grid" else tr["seller_node"], t)] += q
            bought[(bk, tr["buyer"] if bk != "grid" else tr["buyer_node"], t)] += q
            if (
                tr["seller_price"] != v.price[v.at[tr["seller_node"]], t]
                or tr["buyer_price"] != v.price[v.at[tr["buyer_node"]], t]
            ):
                out.append(f"interval {t}: trade prices {tr} are not the nodal prices")
    want_s: dict[tuple[str, Any, int], float] = defaultdict(float)
    want_b: dict[tuple[str, Any, int], float] = defaultdict(float)
    for o, r in zip(problem["orders"], res["orders"], strict=True):
        key = ("order", o["id"], o.get("interval", 0))
        (want_b if o["side"] == "buy" else want_s)[key] += r["accepted_kwh"]
    for s, r in zip(problem.get("storage", []), res["storage"], strict=True):
        for t in range(v.t_n):
            want_b[("storage", s["id"], t)] += r["charge_kwh"][t]
            want_s[("storage", s["id"], t)] += r["discharge_kwh"][t]
    for b, r in zip(problem.get("blocks", []), res["blocks"], strict=True):
        for k, q in enumerate(b["quantities_kwh"]):
            key = ("block", b["id"], b["first_interval"] + k)
            (want_b if b["side"] == "buy" else want_s)[key] += q * r["accepted_ratio"]
    for g_i, g in enumerate(problem["network"].get("grid_connections", [])):
        for t in range(v.t_n):
            want_s[("grid", g["node"], t)] += v.imp[g_i, t]
            want_b[("grid", g["node"], t)] += v.exp[g_i, t]
    for name, got, want in (("sold", sold, want_s), ("bought", bought, want_b)):
        for key in set(got) | set(want):
            # each trade is written to 9 decimals, so a sum may be off by their rounding
            if not _near(got[key], want[key], 1e-8, want[key]):
                out.append(f"trades: {name} {got[key]} by {key}, accepted {want[key]}")
    return out


def stripped(res: Json) -> Json:
    return {k: val for k, val in res.items() if k != "timings"}


def finite(x: Any) -> bool:
    return isinstance(x, int | float) and math.isfinite(x)
