"""Nodal prices chosen by a documented, solver- and labelling-independent rule.

(Over 400 lines on purpose: the transport and DC halves share the rule, its tolerances and
the complementary-slackness bounds, and are read together against docs/clearing.md.)

The set of optimal nodal prices is the set of dual optima of the clearing LP. Complementary
slackness with the primal solution describes it:

- a step strictly between 0 and its quantity pins its node's price to its limit price; a
  fully accepted buy (rejected sell) bounds the price from above, a rejected buy (fully
  accepted sell) from below; the grid connection likewise at its import/export prices;
- transport model: a line strictly inside its limit forces equal prices at its ends; a line
  at its limit in the from → to direction allows price(to) ≥ price(from);
- DC power flow: price(n) = λ₀ + Σ_l PTDF[l, n] · ν_l over the lines at their limit, with
  ν_l ≤ 0 for a line at +limit and ν_l ≥ 0 at −limit;
- DC power flow with line fees (several intervals, `fee_per_kwh`): ν_l is minus a
  subgradient of the line's cost fee·|f| (limits included) at its flow f: −fee for a flow
  from → to inside the limit, ≤ −fee at +limit, in [−fee, fee] for a line carrying nothing,
  +fee (≥ fee at −limit) for a flow to → from. A fee-free line is the case fee = 0.

The rule: each node's **target** is the midpoint of its own range of optimal prices, clipped
to the span [P_lo, P_hi] of all limit prices in the problem (orders and grid connections), so
that an unbounded end never produces an arbitrary number; the chosen prices are the optimal
price vector closest (Euclidean) to the targets. In the transport model the set of optimal
prices is a lattice (closed under element-wise min and max), so the targets themselves are
optimal and each node gets exactly its target; in DC power flow they usually are too (or the
optimum is unique), and otherwise a small exact least-squares problem projects them. Nothing
depends on the order or the names of nodes, lines or orders, and no clock is involved.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from matching import glop
from matching.flows import dense_labels
from matching.network import Topology
from matching.problem import BoolArray, FloatArray
from matching.steps import Steps

if TYPE_CHECKING:
    import scipy.sparse as sp

INF = math.inf


class PriceRuleError(RuntimeError):
    """The documented rule could not be applied (the complementary-slackness description
    came out empty, or the projection did not converge): the result is not published as
    optimal."""


@dataclass(frozen=True, slots=True, eq=False)
class Prices:
    price: FloatArray
    low: FloatArray
    high: FloatArray
    note: str = ""
    #: DC power flow: each line's dual with these prices (non-zero only at a limit); a line
    #: with a non-zero dual is at that limit in every optimal solution. None: transport.
    line_dual: FloatArray | None = None


def at_bounds(value: FloatArray, upper: FloatArray) -> tuple[BoolArray, BoolArray]:
    """(at zero, at upper bound). Exact comparisons: `matching.solve` has already moved
    values within float dust of a bound onto it (in absolute kWh)."""
    return value <= 0.0, value >= upper


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
    """(strictly inside its limit, at +limit, at −limit); a zero-limit line is at both.
    Exact comparisons, as in `at_bounds`."""
    limit = topo.line_limit_kwh
    pos = flow >= limit
    neg = flow <= -limit
    return ~(pos | neg), pos, neg


@dataclass(frozen=True, slots=True, eq=False)
class LineDuals:
    """What complementary slackness says about each line's dual ν (DC power flow): `fixed`
    lines have ν = `value` (a fee-free line inside its limit: 0; a fee line carrying energy
    inside its limit: −fee from → to, +fee to → from); the others (`varies`) have ν in
    [`lo`, `hi`] (at +limit: ≤ −fee; at −limit: ≥ fee; a fee line carrying nothing:
    [−fee, fee]; a zero limit: free)."""

    fixed: BoolArray
    value: FloatArray
    varies: BoolArray
    lo: FloatArray
    hi: FloatArray


def line_duals(topo: Topology, flow: FloatArray, fee: FloatArray | None) -> LineDuals:
    """The lines' dual bounds from their flows (exact comparisons, as in `line_states`)."""
    inside, pos, neg = line_states(topo, flow)
    f = np.zeros(topo.n_lines) if fee is None else fee
    idle = inside & (f > 0) & (flow == 0.0)
    fixed = inside & ~idle
    value = np.where(fixed & (f > 0), -np.sign(flow) * f, 0.0)
    lo = np.full(topo.n_lines, -INF)
    hi = np.full(topo.n_lines, INF)
    only_pos, only_neg = pos & ~neg, neg & ~pos
    hi[only_pos] = 0.0 - f[only_pos]  # (0.0 − 0.0 is +0.0: fee-free bounds as before)
    lo[only_neg] = f[only_neg]
    lo[idle] = 0.0 - f[idle]
    hi[idle] = f[idle]
    return LineDuals(fixed, value, ~fixed, lo, hi)


