"""An independent reference for the several-interval clearing (issue 12), used only in tests.

It reads the JSON form itself (no code of `matching` is used), builds the LP / MIP with scipy's
HiGHS (`linprog`, `milp`) on a formulation written separately from the core's:

- order-level variables (no aggregation), one per simple order, in its own interval;
- every line's flow split into f⁺ − f⁻ (so the fee is Σ fee × (f⁺ + f⁻) = fee × |f| at the
  optimum), DC power flow with node angles per interval (`f = (θ_from − θ_to)/x`) when every
  line has a reactance and the network has a cycle (the single-interval core's rule);
- storage: charge c, discharge d and state of charge s per interval, s_t = s_{t−1} + η_c c_t
  − d_t/η_d, 0 ≤ s ≤ E, s_T ≥ final minimum;
- blocks: one ratio y per block, and in the MIP a binary z with r z ≤ y ≤ z, Σ_group z ≤ 1.

`reference_welfare(doc)` is the LP optimum (blocks relaxed only if there are none);
`reference_block_rule(doc)` applies the block rule (MIP → fix the block decisions → LP prices →
drop the paradoxically accepted block with the most negative surplus → repeat).
`check_multi_result(doc, result)` returns the list of violated rules (empty: all hold):
feasibility (balance per node and interval, limits, KVL, state of charge, block ratios and
groups), prices against every simple order, the grid and the network (with fees), pro rata
ties, storage optimal at its prices, no paradoxically accepted block (and a partly accepted
block at the money), the surplus/flag/welfare/fees/rent definitions, trades adding up per
interval and following the flows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

TOL = 1e-6  # kWh (feasibility) and PLN (money) tolerance, relative to scale where noted


# ---------------------------------------------------------------------------------------------
# the problem, read independently


@dataclass
class Storage:
    id: Any
    node: int
    energy: float
    soc0: float
    soc_final: float
    charge_kw: float
    discharge_kw: float
    eta_c: float
    eta_d: float
    cost: float


@dataclass
class Block:
    id: Any
    node: int
    buy: bool
    price: float
    first: int
    qty: list[float]
    ratio_min: float
    group: Any

    def kwh(self, t: int) -> float:
        k = t - self.first
        return self.qty[k] if 0 <= k < len(self.qty) else 0.0


@dataclass
class Parsed:
    hours: list[float]
    node_ids: list[Any]
    index: dict[Any, int]
    lines: list[dict[str, Any]]
    dc: bool
    conns: list[dict[str, Any]]
    orders: list[dict[str, Any]]
    storage: list[Storage]
    blocks: list[Block]

    @property
    def n_t(self) -> int:
        return len(self.hours)


def _per_interval(value: Any, n_t: int) -> list[float]:
    if isinstance(value, list):
        assert len(value) == n_t
        return [float(v) for v in value]
    return [float(value)] * n_t


def has_cycle(n_nodes: int, ends: list[tuple[int, int]]) -> bool:
    root = list(range(n_nodes))

    def find(u: int) -> int:
        while root[u] != u:
            root[u] = root[root[u]]
            u = root[u]
        return u

    for a, b in ends:
        ra, rb = find(a), find(b)
        if ra == rb:
            return True
        root[ra] = rb
    return False


def parse(doc: dict[str, Any]) -> Parsed:
    intervals = doc.get("intervals") or [doc["interval"]]
    hours = [float(iv["minutes"]) / 60.0 for iv in intervals]
    n_t = len(hours)
    net = doc["network"]
    node_ids = [n["id"] for n in net["nodes"]]
    index = {nid: k for k, nid in enumerate(node_ids)}
    lines = []
    for ln in net.get("lines", []):
        lines.append(
            {
                "id": ln["id"],
                "a": index[ln["from"]],
                "b": index[ln["to"]],
                "cap_kw": float(ln["capacity_kw"]),
                "x": ln.get("reactance"),
                "fee": float(ln.get("fee_per_kwh", 0.0) or 0.0),
            }
        )
    dc = (
        bool(lines)
        and all(ln["x"] is not None for ln in lines)
        and has_cycle(len(node_ids), [(ln["a"], ln["b"]) for ln in lines])
    )
    conns = []
    for g in net.get("grid_connections", []):
        conns.append(
            {
                "node": index[g["node"]],
                "imp": _per_interval(g["import_price"], n_t),
                "exp": _per_interval(g["export_price"], n_t),
                "imp_kw": _per_interval(g["import_limit_kw"], n_t),
                "exp_kw": _per_interval(g["export_limit_kw"], n_t),
            }
        )
    orders = [
        {
            "id": o["id"],
            "node": index[o["node"]],
            "buy": o["side"] == "buy",
            "q": float(o["quantity_kwh"]),
            "p": float(o["price"]),
            "t": int(o.get("interval", 0)),
        }
        for o in doc.get("orders", [])
    ]
    storage = [
        Storage(
            s["id"],
            index[s["node"]],
            float(s["energy_kwh"]),
            float(s["soc_initial_kwh"]),
            float(s.get("soc_final_min_kwh", s["soc_initial_kwh"])),
            float(s["charge_kw"]),
            float(s["discharge_kw"]),
            float(s["efficiency_charge"]),
            float(s["efficiency_discharge"]),
            float(s.get("cost_per_kwh", 0.0) or 0.0),
        )
        for s in doc.get("storage", [])
    ]
    blocks = [
        Block(
            b["id"],
            index[b["node"]],
            b["side"] == "buy",
            float(b["price"]),
            int(b["first_interval"]),
            [float(q) for q in b["quantities_kwh"]],
            float(b.get("min_acceptance_ratio", 1.0)),
            b.get("group"),
        )
        for b in doc.get("blocks", [])
    ]
    return Parsed(hours, node_ids, index, lines, dc, conns, orders, storage, blocks)


# ---------------------------------------------------------------------------------------------
# the model: min c·x, A_eq x = b_eq, lb ≤ x ≤ ub (+ block rows for the MIP)


@dataclass
class Model:
    c: np.ndarray
    a_eq: sp.csr_matrix
    b_eq: np.ndarray
    lb: np.ndarray
    ub: np.ndarray
    # column offsets
    col: dict[str, int]
    n_bal: int  # the first n_bal rows are nodal balances, row t * n_nodes + n
    extra: dict[str, Any] = field(default_factory=dict)


def build(
    pb: Parsed, block_bounds: list[tuple[float, float]] | None = None, *, with_z: bool = False
) -> Model:
    """The LP over (orders, f⁺, f⁻, import, export, charge, discharge, soc, θ, y[, z]).
    `block_bounds` gives each block's ratio range (default [0, 1]); with `with_z` the binary
    columns z are appended (their rows are added by the MIP)."""
    n_t, n_n = pb.n_t, len(pb.node_ids)
    n_o, n_l, n_g = len(pb.orders), len(pb.lines), len(pb.conns)
    n_s, n_b = len(pb.storage), len(pb.blocks)
    col: dict[str, int] = {}
    pos = 0
    for name, size in (
        ("order", n_o),
        ("fplus", n_t * n_l),
        ("fminus", n_t * n_l),
        ("imp", n_t * n_g),
        ("exp", n_t * n_g),
        ("chg", n_t * n_s),
        ("dis", n_t * n_s),
        ("soc", n_t * n_s),
        ("theta", n_t * n_n if pb.dc else 0),
        ("y", n_b),
        ("z", n_b if with_z else 0),
    ):
        col[name] = pos
        pos += size
    nv = pos + 1  # an inert column keeps an empty problem well-formed
    c = np.zeros(nv)
    lb = np.zeros(nv)
    ub = np.zeros(nv)
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []

    def put(r: int, k: int, v: float) -> None:
        rows.append(r)
        cols.append(k)
        vals.append(v)

    def bal(t: int, n: int) -> int:
        return t * n_n + n

    n_bal = n_t * n_n
    r_next = n_bal
    b_eq: list[float] = [0.0] * n_bal
    for k, o in enumerate(pb.orders):
        j = col["order"] + k
        ub[j] = o["q"]
        c[j] = -o["p"] if o["buy"] else o["p"]
        put(bal(o["t"], o["node"]), j, -1.0 if o["buy"] else 1.0)
    for t in range(n_t):
        h = pb.hours[t]
        for li, ln in enumerate(pb.lines):
            jp = col["fplus"] + t * n_l + li
            jm = col["fminus"] + t * n_l + li
            ub[jp] = ub[jm] = ln["cap_kw"] * h
            c[jp] = c[jm] = ln["fee"]
            put(bal(t, ln["a"]), jp, -1.0)
            put(bal(t, ln["b"]), jp, 1.0)
            put(bal(t, ln["a"]), jm, 1.0)
            put(bal(t, ln["b"]), jm, -1.0)
            if pb.dc:  # f⁺ − f⁻ − (θ_a − θ_b)/x = 0
                x = float(ln["x"])
                put(r_next, jp, 1.0)
                put(r_next, jm, -1.0)
                put(r_next, col["theta"] + t * n_n + ln["a"], -1.0 / x)
                put(r_next, col["theta"] + t * n_n + ln["b"], 1.0 / x)
                b_eq.append(0.0)
                r_next += 1
        for g, conn in enumerate(pb.conns):
            ji = col["imp"] + t * n_g + g
            je = col["exp"] + t * n_g + g
            ub[ji] = conn["imp_kw"][t] * h
            ub[je] = conn["exp_kw"][t] * h
            c[ji] = conn["imp"][t]
            c[je] = -conn["exp"][t]
            put(bal(t, conn["node"]), ji, 1.0)
            put(bal(t, conn["node"]), je, -1.0)
        for si, s in enumerate(pb.storage):
            jc = col["chg"] + t * n_s + si
            jd = col["dis"] + t * n_s + si
            js = col["soc"] + t * n_s + si
            ub[jc] = s.charge_kw * h
            ub[jd] = s.discharge_kw * h
            ub[js] = s.energy
            if t == n_t - 1:
                lb[js] = max(0.0, s.soc_final)
            c[jd] = s.cost
            put(bal(t, s.node), jc, -1.0)
            put(bal(t, s.node), jd, 1.0)
            # soc_t − soc_{t−1} − η_c c_t + d_t / η_d = (soc0 if t == 0)
            put(r_next, js, 1.0)
            if t > 0:
                put(r_next, col["soc"] + (t - 1) * n_s + si, -1.0)
            put(r_next, jc, -s.eta_c)
            put(r_next, jd, 1.0 / s.eta_d)
            b_eq.append(s.soc0 if t == 0 else 0.0)
            r_next += 1
        if pb.dc:
            th = col["theta"] + t * n_n
            lb[th : th + n_n] = -np.inf
            ub[th : th + n_n] = np.inf
    for bi, blk in enumerate(pb.blocks):
        j = col["y"] + bi
        lo, hi = block_bounds[bi] if block_bounds is not None else (0.0, 1.0)
        lb[j], ub[j] = lo, hi
        total = 0.0
        for t in range(n_t):
            q = blk.kwh(t)
            if q:
                put(bal(t, blk.node), j, -q if blk.buy else q)
                total += q
        c[j] = -blk.price * total if blk.buy else blk.price * total
        if with_z:
            lb[col["z"] + bi], ub[col["z"] + bi] = 0.0, 1.0
    a_eq = sp.csr_matrix((vals, (rows, cols)), shape=(r_next, nv))
    return Model(c, a_eq, np.array(b_eq), lb, ub, col, n_bal)


def _bounds(m: Model) -> list[tuple[float | None, float | None]]:
    return [
        (None if not math.isfinite(lo) else lo, None if not math.isfinite(hi) else hi)
        for lo, hi in zip(m.lb, m.ub, strict=True)
    ]


@dataclass
class LpSolution:
    welfare: float
    x: np.ndarray
    model: Model


def solve_lp(pb: Parsed, block_bounds: list[tuple[float, float]] | None = None) -> LpSolution:
    m = build(pb, block_bounds)
    res = linprog(m.c, A_eq=m.a_eq, b_eq=m.b_eq, bounds=_bounds(m), method="highs")
    assert res.status == 0, res.message
    return LpSolution(-float(res.fun), np.asarray(res.x), m)


def reference_welfare(doc: dict[str, Any]) -> float:
    """The LP optimum of a problem (blocks, if any, relaxed to divisible ratios in [0, 1])."""
    return solve_lp(parse(doc)).welfare


def solve_mip(pb: Parsed, excluded: set[int]) -> tuple[float, np.ndarray]:
    """max welfare with binary z: r z ≤ y ≤ z, Σ_group z ≤ 1, z_b = 0 for excluded blocks.
    Returns (welfare, block ratios)."""
    m = build(pb, with_z=True)
    n_b = len(pb.blocks)
    nv = m.c.shape[0]
    y0, z0 = m.col["y"], m.col["z"]
    integrality = np.zeros(nv)
    integrality[z0 : z0 + n_b] = 1
    ub = m.ub.copy()
    for bi in excluded:
        ub[z0 + bi] = 0.0
    rows, cols, vals, upper = [], [], [], []
    r = 0
    for bi, blk in enumerate(pb.blocks):
        rows += [r, r]  # y − z ≤ 0
        cols += [y0 + bi, z0 + bi]
        vals += [1.0, -1.0]
        upper.append(0.0)
        r += 1
        rows += [r, r]  # r z − y ≤ 0
        cols += [z0 + bi, y0 + bi]
        vals += [blk.ratio_min, -1.0]
        upper.append(0.0)
        r += 1
    groups: dict[Any, list[int]] = {}
    for bi, blk in enumerate(pb.blocks):
        if blk.group is not None:
            groups.setdefault(blk.group, []).append(bi)
    for members in groups.values():
        for bi in members:
            rows.append(r)
            cols.append(z0 + bi)
            vals.append(1.0)
        upper.append(1.0)
        r += 1
    cons = [LinearConstraint(m.a_eq, m.b_eq, m.b_eq)]
    if r:
        a_ub = sp.csr_matrix((vals, (rows, cols)), shape=(r, nv))
        cons.append(LinearConstraint(a_ub, -np.inf, np.array(upper)))
    res = milp(
        m.c,
        integrality=integrality,
        bounds=Bounds(m.lb, ub),
        constraints=cons,
        options={"mip_rel_gap": 0.0, "presolve": True},
    )
    assert res.status == 0, res.message
    x = np.asarray(res.x)
    z = np.round(x[z0 : z0 + n_b])
    y = np.where(z > 0.5, x[y0 : y0 + n_b], 0.0)
    return -float(res.fun), y


# ---------------------------------------------------------------------------------------------
# the dual optimal face of an LP (prices = duals of the nodal balance rows)


def _face(
    sol: LpSolution, slack: float
) -> tuple[
    sp.csr_matrix, np.ndarray, np.ndarray, np.ndarray, list[tuple[float | None, float | None]]
]:
    """Dual of min c x, A x = b, lb ≤ x ≤ ub over (u, r ≥ 0, s ≥ 0): Aᵀu + r − s = c with
    b·u + lb·r − ub·s ≥ optimum − slack. u of a balance row is that node-interval's price."""
    m = sol.model
    rows, nv = m.a_eq.shape
    fin_l = np.flatnonzero(np.isfinite(m.lb))
    fin_u = np.flatnonzero(np.isfinite(m.ub))
    nr, ns = fin_l.shape[0], fin_u.shape[0]
    width = rows + nr + ns
    r_part = sp.csr_matrix((np.ones(nr), (fin_l, np.arange(nr))), shape=(nv, nr))
    s_part = sp.csr_matrix((-np.ones(ns), (fin_u, np.arange(ns))), shape=(nv, ns))
    a_eq = sp.hstack([m.a_eq.T, r_part, s_part]).tocsr()
    a_ub = np.zeros((1, width))
    a_ub[0, :rows] = -m.b_eq
    a_ub[0, rows : rows + nr] = -m.lb[fin_l]
    a_ub[0, rows + nr :] = m.ub[fin_u]
    b_ub = np.array([sol.welfare + slack])  # −(dual objective) ≤ −(−W) + slack
    bounds: list[tuple[float | None, float | None]] = [(None, None)] * rows + [(0, None)] * (
        nr + ns
    )
    return a_eq, m.c, a_ub, b_ub, bounds


