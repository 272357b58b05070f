"""An independent reference for the clearing core, used only in tests: scipy's HiGHS LP on
a formulation written separately (order-level variables, no aggregation; DC power flow with
node angles instead of cycles), plus the dual optimal face for checking the price rule."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

from matching import ClearingProblem


@dataclass
class Reference:
    welfare: float
    # primal in standard form: min c x, A x = 0, lb ≤ x ≤ ub
    c: np.ndarray
    a: sp.csr_matrix
    lb: np.ndarray
    ub: np.ndarray
    n_nodes: int


def solve_reference(problem: ClearingProblem) -> Reference:
    net = problem.network
    book = problem.orders
    h = problem.interval.minutes / 60.0
    idx = net.node_index()
    n = len(net.nodes)
    n_o, n_l, n_g = len(book), len(net.lines), len(net.grid_connections)
    dc = net.uses_dc_flow
    n_t = n if dc else 0
    # one inert column keeps an empty problem well-formed for linprog
    nv = n_o + n_l + 2 * n_g + n_t + 1
    c = np.zeros(nv)
    lb = np.zeros(nv)
    ub = np.zeros(nv)
    rows = n + (n_l if dc else 0)
    a = sp.lil_matrix((rows, nv))
    for k in range(n_o):
        node = int(book.node[k])
        q, p = float(book.quantity_kwh[k]), float(book.price[k])
        ub[k] = q
        if book.is_buy[k]:
            c[k] = -p
            a[node, k] = -1.0
        else:
            c[k] = p
            a[node, k] = 1.0
    for j, ln in enumerate(net.lines):
        col = n_o + j
        cap = ln.capacity_kw * h
        lb[col], ub[col] = -cap, cap
        a[idx[ln.from_node], col] -= 1.0
        a[idx[ln.to_node], col] += 1.0
        if dc:
            r = n + j  # f − (θ_from − θ_to)/x = 0
            a[r, col] = 1.0
            a[r, n_o + n_l + 2 * n_g + idx[ln.from_node]] = -1.0 / ln.reactance
            a[r, n_o + n_l + 2 * n_g + idx[ln.to_node]] = 1.0 / ln.reactance
    for g, conn in enumerate(net.grid_connections):
        ci, ce = n_o + n_l + g, n_o + n_l + n_g + g
        ub[ci] = conn.import_limit_kw * h
        ub[ce] = conn.export_limit_kw * h
        c[ci] = conn.import_price
        c[ce] = -conn.export_price
        a[idx[conn.node], ci] = 1.0
        a[idx[conn.node], ce] = -1.0
    if n_t:
        lb[-n_t - 1 : -1] = -np.inf
        ub[-n_t - 1 : -1] = np.inf
    a = a.tocsr()
    res = linprog(
        c, A_eq=a, b_eq=np.zeros(rows), bounds=list(zip(lb, ub, strict=True)), method="highs"
    )
    assert res.status == 0, res.message
    return Reference(-float(res.fun), c, a, lb, ub, n)


def price_range(
    ref: Reference, node: int, fixed: dict[int, float], slack: float = 1e-9
) -> tuple[float, float]:
    """Range of node's optimal price over the dual optimal face, with `fixed` prices held
    (the face admits `slack` PLN of welfare, for HiGHS's tolerances).

    Dual of min c x, A x = 0, lb ≤ x ≤ ub: variables y (rows), r ≥ 0 (lower bounds), s ≥ 0
    (upper bounds): c − Aᵀy = r − s, dual objective lb·r − ub·s equals the optimum −W*.
    The price at node n is y[n] (the cost of one more kWh withdrawn there).
    """
    a_face, b_face, a_ub, b_ub, bounds = _face(ref, slack)
    m = a_face.shape[1]
    keys = list(fixed)
    held = sp.csr_matrix((np.ones(len(keys)), (np.arange(len(keys)), keys)), shape=(len(keys), m))
    a_eq = sp.vstack([a_face, held]).tocsr()
    b_eq = np.concatenate([b_face, [fixed[k] for k in keys]])
    out = []
    for sign in (1.0, -1.0):
        obj = np.zeros(m)
        obj[node] = sign
        res = linprog(
            obj, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs"
        )
        if res.status == 3:
            out.append(-math.inf if sign > 0 else math.inf)
        else:
            assert res.status == 0, res.message
            out.append(sign * float(res.fun))
    return out[0], out[1]


def _face(
    ref: Reference, slack: float = 1e-9
) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray, np.ndarray, list]:
    """The dual optimal face as (a_eq, b_eq, a_ub, b_ub, bounds) over (y, r, s):
    Aᵀy + r − s = c, r, s ≥ 0, and lb·r − ub·s ≥ −W* (within `slack`)."""
    rows, nv = ref.a.shape
    fin_l = np.flatnonzero(np.isfinite(ref.lb))
    fin_u = np.flatnonzero(np.isfinite(ref.ub))
    nr, ns = fin_l.shape[0], fin_u.shape[0]
    m = rows + nr + ns
    r_part = sp.csr_matrix((np.ones(nr), (fin_l, np.arange(nr))), shape=(nv, nr))
    s_part = sp.csr_matrix((-np.ones(ns), (fin_u, np.arange(ns))), shape=(nv, ns))
    a_eq = sp.hstack([ref.a.T, r_part, s_part]).tocsr()
    a_ub = np.zeros((1, m))
    a_ub[0, rows : rows + nr] = -ref.lb[fin_l]
    a_ub[0, rows + nr :] = ref.ub[fin_u]
    b_ub = np.array([ref.welfare + slack])
    bounds = [(None, None)] * rows + [(0, None)] * (nr + ns)
    return a_eq, ref.c, a_ub, b_ub, bounds


def problem_span(problem: ClearingProblem) -> tuple[float, float]:
    """The lowest and highest limit price in the problem (orders and grid connections)."""
    prices = [float(p) for p in problem.orders.price]
    for g in problem.network.grid_connections:
        prices += [g.import_price, g.export_price]
    return (min(prices), max(prices)) if prices else (0.0, 0.0)


def rule_targets(problem: ClearingProblem, ref: Reference) -> tuple[list, list, list]:
    """The documented rule's ingredients, recomputed on the reference's own dual face:
    each node's range over the whole face and its target (the midpoint of the range
    clipped to the problem's price span; the nearer end when the range misses the span)."""
    p_lo, p_hi = problem_span(problem)
    lows, highs, targets = [], [], []
    for node in range(ref.n_nodes):
        low, high = price_range(ref, node, {})
        a, b = max(low, p_lo), min(high, p_hi)
        target = (a + b) / 2 if a <= b else (high if high < p_lo else low)
        lows.append(low)
        highs.append(high)
        targets.append(target)
    return lows, highs, targets


def assert_nearest_on_face(ref: Reference, targets: list[float], prices: np.ndarray) -> None:
    """`prices` is the optimal price vector nearest (Euclidean) to `targets`: it lies on the
    reference's dual optimal face, and no point of the face makes an acute angle with
    t − p at p (the projection condition max_q (t − p)·q ≤ (t − p)·p, one LP)."""
    a_eq, b_eq, a_ub, b_ub, bounds = _face(ref)
    n = ref.n_nodes
    m = a_eq.shape[1]
    t = np.array(targets, dtype=float)
    fix = sp.csr_matrix((np.ones(n), (np.arange(n), np.arange(n))), shape=(n, m))
    on_face = linprog(
        np.zeros(m),
        A_ub=a_ub,
        b_ub=b_ub,
        A_eq=sp.vstack([a_eq, fix]).tocsr(),
        b_eq=np.concatenate([b_eq, prices]),
        bounds=bounds,
        method="highs",
    )
    assert on_face.status == 0, ("prices not optimal", prices, on_face.message)
    # t may be ±inf nowhere (targets are clipped to the span), so d is finite
    d = t - prices
    obj = np.zeros(m)
    obj[:n] = -d  # maximise d·y
    best = linprog(obj, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs")
    if best.status == 3:
        raise AssertionError(("a face direction moves closer to the targets", prices, t))
    assert best.status == 0, best.message
    assert -best.fun <= float(d @ prices) + 1e-7, ("not the nearest", prices, t, -best.fun)
