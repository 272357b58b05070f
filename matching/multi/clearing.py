"""`clear(problem) -> MultiResult`: several intervals at once, with storage, block orders
and line fees (docs/clearing.md, "Several intervals").

aggregate orders into steps per interval → (blocks: solve the MIP, fix the block decisions,
price by the LP rule, reject the worst paradoxically accepted block, repeat) → the final LP
with GLOP → prices per (node, interval) → pro rata to orders → check → trades per interval.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from matching import glop
from matching.multi.model import MultiModel, block_balance, build, net_flow
from matching.multi.prices import StepsAt, bounds, line_constraints, transport_prices
from matching.multi.problem import MultiProblem
from matching.network import Topology, build_topology
from matching.prices import PriceRuleError, choose_prices
from matching.problem import (
    ClearingProblem,
    FloatArray,
    Interval,
    OrderBook,
)
from matching.result import GRID, Status, Trades, empty_trades
from matching.solve import clean, rows_hold
from matching.steps import Steps, aggregate, allocate_pro_rata
from matching.trades import Items, build_trades

#: Feasibility tolerance of the final checks (kWh), plus RELATIVE of what passes.
FEASIBILITY_KWH = 1e-6
RELATIVE = 1e-12
#: A block loses money at the published prices when its surplus is below −this (PLN),
#: relative to its value.
SURPLUS_TOL = 1e-7
#: The MIP solver for block orders (measured: docs/benchmarks.md).
MIP_SOLVER = "scip"
#: GLOP's row duals π give reduced costs c − Aᵀπ: the price of a node-interval is −π of
#: its balance row (a buy step's reduced cost is its price minus the node's price).
DUAL_SIGN = 1.0


@dataclass(frozen=True, slots=True, eq=False)
class MultiResult:
    status: Status
    reason: str
    accepted_kwh: FloatArray  # per order
    block_ratio: FloatArray
    block_surplus: FloatArray
    block_paradox: np.ndarray  # paradoxically rejected
    charge_kwh: FloatArray  # (S, T)
    discharge_kwh: FloatArray
    soc_kwh: FloatArray
    storage_profit: FloatArray
    price: FloatArray  # (T, N)
    price_low: FloatArray
    price_high: FloatArray
    flow_kwh: FloatArray  # (T, L)
    line_fee: FloatArray  # (T, L) PLN
    import_kwh: FloatArray  # (G, T)
    export_kwh: FloatArray
    welfare: float
    congestion_rent: float
    fees: float
    trades: tuple[Trades, ...]  # per interval; owners: see `owner_kind`
    timings: dict[str, float]
    flow_model: str

    @property
    def ok(self) -> bool:
        return self.status is Status.OPTIMAL


def _ms(t0: float) -> float:
    return (time.perf_counter() - t0) * 1000.0


def topology(problem: MultiProblem) -> Topology:
    empty = OrderBook((), np.zeros(0, np.int64), np.zeros(0, np.bool_), np.zeros(0), np.zeros(0))
    single = ClearingProblem(Interval(problem.starts[0], problem.minutes), problem.network, empty)
    return build_topology(single)


def order_steps(problem: MultiProblem) -> tuple[OrderBook, Steps]:
    o = problem.orders
    book = OrderBook(
        o.ids, o.interval * problem.n_nodes + o.node, o.is_buy, o.quantity_kwh, o.price
    )
    return book, aggregate(book)


def failed(
    problem: MultiProblem, status: Status, reason: str, timings: dict[str, float]
) -> MultiResult:
    t_n, n = problem.n_intervals, problem.n_nodes
    n_l, n_g, n_s = (
        len(problem.network.lines),
        len(problem.network.grid_connections),
        len(problem.storage),
    )
    n_b = len(problem.blocks)
    nan = np.full((t_n, n), np.nan)
    z = np.zeros
    return MultiResult(
        status=status,
        reason=reason,
        accepted_kwh=z(len(problem.orders)),
        block_ratio=z(n_b),
        block_surplus=np.full(n_b, np.nan),
        block_paradox=z(n_b, dtype=np.bool_),
        charge_kwh=z((n_s, t_n)),
        discharge_kwh=z((n_s, t_n)),
        soc_kwh=z((n_s, t_n)),
        storage_profit=z(n_s),
        price=nan,
        price_low=nan.copy(),
        price_high=nan.copy(),
        flow_kwh=z((t_n, n_l)),
        line_fee=z((t_n, n_l)),
        import_kwh=z((n_g, t_n)),
        export_kwh=z((n_g, t_n)),
        welfare=0.0,
        congestion_rent=0.0,
        fees=0.0,
        trades=tuple(empty_trades() for _ in range(t_n)),
        timings=timings,
        flow_model=_flow_model(problem),
    )


def _flow_model(problem: MultiProblem) -> str:
    return "dc" if problem.network.uses_dc_flow else "transport"


class _OutOfTime(Exception):
    pass


@dataclass(frozen=True, slots=True, eq=False)
class _Lp:
    model: MultiModel
    values: FloatArray
    duals: FloatArray
    reason: str


def _solve_lp(model: MultiModel, dc: bool, left: float | None) -> tuple[Status, str, _Lp | None]:
    base = glop.DC if dc else glop.TRANSPORT
    tries = (
        base,
        base + ", primal_feasibility_tolerance: 1e-12, dual_feasibility_tolerance: 1e-12",
        "use_dual_simplex: false, use_preprocessing: true",
    )
    t0 = time.perf_counter()
    reason = ""
    for k, params in enumerate(tries):
        lim = None if left is None else left - (time.perf_counter() - t0)
        if lim is not None and lim <= 0:
            return Status.TIME_LIMIT, "time limit reached while solving", None
        out = glop.solve_lp(
            model.lower,
            model.upper,
            model.objective,
            model.row_lower,
            model.row_upper,
            model.matrix,
            maximize=True,
            parameters=params,
            time_limit_s=lim,
        )
        reason = out.reason
        if out.optimal:
            values = clean(out.values, model.lower, model.upper)
            if rows_hold(_as_lin(model), values):
                if k:
                    reason += f" (after {k} stricter re-solve{'s' if k > 1 else ''})"
                return Status.OPTIMAL, reason, _Lp(model, values, out.duals, reason)
            continue
        raw = out.solve_status
        if raw == glop.mbh.SolveStatus.INFEASIBLE:
            return Status.INFEASIBLE, reason, None
        if lim is not None and time.perf_counter() - t0 >= 0.9 * lim:
            return Status.TIME_LIMIT, reason, None
    return Status.ERROR, reason, None


def _as_lin(model: MultiModel) -> Any:
    return model  # rows_hold only reads matrix, row_lower, row_upper


def _solve_mip(model: MultiModel, left: float | None) -> tuple[Status, str, FloatArray]:
    helper = glop.mbh.ModelBuilderHelper()
    helper.fill_model_from_sparse_data(
        model.lower, model.upper, model.objective, model.row_lower, model.row_upper, model.matrix
    )
    for j in model.integer.tolist():
        helper.set_var_integrality(j, True)
    helper.set_maximize(True)
    solver = glop.mbh.ModelSolverHelper(MIP_SOLVER)
    solver.enable_output(False)
    if MIP_SOLVER == "scip":
        solver.set_solver_specific_parameters(
            "limits/gap = 0\nrandomization/randomseedshift = 0\nparallel/maxnthreads = 1"
        )
    if left is not None:
        solver.set_time_limit_in_seconds(max(left, 1e-3))
    solver.solve(helper)
    raw = solver.status()
    reason = f"{MIP_SOLVER.upper()}: {raw.name.lower()}"
    if raw != glop.mbh.SolveStatus.OPTIMAL:
        if raw == glop.mbh.SolveStatus.INFEASIBLE:
            return Status.INFEASIBLE, reason, np.zeros(0)
        if left is not None:
            return Status.TIME_LIMIT, reason, np.zeros(0)
        return Status.ERROR, reason, np.zeros(0)
    return Status.OPTIMAL, reason, np.asarray(solver.variable_values(), dtype=np.float64)


def clear(problem: MultiProblem) -> MultiResult:
    """Clear all intervals at once: welfare net of line fees and storage wear, network,
    storage and block constraints, nodal prices per interval."""
    t_all = time.perf_counter()
    timings: dict[str, float] = {}
    deadline = None if problem.time_limit_s is None else t_all + problem.time_limit_s

    def left() -> float | None:
        return None if deadline is None else deadline - time.perf_counter()

    if deadline is not None and problem.time_limit_s is not None and problem.time_limit_s <= 0:
        timings["total_ms"] = _ms(t_all)
        return failed(problem, Status.TIME_LIMIT, "time limit reached before solving", timings)
    t0 = time.perf_counter()
    topo = topology(problem)
    book, steps = order_steps(problem)
    bl = problem.blocks
    n_b = len(bl)
    timings["build_ms"] = _ms(t0)
    t0 = time.perf_counter()
    reason = ""
    mip_ms = 0.0
    removed = np.zeros(n_b, dtype=np.bool_)
    rounds = 0
    while True:
        if n_b:
            t_m = time.perf_counter()
            mip = build(problem, steps, topo, None)
            lower = mip.lower.copy()
            upper = mip.upper.copy()
            ycols = mip.layout.variable("block_on").index
            upper[ycols] = np.where(removed, 0.0, 1.0)
            mip = replace(mip, lower=lower, upper=upper)
            status, m_reason, mvals = _solve_mip(mip, left())
            mip_ms += _ms(t_m)
            if status is not Status.OPTIMAL:
                timings["solve_ms"] = _ms(t0)
                timings["total_ms"] = _ms(t_all)
                return failed(problem, status, m_reason, timings)
            on = np.round(mvals[ycols]) > 0.5
            b_range = (np.where(on, bl.min_ratio, 0.0), np.where(on, 1.0, 0.0))
        else:
            on = np.zeros(0, dtype=np.bool_)
            b_range = (np.zeros(0), np.zeros(0))
        model = build(problem, steps, topo, b_range)
        status, reason, lp = _solve_lp(model, topo.dc_flow, left())
        if status is not Status.OPTIMAL or lp is None:
            timings["solve_ms"] = _ms(t0)
            timings["total_ms"] = _ms(t_all)
            return failed(problem, status, reason, timings)
        try:
            px = _prices(problem, topo, steps, lp)
        except PriceRuleError as exc:
            timings["solve_ms"] = _ms(t0)
            timings["total_ms"] = _ms(t_all)
            return failed(
                problem, Status.ERROR, f"{reason}; price rule not applied: {exc}", timings
            )
        if not n_b:
            break
        ratio = model.values(lp.values, "block")
        surplus = _block_surplus(problem, px[0], np.where(on, ratio, 1.0))
        value = np.abs(bl.price) * bl.quantity_kwh.sum(axis=1)
        losing = on & (surplus < -SURPLUS_TOL * np.maximum(1.0, value))
        if not losing.any():
            break
        # reject the worst paradoxically accepted block (ties: the first in canonical order)
        worst = _canonical_first(problem, losing, surplus)
        removed[worst] = True
        rounds += 1
        if deadline is not None and time.perf_counter() > deadline:
            timings["solve_ms"] = _ms(t0)
            timings["total_ms"] = _ms(t_all)
            return failed(
                problem, Status.TIME_LIMIT, "time limit reached applying the block rule", timings
            )
    timings["solve_ms"] = _ms(t0)
    if n_b:
        timings["mip_ms"] = mip_ms
        reason = f"{MIP_SOLVER.upper()} + {reason}"
        if rounds:
            reason += f"; {rounds} paradoxically accepted block{'s' if rounds > 1 else ''} rejected"
    return _finish(problem, topo, book, steps, lp, px, on, timings, t_all, reason, deadline)


def _canonical_first(problem: MultiProblem, mask: np.ndarray, surplus: FloatArray) -> int:
    bl = problem.blocks
    cand = np.flatnonzero(mask)
    keys = sorted(
        cand.tolist(),
        key=lambda b: (
            float(surplus[b]),
            int(bl.node[b]),
            bool(bl.is_buy[b]),
            float(bl.price[b]),
            int(bl.first_interval[b]),
            tuple(bl.quantity_kwh[b].tolist()),
            bl.ids[b],
        ),
    )
    return int(keys[0])


def _block_surplus(problem: MultiProblem, price: FloatArray, ratio: FloatArray) -> FloatArray:
    """What each block gains at the prices (T, N) with the given ratio."""
    bl = problem.blocks
    node_price = price[:, bl.node].T  # (B, T)
    gain = (bl.price[:, None] - node_price) * bl.quantity_kwh
    total = gain.sum(axis=1)
    out: FloatArray = np.where(bl.is_buy, total, -total) * ratio
    return out


def storage_steps(problem: MultiProblem, lp: _Lp) -> tuple[StepsAt, FloatArray, FloatArray]:
    """Storage as price-taking steps per interval, from the LP's state-of-charge duals."""
    st = problem.storage
    t_n, n = problem.n_intervals, problem.n_nodes
    model = lp.model
    mu = model.duals(lp.duals, "soc")  # (S·T)
    ec = np.repeat(st.efficiency_charge, t_n)
    ed = np.repeat(st.efficiency_discharge, t_n)
    p_charge = DUAL_SIGN * ec * mu
    p_discharge = np.repeat(st.cost_per_kwh, t_n) + DUAL_SIGN * mu / ed
    c = model.values(lp.values, "charge")
    d = model.values(lp.values, "discharge")
    v = (np.arange(t_n)[None, :] * n + st.node[:, None]).ravel()
    steps = StepsAt(
        node=np.concatenate([v, v]),
        is_buy=np.concatenate([np.ones(v.shape[0], np.bool_), np.zeros(v.shape[0], np.bool_)]),
        price=np.concatenate([p_charge, p_discharge]),
        quantity=np.concatenate([np.repeat(st.charge_kwh, t_n), np.repeat(st.discharge_kwh, t_n)]),
        accepted=np.concatenate([c, d]),
    )
    return steps, c, d