def block_surplus_row(
    pb: Parsed, blk: Block, ratio: float, n_dual: int
) -> tuple[np.ndarray, float]:
    """surplus(u) = coef · u + const for a block at `ratio` (u: dual variables)."""
    coef = np.zeros(n_dual)
    const = 0.0
    n_n = len(pb.node_ids)
    sign = 1.0 if blk.buy else -1.0
    for t in range(pb.n_t):
        q = blk.kwh(t) * ratio
        if q:
            const += sign * blk.price * q
            coef[t * n_n + blk.node] -= sign * q
    return coef, const


def max_min_surplus_prices(
    pb: Parsed, sol: LpSolution, ratios: np.ndarray
) -> tuple[float, np.ndarray]:
    """Over the optimal price vectors of the fixed-block LP, the one that maximises the least
    surplus of the accepted blocks (capped at 0). Returns (that least surplus, prices[t, n])."""
    slack = 1e-10 * max(1.0, abs(sol.welfare))
    a_eq, b_eq, a_ub, b_ub, bounds = _face(sol, slack)
    width = a_eq.shape[1]
    accepted = [bi for bi in range(len(pb.blocks)) if ratios[bi] > 1e-9]
    # variables: face, σ ≤ 0; maximise σ: σ − surplus_b(u) ≤ const_b
    a_eq2 = sp.hstack([a_eq, sp.csr_matrix((a_eq.shape[0], 1))]).tocsr()
    ub_rows = [np.concatenate([a_ub[0], [0.0]])]
    ub_rhs = [b_ub[0]]
    for bi in accepted:
        coef, const = block_surplus_row(pb, pb.blocks[bi], float(ratios[bi]), width)
        ub_rows.append(np.concatenate([-coef, [1.0]]))
        ub_rhs.append(const)
    obj = np.zeros(width + 1)
    obj[-1] = -1.0
    res = linprog(
        obj,
        A_ub=np.array(ub_rows),
        b_ub=np.array(ub_rhs),
        A_eq=a_eq2,
        b_eq=b_eq,
        bounds=[*bounds, (None, 0.0)],
        method="highs",
    )
    assert res.status == 0, res.message
    n_n = len(pb.node_ids)
    prices = np.asarray(res.x[: sol.model.n_bal]).reshape(pb.n_t, n_n)
    return float(res.x[-1]), prices


