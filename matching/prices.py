"""Nodal prices chosen by a documented, solver-independent rule.

The set of optimal nodal prices is the set of dual optima of the clearing LP. Complementary
slackness with the primal solution describes it:

- a step strictly between 0 and its quantity pins its node's price to its limit price; a
  fully accepted buy (rejected sell) bounds the price from above, a rejected buy (fully
  accepted sell) from below; the grid connection likewise at its import/export prices;
- transport model: a line strictly inside its limit forces equal prices at its ends; a line
  at its limit in the from → to direction allows price(to) ≥ price(from);
- DC power flow: price(n) = λ₀ + Σ_l PTDF[l, n] · ν_l over the lines at their limit, with
  ν_l ≤ 0 for a line at +limit and ν_l ≥ 0 at −limit.

The rule (independent of which dual the solver happened to return): visit the nodes in
breadth-first order from each component's root (the node of its first grid connection, else
its first node in input order). The root gets the midpoint of its range of optimal prices (the
finite end if one end is unbounded, 0 if both are); every later node gets the point of its
remaining range closest to its BFS parent's price. Each choice is fixed before the next range
is computed, so the prices together are always optimal.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from matching import glop
from matching.network import Topology
from matching.problem import BoolArray, FloatArray
from matching.steps import Steps

INF = math.inf


class PriceRuleError(RuntimeError):
    """The complementary-slackness description came out empty (numerical trouble)."""


@dataclass(frozen=True, slots=True, eq=False)
class Prices:
    price: FloatArray
    low: FloatArray
    high: FloatArray
    note: str = ""


#: Seconds the degenerate-DC range LPs may take before the remaining freedom is fixed by one
#: feasibility LP (still optimal prices; the result's reason says so).
RANGE_LP_BUDGET_S = 2.0


def at_bounds(value: FloatArray, upper: FloatArray) -> tuple[BoolArray, BoolArray]:
    """(at zero, at upper bound), with a tolerance of 1e-9 relative to the bound."""
    tol = 1e-9 * np.maximum(1.0, np.abs(upper))
    return value <= tol, value >= upper - tol


def node_bounds(
    topo: Topology, steps: Steps, x: FloatArray, imports: FloatArray, exports: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Bounds on each node's own price from its steps and its grid connection."""
    n = topo.n_nodes
    lo = np.full(n, -INF)
    hi = np.full(n, INF)
    zero, full = at_bounds(x, steps.quantity_kwh)
    buy, sell = steps.is_buy, ~steps.is_buy
    # buy: price ≥ p unless fully accepted; price ≤ p unless rejected. Sell: the reverse.
    ge = (buy & ~full) | (sell & ~zero)
    le = (buy & ~zero) | (sell & ~full)
    np.maximum.at(lo, steps.node[ge], steps.price[ge])
    np.minimum.at(hi, steps.node[le], steps.price[le])
    if topo.n_grid:
        iz, ifull = at_bounds(imports, topo.import_limit_kwh)
        ez, efull = at_bounds(exports, topo.export_limit_kwh)
        g = topo.grid_node
        np.maximum.at(lo, g[~iz], topo.import_price[~iz])
        np.minimum.at(hi, g[~ifull], topo.import_price[~ifull])
        np.maximum.at(lo, g[~efull], topo.export_price[~efull])
        np.minimum.at(hi, g[~ez], topo.export_price[~ez])
    return lo, hi


def line_states(topo: Topology, flow: FloatArray) -> tuple[BoolArray, BoolArray, BoolArray]:
    """(strictly inside its limit, at +limit, at −limit); a zero-limit line is at both."""
    limit = topo.line_limit_kwh
    tol = 1e-9 * np.maximum(1.0, limit)
    pos = flow >= limit - tol
    neg = flow <= -limit + tol
    return ~(pos | neg), pos, neg


def _pick(low: float, high: float, anchor: float | None) -> float:
    if anchor is None:
        if math.isfinite(low) and math.isfinite(high):
            return 0.5 * (low + high)
        if math.isfinite(low):
            return low
        if math.isfinite(high):
            return high
        return 0.0
    return min(max(anchor, low), high) if low <= high else high


