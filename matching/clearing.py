"""`clear(problem) -> ClearingResult`: the whole clearing as named steps.

write the problem canonically (`matching.labelling`) → aggregate orders into steps → solve
the LP with GLOP (`matching.solve`) → choose nodal prices by the documented rule → allocate
steps to orders pro rata → decompose into trades → map the result back to the problem as
given. Each step is timed.
"""

from __future__ import annotations

import math
import time
from dataclasses import replace

import numpy as np

from matching.canonical import canonical_primal, canonical_primal_dc
from matching.checks import check_result
from matching.labelling import Labelling, canonical_labelling, relabelled
from matching.memo import Memo
from matching.network import Topology, build_topology
from matching.prices import PriceRuleError, Prices, choose_prices, line_states
from matching.problem import ClearingProblem, FloatArray
from matching.result import (
    GRID,
    ClearingResult,
    FlowModel,
    Status,
    Timings,
    Trades,
    empty_trades,
)
from matching.small_primal import MAX_SIZE, unique_primal
from matching.small_trades import MAX_ITEMS, SideItems, build_trades_small
from matching.solve import solve
from matching.steps import Steps, aggregate, allocate_pro_rata
from matching.ties import DEADLINE, TimeUp
from matching.trades import Items, Placement, build_trades_placed

#: The timings a memoised result keeps (its look-up is timed when it is used again).
_NO_TIME = Timings(0.0, 0.0, 0.0, 0.0, 0.0, 0.0)


def _ms(t0: float) -> float:
    return (time.perf_counter() - t0) * 1000.0


def flow_model(topo: Topology) -> FlowModel:
    """DC power flow when every line has a reactance (on a tree it coincides with the
    transport model, which is how it is solved), else the transport model."""
    dc = topo.n_lines > 0 and bool(np.isfinite(topo.reactance).all())
    return FlowModel.DC if dc else FlowModel.TRANSPORT


def _failed_(
    problem: ClearingProblem, topo: Topology, status: Status, reason: str, timings: Timings
) -> tuple[ClearingResult, None]:
    return _failed(problem, topo, status, reason, timings), None


def _failed(
    problem: ClearingProblem, topo: Topology, status: Status, reason: str, timings: Timings
) -> ClearingResult:
    n_o, n_n, n_l, n_g = len(problem.orders), topo.n_nodes, topo.n_lines, topo.n_grid
    nan = np.full(n_n, np.nan)
    return ClearingResult(
        status=status,
        reason=reason,
        accepted_kwh=np.zeros(n_o),
        price=nan,
        price_low=nan.copy(),
        price_high=nan.copy(),
        flow_kwh=np.zeros(n_l),
        line_limit_kwh=topo.line_limit_kwh,
        line_congested=np.zeros(n_l, dtype=np.bool_),
        import_kwh=np.zeros(n_g),
        export_kwh=np.zeros(n_g),
        welfare=0.0,
        congestion_rent=0.0,
        trades=empty_trades(),
        timings=timings,
        flow_model=flow_model(topo),
    )


def _trades(
    problem: ClearingProblem,
    topo: Topology,
    steps: Steps,
    accepted: FloatArray,
    prices: Prices,
    flow: FloatArray,
    imports: FloatArray,
    exports: FloatArray,
) -> tuple[Trades, Placement]:
    book = problem.orders
    if len(book) + topo.n_grid <= MAX_ITEMS:
        return _trades_small(problem, topo, steps, accepted, prices, flow, imports, exports)
    listing = np.empty(len(book), dtype=np.int64)
    listing[steps.canonical] = np.arange(len(book))

    def items(
        buy: bool, grid_qty: FloatArray, own: FloatArray, other: FloatArray, limit: FloatArray
    ) -> Items:
        canon = steps.canonical
        sel = canon[(book.is_buy[canon] == buy) & (accepted[canon] > 0)]
        gsel = np.flatnonzero(grid_qty > 0)
        return Items(
            owner=np.concatenate([sel, np.full(gsel.shape[0], GRID, dtype=np.int64)]),
            listing=np.concatenate([listing[sel], len(book) + gsel]),
            node=np.concatenate([book.node[sel], topo.grid_node[gsel]]),
            qty=np.concatenate([accepted[sel], grid_qty[gsel]]),
            is_grid=np.concatenate(
                [np.zeros(sel.shape[0], dtype=np.bool_), np.ones(gsel.shape[0], dtype=np.bool_)]
            ),
            price=np.concatenate([book.price[sel], own[gsel]]),
            size=np.concatenate([book.quantity_kwh[sel], limit[gsel]]),
            other=np.concatenate([np.zeros(sel.shape[0]), other[gsel]]),
        )

    supply = items(False, imports, topo.import_price, topo.export_price, topo.import_limit_kwh)
    demand = items(True, exports, topo.export_price, topo.import_price, topo.export_limit_kwh)
    return build_trades_placed(topo, prices.price, supply, demand, flow)