@dataclass
class BlockRuleResult:
    welfare: float
    ratios: np.ndarray
    prices: np.ndarray
    excluded: list[int]
    iterations: int
    mip_welfare: float  # the first MIP's optimum (an upper bound)


def interval_spans(pb: Parsed) -> list[tuple[float, float]]:
    """[P_lo, P_hi] per interval: the lowest and highest limit price of the interval's simple
    orders, the blocks running in it and the grid connections' prices in it ((0, 0) if none)."""
    spans = []
    for t in range(pb.n_t):
        ps = [o["p"] for o in pb.orders if o["t"] == t]
        ps += [b.price for b in pb.blocks if b.kwh(t) > 0]
        for c in pb.conns:
            ps += [c["imp"][t], c["exp"][t]]
        spans.append((min(ps), max(ps)) if ps else (0.0, 0.0))
    return spans


def midpoint_prices(pb: Parsed, sol: LpSolution) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The documented price rule on the LP's dual optimal face, recomputed: each
    node-interval's range over the whole face, its target (the midpoint clipped to the
    interval's span), the targets themselves if they are optimal, else the greatest optimal
    price vector not above them. Returns (prices, low, high), each (T, N)."""
    slack = 1e-10 * max(1.0, abs(sol.welfare))
    a_eq, b_eq, a_ub, b_ub, bounds = _face(sol, slack)
    width = a_eq.shape[1]
    n_t, n_n = pb.n_t, len(pb.node_ids)
    low = np.zeros((n_t, n_n))
    high = np.zeros((n_t, n_n))
    for t in range(n_t):
        for n in range(n_n):
            k = t * n_n + n
            for sign, into in ((1.0, low), (-1.0, high)):
                obj = np.zeros(width)
                obj[k] = sign
                res = linprog(
                    obj, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs"
                )
                if res.status == 3:
                    into[t, n] = -math.inf if sign > 0 else math.inf
                else:
                    assert res.status == 0, res.message
                    into[t, n] = sign * float(res.fun)
    spans = interval_spans(pb)
    tgt = np.zeros((n_t, n_n))
    for t in range(n_t):
        p_lo, p_hi = spans[t]
        a = np.maximum(low[t], p_lo)
        b = np.minimum(high[t], p_hi)
        tgt[t] = np.where(a <= b, 0.5 * (a + b), np.where(high[t] < p_lo, high[t], low[t]))
    n_bal = sol.model.n_bal
    fix = sp.csr_matrix(
        (np.ones(n_bal), (np.arange(n_bal), np.arange(n_bal))), shape=(n_bal, width)
    )
    on_face = linprog(
        np.zeros(width),
        A_ub=a_ub,
        b_ub=b_ub,
        A_eq=sp.vstack([a_eq, fix]).tocsr(),
        b_eq=np.concatenate([b_eq, tgt.ravel()]),
        bounds=bounds,
        method="highs",
    )
    if on_face.status == 0:
        return tgt, low, high
    # the greatest optimal vector not above the targets: max Σ u, u ≤ targets, on the face
    obj = np.zeros(width)
    obj[:n_bal] = -1.0
    cap = list(bounds)
    for k in range(n_bal):
        cap[k] = (None, float(tgt.ravel()[k]))
    res = linprog(obj, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=b_eq, bounds=cap, method="highs")
    if res.status == 0:
        return np.asarray(res.x[:n_bal]).reshape(n_t, n_n), low, high
    # with DC power flow no optimal vector may lie below every target at once (a binding
    # cycle ties the nodes' prices together): the optimal vector nearest the targets (least
    # Σ |u − target|) instead — any optimal price vector passes the rules checked here
    t_flat = tgt.ravel()
    pick = sp.csr_matrix(
        (np.ones(n_bal), (np.arange(n_bal), np.arange(n_bal))), shape=(n_bal, width)
    )
    eye = sp.identity(n_bal, format="csr")
    a_ub2 = sp.vstack(
        [
            sp.hstack([a_ub, sp.csr_matrix((a_ub.shape[0], n_bal))]),
            sp.hstack([pick, -eye]),
            sp.hstack([-pick, -eye]),
        ]
    ).tocsr()
    b_ub2 = np.concatenate([b_ub, t_flat, -t_flat])
    a_eq2 = sp.hstack([a_eq, sp.csr_matrix((a_eq.shape[0], n_bal))]).tocsr()
    obj2 = np.concatenate([np.zeros(width), np.ones(n_bal)])
    near = linprog(
        obj2,
        A_ub=a_ub2,
        b_ub=b_ub2,
        A_eq=a_eq2,
        b_eq=b_eq,
        bounds=list(bounds) + [(0, None)] * n_bal,
        method="highs",
    )
    assert near.status == 0, ("no optimal price vector near the targets", near.message)
    return np.asarray(near.x[:n_bal]).reshape(n_t, n_n), low, high


def reference_block_rule(
    doc: dict[str, Any], tol: float = TOL, prices: str = "midpoint"
) -> BlockRuleResult:
    """The iterative block rule: solve the MIP; fix every block's decision (z) and solve the LP
    with y ∈ [r z, z]; price it; if some accepted block loses money at those prices, reject
    the one with the most negative surplus and repeat.

    `prices="midpoint"` prices like the documented rule (accepted blocks as fixed energy at
    their ratio, `midpoint_prices`); exact where the core's rule takes ranges over the whole
    dual face (transport model, no storage: the core fixes storage's value from its LP's
    duals). `prices="max_min"` instead takes, among all optimal price vectors of the
    fixed-decision LP, one where the least surplus of an accepted block is greatest: it keeps
    every block that some optimal prices support (an upper bound on what a rule that rejects
    only blocks no optimal price can support would reach)."""
    pb = parse(doc)
    excluded: set[int] = set()
    order: list[int] = []
    first_mip = None
    for it in range(1, len(pb.blocks) + 2):
        mip_w, y = solve_mip(pb, excluded)
        if first_mip is None:
            first_mip = mip_w
        fixed = [
            (blk.ratio_min, 1.0) if y[bi] > 1e-9 else (0.0, 0.0) for bi, blk in enumerate(pb.blocks)
        ]
        sol = solve_lp(pb, fixed)
        ratios = sol.x[sol.model.col["y"] : sol.model.col["y"] + len(pb.blocks)]
        ratios = np.where(np.array([hi for _, hi in fixed]) > 0, ratios, 0.0)
        if prices == "max_min":
            least, px = max_min_surplus_prices(pb, sol, ratios)
            if least >= -tol:
                return BlockRuleResult(sol.welfare, ratios, px, order, it, first_mip)
        else:
            as_energy = solve_lp(pb, [(float(x), float(x)) for x in ratios])
            px, _, _ = midpoint_prices(pb, as_energy)
        losing = []
        for bi, blk in enumerate(pb.blocks):
            if ratios[bi] > 1e-9:
                s = surplus_at(pb, blk, float(ratios[bi]), px)
                value = abs(blk.price) * sum(blk.qty)
                if s < -1e-7 * max(1.0, value):
                    losing.append((s, blk.node, blk.buy, blk.price, blk.first, blk.qty, bi))
        if not losing:
            return BlockRuleResult(sol.welfare, ratios, px, order, it, first_mip)
        worst = min(losing)[-1]
        excluded.add(worst)
        order.append(worst)
    raise AssertionError("block rule did not terminate")


def surplus_at(pb: Parsed, blk: Block, ratio: float, prices: np.ndarray) -> float:
    sign = 1.0 if blk.buy else -1.0
    return sum(
        sign * (blk.price - float(prices[t, blk.node])) * blk.kwh(t) * ratio for t in range(pb.n_t)
    )


# ---------------------------------------------------------------------------------------------
# price-taker problems at published prices


def storage_best_profit(s: Storage, prices: list[float], hours: list[float]) -> float:
    """max Σ_t λ_t (d_t − c_t) − cost Σ d_t over the unit's own feasible schedules (an LP)."""
    n_t = len(prices)
    # variables c_t, d_t, soc_t
    nv = 3 * n_t
    obj = np.zeros(nv)
    lb = np.zeros(nv)
    ub = np.zeros(nv)
    a = np.zeros((n_t, nv))
    b = np.zeros(n_t)
    for t in range(n_t):
        obj[t] = prices[t]  # min −profit: +λ c
        obj[n_t + t] = -prices[t] + s.cost
        ub[t] = s.charge_kw * hours[t]
        ub[n_t + t] = s.discharge_kw * hours[t]
        ub[2 * n_t + t] = s.energy
        a[t, 2 * n_t + t] = 1.0
        if t:
            a[t, 2 * n_t + t - 1] = -1.0
        a[t, t] = -s.eta_c
        a[t, n_t + t] = 1.0 / s.eta_d
        b[t] = s.soc0 if t == 0 else 0.0
    lb[3 * n_t - 1] = max(0.0, s.soc_final)
    res = linprog(obj, A_eq=a, b_eq=b, bounds=list(zip(lb, ub, strict=True)), method="highs")
    assert res.status == 0, res.message
    return -float(res.fun)