# --------------------------------------------------------------------------------------
# Transport model (radial feeders, or lines without reactances): zones and difference
# constraints price(u) ≤ price(v).


def _components(n: int, a: list[int], b: list[int]) -> np.ndarray:
    """Connected components (union-find), numbered by their smallest node."""
    root = list(range(n))

    def find(u: int) -> int:
        while root[u] != u:
            root[u] = root[root[u]]
            u = root[u]
        return u

    for u, v in zip(a, b, strict=True):
        ru, rv = find(u), find(v)
        if ru != rv:
            root[max(ru, rv)] = min(ru, rv)
    labels = np.array([find(u) for u in range(n)], dtype=np.int64)
    _, zone = np.unique(labels, return_inverse=True)
    return zone.astype(np.int64)


def transport_prices(
    topo: Topology, lo: FloatArray, hi: FloatArray, flow: FloatArray, eps: float = 1e-9
) -> Prices:
    n = topo.n_nodes
    inside, pos, neg = line_states(topo, flow)
    zone = _components(n, topo.line_from[inside].tolist(), topo.line_to[inside].tolist())
    n_z = int(zone.max()) + 1 if n else 0
    z_lo = np.full(n_z, -INF)
    z_hi = np.full(n_z, INF)
    np.maximum.at(z_lo, zone, lo)
    np.minimum.at(z_hi, zone, hi)
    # edges u ≤ v between zones; a line at both limits (zero limit) constrains nothing
    one_way = pos ^ neg
    u = np.where(pos, zone[topo.line_from], zone[topo.line_to])[one_way]
    v = np.where(pos, zone[topo.line_to], zone[topo.line_from])[one_way]
    keep = u != v
    succ: list[list[int]] = [[] for _ in range(n_z)]
    pred: list[list[int]] = [[] for _ in range(n_z)]
    for a, b in zip(u[keep].tolist(), v[keep].tolist(), strict=True):
        succ[a].append(b)
        pred[b].append(a)
    low = z_lo.tolist()
    high = z_hi.tolist()

    def raise_low(start: int, value: float) -> None:
        stack = [start]
        while stack:
            a = stack.pop()
            for b in succ[a]:
                if low[b] < value:
                    low[b] = value
                    stack.append(b)

    def lower_high(start: int, value: float) -> None:
        stack = [start]
        while stack:
            a = stack.pop()
            for b in pred[a]:
                if high[b] > value:
                    high[b] = value
                    stack.append(b)

    for z in range(n_z):  # close the bounds over the constraint graph
        if math.isfinite(low[z]):
            raise_low(z, low[z])
        if math.isfinite(high[z]):
            lower_high(z, high[z])
    for z in range(n_z):
        if low[z] > high[z] + eps * max(1.0, abs(low[z]), abs(high[z])):
            raise PriceRuleError(f"empty price range in zone {z}: [{low[z]}, {high[z]}]")

    price = np.empty(n)
    n_low = np.empty(n)
    n_high = np.empty(n)
    fixed: dict[int, tuple[float, float, float]] = {}
    parent = topo.parent.tolist()
    for node in topo.bfs_order.tolist():
        z = int(zone[node])
        if z not in fixed:
            anchor = None if parent[node] < 0 else float(price[parent[node]])
            value = _pick(low[z], high[z], anchor)
            fixed[z] = (value, low[z], high[z])
            low[z] = high[z] = value
            raise_low(z, value)
            lower_high(z, value)
        price[node], n_low[node], n_high[node] = fixed[z]
    return Prices(price, n_low, n_high)


# --------------------------------------------------------------------------------------
# DC power flow on meshed networks: prices are affine in (λ₀ per component, ν per binding
# line); ranges come from small LPs in that low-dimensional space.