def _prices(
    problem: MultiProblem, topo: Topology, steps: Steps, lp: _Lp
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(price, low, high), each (T, N)."""
    t_n, n = problem.n_intervals, problem.n_nodes
    model = lp.model
    x = model.values(lp.values, "order")
    s_steps, _, _ = storage_steps(problem, lp)
    all_steps = StepsAt(
        node=np.concatenate([steps.node, s_steps.node]),
        is_buy=np.concatenate([steps.is_buy, s_steps.is_buy]),
        price=np.concatenate([steps.price, s_steps.price]),
        quantity=np.concatenate([steps.quantity_kwh, s_steps.quantity]),
        accepted=np.concatenate([x, s_steps.accepted]),
    )
    g_node = (np.arange(t_n)[None, :] * n + topo.grid_node[:, None]).ravel()
    imports = model.values(lp.values, "grid_import")
    exports = model.values(lp.values, "grid_export")
    lo, hi = bounds(
        n * t_n,
        all_steps,
        g_node,
        imports,
        problem.import_limit_kwh.ravel(),
        problem.import_price.ravel(),
        exports,
        problem.export_limit_kwh.ravel(),
        problem.export_price.ravel(),
    )
    span_lo, span_hi = _spans(problem, steps)
    if not topo.dc_flow:
        fwd, back = _directions(model, lp.values, t_n, topo.n_lines)
        base = (np.arange(t_n) * n)[:, None]
        frm = (base + topo.line_from[None, :]).ravel()
        to = (base + topo.line_to[None, :]).ravel()
        lim = np.tile(topo.line_limit_kwh, t_n)
        fee = np.tile(problem.fee_per_kwh, t_n)
        edges, ja, jb = line_constraints(frm, to, lim, fee, fwd.ravel(), back.ravel())
        sp_lo = np.repeat(span_lo, n)
        sp_hi = np.repeat(span_hi, n)
        price, low, high = transport_prices(n * t_n, lo, hi, edges, ja, jb, sp_lo, sp_hi)
        return price.reshape(t_n, n), low.reshape(t_n, n), high.reshape(t_n, n)
    if (problem.fee_per_kwh > 0).any():
        dual = -DUAL_SIGN * model.duals(lp.duals, "nodal_balance").reshape(t_n, n)
        return dual, dual.copy(), dual.copy()
    flow = net_flow(model, lp.values, t_n, topo.n_lines)
    price = np.empty((t_n, n))
    low = np.empty((t_n, n))
    high = np.empty((t_n, n))
    imp = imports.reshape(-1, t_n)
    exp = exports.reshape(-1, t_n)
    for t in range(t_n):
        sel = (all_steps.node >= t * n) & (all_steps.node < (t + 1) * n)
        st_t = Steps(
            node=all_steps.node[sel] - t * n,
            is_buy=all_steps.is_buy[sel],
            price=all_steps.price[sel],
            quantity_kwh=all_steps.quantity[sel],
            order_step=np.zeros(0, np.int64),
            canonical=np.zeros(0, np.int64),
        )
        topo_t = interval_topology(problem, topo, t)
        # span of the interval (orders and grid, as in the single interval)
        pr = choose_prices(topo_t, st_t, all_steps.accepted[sel], flow[t], imp[:, t], exp[:, t])
        price[t], low[t], high[t] = pr.price, pr.low, pr.high
    return price, low, high


def interval_topology(problem: MultiProblem, topo: Topology, t: int) -> Topology:
    return replace(
        topo,
        import_price=problem.import_price[:, t],
        export_price=problem.export_price[:, t],
        import_limit_kwh=problem.import_limit_kwh[:, t],
        export_limit_kwh=problem.export_limit_kwh[:, t],
    )


def _directions(
    model: MultiModel, values: FloatArray, t_n: int, n_l: int
) -> tuple[FloatArray, FloatArray]:
    fwd = np.zeros((t_n, n_l))
    back = np.zeros((t_n, n_l))
    f = model.values(values, "flow").reshape(t_n, -1)
    fwd[:, model.free_lines] = np.maximum(f, 0.0)
    back[:, model.free_lines] = np.maximum(-f, 0.0)
    k = model.fee_lines.shape[0]
    if k:
        fwd[:, model.fee_lines] = model.values(values, "flow_fwd").reshape(t_n, k)
        back[:, model.fee_lines] = model.values(values, "flow_back").reshape(t_n, k)
    return fwd, back


def _spans(problem: MultiProblem, steps: Steps) -> tuple[FloatArray, FloatArray]:
    """[P_lo, P_hi] per interval: the lowest and highest limit price of the interval's orders,
    running blocks and grid connections (0, 0 if none)."""
    t_n, n = problem.n_intervals, problem.n_nodes
    lo = np.full(t_n, np.inf)
    hi = np.full(t_n, -np.inf)
    t_of = steps.node // n
    np.minimum.at(lo, t_of, steps.price)
    np.maximum.at(hi, t_of, steps.price)
    bl = problem.blocks
    bb, bt = np.nonzero(bl.quantity_kwh > 0)
    np.minimum.at(lo, bt, bl.price[bb])
    np.maximum.at(hi, bt, bl.price[bb])
    if problem.import_price.shape[0]:
        lo = np.minimum(lo, problem.import_price.min(axis=0))
        lo = np.minimum(lo, problem.export_price.min(axis=0))
        hi = np.maximum(hi, problem.import_price.max(axis=0))
        hi = np.maximum(hi, problem.export_price.max(axis=0))
    none = lo > hi
    lo[none] = 0.0
    hi[none] = 0.0
    return lo, hi


def _finish(
    problem: MultiProblem,
    topo: Topology,
    book: OrderBook,
    steps: Steps,
    lp: _Lp,
    px: tuple[FloatArray, FloatArray, FloatArray],
    on: np.ndarray,
    timings: dict[str, float],
    t_all: float,
    reason: str,
    deadline: float | None,
) -> MultiResult:
    t0 = time.perf_counter()
    t_n = problem.n_intervals
    model = lp.model
    price, low, high = px
    x = model.values(lp.values, "order")
    accepted = allocate_pro_rata(book, steps, x)
    st = problem.storage
    n_s = len(st)
    c = model.values(lp.values, "charge").reshape(n_s, t_n)
    d = model.values(lp.values, "discharge").reshape(n_s, t_n)
    soc = model.values(lp.values, "soc").reshape(n_s, t_n)
    ratio = model.values(lp.values, "block")
    flow = net_flow(model, lp.values, t_n, topo.n_lines)
    imports = model.values(lp.values, "grid_import").reshape(-1, t_n)
    exports = model.values(lp.values, "grid_export").reshape(-1, t_n)
    line_fee = np.abs(flow) * problem.fee_per_kwh[None, :]
    fees = float(line_fee.sum())
    o = problem.orders
    signed_value = np.where(o.is_buy, o.price, -o.price) * accepted
    bl = problem.blocks
    b_value = np.where(bl.is_buy, bl.price, -bl.price) * bl.quantity_kwh.sum(axis=1) * ratio
    wear = float((st.cost_per_kwh[:, None] * d).sum())
    welfare = float(
        signed_value.sum()
        + b_value.sum()
        - (problem.import_price * imports).sum()
        + (problem.export_price * exports).sum()
        - fees
        - wear
    )
    lam_o = price[o.interval, o.node]
    paid = float(np.where(o.is_buy, lam_o, -lam_o) @ accepted)
    lam_s = price[:, st.node].T  # (S, T)
    paid += float((lam_s * (c - d)).sum())
    bb, bv, bq = block_balance(problem)
    paid -= float((price.ravel()[bv] * bq * ratio[bb]).sum())
    grid_cost = float(
        (problem.import_price * imports).sum() - (problem.export_price * exports).sum()
    )
    rent = paid - grid_cost - fees
    profit = (lam_s * (d - c)).sum(axis=1) - st.cost_per_kwh * d.sum(axis=1)
    surplus = _block_surplus(problem, price, np.where(on, ratio, 1.0))
    b_val = np.abs(bl.price) * bl.quantity_kwh.sum(axis=1)
    paradox = ~on & (surplus > SURPLUS_TOL * np.maximum(1.0, b_val))
    timings["prices_ms"] = _ms(t0)

    check = verify(
        problem, topo, accepted, c, d, soc, ratio, on, flow, imports, exports, price, steps, x
    )
    if check is not None:
        timings["total_ms"] = _ms(t_all)
        return failed(problem, Status.ERROR, f"{reason}; result check failed: {check}", timings)

    t0 = time.perf_counter()
    trades = tuple(
        _trades(problem, topo, book, steps, accepted, c, d, ratio, flow, imports, exports, price, t)
        for t in range(t_n)
    )
    timings["trades_ms"] = _ms(t0)
    if deadline is not None and time.perf_counter() > deadline:
        timings["total_ms"] = _ms(t_all)
        return failed(
            problem, Status.TIME_LIMIT, f"{reason}; time limit reached building trades", timings
        )
    timings["total_ms"] = _ms(t_all)
    return MultiResult(
        status=Status.OPTIMAL,
        reason=reason,
        accepted_kwh=accepted,
        block_ratio=np.where(on, ratio, 0.0),
        block_surplus=surplus,
        block_paradox=paradox,
        charge_kwh=c,
        discharge_kwh=d,
        soc_kwh=soc,
        storage_profit=profit,
        price=price,
        price_low=low,
        price_high=high,
        flow_kwh=flow,
        line_fee=line_fee,
        import_kwh=imports,
        export_kwh=exports,
        welfare=welfare,
        congestion_rent=rent,
        fees=fees,
        trades=trades,
        timings=timings,
        flow_model=_flow_model(problem),
    )


def verify(
    problem: MultiProblem,
    topo: Topology,
    accepted: FloatArray,
    c: FloatArray,
    d: FloatArray,
    soc: FloatArray,
    ratio: FloatArray,
    on: np.ndarray,
    flow: FloatArray,
    imports: FloatArray,
    exports: FloatArray,
    price: FloatArray,
    steps: Steps,
    x: FloatArray,
) -> str | None:
    """None when the result is feasible and consistent with its prices, else what failed."""
    t_n, n = problem.n_intervals, problem.n_nodes
    o, st, bl = problem.orders, problem.storage, problem.blocks
    tol = FEASIBILITY_KWH
    if (accepted < 0).any() or (accepted > o.quantity_kwh).any():
        return "an order's accepted energy is outside [0, quantity]"
    if (np.abs(flow) > topo.line_limit_kwh[None, :] + tol).any():
        return "a line flow exceeds its limit"
    if (imports < -tol).any() or (imports > problem.import_limit_kwh + tol).any():
        return "a grid import is outside its limit"
    if (exports < -tol).any() or (exports > problem.export_limit_kwh + tol).any():
        return "a grid export is outside its limit"
    if (c < -tol).any() or (c > st.charge_kwh[:, None] + tol).any():
        return "a storage unit charges beyond its power"
    if (d < -tol).any() or (d > st.discharge_kwh[:, None] + tol).any():
        return "a storage unit discharges beyond its power"
    if (soc < -tol).any() or (soc > st.energy_kwh[:, None] + tol).any():
        return "a state of charge is outside [0, energy_kwh]"
    if soc.shape[1] and (soc[:, -1] < st.soc_final_min_kwh - tol).any():
        return "a storage unit ends below soc_final_min_kwh"
    prev = np.concatenate([st.soc_initial_kwh[:, None], soc[:, :-1]], axis=1)
    dyn = soc - prev - st.efficiency_charge[:, None] * c + d / st.efficiency_discharge[:, None]
    if (np.abs(dyn) > tol + RELATIVE * np.abs(soc)).any():
        return "a state of charge does not follow its charging and discharging"
    if len(bl):
        r_on = ratio[on]
        if (
            (r_on < bl.min_ratio[on] - 1e-9).any()
            or (r_on > 1 + 1e-9).any()
            or (np.abs(ratio[~on]) > 1e-9).any()
        ):
            return "a block's accepted ratio is outside {0} ∪ [min_acceptance_ratio, 1]"
        g = bl.group[on]
        g = g[g >= 0]
        if np.unique(g).shape[0] != g.shape[0]:
            return "two blocks of one exclusive group are accepted"
    inj = np.zeros(t_n * n)
    thr = np.zeros(t_n * n)
    v = o.interval * n + o.node
    sgn = np.where(o.is_buy, -1.0, 1.0)
    np.add.at(inj, v, sgn * accepted)
    np.add.at(thr, v, accepted)
    sv = (np.arange(t_n)[None, :] * n + st.node[:, None]).ravel()
    np.add.at(inj, sv, (d - c).ravel())
    np.add.at(thr, sv, (d + c).ravel())
    gv = (np.arange(t_n)[None, :] * n + topo.grid_node[:, None]).ravel()
    np.add.at(inj, gv, (imports - exports).ravel())
    np.add.at(thr, gv, (imports + exports).ravel())
    bb, bv, bq = block_balance(problem)
    np.add.at(inj, bv, bq * ratio[bb])
    np.add.at(thr, bv, np.abs(bq * ratio[bb]))
    base = (np.arange(t_n) * n)[:, None]
    lf = (base + topo.line_from[None, :]).ravel()
    lt = (base + topo.line_to[None, :]).ravel()
    np.add.at(inj, lt, flow.ravel())
    np.add.at(inj, lf, -flow.ravel())
    np.add.at(thr, lt, np.abs(flow.ravel()))
    np.add.at(thr, lf, np.abs(flow.ravel()))
    bad = np.abs(inj) > tol + 1e-13 * thr
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        node = problem.network.nodes[k % n].id
        return f"node {node!r} is out of balance by {inj[k]:.3g} kWh in interval {k // n}"
    cyc = topo.cycles
    if cyc is not None and cyc.n_cycles:
        terms = cyc.coefficient[None, :] * flow[:, cyc.line]
        for t in range(t_n):
            kvl = np.bincount(cyc.row, weights=terms[t], minlength=cyc.n_cycles)
            size = np.bincount(cyc.row, weights=np.abs(terms[t]), minlength=cyc.n_cycles)
            if (np.abs(kvl) > tol + 1e-9 * size).any():
                return "the flows break Kirchhoff's voltage law"
    lam = price.ravel()[steps.node]
    ptol = 1e-9 * np.maximum(1.0, np.abs(steps.price))
    full = x >= steps.quantity_kwh
    none = x <= 0
    buy = steps.is_buy
    above = steps.price > lam + ptol
    below = steps.price < lam - ptol
    if (buy & above & ~full).any() or (~buy & below & ~full).any():
        return "an order in the money is not fully accepted at the chosen prices"
    if (buy & below & ~none).any() or (~buy & above & ~none).any():
        return "an order out of the money is accepted at the chosen prices"
    return None


def _trades(
    problem: MultiProblem,
    topo: Topology,
    book: OrderBook,
    steps: Steps,
    accepted: FloatArray,
    c: FloatArray,
    d: FloatArray,
    ratio: FloatArray,
    flow: FloatArray,
    imports: FloatArray,
    exports: FloatArray,
    price: FloatArray,
    t: int,
) -> Trades:
    """Trades of interval t. Owners: order k → k; storage s → K + s; block b → K + S + b;
    the grid → GRID."""
    o, st, bl = problem.orders, problem.storage, problem.blocks
    k_o, n_s = len(o), len(st)
    n = problem.n_nodes
    topo_t = interval_topology(problem, topo, t)
    canon = steps.canonical
    in_t = o.interval[canon] == t
    listing = np.empty(k_o, dtype=np.int64)
    listing[canon] = np.arange(k_o)
    b_qty = bl.quantity_kwh[:, t] * ratio

    def items(
        buy: bool,
        grid_qty: FloatArray,
        s_qty: FloatArray,
        own: FloatArray,
        other: FloatArray,
        limit: FloatArray,
    ) -> Items:
        sel = canon[in_t & (o.is_buy[canon] == buy) & (accepted[canon] > 0)]
        ssel = np.flatnonzero(s_qty > 0)
        bsel = (
            np.flatnonzero((bl.is_buy == buy) & (b_qty > 0)) if len(bl) else np.zeros(0, np.int64)
        )
        gsel = np.flatnonzero(grid_qty > 0)
        k = (sel.shape[0], ssel.shape[0], bsel.shape[0], gsel.shape[0])
        s_cap = st.discharge_kwh if not buy else st.charge_kwh
        return Items(
            owner=np.concatenate(
                [sel, k_o + ssel, k_o + n_s + bsel, np.full(k[3], GRID, dtype=np.int64)]
            ),
            listing=np.concatenate(
                [listing[sel], k_o + ssel, k_o + n_s + bsel, k_o + n_s + len(bl) + gsel]
            ),
            node=np.concatenate([o.node[sel], st.node[ssel], bl.node[bsel], topo.grid_node[gsel]]),
            qty=np.concatenate([accepted[sel], s_qty[ssel], b_qty[bsel], grid_qty[gsel]]),
            is_grid=np.concatenate(
                [np.zeros(k[0] + k[1] + k[2], dtype=np.bool_), np.ones(k[3], dtype=np.bool_)]
            ),
            price=np.concatenate([o.price[sel], np.full(k[1], -1.0), bl.price[bsel], own[gsel]]),
            size=np.concatenate(
                [o.quantity_kwh[sel], s_cap[ssel], bl.quantity_kwh[bsel, t], limit[gsel]]
            ),
            other=np.concatenate([np.zeros(k[0]), 1.0 + ssel, -1.0 - bsel, other[gsel]]),
        )

    supply = items(
        False,
        imports[:, t],
        d[:, t],
        topo_t.import_price,
        topo_t.export_price,
        topo_t.import_limit_kwh,
    )
    demand = items(
        True,
        exports[:, t],
        c[:, t],
        topo_t.export_price,
        topo_t.import_price,
        topo_t.export_limit_kwh,
    )
    del n
    return build_trades(topo_t, price[t], supply, demand, flow[t])