def network_best_value(pb: Parsed, t: int, prices: np.ndarray) -> float:
    """The network's own problem at prices λ: max Σ_l f_l (λ_to − λ_from) − fee_l |f_l| within
    the limits (and KVL when the network uses DC power flow)."""
    n_l, n_n = len(pb.lines), len(pb.node_ids)
    h = pb.hours[t]
    if not pb.dc:
        return sum(
            ln["cap_kw"] * h * max(0.0, abs(prices[ln["b"]] - prices[ln["a"]]) - ln["fee"])
            for ln in pb.lines
        )
    nv = 2 * n_l + n_n
    obj = np.zeros(nv)
    bounds: list[tuple[float | None, float | None]] = []
    a = np.zeros((n_l, nv))
    for li, ln in enumerate(pb.lines):
        gain = prices[ln["b"]] - prices[ln["a"]]
        obj[li] = -(gain - ln["fee"])
        obj[n_l + li] = -(-gain - ln["fee"])
        a[li, li], a[li, n_l + li] = 1.0, -1.0
        a[li, 2 * n_l + ln["a"]] -= 1.0 / float(ln["x"])
        a[li, 2 * n_l + ln["b"]] += 1.0 / float(ln["x"])
    bounds = [(0.0, ln["cap_kw"] * h) for ln in pb.lines] * 2 + [(None, None)] * n_n
    res = linprog(obj, A_eq=a, b_eq=np.zeros(n_l), bounds=bounds, method="highs")
    assert res.status == 0, res.message
    return -float(res.fun)