def _ptdf_rows(topo: Topology, lines: np.ndarray) -> FloatArray:
    """PTDF rows (lines × nodes) against each component's root as slack."""
    n = topo.n_nodes
    if lines.shape[0] == 0:
        return np.zeros((0, n))
    b = 1.0 / topo.reactance
    lf, lt = topo.line_from, topo.line_to
    rows = np.concatenate([lf, lt, lf, lt])
    cols = np.concatenate([lf, lt, lt, lf])
    vals = np.concatenate([b, b, -b, -b])
    lap = sp.csc_matrix((vals, (rows, cols)), shape=(n, n))
    roots = topo.parent < 0
    keep = np.flatnonzero(~roots)
    red = lap[keep][:, keep].tocsc()
    rhs = np.zeros((keep.shape[0], lines.shape[0]))
    pos = np.full(n, -1)
    pos[keep] = np.arange(keep.shape[0])
    for j, ln in enumerate(lines.tolist()):
        a, c = int(lf[ln]), int(lt[ln])
        if pos[a] >= 0:
            rhs[pos[a], j] += b[ln]
        if pos[c] >= 0:
            rhs[pos[c], j] -= b[ln]
    from scipy.sparse.linalg import splu  # DC only: keep it off the radial import path

    sol = splu(red).solve(rhs) if keep.shape[0] else rhs
    out = np.zeros((lines.shape[0], n))
    out[:, keep] = sol.T
    return out


#: Prices are PLN/kWh; a range LP reaching this bound means "unbounded on that side".
PRICE_CAP = 1e6


def _lp_extreme(
    c: FloatArray,
    var_lo: FloatArray,
    var_hi: FloatArray,
    a: FloatArray,
    a_lo: FloatArray,
    a_hi: FloatArray,
    maximize: bool,
) -> float:
    """min or max c·w over {a_lo ≤ a w ≤ a_hi, var_lo ≤ w ≤ var_hi}; ±inf when unbounded.

    GLOP reports some unbounded LPs as infeasible, so the objective itself is capped at
    ±PRICE_CAP and a value at the cap is read as unbounded."""
    a = np.vstack([a, c[None, :]])
    a_lo = np.concatenate([a_lo, [-PRICE_CAP]])
    a_hi = np.concatenate([a_hi, [PRICE_CAP]])
    out = glop.solve_lp(var_lo, var_hi, c, a_lo, a_hi, sp.csr_matrix(a), maximize=maximize)
    if not out.optimal:
        raise PriceRuleError(f"price-range LP ended {out.solve_status.name}")
    value = out.objective_value
    if abs(value) >= PRICE_CAP * (1 - 1e-9):
        return INF if value > 0 else -INF
    return value


def _lp_point(
    var_lo: FloatArray, var_hi: FloatArray, a: FloatArray, a_lo: FloatArray, a_hi: FloatArray
) -> FloatArray:
    """Any w with a_lo ≤ a w ≤ a_hi and var_lo ≤ w ≤ var_hi."""
    zero = np.zeros(a.shape[1])
    out = glop.solve_lp(var_lo, var_hi, zero, a_lo, a_hi, sp.csr_matrix(a), maximize=False)
    if not out.optimal:
        raise PriceRuleError(f"price feasibility LP ended {out.solve_status.name}")
    point: FloatArray = out.values
    return point