def _trades_small(
    problem: ClearingProblem,
    topo: Topology,
    steps: Steps,
    accepted: FloatArray,
    prices: Prices,
    flow: FloatArray,
    imports: FloatArray,
    exports: FloatArray,
) -> tuple[Trades, Placement]:
    """`_trades` of a small clearing: the items as lists, the tape cut in plain Python
    (`matching.small_trades`, the same bits)."""
    book = problem.orders
    canon = steps.canonical.tolist()
    is_buy, acc = book.is_buy.tolist(), accepted.tolist()
    node, price, size = book.node.tolist(), book.price.tolist(), book.quantity_kwh.tolist()
    g_node = topo.grid_node.tolist()

    def items(
        buy: bool, grid_qty: FloatArray, own: FloatArray, other: FloatArray, limit: FloatArray
    ) -> SideItems:
        sel = [k for k in canon if is_buy[k] == buy and acc[k] > 0]
        g_qty = grid_qty.tolist()
        gsel = [g for g, q in enumerate(g_qty) if q > 0]
        own_l, other_l, limit_l = own.tolist(), other.tolist(), limit.tolist()
        return SideItems(
            owner=sel + [GRID] * len(gsel),
            node=[node[k] for k in sel] + [g_node[g] for g in gsel],
            qty=[acc[k] for k in sel] + [g_qty[g] for g in gsel],
            is_grid=[False] * len(sel) + [True] * len(gsel),
            price=[price[k] for k in sel] + [own_l[g] for g in gsel],
            size=[size[k] for k in sel] + [limit_l[g] for g in gsel],
            other=[0.0] * len(sel) + [other_l[g] for g in gsel],
        )

    supply = items(False, imports, topo.import_price, topo.export_price, topo.import_limit_kwh)
    demand = items(True, exports, topo.export_price, topo.import_price, topo.export_limit_kwh)
    return build_trades_small(topo, prices.price, supply, demand, flow)


def clear(problem: ClearingProblem, memo: Memo | None = None) -> ClearingResult:
    """Clear one interval: welfare-maximising, network-constrained, with nodal prices.

    The problem is cleared as written canonically (`matching.labelling`), so that the result
    does not depend on how it is written, and the result is mapped back. With a `memo`
    (`matching.memo`), a problem whose data was cleared before reuses that canonical
    writing and its result (the same bits) and is only mapped back; its timings then show
    the look-up as `build_ms` and nothing solved."""
    t_all = time.perf_counter()
    key = None if memo is None else memo.key(problem)
    if key is not None:
        assert memo is not None
        entry = memo.get(key)
        if entry is not None:
            lab, result, placed = entry
            return _restore(problem, result, placed, lab, _ms(t_all), t_all)
    lab = canonical_labelling(problem)
    inner = relabelled(problem, lab)
    label_ms = _ms(t_all)
    if problem.time_limit_s is not None:  # the writing counts against the caller's limit
        object.__setattr__(inner, "time_limit_s", problem.time_limit_s - label_ms / 1000.0)
    result, placed = _clear(inner)
    if key is not None:
        assert memo is not None
        memo.put(key, (lab, replace(result, timings=_NO_TIME), placed), len(problem.orders))
    return _restore(problem, result, placed, lab, label_ms, t_all)