# ---------------------------------------------------------------------------------------------
# the checks


def _num(v: Any) -> float:
    return float("nan") if v is None else float(v)


def check_multi_result(
    doc: dict[str, Any],
    result: dict[str, Any],
    tol: float = TOL,
    *,
    flow_paths: bool = True,
    pro_rata: bool = True,
    strict_partial_blocks: bool = False,
) -> list[str]:
    """Every rule of issue 12 that can be checked on one result alone (feasibility, prices
    against acceptance, price-taking storage, the network at its prices, blocks, surplus,
    welfare, fees, trades). Returns the violations found, as readable lines.

    With `strict_partial_blocks`, a partly accepted block (r < x < 1) must also be at the
    money (surplus 0, as a divisible order would be): the documented rule does not promise
    that (its prices treat accepted blocks as fixed energy), so it is off by default.
    `flow_paths=False` skips the trades' flow paths (for answers whose trades ignore the
    network), `pro_rata=False` the shares of tied orders (for a solver's vertex)."""
    pb = parse(doc)
    out: list[str] = []
    if result.get("status") != "optimal":
        return [f"status {result.get('status')!r}: {result.get('reason')}"]
    n_t, n_n = pb.n_t, len(pb.node_ids)
    ivs = result.get("intervals", [])
    if len(ivs) != n_t:
        return [f"intervals: {len(ivs)} in the result, {n_t} in the problem"]

    # --- read the result (lists in input order; ids echoed exactly)
    def ids_match(where: str, got: list[dict[str, Any]], want: list[Any]) -> bool:
        have = [g.get("id") for g in got]
        if have != want:
            out.append(f"{where}: ids {have!r} differ from the input's {want!r}")
            return False
        return True

    if not ids_match("orders", result.get("orders", []), [o["id"] for o in pb.orders]):
        return out
    if not ids_match("blocks", result.get("blocks", []), [b.id for b in pb.blocks]):
        return out
    if not ids_match("storage", result.get("storage", []), [s.id for s in pb.storage]):
        return out
    acc = np.array([_num(o["accepted_kwh"]) for o in result["orders"]])
    ratio = np.array([_num(b["accepted_ratio"]) for b in result["blocks"]])
    price = np.zeros((n_t, n_n))
    flow = np.zeros((n_t, len(pb.lines)))
    imp = np.zeros((n_t, len(pb.conns)))
    exp = np.zeros((n_t, len(pb.conns)))
    for t, iv in enumerate(ivs):
        if not ids_match(f"intervals[{t}].nodes", iv["nodes"], pb.node_ids):
            return out
        if not ids_match(f"intervals[{t}].lines", iv["lines"], [ln["id"] for ln in pb.lines]):
            return out
        price[t] = [_num(n["price"]) for n in iv["nodes"]]
        flow[t] = [_num(ln["flow_kwh"]) for ln in iv["lines"]]
        gcs = iv["grid_connections"]
        if len(gcs) != len(pb.conns):
            out.append(f"intervals[{t}].grid_connections: {len(gcs)} of {len(pb.conns)}")
            return out
        imp[t] = [_num(g["import_kwh"]) for g in gcs]
        exp[t] = [_num(g["export_kwh"]) for g in gcs]
    if not np.isfinite(price).all():
        out.append("a price is missing or not finite")
        return out
    chg = np.array([[_num(v) for v in s["charge_kwh"]] for s in result["storage"]]).reshape(
        len(pb.storage), n_t
    )
    dis = np.array([[_num(v) for v in s["discharge_kwh"]] for s in result["storage"]]).reshape(
        len(pb.storage), n_t
    )
    soc = np.array([[_num(v) for v in s["soc_kwh"]] for s in result["storage"]]).reshape(
        len(pb.storage), n_t
    )

    # --- feasibility: bounds
    for k, o in enumerate(pb.orders):
        if not -tol <= acc[k] <= o["q"] + tol:
            out.append(f"orders[{k}]: accepted {acc[k]} outside [0, {o['q']}]")
    for bi, blk in enumerate(pb.blocks):
        x = ratio[bi]
        if not (abs(x) <= tol or blk.ratio_min - tol <= x <= 1 + tol):
            out.append(f"blocks[{bi}]: ratio {x} outside {{0}} ∪ [{blk.ratio_min}, 1]")
    groups: dict[Any, list[int]] = {}
    for bi, blk in enumerate(pb.blocks):
        if blk.group is not None:
            groups.setdefault(blk.group, []).append(bi)
    for g, members in groups.items():
        on = [pb.blocks[bi].id for bi in members if ratio[bi] > tol]
        if len(on) > 1:
            out.append(f"group {g!r}: several blocks accepted {on}")
    for t in range(n_t):
        h = pb.hours[t]
        for li, ln in enumerate(pb.lines):
            if abs(flow[t, li]) > ln["cap_kw"] * h + tol:
                out.append(f"intervals[{t}].lines[{li}]: |flow| {flow[t, li]} over the limit")
        for g, conn in enumerate(pb.conns):
            if not -tol <= imp[t, g] <= conn["imp_kw"][t] * h + tol:
                out.append(f"intervals[{t}].grid_connections[{g}]: import {imp[t, g]} outside")
            if not -tol <= exp[t, g] <= conn["exp_kw"][t] * h + tol:
                out.append(f"intervals[{t}].grid_connections[{g}]: export {exp[t, g]} outside")
    for si, s in enumerate(pb.storage):
        prev = s.soc0
        for t in range(n_t):
            h = pb.hours[t]
            if not -tol <= chg[si, t] <= s.charge_kw * h + tol:
                out.append(f"storage[{si}].charge_kwh[{t}] = {chg[si, t]} outside the power limit")
            if not -tol <= dis[si, t] <= s.discharge_kw * h + tol:
                out.append(
                    f"storage[{si}].discharge_kwh[{t}] = {dis[si, t]} outside the power limit"
                )
            want = prev + s.eta_c * chg[si, t] - dis[si, t] / s.eta_d
            if abs(soc[si, t] - want) > tol * max(1.0, s.energy * 1e-3):
                out.append(f"storage[{si}].soc_kwh[{t}] = {soc[si, t]}, dynamics give {want}")
            if not -tol <= soc[si, t] <= s.energy + tol:
                out.append(f"storage[{si}].soc_kwh[{t}] = {soc[si, t]} outside [0, {s.energy}]")
            prev = soc[si, t]
        if n_t and soc[si, -1] < s.soc_final - tol:
            out.append(f"storage[{si}]: final soc {soc[si, -1]} below {s.soc_final}")

    # --- feasibility: nodal balance per interval, KVL
    for t in range(n_t):
        net = np.zeros(n_n)
        scale = np.zeros(n_n)
        for k, o in enumerate(pb.orders):
            if o["t"] == t:
                net[o["node"]] += -acc[k] if o["buy"] else acc[k]
                scale[o["node"]] += abs(acc[k])
        for bi, blk in enumerate(pb.blocks):
            q = blk.kwh(t) * ratio[bi]
            net[blk.node] += -q if blk.buy else q
            scale[blk.node] += abs(q)
        for si, s in enumerate(pb.storage):
            net[s.node] += dis[si, t] - chg[si, t]
        for g, conn in enumerate(pb.conns):
            net[conn["node"]] += imp[t, g] - exp[t, g]
        for li, ln in enumerate(pb.lines):
            net[ln["a"]] -= flow[t, li]
            net[ln["b"]] += flow[t, li]
        for n in range(n_n):
            if abs(net[n]) > tol + 1e-12 * scale[n]:
                out.append(f"intervals[{t}]: node {pb.node_ids[n]!r} out of balance by {net[n]}")
        if pb.dc:
            a = np.zeros((len(pb.lines), n_n))
            for li, ln in enumerate(pb.lines):
                a[li, ln["a"]] = 1.0 / float(ln["x"])
                a[li, ln["b"]] = -1.0 / float(ln["x"])
            theta, *_ = np.linalg.lstsq(a, flow[t], rcond=None)
            resid = np.abs(a @ theta - flow[t]).max(initial=0.0)
            if resid > tol:
                out.append(f"intervals[{t}]: KVL violated by {resid} kWh")

    # --- prices against every simple order's acceptance
    for k, o in enumerate(pb.orders):
        lam = price[o["t"], o["node"]]
        q, a = o["q"], acc[k]
        if o["buy"]:
            if o["p"] > lam + tol and abs(a - q) > tol:
                out.append(f"orders[{k}] ({o['id']!r}): buy at {o['p']} > price {lam} not filled")
            if o["p"] < lam - tol and a > tol:
                out.append(f"orders[{k}] ({o['id']!r}): buy at {o['p']} < price {lam} accepted")
        else:
            if o["p"] < lam - tol and abs(a - q) > tol:
                out.append(f"orders[{k}] ({o['id']!r}): sell at {o['p']} < price {lam} not filled")
            if o["p"] > lam + tol and a > tol:
                out.append(f"orders[{k}] ({o['id']!r}): sell at {o['p']} > price {lam} accepted")
    # pro rata: orders with the same (interval, node, side, price) get the same share
    tied: dict[tuple[int, int, bool, float], list[int]] = {}
    for k, o in enumerate(pb.orders):
        tied.setdefault((o["t"], o["node"], o["buy"], o["p"]), []).append(k)
    for members in tied.values() if pro_rata else []:
        total_q = sum(pb.orders[k]["q"] for k in members)
        total_a = sum(acc[k] for k in members)
        for k in members:
            fair = total_a * pb.orders[k]["q"] / total_q
            if abs(acc[k] - fair) > tol * max(1.0, fair):
                out.append(f"orders[{k}]: accepted {acc[k]}, pro rata share {fair}")
    # the grid connections at their prices
    for t in range(n_t):
        h = pb.hours[t]
        for g, conn in enumerate(pb.conns):
            lam = price[t, conn["node"]]
            if imp[t, g] > tol and lam < conn["imp"][t] - tol:
                out.append(f"intervals[{t}].grid_connections[{g}]: imports at price {lam}")
            if imp[t, g] < conn["imp_kw"][t] * h - tol and lam > conn["imp"][t] + tol:
                out.append(f"intervals[{t}].grid_connections[{g}]: import not full at {lam}")
            if exp[t, g] > tol and lam > conn["exp"][t] + tol:
                out.append(f"intervals[{t}].grid_connections[{g}]: exports at price {lam}")
            if exp[t, g] < conn["exp_kw"][t] * h - tol and lam < conn["exp"][t] - tol:
                out.append(f"intervals[{t}].grid_connections[{g}]: export not full at {lam}")
    # the network at its prices: its flows must earn what the best flows would (fees counted)
    for t in range(n_t):
        got = sum(
            flow[t, li] * (price[t, ln["b"]] - price[t, ln["a"]]) - ln["fee"] * abs(flow[t, li])
            for li, ln in enumerate(pb.lines)
        )
        best = network_best_value(pb, t, price[t])
        scale = 1.0 + sum(ln["cap_kw"] * pb.hours[t] for ln in pb.lines) * 1e-9
        if got < best - tol * scale * 10:
            out.append(
                f"intervals[{t}]: the flows earn {got} at the prices, the network could earn {best}"
                " (prices inconsistent with the flows/fees)"
            )
    # storage: price-taking optimal, and its reported profit
    for si, s in enumerate(pb.storage):
        lam = [float(price[t, s.node]) for t in range(n_t)]
        got = sum(lam[t] * (dis[si, t] - chg[si, t]) - s.cost * dis[si, t] for t in range(n_t))
        best = storage_best_profit(s, lam, pb.hours)
        if got < best - max(tol * 10, 1e-7 * abs(best)):
            out.append(
                f"storage[{si}] ({s.id!r}): schedule earns {got} at the prices, its own best is"
                f" {best}"
            )
        reported = result["storage"][si].get("profit")
        if reported is None or abs(float(reported) - got) > max(1e-6, 1e-9 * abs(got)):
            out.append(f"storage[{si}].profit {reported} differs from Σλ(d−c) − wear = {got}")

    # --- blocks: surplus, no paradoxically accepted block, the flag
    for bi, blk in enumerate(pb.blocks):
        entry = result["blocks"][bi]
        x = ratio[bi]
        accepted = x > tol
        own = surplus_at(pb, blk, x if accepted else 1.0, price)
        money = tol * max(1.0, sum(blk.qty))
        if accepted and own < -money:
            out.append(f"blocks[{bi}] ({blk.id!r}): paradoxically accepted, surplus {own}")
        rep = entry.get("surplus")
        if rep is None or abs(float(rep) - own) > money:
            out.append(f"blocks[{bi}].surplus {rep} differs from the definition: {own}")
        flag = entry.get("paradoxically_rejected")
        excluded = blk.group is not None and any(
            pb.blocks[o].group == blk.group and ratio[o] > tol
            for o in range(len(pb.blocks))
            if o != bi
        )
        want_flag = (not accepted) and own > money and not excluded
        if bool(flag) != want_flag and not (not accepted and abs(own) <= money):
            out.append(f"blocks[{bi}].paradoxically_rejected {flag} but surplus {own}")
        why = entry.get("rejected_reason", "missing")
        if accepted:
            want_why: tuple[str | None, ...] = (None,)
        elif abs(own) <= money:  # at the tolerance either word is right
            want_why = (
                "out_of_the_money",
                "group_exclusive" if excluded else "paradoxically_rejected",
            )
        elif own < 0:
            want_why = ("out_of_the_money",)
        else:
            want_why = ("group_exclusive",) if excluded else ("paradoxically_rejected",)
        if why not in want_why:
            out.append(f"blocks[{bi}].rejected_reason {why!r}, expected one of {want_why}")
        if (
            strict_partial_blocks
            and accepted
            and blk.ratio_min + tol < x < 1 - tol
            and abs(own) > money
        ):
            out.append(f"blocks[{bi}] ({blk.id!r}): partly accepted ({x}) but surplus {own} ≠ 0")

    # --- welfare, fees, rent
    welfare = 0.0
    for k, o in enumerate(pb.orders):
        welfare += (o["p"] if o["buy"] else -o["p"]) * acc[k]
    for bi, blk in enumerate(pb.blocks):
        welfare += (blk.price if blk.buy else -blk.price) * sum(blk.qty) * ratio[bi]
    fees_total = 0.0
    for t in range(n_t):
        for g, conn in enumerate(pb.conns):
            welfare += -conn["imp"][t] * imp[t, g] + conn["exp"][t] * exp[t, g]
        for li, ln in enumerate(pb.lines):
            fee = ln["fee"] * abs(flow[t, li])
            fees_total += fee
            rep = ivs[t]["lines"][li].get("fee")
            if rep is None or abs(float(rep) - fee) > 1e-6 * max(1.0, fee):
                out.append(f"intervals[{t}].lines[{li}].fee {rep} ≠ fee × |flow| = {fee}")
    welfare -= fees_total
    for si, s in enumerate(pb.storage):
        welfare -= s.cost * float(dis[si].sum())
    w_rep = _num(result.get("welfare"))
    if not abs(w_rep - welfare) <= 1e-6 * max(1.0, abs(welfare)):
        out.append(f"welfare {w_rep} differs from the accepted quantities' welfare {welfare}")
    f_rep = _num(result.get("fees"))
    if not abs(f_rep - fees_total) <= 1e-6 * max(1.0, fees_total):
        out.append(f"fees {f_rep} ≠ Σ fee × |flow| = {fees_total}")
    # the money: buyers pay, sellers receive at their node-interval prices
    gross = 0.0
    for k, o in enumerate(pb.orders):
        gross += (1 if o["buy"] else -1) * price[o["t"], o["node"]] * acc[k]
    for bi, blk in enumerate(pb.blocks):
        for t in range(n_t):
            gross += (1 if blk.buy else -1) * price[t, blk.node] * blk.kwh(t) * ratio[bi]
    for si, s in enumerate(pb.storage):
        gross += sum(price[t, s.node] * (chg[si, t] - dis[si, t]) for t in range(n_t))
    for t in range(n_t):
        for g, conn in enumerate(pb.conns):
            gross += -conn["imp"][t] * imp[t, g] + conn["exp"][t] * exp[t, g]
    rent = _num(result.get("congestion_rent"))
    scale = 1e-6 * max(1.0, abs(gross))
    if not (abs(rent - gross) <= scale or abs(rent - (gross - fees_total)) <= scale):
        out.append(
            f"congestion_rent {rent}: neither the money left over {gross} nor that net of fees"
            f" {gross - fees_total}"
        )
    if gross - fees_total < -scale:
        out.append(f"budget: the money left over {gross} does not cover the fees {fees_total}")

    out += check_trades(pb, result, acc, ratio, chg, dis, imp, exp, price, tol, flow_paths)
    return out