def price_span(topo: Topology, steps: Steps) -> tuple[float, float]:
    """[P_lo, P_hi]: the lowest and highest limit price in the problem (0, 0 if none)."""
    prices = np.concatenate([steps.price, topo.import_price, topo.export_price])
    if prices.shape[0] == 0:
        return 0.0, 0.0
    return float(prices.min()), float(prices.max())


def targets(low: FloatArray, high: FloatArray, span: tuple[float, float]) -> FloatArray:
    """Midpoint of each range clipped to the span; a range entirely outside the span gives
    its end nearest to it."""
    p_lo, p_hi = span
    a = np.maximum(low, p_lo)
    b = np.minimum(high, p_hi)
    mid = 0.5 * (a + b)
    out: FloatArray = np.where(a <= b, mid, np.where(high < p_lo, high, low))
    return out


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
    return dense_labels([find(u) for u in range(n)])


def transport_prices(
    topo: Topology,
    lo: FloatArray,
    hi: FloatArray,
    flow: FloatArray,
    span: tuple[float, float],
    eps: float = 1e-9,
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
        if low[z] > high[z]:
            if low[z] > high[z] + eps * max(1.0, abs(low[z]), abs(high[z])):
                raise PriceRuleError(f"empty price range in a zone: [{low[z]}, {high[z]}]")
            low[z] = high[z] = 0.5 * (low[z] + high[z])  # float dust

    # The optimal prices form a lattice: the least and the greatest optimal vectors are
    # `low` and `high`, node by node, so the midpoint of (clipped) ranges is itself optimal.
    z_low = np.array(low)
    z_high = np.array(high)
    target = targets(z_low, z_high, span)
    return Prices(target[zone], z_low[zone], z_high[zone])


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
    import scipy.sparse as sp  # DC only: keep scipy off the radial import path

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


#: A range LP GLOP's dual simplex does not solve is tried again with these (parameters,
#: solver): GLOP's primal without presolve, without scaling, then HiGHS.
_RANGE_RETRIES = (
    ("use_dual_simplex: false, use_preprocessing: false", "glop"),
    ("use_dual_simplex: true, use_preprocessing: false, use_scaling: false", "glop"),
    ("output_flag=false", "highs"),
)


def _solve_or_retry(
    var_lo: FloatArray,
    var_hi: FloatArray,
    c: FloatArray,
    a_lo: FloatArray,
    a_hi: FloatArray,
    matrix: Any,
    maximize: bool,
) -> glop.LpOutcome:
    """A price rule's small LP with GLOP's default set-up, then `_RANGE_RETRIES` until one
    ends optimal (GLOP ended abnormal with every set-up on meshed DC days of 92-100
    quarter-hours, outside checker check12b; only values and the objective are read after
    HiGHS, never duals)."""
    out = glop.solve_lp(var_lo, var_hi, c, a_lo, a_hi, matrix, maximize=maximize)
    for parameters, solver in _RANGE_RETRIES:
        if out.optimal:
            break
        out = glop.solve_lp(
            var_lo, var_hi, c, a_lo, a_hi, matrix, maximize=maximize,
            parameters=parameters, solver_name=solver,
        )  # fmt: skip
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
    """min or max c·w over {a_lo ≤ a w ≤ a_hi, var_lo ≤ w ≤ var_hi}; ±inf when unbounded.

    GLOP reports some unbounded LPs as infeasible, so the objective itself is capped at
    ±PRICE_CAP and a value at the cap is read as unbounded."""
    a = np.vstack([a, c[None, :]])
    a_lo = np.concatenate([a_lo, [-PRICE_CAP]])
    a_hi = np.concatenate([a_hi, [PRICE_CAP]])
    out = _solve_or_retry(var_lo, var_hi, c, a_lo, a_hi, _sparse(a), maximize)
    if not out.optimal:
        raise PriceRuleError(f"price-range LP ended {out.solve_status.name}")
    value = out.objective_value
    if abs(value) >= PRICE_CAP * (1 - 1e-9):
        return INF if value > 0 else -INF
    return value


def _extremes_warm(
    dirs: FloatArray,
    var_lo: FloatArray,
    var_hi: FloatArray,
    a: FloatArray,
    a_lo: FloatArray,
    a_hi: FloatArray,
) -> tuple[FloatArray, FloatArray]:
    """min and max of each row of `dirs` · w over {a_lo ≤ a w ≤ a_hi, var_lo ≤ w ≤ var_hi}
    (±inf when unbounded): the same numbers as `_lp_extreme` per direction, from one GLOP
    model re-solved with only its objective changed (primal simplex from the last basis).

    Each direction k is a free column y_k = dirs[k] · w, capped at ±PRICE_CAP only while it
    is the objective (a value at the cap reads as unbounded, as in `_lp_extreme`; capping
    the others too would bound a direction by theirs), so the matrix never changes between
    solves.
    Used when line fees make the ranges' polytopes many-dimensional (an idle fee line adds a
    direction); the fee-free rule keeps `_lp_extreme`, bit for bit as before."""
    # OR-Tools ships no stubs for these two modules
    from ortools.linear_solver import (  # type: ignore[attr-defined]
        linear_solver_pb2,
        pywraplp,
    )

    r = a.shape[1]
    k_n = dirs.shape[0]
    proto: Any = linear_solver_pb2.MPModelProto()
    for lo_j, hi_j in zip(var_lo.tolist(), var_hi.tolist(), strict=True):
        v = proto.variable.add()
        v.lower_bound, v.upper_bound = lo_j, hi_j
    for _ in range(k_n):  # capped only while it is the objective
        v = proto.variable.add()
        v.lower_bound, v.upper_bound = -INF, INF
    for i in range(a.shape[0]):
        cols = np.flatnonzero(a[i])
        c = proto.constraint.add()
        c.lower_bound, c.upper_bound = float(a_lo[i]), float(a_hi[i])
        c.var_index.extend(cols.tolist())
        c.coefficient.extend(a[i, cols].tolist())
    for k in range(k_n):
        cols = np.flatnonzero(dirs[k])
        c = proto.constraint.add()
        c.lower_bound = c.upper_bound = 0.0
        c.var_index.extend([*cols.tolist(), r + k])
        c.coefficient.extend([*dirs[k, cols].tolist(), -1.0])
    solver: Any = pywraplp.Solver.CreateSolver("GLOP")
    error = solver.LoadModelFromProto(proto)
    if error:
        raise PriceRuleError(f"price-range LP not loaded: {error}")
    solver.SetSolverSpecificParametersAsString("use_dual_simplex: false, use_preprocessing: false")
    objective = solver.Objective()
    lows = np.empty(k_n)
    highs = np.empty(k_n)
    prev: Any = None
    for k in range(k_n):
        y = solver.variable(r + k)
        if prev is not None:
            objective.SetCoefficient(prev, 0.0)
            prev.SetBounds(-solver.infinity(), solver.infinity())
        objective.SetCoefficient(y, 1.0)
        y.SetBounds(-PRICE_CAP, PRICE_CAP)
        prev = y
        for maximize, out in ((False, lows), (True, highs)):
            if maximize:
                objective.SetMaximization()
            else:
                objective.SetMinimization()
            status = solver.Solve()
            if status != pywraplp.Solver.OPTIMAL:
                # the warm re-solve ended abnormal (a meshed DC network over 100 quarter
                # hours, outside checker check12b): this direction alone, cold, as
                # `_lp_extreme` (the same value; it raises if that fails too)
                out[k] = _lp_extreme(dirs[k], var_lo, var_hi, a, a_lo, a_hi, maximize)
                continue
            value = float(objective.Value())
            if abs(value) >= PRICE_CAP * (1 - 1e-9):
                value = INF if value > 0 else -INF
            out[k] = value
    return lows, highs


def _sparse(a: FloatArray) -> glop.Csr | sp.csr_matrix:
    """A dense matrix's nonzeros as GLOP's constraint matrix (as `scipy.sparse.csr_matrix(a)`
    would give them, without importing scipy for a small one)."""
    rows, cols = np.nonzero(a)
    return glop.csr_from_coo(a[rows, cols], rows, cols, (a.shape[0], a.shape[1]))


def _lp_point(
    var_lo: FloatArray, var_hi: FloatArray, a: FloatArray, a_lo: FloatArray, a_hi: FloatArray
) -> FloatArray:
    """Any w with a_lo ≤ a w ≤ a_hi and var_lo ≤ w ≤ var_hi."""
    zero = np.zeros(a.shape[1])
    out = _solve_or_retry(var_lo, var_hi, zero, a_lo, a_hi, _sparse(a), False)
    if not out.optimal:
        raise PriceRuleError(f"price feasibility LP ended {out.solve_status.name}")
    point: FloatArray = out.values
    return point


def dc_prices(
    topo: Topology,
    lo: FloatArray,
    hi: FloatArray,
    flow: FloatArray,
    span: tuple[float, float],
    eps: float = 1e-9,
    fee: FloatArray | None = None,
) -> Prices:
    n = topo.n_nodes
    ld = line_duals(topo, flow, fee)
    binding = np.flatnonzero(ld.varies)
    carried = np.flatnonzero(ld.fixed & (ld.value != 0.0))
    if carried.shape[0]:  # one LU solve for both sets of rows
        both = _ptdf_rows(topo, np.concatenate([binding, carried]))
        ptdf, ptdf_carried = both[: binding.shape[0]], both[binding.shape[0] :]
    else:
        ptdf = _ptdf_rows(topo, binding)
    n_comp = int(topo.component.max()) + 1
    dim = n_comp + binding.shape[0]
    # price(n) = coef[n] · z + offset[n], z = (λ₀ per component, ν per line whose ν varies);
    # offset: the fee lines carrying energy inside their limits (ν = ∓fee)
    coef = np.zeros((n, dim))
    coef[np.arange(n), topo.component] = 1.0
    coef[:, n_comp:] = ptdf.T
    coef[np.abs(coef) < 1e-12] = 0.0  # float dust from the LU solve upsets GLOP
    offset: FloatArray | None = None
    if carried.shape[0]:
        offset = ptdf_carried.T @ ld.value[carried]
        offset[np.abs(offset) < 1e-12 * float(np.abs(ld.value).max())] = 0.0
    z_lo = np.full(dim, -INF)
    z_hi = np.full(dim, INF)
    z_lo[n_comp:] = ld.lo[binding]  # at +limit: ν ≤ −fee (≤ 0 without a fee)
    z_hi[n_comp:] = ld.hi[binding]  # at −limit: ν ≥ fee; carrying nothing: |ν| ≤ fee

    # Nodes whose own steps pin their price give equalities; usually they determine z.
    width = hi - lo
    pinned = np.isfinite(width) & (width <= eps * np.maximum(1.0, np.abs(lo)))
    if (width < -eps * np.maximum(1.0, np.abs(lo))).any():
        raise PriceRuleError("a node's own orders give an empty price range")
    e_rows = coef[pinned]
    e_vals = 0.5 * (lo[pinned] + hi[pinned])
    if offset is not None:
        e_vals = e_vals - offset[pinned]
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
    if offset is not None:
        price = price + offset

    def duals(z: np.ndarray) -> FloatArray:
        out = np.zeros(topo.n_lines)
        out[binding] = z[n_comp:]
        out[carried] = ld.value[carried]
        return out

    if null.shape[1] == 0:
        return Prices(price, price.copy(), price.copy(), line_dual=duals(z0))

    # Remaining freedom: z = z0 + N w, price = price0 + g w, w in a polytope.
    null[np.abs(null) < 1e-12] = 0.0
    g = coef @ null  # n × r
    g[np.abs(g) < 1e-12] = 0.0
    free = ~pinned & (np.isfinite(lo) | np.isfinite(hi))
    signed = np.isfinite(z_lo) | np.isfinite(z_hi)
    a = np.vstack([g[free], null[signed]])
    a_lo = np.concatenate([lo[free] - price[free], z_lo[signed] - z0[signed]])
    a_hi = np.concatenate([hi[free] - price[free], z_hi[signed] - z0[signed]])
    r = null.shape[1]
    w_lo = np.full(r, -INF)
    w_hi = np.full(r, INF)

    # Each node's own range: two small LPs per distinct direction g[n] (none where g[n] = 0).
    n_low = price.copy()
    n_high = price.copy()
    moving = np.flatnonzero(np.abs(g).max(axis=1) > 0)
    extremes: dict[bytes, tuple[float, float]] = {}
    if fee is not None and moving.shape[0]:  # one warm GLOP for every direction
        keys: dict[bytes, int] = {}
        for node in moving.tolist():
            keys.setdefault(g[node].tobytes(), node)
        firsts = list(keys.values())
        lows, highs = _extremes_warm(g[firsts], w_lo, w_hi, a, a_lo, a_hi)
        for key, lw, hg in zip(keys, lows.tolist(), highs.tolist(), strict=True):
            extremes[key] = (lw, hg)
    for node in moving.tolist():
        key = g[node].tobytes()
        if key not in extremes:
            extremes[key] = (
                _lp_extreme(g[node], w_lo, w_hi, a, a_lo, a_hi, maximize=False),
                _lp_extreme(g[node], w_lo, w_hi, a, a_lo, a_hi, maximize=True),
            )
        low, high = extremes[key]
        n_low[node] = price[node] + low
        n_high[node] = price[node] + high
    target = targets(n_low, n_high, span)
    w0 = _lp_point(w_lo, w_hi, a, a_lo, a_hi)
    if moving.shape[0] == 0:
        return Prices(price, n_low, n_high, line_dual=duals(z0 + null @ w0))
    # The optimal price vector nearest to the targets: min ‖g w − (target − price0)‖² over
    # the polytope (unique in prices; exact active-set steps from a feasible start).
    w = _nearest(g[moving], target[moving] - price[moving], a, a_lo, a_hi, w0)
    final = price + g @ w
    # the chosen price lies in its range up to float dust; keep the report consistent
    final = np.clip(final, n_low, n_high)
    return Prices(final, n_low, n_high, line_dual=duals(z0 + null @ w))


def _nearest(
    h: FloatArray,
    d: FloatArray,
    c: FloatArray,
    c_lo: FloatArray,
    c_hi: FloatArray,
    w: FloatArray,
) -> FloatArray:
    """min ½‖h w − d‖² subject to c_lo ≤ c w ≤ c_hi, from the feasible point `w`.

    A primal active-set method: each step solves an equality-constrained least-squares
    problem on the working set (SVD null space, numpy's lstsq), moves as far as the
    constraints allow, and drops a constraint whose multiplier has the wrong sign. The
    number of steps is bounded (a count, not a clock); beyond it the rule is reported as
    not applied."""
    m, r = c.shape
    work: dict[int, int] = {}  # constraint → −1 at its lower end, +1 at its upper end
    scale = 1.0 + float(np.abs(d).max(initial=0.0))
    for _ in range(50 + 4 * (m + r)):
        rows = sorted(work)
        if rows:
            _, sing, vt = np.linalg.svd(c[rows], full_matrices=True)
            rank = int((sing > 1e-10 * max(1.0, float(sing.max(initial=0.0)))).sum())
            z = vt[rank:].T
        else:
            z = np.eye(r)
        resid = d - h @ w
        if z.shape[1]:
            y, *_ = np.linalg.lstsq(h @ z, resid, rcond=None)
            step = z @ y
        else:
            step = np.zeros(r)
        if np.abs(h @ step).max(initial=0.0) <= 1e-12 * scale:
            grad = h.T @ (h @ w - d)  # ∇ of ½‖h w − d‖²
            if not rows:
                return w
            mult, *_ = np.linalg.lstsq(c[rows].T, grad, rcond=None)
            # optimal when ∇ = Σ μ_i c_i with μ_i ≥ 0 at a lower end, ≤ 0 at an upper end
            wrong = np.array([mult[k] * -work[i] for k, i in enumerate(rows)])
            worst = int(np.argmin(wrong))
            if wrong[worst] >= -1e-12 * scale:
                return w
            del work[rows[worst]]
            continue
        moved = c @ step
        now = c @ w
        alpha = 1.0
        block = -1
        side = 0
        for i in np.flatnonzero(np.abs(moved) > 1e-15).tolist():
            if i in work:
                continue
            if moved[i] > 0 and math.isfinite(c_hi[i]):
                t = max(0.0, (c_hi[i] - now[i]) / moved[i])
                if t < alpha:
                    alpha, block, side = t, i, 1
            elif moved[i] < 0 and math.isfinite(c_lo[i]):
                t = max(0.0, (c_lo[i] - now[i]) / moved[i])
                if t < alpha:
                    alpha, block, side = t, i, -1
        w = w + alpha * step
        if block >= 0:
            work[block] = side
    raise PriceRuleError("the projection onto the optimal prices did not converge")


def dc_prices_unique(
    topo: Topology,
    lo: FloatArray,
    hi: FloatArray,
    flow: FloatArray,
    eps: float = 1e-9,
    fee: FloatArray | None = None,
) -> Prices | None:
    """The common case: the equalities of complementary slackness alone fix all prices.

    Unknowns: prices λ (one per node) and κ (one per KVL cycle). Equalities: λ[n] = p for a
    node with a marginal step (or grid connection); λ_from − λ_to + Σ_c K[c, l] κ_c = ν_l for
    a line whose dual ν_l is fixed (`line_duals`: 0 for a fee-free line strictly inside its
    limit, ∓fee for a fee line carrying energy inside it; K: the KVL coefficients). When these
    form a nonsingular square system its solution is the only optimal price vector (checked
    against every inequality too); otherwise (a degenerate optimum) return None.
    """
    n = topo.n_nodes
    cyc = topo.cycles
    n_c = 0 if cyc is None else cyc.n_cycles
    ld = line_duals(topo, flow, fee)
    inside = ld.fixed
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
    import scipy.sparse as sp

    m = sp.csc_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(n + n_c, n + n_c),
    )
    rhs = np.concatenate([0.5 * (lo[pinned] + hi[pinned]), ld.value[lines_in]])
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
    # the other lines: their dual must lie in its range (at +limit ≤ −fee, at −limit ≥ fee,
    # a fee line carrying nothing within ±fee)
    d = lam[topo.line_from] - lam[topo.line_to]
    if cyc is not None and n_c:
        np.add.at(d, cyc.line, cyc.coefficient * kappa[cyc.row])
    other = ld.varies
    if (d[other] > ld.hi[other] + tol).any() or (d[other] < ld.lo[other] - tol).any():
        return None
    return Prices(lam, lam.copy(), lam.copy(), line_dual=np.where(inside, ld.value, d))


def choose_prices(
    topo: Topology,
    steps: Steps,
    x: FloatArray,
    flow: FloatArray,
    imports: FloatArray,
    exports: FloatArray,
    fee: FloatArray | None = None,
) -> Prices:
    """The documented rule's prices and ranges. `fee` (per line, PLN/kWh; several intervals
    with DC power flow only) adds the lines' fees to the complementary-slackness description;
    None, or all zero, is the fee-free rule."""
    lo, hi = node_bounds(topo, steps, x, imports, exports)
    span = price_span(topo, steps)
    if fee is not None and not (fee > 0).any():
        fee = None
    if topo.dc_flow:
        unique = dc_prices_unique(topo, lo, hi, flow, fee=fee)
        return unique if unique is not None else dc_prices(topo, lo, hi, flow, span, fee=fee)
    if fee is not None:
        raise PriceRuleError("line fees with the transport model: matching.multi.prices")
    return transport_prices(topo, lo, hi, flow, span)