def dc_prices(
    topo: Topology, lo: FloatArray, hi: FloatArray, flow: FloatArray, eps: float = 1e-9
) -> Prices:
    n = topo.n_nodes
    _, pos, neg = line_states(topo, flow)
    binding = np.flatnonzero(pos | neg)
    ptdf = _ptdf_rows(topo, binding)
    n_comp = int(topo.component.max()) + 1
    dim = n_comp + binding.shape[0]
    # price(n) = coef[n] · z, z = (λ₀ per component, ν per binding line)
    coef = np.zeros((n, dim))
    coef[np.arange(n), topo.component] = 1.0
    coef[:, n_comp:] = ptdf.T
    coef[np.abs(coef) < 1e-12] = 0.0  # float dust from the LU solve upsets GLOP
    z_lo = np.full(dim, -INF)
    z_hi = np.full(dim, INF)
    only_pos = pos[binding] & ~neg[binding]
    only_neg = neg[binding] & ~pos[binding]
    z_hi[n_comp:][only_pos] = 0.0  # at +limit: ν ≤ 0
    z_lo[n_comp:][only_neg] = 0.0  # at −limit: ν ≥ 0

    # Nodes whose own steps pin their price give equalities; usually they determine z.
    width = hi - lo
    pinned = np.isfinite(width) & (width <= eps * np.maximum(1.0, np.abs(lo)))
    if (width < -eps * np.maximum(1.0, np.abs(lo))).any():
        raise PriceRuleError("a node's own orders give an empty price range")
    e_rows = coef[pinned]
    e_vals = 0.5 * (lo[pinned] + hi[pinned])
    if e_rows.shape[0]:
        z0, *_ = np.linalg.lstsq(e_rows, e_vals, rcond=None)
        if np.abs(e_rows @ z0 - e_vals).max() > 1e-6 * max(1.0, float(np.abs(e_vals).max())):
            raise PriceRuleError("pinned node prices are inconsistent")
        _, sing, vt = np.linalg.svd(e_rows, full_matrices=True)
        rank = int((sing > 1e-9 * max(1.0, float(sing.max(initial=0.0)))).sum())
        null = vt[rank:].T  # dim × r
    else:
        z0 = np.zeros(dim)
        null = np.eye(dim)
    price = coef @ z0
    n_low = price.copy()
    n_high = price.copy()
    if null.shape[1] == 0:
        return Prices(price, n_low, n_high)

    # Remaining freedom: z = z0 + N w. Fix it node by node in BFS order with small LPs.
    null[np.abs(null) < 1e-12] = 0.0
    g = coef @ null  # n × r
    g[np.abs(g) < 1e-12] = 0.0
    free = ~pinned & (np.isfinite(lo) | np.isfinite(hi))
    box = g[free]
    box_lo = lo[free] - price[free]
    box_hi = hi[free] - price[free]
    # sign constraints on z, rewritten in w: z_lo ≤ z0 + N w ≤ z_hi
    signed = np.isfinite(z_lo) | np.isfinite(z_hi)
    rows = [box, null[signed]]
    rlo = [box_lo, z_lo[signed] - z0[signed]]
    rhi = [box_hi, z_hi[signed] - z0[signed]]
    r = null.shape[1]
    w_lo = np.full(r, -INF)
    w_hi = np.full(r, INF)
    basis = np.zeros((0, r))
    fixed_rows: list[FloatArray] = []
    fixed_vals: list[float] = []
    w = np.zeros(r)
    chosen = np.zeros(n, dtype=np.bool_)
    parent = topo.parent.tolist()
    note = ""
    deadline = time.perf_counter() + RANGE_LP_BUDGET_S
    for node in topo.bfs_order.tolist():
        row = g[node]
        resid = row - basis.T @ (basis @ row) if basis.shape[0] else row
        if np.linalg.norm(resid) <= 1e-9 * max(1.0, float(np.linalg.norm(row))):
            continue  # determined by the equalities and earlier choices
        a = np.vstack([*rows, *fixed_rows]) if fixed_rows else np.vstack(rows)
        if time.perf_counter() > deadline:
            a_lo = np.concatenate([*rlo, fixed_vals])
            a_hi = np.concatenate([*rhi, fixed_vals])
            w = _lp_point(w_lo, w_hi, a, a_lo, a_hi)
            note = (
                f"price rule: range LPs over {RANGE_LP_BUDGET_S:g} s budget; the remaining "
                "degenerate prices are one feasible optimal point"
            )
            break
        a_lo = np.concatenate([*rlo, fixed_vals])
        a_hi = np.concatenate([*rhi, fixed_vals])
        low = _lp_extreme(row, w_lo, w_hi, a, a_lo, a_hi, maximize=False) + price[node]
        high = _lp_extreme(row, w_lo, w_hi, a, a_lo, a_hi, maximize=True) + price[node]
        anchor = None
        if parent[node] >= 0:
            anchor = float(price[parent[node]] + g[parent[node]] @ w)
        value = _pick(low, high, anchor)
        n_low[node], n_high[node] = low, high
        chosen[node] = True
        fixed_rows.append(row[None, :])
        fixed_vals.append(value - price[node])
        w, *_ = np.linalg.lstsq(np.vstack(fixed_rows), np.array(fixed_vals), rcond=None)
        basis = np.vstack([basis, resid / np.linalg.norm(resid)])
        if basis.shape[0] == r:
            break
    final = price + g @ w
    rest = ~chosen
    n_low[rest] = final[rest]
    n_high[rest] = final[rest]
    return Prices(final, n_low, n_high, note)