def _clear(problem: ClearingProblem) -> tuple[ClearingResult, Placement | None]:
    t_all = time.perf_counter()
    t0 = t_all
    book = problem.orders
    topo = build_topology(problem)
    if problem.time_limit_s is not None and problem.time_limit_s <= 0:
        timings = Timings(_ms(t0), 0.0, 0.0, 0.0, 0.0, _ms(t_all))
        return _failed_(
            problem, topo, Status.TIME_LIMIT, "time limit reached before solving", timings
        )
    steps = aggregate(book, by_position=True)
    build_ms = _ms(t0)

    deadline = None if problem.time_limit_s is None else t_all + problem.time_limit_s
    t0 = time.perf_counter()
    sol = solve(problem, steps, topo, None if deadline is None else deadline - t0)
    status, reason = sol.status, sol.reason
    solve_ms = _ms(t0) - sol.model_ms
    build_ms += sol.model_ms
    if status is not Status.OPTIMAL:
        return _failed_(
            problem, topo, status, reason, Timings(build_ms, solve_ms, 0.0, 0.0, 0.0, _ms(t_all))
        )

    x, flow, imports, exports = sol.x, sol.flow, sol.imports, sol.exports

    t0 = time.perf_counter()
    try:
        prices = choose_prices(topo, steps, x, flow, imports, exports)
    except PriceRuleError as exc:
        # The documented rule holds or the result is not published as optimal.
        reason += f"; price rule not applied: {exc}"
        timings = Timings(build_ms, solve_ms, _ms(t0), 0.0, 0.0, _ms(t_all))
        return _failed_(problem, topo, Status.ERROR, reason, timings)
    if prices.note:
        reason += f"; {prices.note}"
    # the optimal solution chosen by rule: pro rata ties, loop-free flows
    token = DEADLINE.set(deadline)
    try:
        if topo.dc_flow:
            primal = canonical_primal_dc(
                topo, steps, x, flow, imports, exports, prices.price, prices.line_dual
            )
        else:
            small = max(steps.node.shape[0], topo.n_lines) <= MAX_SIZE
            unique = unique_primal(topo, steps, flow, prices.price) if small else None
            primal = (
                unique
                if unique is not None
                else canonical_primal(topo, steps, x, flow, imports, exports, prices.price)
            )
    except TimeUp:
        reason += "; time limit reached while sharing tied orders"
        timings = Timings(build_ms, solve_ms, _ms(t0), 0.0, 0.0, _ms(t_all))
        return _failed_(problem, topo, Status.TIME_LIMIT, reason, timings)
    finally:
        DEADLINE.reset(token)
    if primal.failed:
        reason += f"; tie rule not applied: {primal.failed}"
        timings = Timings(build_ms, solve_ms, _ms(t0), 0.0, 0.0, _ms(t_all))
        return _failed_(problem, topo, Status.ERROR, reason, timings)
    x, flow, imports, exports = primal.x, primal.flow, primal.imports, primal.exports
    if primal.note:
        reason += f"; {primal.note}"
    prices_ms = _ms(t0)
    if deadline is not None and time.perf_counter() > deadline:
        reason += "; time limit reached while choosing prices"
        timings = Timings(build_ms, solve_ms, prices_ms, 0.0, 0.0, _ms(t_all))
        return _failed_(problem, topo, Status.TIME_LIMIT, reason, timings)

    t0 = time.perf_counter()
    accepted = allocate_pro_rata(book, steps, x)
    alloc_ms = _ms(t0)

    t0 = time.perf_counter()
    trades, placed = _trades(problem, topo, steps, accepted, prices, flow, imports, exports)
    trades_ms = _ms(t0)
    if deadline is not None and time.perf_counter() > deadline:
        reason += "; time limit reached while building trades"
        timings = Timings(build_ms, solve_ms, prices_ms, alloc_ms, trades_ms, _ms(t_all))
        return _failed_(problem, topo, Status.TIME_LIMIT, reason, timings)

    buy = book.is_buy
    grid_terms = [-(topo.import_price * imports), topo.export_price * exports]
    # correctly rounded sums (math.fsum), not BLAS dot products: the same bits on any
    # machine and BLAS build, and in any order of the terms
    welfare = _exact_sum([np.where(buy, book.price, -book.price) * accepted, *grid_terms])
    lam = prices.price
    rent = _exact_sum([np.where(buy, lam[book.node], -lam[book.node]) * accepted, *grid_terms])
    failed = check_result(problem, topo, steps, x, accepted, flow, imports, exports, lam, rent)
    if failed is not None:
        reason += f"; result check failed: {failed}"
        timings = Timings(build_ms, solve_ms, prices_ms, alloc_ms, trades_ms, _ms(t_all))
        return _failed_(problem, topo, Status.ERROR, reason, timings)
    _, pos, neg = line_states(topo, flow)
    congested = (pos ^ neg) & (topo.line_limit_kwh > 0)
    result = ClearingResult(
        status=Status.OPTIMAL,
        reason=reason,
        accepted_kwh=accepted,
        price=lam,
        price_low=prices.low,
        price_high=prices.high,
        flow_kwh=flow,
        line_limit_kwh=topo.line_limit_kwh,
        line_congested=congested,
        import_kwh=imports,
        export_kwh=exports,
        welfare=welfare,
        congestion_rent=rent,
        trades=trades,
        timings=Timings(build_ms, solve_ms, prices_ms, alloc_ms, trades_ms, _ms(t_all)),
        flow_model=flow_model(topo),
    )
    return result, placed


