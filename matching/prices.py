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
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from ortools.linear_solver.python import model_builder_helper as mbh

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


def transport_prices(
    topo: Topology, lo: FloatArray, hi: FloatArray, flow: FloatArray, eps: float = 1e-9
) -> Prices:
    n = topo.n_nodes
    inside, pos, neg = line_states(topo, flow)
    if topo.n_lines:
        g = sp.coo_matrix(
            (np.ones(int(inside.sum())), (topo.line_from[inside], topo.line_to[inside])),
            shape=(n, n),
        )
        _, zone = sp.csgraph.connected_components(g, directed=False)
    else:
        zone = np.arange(n)
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
    sol = spla.splu(red).solve(rhs) if keep.shape[0] else rhs
    out = np.zeros((lines.shape[0], n))
    out[:, keep] = sol.T
    return out


def _lp_extreme(
    c: FloatArray,
    var_lo: FloatArray,
    var_hi: FloatArray,
    a: FloatArray,
    a_lo: FloatArray,
    a_hi: FloatArray,
    maximize: bool,
) -> float:
    helper = mbh.ModelBuilderHelper()
    helper.fill_model_from_sparse_data(var_lo, var_hi, c, a_lo, a_hi, sp.csr_matrix(a))
    helper.set_maximize(maximize)
    solver = mbh.ModelSolverHelper("glop")
    solver.solve(helper)
    status = solver.status()
    if status == mbh.SolveStatus.OPTIMAL:
        return float(solver.objective_value())
    if status == mbh.SolveStatus.UNBOUNDED:
        return INF if maximize else -INF
    raise PriceRuleError(f"price-range LP ended {status.name}")


def dc_prices(topo: Topology, lo: FloatArray, hi: FloatArray, flow: FloatArray) -> Prices:
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
    var_lo = np.full(dim, -INF)
    var_hi = np.full(dim, INF)
    only_pos = pos[binding] & ~neg[binding]
    only_neg = neg[binding] & ~pos[binding]
    var_hi[n_comp:][only_pos] = 0.0  # at +limit: ν ≤ 0
    var_lo[n_comp:][only_neg] = 0.0  # at −limit: ν ≥ 0
    finite = np.isfinite(lo) | np.isfinite(hi)
    box = coef[finite]
    box_lo, box_hi = lo[finite], hi[finite]

    fixed_rows: list[FloatArray] = []
    fixed_vals: list[float] = []
    basis = np.zeros((0, dim))
    price = np.full(n, np.nan)
    n_low = np.empty(n)
    n_high = np.empty(n)
    chosen = np.zeros(n, dtype=np.bool_)
    parent = topo.parent.tolist()
    for node in topo.bfs_order.tolist():
        row = coef[node]
        resid = row - basis.T @ (basis @ row) if basis.shape[0] else row
        if np.linalg.norm(resid) <= 1e-9 * max(1.0, float(np.linalg.norm(row))):
            continue  # already determined by earlier choices
        a = np.vstack([box, *fixed_rows]) if fixed_rows else box
        a_lo = np.concatenate([box_lo, fixed_vals])
        a_hi = np.concatenate([box_hi, fixed_vals])
        low = _lp_extreme(row, var_lo, var_hi, a, a_lo, a_hi, maximize=False)
        high = _lp_extreme(row, var_lo, var_hi, a, a_lo, a_hi, maximize=True)
        anchor = None if parent[node] < 0 else _value_of(coef[parent[node]], fixed_rows, fixed_vals)
        value = _pick(low, high, anchor)
        price[node], n_low[node], n_high[node] = value, low, high
        chosen[node] = True
        fixed_rows.append(row[None, :])
        fixed_vals.append(value)
        unit = resid / np.linalg.norm(resid)
        basis = np.vstack([basis, unit])
    if fixed_rows:
        z, *_ = np.linalg.lstsq(np.vstack(fixed_rows), np.array(fixed_vals), rcond=None)
    else:
        z = np.zeros(dim)
    rest = ~chosen
    price[rest] = coef[rest] @ z
    n_low[rest] = price[rest]
    n_high[rest] = price[rest]
    return Prices(price, n_low, n_high)


def _value_of(row: FloatArray, rows: list[FloatArray], vals: list[float]) -> float:
    z, *_ = np.linalg.lstsq(np.vstack(rows), np.array(vals), rcond=None)
    return float(row @ z)


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
        return dc_prices(topo, lo, hi, flow)
    return transport_prices(topo, lo, hi, flow)