def dc_prices_unique(
    topo: Topology, lo: FloatArray, hi: FloatArray, flow: FloatArray, eps: float = 1e-9
) -> Prices | None:
    """The common case: the equalities of complementary slackness alone fix all prices.

    Unknowns: prices λ (one per node) and κ (one per KVL cycle). Equalities: λ[n] = p for a
    node with a marginal step (or grid connection); λ_from − λ_to + Σ_c K[c, l] κ_c = 0 for a
    line strictly inside its limit (K: the KVL coefficients). When these form a nonsingular
    square system its solution is the only optimal price vector (checked against every
    inequality too); otherwise (a degenerate optimum) return None.
    """
    n = topo.n_nodes
    cyc = topo.cycles
    n_c = 0 if cyc is None else cyc.n_cycles
    inside, pos, neg = line_states(topo, flow)
    width = hi - lo
    pinned = np.flatnonzero(np.isfinite(width) & (width <= eps * np.maximum(1.0, np.abs(lo))))
    lines_in = np.flatnonzero(inside)
    if pinned.shape[0] + lines_in.shape[0] != n + n_c:
        return None
    r_pin = np.arange(pinned.shape[0])
    rows = [r_pin]
    cols = [pinned]
    vals = [np.ones(pinned.shape[0])]
    row_of_line = np.full(topo.n_lines, -1)
    row_of_line[lines_in] = pinned.shape[0] + np.arange(lines_in.shape[0])
    rows += [row_of_line[lines_in], row_of_line[lines_in]]
    cols += [topo.line_from[lines_in], topo.line_to[lines_in]]
    vals += [np.ones(lines_in.shape[0]), -np.ones(lines_in.shape[0])]
    if cyc is not None and n_c:
        sel = inside[cyc.line]
        rows.append(row_of_line[cyc.line[sel]])
        cols.append(n + cyc.row[sel])
        vals.append(cyc.coefficient[sel])
    m = sp.csc_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(n + n_c, n + n_c),
    )
    rhs = np.concatenate([0.5 * (lo[pinned] + hi[pinned]), np.zeros(lines_in.shape[0])])
    from scipy.sparse.linalg import splu

    try:
        sol = splu(m).solve(rhs)
    except RuntimeError:  # exactly singular
        return None
    if not np.isfinite(sol).all() or np.abs(m @ sol - rhs).max(initial=0.0) > 1e-7:
        return None
    lam, kappa = sol[:n], sol[n:]
    scale = max(1.0, float(np.abs(lam).max(initial=0.0)))
    tol = 1e-7 * scale
    if (lam < lo - tol).any() or (lam > hi + tol).any():
        return None
    # binding lines: reduced cost sign must match the side of the limit it sits on
    d = lam[topo.line_from] - lam[topo.line_to]
    if cyc is not None and n_c:
        np.add.at(d, cyc.line, cyc.coefficient * kappa[cyc.row])
    one_pos = pos & ~neg
    one_neg = neg & ~pos
    if (d[one_pos] > tol).any() or (d[one_neg] < -tol).any():
        return None
    return Prices(lam, lam.copy(), lam.copy())


def choose_prices(
    topo: Topology,
    steps: Steps,
    x: FloatArray,
    flow: FloatArray,
    imports: FloatArray,
    exports: FloatArray,
) -> Prices:
    lo, hi = node_bounds(topo, steps, x, imports, exports)
    if topo.dc_flow:
        unique = dc_prices_unique(topo, lo, hi, flow)
        return unique if unique is not None else dc_prices(topo, lo, hi, flow)
    return transport_prices(topo, lo, hi, flow)