def _exact_sum(parts: list[FloatArray]) -> float:
    terms = np.concatenate(parts)
    return math.fsum(terms[terms != 0].tolist()) + 0.0


def _restore(
    problem: ClearingProblem,
    r: ClearingResult,
    placed: Placement | None,
    lab: Labelling,
    label_ms: float,
    t_all: float,
) -> ClearingResult:
    """The canonical writing's result in the problem's own ids and order. The list of
    trades is ordered as documented: local matches by node, then transfers by (source,
    destination) node, in the input's order of nodes; along each its tape; members of a
    class of identical orders by id."""

    def back(values: np.ndarray, perm: np.ndarray) -> np.ndarray:
        out = np.empty_like(values)
        out[perm] = values
        return out

    n_o = len(problem.orders)
    tr = r.trades
    if len(tr) and placed is not None:
        seller = np.where(tr.seller == GRID, GRID, lab.order[np.maximum(tr.seller, 0)])
        buyer = np.where(tr.buyer == GRID, GRID, lab.order[np.maximum(tr.buyer, 0)])
        n_n = int(lab.node.shape[0])
        segment = (placed.transfer * n_n + lab.node[placed.src]) * n_n + lab.node[placed.dst]
        keys: list[np.ndarray] = [placed.piece, segment]
        shared = np.zeros(placed.piece.shape[0], dtype=np.bool_)
        shared[1:] = placed.piece[1:] == placed.piece[:-1]
        if shared.any():
            # pieces shared by the members of a class: those members in order of their ids
            # (only their ids are ranked: elsewhere the key never decides)
            shared[:-1] |= shared[1:]
            s_rank = np.zeros(seller.shape[0], dtype=np.int64)
            b_rank = np.zeros(buyer.shape[0], dtype=np.int64)
            k = np.flatnonzero(shared)
            rank = _id_rank(problem, np.concatenate([seller[k], buyer[k]]))
            s_rank[k] = np.where(seller[k] == GRID, n_o, rank[: k.shape[0]])
            b_rank[k] = np.where(buyer[k] == GRID, n_o, rank[k.shape[0] :])
            keys = [b_rank, s_rank, *keys]
        by = np.lexsort(tuple(keys))
        trades = Trades(
            seller=seller[by],
            buyer=buyer[by],
            seller_node=lab.node[tr.seller_node[by]],
            buyer_node=lab.node[tr.buyer_node[by]],
            quantity_kwh=tr.quantity_kwh[by],
            seller_price=tr.seller_price[by],
            buyer_price=tr.buyer_price[by],
        )
    else:
        trades = empty_trades()
    t = r.timings
    timings = Timings(
        t.build_ms + label_ms, t.solve_ms, t.prices_ms, t.allocation_ms, t.trades_ms, _ms(t_all)
    )
    flow = np.where(lab.flip, -r.flow_kwh, r.flow_kwh) + 0.0
    return ClearingResult(
        status=r.status,
        reason=r.reason,
        accepted_kwh=back(r.accepted_kwh, lab.order),
        price=back(r.price, lab.node),
        price_low=back(r.price_low, lab.node),
        price_high=back(r.price_high, lab.node),
        flow_kwh=back(flow, lab.line),
        line_limit_kwh=back(r.line_limit_kwh, lab.line),
        line_congested=back(r.line_congested, lab.line),
        import_kwh=back(r.import_kwh, lab.grid),
        export_kwh=back(r.export_kwh, lab.grid),
        welfare=r.welfare,
        congestion_rent=r.congestion_rent,
        trades=trades,
        timings=timings,
        solver=r.solver,
        flow_model=r.flow_model,
    )


def _id_rank(problem: ClearingProblem, owners: np.ndarray) -> np.ndarray:
    """Per owner (an order index, or GRID): the rank of the order's id among the owners'
    ids (only the order of identical orders depends on it)."""
    ids = problem.orders.ids
    distinct = np.unique(owners[owners != GRID])
    key = sorted(range(distinct.shape[0]), key=lambda k: ids[int(distinct[k])])
    rank_of = np.zeros(len(ids), dtype=np.int64)
    rank_of[distinct[np.array(key, dtype=np.int64)]] = np.arange(distinct.shape[0])
    out: np.ndarray = np.where(owners == GRID, 0, rank_of[np.maximum(owners, 0)])
    return out


__all__ = ["Memo", "clear"]