def check_trades(
    pb: Parsed,
    result: dict[str, Any],
    acc: np.ndarray,
    ratio: np.ndarray,
    chg: np.ndarray,
    dis: np.ndarray,
    imp: np.ndarray,
    exp: np.ndarray,
    price: np.ndarray,
    tol: float,
    flow_paths: bool = True,
) -> list[str]:
    """Trades per interval add up to every party's energy in that interval: orders, blocks,
    storage (charging = buyer, discharging = seller), grid import (seller) and export (buyer)."""
    out: list[str] = []
    order_by_id = {o["id"]: k for k, o in enumerate(pb.orders)}
    block_by_id = {b.id: k for k, b in enumerate(pb.blocks)}
    n_n = len(pb.node_ids)
    for t, iv in enumerate(result["intervals"]):
        sold: dict[tuple[str, Any], float] = {}
        bought: dict[tuple[str, Any], float] = {}
        for tr in iv.get("trades", []):
            q = float(tr["quantity_kwh"])
            if not q > 0:
                out.append(f"intervals[{t}]: a trade of {q} kWh")
            for role, book in (("seller", sold), ("buyer", bought)):
                who, kind = tr.get(role), tr.get(f"{role}_kind")
                node = pb.index.get(tr.get(f"{role}_node"), -1)
                if who is None or kind == "grid":
                    key: tuple[str, Any] = ("grid", node)
                elif kind in ("order", "block", "storage"):
                    key = (kind, who)
                elif who in order_by_id:
                    key = ("order", who)
                elif who in block_by_id:
                    key = ("block", who)
                else:
                    key = ("storage", who)
                book[key] = book.get(key, 0.0) + q
                p_rep = tr.get(f"{role}_price")
                if p_rep is not None and 0 <= node < n_n and abs(p_rep - price[t, node]) > 1e-9:
                    out.append(f"intervals[{t}]: trade {role}_price {p_rep} ≠ node price")
        # inter-node trades follow the flows: each node's net energy sent away in trades is
        # its net line outflow, and a trade from a to b has a flow-directed path a → b
        out_by_node = np.zeros(n_n)
        pairs = set()
        for tr in iv.get("trades", []):
            sn, bn = pb.index.get(tr.get("seller_node"), -1), pb.index.get(tr.get("buyer_node"), -1)
            if sn < 0 or bn < 0:
                out.append(f"intervals[{t}]: a trade names an unknown node")
                continue
            if sn != bn:
                q = float(tr["quantity_kwh"])
                out_by_node[sn] += q
                out_by_node[bn] -= q
                pairs.add((sn, bn))
        net_out = np.zeros(n_n)
        succ: dict[int, set[int]] = {}
        for li, ln in enumerate(pb.lines):
            f = float(result["intervals"][t]["lines"][li]["flow_kwh"])
            net_out[ln["a"]] += f
            net_out[ln["b"]] -= f
            if f > 1e-9:
                succ.setdefault(ln["a"], set()).add(ln["b"])
            elif f < -1e-9:
                succ.setdefault(ln["b"], set()).add(ln["a"])
        for n in range(n_n if flow_paths else 0):
            if abs(out_by_node[n] - net_out[n]) > 1e-5:
                out.append(
                    f"intervals[{t}]: node {pb.node_ids[n]!r} sends {out_by_node[n]} kWh away in"
                    f" trades but {net_out[n]} over its lines"
                )
        for sn, bn in sorted(pairs) if flow_paths else []:
            seen, stack = {sn}, [sn]
            while stack:
                u = stack.pop()
                for v in succ.get(u, ()):
                    if v not in seen:
                        seen.add(v)
                        stack.append(v)
            if bn not in seen:
                out.append(
                    f"intervals[{t}]: trade {pb.node_ids[sn]!r} → {pb.node_ids[bn]!r}: no flow path"
                )
        want_sold: dict[tuple[str, Any], float] = {}
        want_bought: dict[tuple[str, Any], float] = {}
        for k, o in enumerate(pb.orders):
            if o["t"] == t and acc[k] > 0:
                (want_bought if o["buy"] else want_sold)[("order", o["id"])] = acc[k]
        for bi, blk in enumerate(pb.blocks):
            q = blk.kwh(t) * ratio[bi]
            if q > 0:
                (want_bought if blk.buy else want_sold)[("block", blk.id)] = q
        for si, s in enumerate(pb.storage):
            if chg[si, t] > 0:
                want_bought[("storage", s.id)] = want_bought.get(("storage", s.id), 0) + chg[si, t]
            if dis[si, t] > 0:
                want_sold[("storage", s.id)] = want_sold.get(("storage", s.id), 0) + dis[si, t]
        for g, conn in enumerate(pb.conns):
            key = ("grid", conn["node"])
            if imp[t, g] > 0:
                want_sold[key] = want_sold.get(key, 0.0) + imp[t, g]
            if exp[t, g] > 0:
                want_bought[key] = want_bought.get(key, 0.0) + exp[t, g]
        for label, got, want in (("sold", sold, want_sold), ("bought", bought, want_bought)):
            for key in set(got) | set(want):
                a, b = got.get(key, 0.0), want.get(key, 0.0)
                if abs(a - b) > tol:
                    out.append(f"intervals[{t}]: {key} {label} {a} kWh in trades, {b} in result")
    return out


