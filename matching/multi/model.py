"""The several-interval clearing LP/MIP, built from arrays (no Python loop over orders,
intervals or storage).

Indices: node-interval v = t × N + n (the balance row of node n in interval t). Variable
blocks (`ModelLayout`, looked up by name)::

    order         x[k]      accepted energy of step k (orders with the same interval, node,
                            side and price)                         0 ≤ x ≤ Q[k]
    flow          f[t,l]    lines without a fee, + means from → to  −F ≤ f ≤ F
    flow_fwd      f⁺[t,l]   lines with a fee, from → to             0 ≤ f⁺ ≤ F, cost fee
    flow_back     f⁻[t,l]   lines with a fee, to → from             0 ≤ f⁻ ≤ F, cost fee
    grid_import   m[g,t]    import                                  0 ≤ m ≤ M[g,t]
    grid_export   e[g,t]    export                                  0 ≤ e ≤ E[g,t]
    charge        c[s,t]    energy taken from the node              0 ≤ c ≤ C[s]
    discharge     d[s,t]    energy given to the node                0 ≤ d ≤ D[s], cost wear
    soc           q[s,t]    state of charge at the end of t         0 ≤ q ≤ energy (last
                                                                    interval ≥ soc_final_min)
    block         r[b]      accepted ratio                          0 ≤ r ≤ 1 (MIP) or fixed
                                                                    range (pricing LP)
    block_on      y[b]      1 if the block is accepted (MIP only, integer)

Constraint blocks: `nodal_balance` (T × N), `kvl` (T × cycles, meshed DC only), `soc`
(S × T: q[t] − q[t−1] − η_c c[t] + d[t]/η_d = 0, q[−1] = soc_initial), and in the MIP
`block_min` (r − ratio_min × y ≥ 0), `block_max` (r − y ≤ 0), `group` (Σ y ≤ 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from matching.model import Block, ModelLayout, _Blocks
from matching.multi.problem import MultiProblem
from matching.network import Topology
from matching.problem import BoolArray, FloatArray, IntArray
from matching.steps import Steps

INF = np.inf


@dataclass(frozen=True, slots=True, eq=False)
class MultiModel:
    lower: FloatArray
    upper: FloatArray
    objective: FloatArray
    row_lower: FloatArray
    row_upper: FloatArray
    matrix: sp.csr_matrix
    layout: ModelLayout
    integer: IntArray  # columns that must take integer values (empty for an LP)
    reduction: Reduction

    def values(self, solution: FloatArray, name: str) -> FloatArray:
        out: FloatArray = solution[self.layout.variable(name).index]
        return out

    def duals(self, row_duals: FloatArray, name: str) -> FloatArray:
        out: FloatArray = row_duals[self.layout.constraint(name).index]
        return out


@dataclass(frozen=True, slots=True, eq=False)
class Reduction:
    """Which balance row each node-interval belongs to (`row_of`, `n_rows` rows) and which
    line-intervals are variables: (`free_t`, `free_l`) without a fee, (`fee_t`, `fee_l`)
    with one. Without reduction every node-interval is its own row and every line-interval
    a variable; `tree` marks a reduced radial network (flows then follow from injections)."""

    row_of: IntArray
    n_rows: int
    free_t: IntArray
    free_l: IntArray
    fee_t: IntArray
    fee_l: IntArray
    tree: bool


def no_reduction(problem: MultiProblem, topo: Topology) -> Reduction:
    t_n, n = problem.n_intervals, problem.n_nodes
    fee = problem.fee_per_kwh
    t_all = np.repeat(np.arange(t_n, dtype=np.int64), topo.n_lines)
    l_all = np.tile(np.arange(topo.n_lines, dtype=np.int64), t_n)
    has_fee = fee[l_all] > 0
    return Reduction(
        row_of=np.arange(t_n * n, dtype=np.int64),
        n_rows=t_n * n,
        free_t=t_all[~has_fee],
        free_l=l_all[~has_fee],
        fee_t=t_all[has_fee],
        fee_l=l_all[has_fee],
        tree=False,
    )


def red_rows(reduction: Reduction | None, node_interval: IntArray) -> IntArray:
    if reduction is None:
        return node_interval
    out: IntArray = reduction.row_of[node_interval]
    return out


class _Builder:
    def __init__(self) -> None:
        self.vars = _Blocks([])
        self.lower: list[FloatArray] = []
        self.upper: list[FloatArray] = []
        self.obj: list[FloatArray] = []
        self.rows: list[IntArray] = []
        self.cols: list[IntArray] = []
        self.vals: list[FloatArray] = []

    def add(self, name: str, lower: FloatArray, upper: FloatArray, obj: FloatArray) -> IntArray:
        block = self.vars.add(name, int(lower.shape[0]))
        self.lower.append(np.asarray(lower, dtype=np.float64))
        self.upper.append(np.asarray(upper, dtype=np.float64))
        self.obj.append(np.asarray(obj, dtype=np.float64))
        return np.arange(block.start, block.stop, dtype=np.int64)

    def entries(self, rows: IntArray, cols: IntArray, vals: FloatArray) -> None:
        self.rows.append(np.asarray(rows, dtype=np.int64))
        self.cols.append(np.asarray(cols, dtype=np.int64))
        self.vals.append(np.asarray(vals, dtype=np.float64))


def block_balance(problem: MultiProblem) -> tuple[IntArray, IntArray, FloatArray]:
    """(block, node-interval, signed kWh at ratio 1) for every interval a block runs in:
    a sell supplies (+), a buy withdraws (−)."""
    blocks = problem.blocks
    b, t = np.nonzero(blocks.quantity_kwh > 0)
    sign = np.where(blocks.is_buy[b], -1.0, 1.0)
    return b, t * problem.n_nodes + blocks.node[b], sign * blocks.quantity_kwh[b, t]


def build(
    problem: MultiProblem,
    steps: Steps,
    topo: Topology,
    block_range: tuple[FloatArray, FloatArray] | None,
    reduction: Reduction | None = None,
) -> MultiModel:
    """The MIP (`block_range` None: blocks free with their on/off variables) or the LP with
    every block's ratio held in the given [low, high]."""
    n, t_n = problem.n_nodes, problem.n_intervals
    fee = problem.fee_per_kwh
    cyc = topo.cycles
    n_cyc = 0 if cyc is None else cyc.n_cycles
    st, bl = problem.storage, problem.blocks
    n_s, n_b = len(st), len(bl)
    rows = _Blocks([])
    balance = rows.add("nodal_balance", n * t_n if reduction is None else reduction.n_rows)
    kvl = rows.add("kvl", n_cyc * t_n)
    soc_rows = rows.add("soc", n_s * t_n)
    mip = block_range is None and n_b > 0
    b_min = rows.add("block_min", n_b if mip else 0)
    b_max = rows.add("block_max", n_b if mip else 0)
    n_groups = len(bl.group_ids) if mip else 0
    group_rows = rows.add("group", n_groups)

    bld = _Builder()
    # orders (steps: node is already the node-interval)
    sign = np.where(steps.is_buy, -1.0, 1.0)
    idx = bld.add(
        "order", np.zeros_like(steps.quantity_kwh), steps.quantity_kwh, -sign * steps.price
    )
    bld.entries(balance.start + red_rows(reduction, steps.node), idx, sign)

    limit = topo.line_limit_kwh
    red = reduction if reduction is not None else no_reduction(problem, topo)

    def line_block(
        name: str, t: IntArray, ln: IntArray, lo_sign: float, direction: float
    ) -> IntArray:
        lim = limit[ln]
        col = bld.add(name, lo_sign * lim, lim, -fee[ln])
        frm = red.row_of[t * n + topo.line_from[ln]]
        to = red.row_of[t * n + topo.line_to[ln]]
        k = ln.shape[0]
        bld.entries(balance.start + frm, col, np.full(k, -direction))
        bld.entries(balance.start + to, col, np.full(k, direction))
        return col

    col_net = np.full((t_n, topo.n_lines), -1, dtype=np.int64)
    col_back = np.full((t_n, topo.n_lines), -1, dtype=np.int64)
    col_net[red.free_t, red.free_l] = line_block("flow", red.free_t, red.free_l, -1.0, 1.0)
    col_net[red.fee_t, red.fee_l] = line_block("flow_fwd", red.fee_t, red.fee_l, 0.0, 1.0)
    col_back[red.fee_t, red.fee_l] = line_block("flow_back", red.fee_t, red.fee_l, 0.0, -1.0)
    if cyc is not None and n_cyc:
        # KVL per interval on the net flow (f, or f⁺ − f⁻); meshed networks are not reduced
        r = (np.arange(t_n)[:, None] * n_cyc + cyc.row[None, :]).ravel()
        c = col_net[:, cyc.line].ravel()
        v = np.tile(cyc.coefficient, t_n)
        bld.entries(kvl.start + r, c, v)
        cb = col_back[:, cyc.line].ravel()
        has = cb >= 0
        bld.entries(kvl.start + r[has], cb[has], -v[has])

    # grid connections, (g, t) row-major
    g_n = topo.n_grid
    g_row = (np.arange(t_n)[None, :] * n + topo.grid_node[:, None]).ravel()
    imp = bld.add(
        "grid_import",
        np.zeros(g_n * t_n),
        problem.import_limit_kwh.ravel(),
        -problem.import_price.ravel(),
    )
    bld.entries(balance.start + red_rows(reduction, g_row), imp, np.ones(g_n * t_n))
    exp = bld.add(
        "grid_export",
        np.zeros(g_n * t_n),
        problem.export_limit_kwh.ravel(),
        problem.export_price.ravel(),
    )
    bld.entries(balance.start + red_rows(reduction, g_row), exp, -np.ones(g_n * t_n))

    # storage, (s, t) row-major
    st_n = n_s * t_n
    s_row = (np.arange(t_n)[None, :] * n + st.node[:, None]).ravel()
    soc_r = soc_rows.start + np.arange(st_n)
    ch = bld.add("charge", np.zeros(st_n), np.repeat(st.charge_kwh, t_n), np.zeros(st_n))
    bld.entries(balance.start + red_rows(reduction, s_row), ch, -np.ones(st_n))
    bld.entries(soc_r, ch, -np.repeat(st.efficiency_charge, t_n))
    dis = bld.add(
        "discharge",
        np.zeros(st_n),
        np.repeat(st.discharge_kwh, t_n),
        -np.repeat(st.cost_per_kwh, t_n),
    )
    bld.entries(balance.start + red_rows(reduction, s_row), dis, np.ones(st_n))
    bld.entries(soc_r, dis, np.repeat(1.0 / st.efficiency_discharge, t_n))
    soc_lo = np.zeros((n_s, t_n))
    soc_lo[:, -1] = st.soc_final_min_kwh
    soc = bld.add("soc", soc_lo.ravel(), np.repeat(st.energy_kwh, t_n), np.zeros(st_n))
    bld.entries(soc_r, soc, np.ones(st_n))
    later = (np.arange(st_n) % t_n) < t_n - 1  # q[t] appears in row t+1 with −1
    bld.entries(soc_r[1:][later[:-1]], soc[:-1][later[:-1]], -np.ones(int(later[:-1].sum())))
    soc_rhs = np.zeros((n_s, t_n))
    soc_rhs[:, 0] = st.soc_initial_kwh

    # blocks
    value = bl.price * bl.quantity_kwh.sum(axis=1)
    b_obj = np.where(bl.is_buy, value, -value)
    if block_range is None:
        b_lo, b_hi = np.zeros(n_b), np.ones(n_b)
    else:
        b_lo, b_hi = block_range
    bcol = bld.add("block", b_lo, b_hi, b_obj)
    bb, bv, bq = block_balance(problem)
    bld.entries(balance.start + red_rows(reduction, bv), bcol[bb], bq)
    integer = np.zeros(0, dtype=np.int64)
    if mip:
        ycol = bld.add("block_on", np.zeros(n_b), np.ones(n_b), np.zeros(n_b))
        integer = ycol
        ar = np.arange(n_b)
        bld.entries(b_min.start + ar, bcol, np.ones(n_b))
        bld.entries(b_min.start + ar, ycol, -bl.min_ratio)
        bld.entries(b_max.start + ar, bcol, np.ones(n_b))
        bld.entries(b_max.start + ar, ycol, -np.ones(n_b))
        grouped = np.flatnonzero(bl.group >= 0)
        bld.entries(group_rows.start + bl.group[grouped], ycol[grouped], np.ones(grouped.shape[0]))

    layout = ModelLayout(tuple(bld.vars.blocks), tuple(rows.blocks))
    n_rows, n_cols = layout.n_constraints, layout.n_variables
    matrix = sp.csr_matrix(
        (np.concatenate(bld.vals), (np.concatenate(bld.rows), np.concatenate(bld.cols))),
        shape=(n_rows, n_cols),
    )
    row_lo = np.zeros(n_rows)
    row_hi = np.zeros(n_rows)
    row_lo[soc_rows.index] = soc_rhs.ravel()
    row_hi[soc_rows.index] = soc_rhs.ravel()
    row_hi[b_min.index] = INF
    row_lo[b_max.index] = -INF
    row_lo[group_rows.index] = -INF
    row_hi[group_rows.index] = 1.0
    return MultiModel(
        lower=np.concatenate(bld.lower),
        upper=np.concatenate(bld.upper),
        objective=np.concatenate(bld.obj),
        row_lower=row_lo,
        row_upper=row_hi,
        matrix=matrix,
        layout=layout,
        integer=integer,
        reduction=reduction if reduction is not None else no_reduction(problem, topo),
    )


def net_flow(model: MultiModel, values: FloatArray, n_intervals: int, n_lines: int) -> FloatArray:
    """Flow per (interval, line) of the lines in the model, + from → to (0 elsewhere)."""
    red = model.reduction
    out = np.zeros((n_intervals, n_lines))
    out[red.free_t, red.free_l] = model.values(values, "flow")
    fwd = model.values(values, "flow_fwd")
    back = model.values(values, "flow_back")
    out[red.fee_t, red.fee_l] = fwd - back
    return out


__all__ = [
    "Block",
    "BoolArray",
    "MultiModel",
    "Reduction",
    "block_balance",
    "build",
    "net_flow",
    "no_reduction",
]