# ---------------------------------------------------------------------------------------------
# a result document made by the reference itself (to test the checks on known-good answers)


def reference_result(doc: dict[str, Any]) -> dict[str, Any]:
    """The reference's own answer in the issue-12 result shape: the block rule's allocation
    (the LP if there are no blocks), prices on its dual face, naive trades (each interval's
    sellers matched to its buyers in input order, ignoring the network: enough for checking
    that trades add up, not for the flow paths)."""
    pb = parse(doc)
    n_t, n_n = pb.n_t, len(pb.node_ids)
    if pb.blocks:
        rule = reference_block_rule(doc)
        fixed = [
            (blk.ratio_min, 1.0) if rule.ratios[bi] > 1e-9 else (0.0, 0.0)
            for bi, blk in enumerate(pb.blocks)
        ]
    else:
        fixed = None
    sol = solve_lp(pb, fixed)
    ratios = np.asarray(sol.x[sol.model.col["y"] : sol.model.col["y"] + len(pb.blocks)])
    if pb.blocks:
        _, prices = max_min_surplus_prices(pb, sol, ratios)
    else:
        _, prices = max_min_surplus_prices(pb, sol, np.zeros(0))
    m, x = sol.model, sol.x
    n_l, n_g, n_s = len(pb.lines), len(pb.conns), len(pb.storage)

    def blockof(name: str, size: int) -> np.ndarray:
        return np.asarray(x[m.col[name] : m.col[name] + size])

    acc = blockof("order", len(pb.orders))
    flow = (blockof("fplus", n_t * n_l) - blockof("fminus", n_t * n_l)).reshape(n_t, n_l)
    imp = blockof("imp", n_t * n_g).reshape(n_t, n_g)
    exp = blockof("exp", n_t * n_g).reshape(n_t, n_g)
    chg = blockof("chg", n_t * n_s).reshape(n_t, n_s).T
    dis = blockof("dis", n_t * n_s).reshape(n_t, n_s).T
    soc = blockof("soc", n_t * n_s).reshape(n_t, n_s).T
    fees = float(
        sum(ln["fee"] * abs(flow[t, li]) for t in range(n_t) for li, ln in enumerate(pb.lines))
    )
    out_blocks = []
    taken = {b.group for bi, b in enumerate(pb.blocks) if b.group is not None and ratios[bi] > 0}
    for bi, blk in enumerate(pb.blocks):
        r = float(ratios[bi])
        s = surplus_at(pb, blk, r if r > 0 else 1.0, prices)
        why = None
        if r == 0:
            why = (
                "out_of_the_money"
                if s <= TOL
                else "group_exclusive"
                if blk.group in taken
                else "paradoxically_rejected"
            )
        out_blocks.append(
            {
                "id": blk.id,
                "accepted_ratio": r,
                "surplus": s,
                "paradoxically_rejected": why == "paradoxically_rejected",
                "rejected_reason": why,
            }
        )
    out_storage = []
    for si, st in enumerate(pb.storage):
        lam = prices[:, st.node]
        profit = float(lam @ (dis[si] - chg[si]) - st.cost * dis[si].sum())
        out_storage.append(
            {
                "id": st.id,
                "charge_kwh": chg[si].tolist(),
                "discharge_kwh": dis[si].tolist(),
                "soc_kwh": soc[si].tolist(),
                "profit": profit,
            }
        )
    ivs = []
    for t in range(n_t):
        sellers: list[list[Any]] = []
        buyers: list[list[Any]] = []
        for k, o in enumerate(pb.orders):
            if o["t"] == t and acc[k] > 1e-12:
                (buyers if o["buy"] else sellers).append(["order", o["id"], o["node"], acc[k]])
        for bi, blk in enumerate(pb.blocks):
            q = blk.kwh(t) * ratios[bi]
            if q > 1e-12:
                (buyers if blk.buy else sellers).append(["block", blk.id, blk.node, q])
        for si, st in enumerate(pb.storage):
            if chg[si, t] > 1e-12:
                buyers.append(["storage", st.id, st.node, chg[si, t]])
            if dis[si, t] > 1e-12:
                sellers.append(["storage", st.id, st.node, dis[si, t]])
        for g, conn in enumerate(pb.conns):
            if imp[t, g] > 1e-12:
                sellers.append(["grid", None, conn["node"], imp[t, g]])
            if exp[t, g] > 1e-12:
                buyers.append(["grid", None, conn["node"], exp[t, g]])
        trades = []
        i = j = 0
        while i < len(sellers) and j < len(buyers):
            q = min(sellers[i][3], buyers[j][3])
            if q > 1e-12:
                trades.append(
                    {
                        "seller": sellers[i][1],
                        "seller_kind": sellers[i][0],
                        "seller_node": pb.node_ids[sellers[i][2]],
                        "buyer": buyers[j][1],
                        "buyer_kind": buyers[j][0],
                        "buyer_node": pb.node_ids[buyers[j][2]],
                        "quantity_kwh": q,
                        "seller_price": float(prices[t, sellers[i][2]]),
                        "buyer_price": float(prices[t, buyers[j][2]]),
                    }
                )
            sellers[i][3] -= q
            buyers[j][3] -= q
            if sellers[i][3] <= 1e-12:
                i += 1
            if buyers[j][3] <= 1e-12:
                j += 1
        ivs.append(
            {
                "start": None,
                "nodes": [
                    {
                        "id": pb.node_ids[n],
                        "price": float(prices[t, n]),
                        # the reference knows one optimal vector, not the ranges: it
                        # publishes that point as its own range (blocks are then classified
                        # at these prices)
                        "price_low": float(prices[t, n]),
                        "price_high": float(prices[t, n]),
                    }
                    for n in range(n_n)
                ],
                "lines": [
                    {
                        "id": ln["id"],
                        "flow_kwh": float(flow[t, li]),
                        "fee": ln["fee"] * abs(float(flow[t, li])),
                    }
                    for li, ln in enumerate(pb.lines)
                ],
                "grid_connections": [
                    {
                        "node": pb.node_ids[conn["node"]],
                        "import_kwh": float(imp[t, g]),
                        "export_kwh": float(exp[t, g]),
                    }
                    for g, conn in enumerate(pb.conns)
                ],
                "trades": trades,
            }
        )
    gross = 0.0
    for t in range(n_t):
        for li, ln in enumerate(pb.lines):
            gross += flow[t, li] * (prices[t, ln["b"]] - prices[t, ln["a"]])
        for g, conn in enumerate(pb.conns):
            lam = prices[t, conn["node"]]
            gross += imp[t, g] * (lam - conn["imp"][t]) + exp[t, g] * (conn["exp"][t] - lam)
    return {
        "status": "optimal",
        "welfare": sol.welfare,
        "congestion_rent": gross,
        "fees": fees,
        "timings": {},
        "orders": [{"id": o["id"], "accepted_kwh": float(acc[k])} for k, o in enumerate(pb.orders)],
        "blocks": out_blocks,
        "storage": out_storage,
        "intervals": ivs,
    }
